"""Commerce ingestion against a real MinIO server: orders, late scans, reruns, landing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.ingest.sources import COMMERCE, CommerceRunOptions
from fieldhouse.quality.commerce import (
    ORDER_SCHEMA,
    SHIPMENT_EVENT_SCHEMA,
    validate_orders,
)
from fieldhouse.sources.commerce import ORIGIN, simulate_orders, simulate_shipment_events
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_ORDERS_LANDING,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS_LANDING,
    Bucket,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.integration.objects import object_etags, read_all, read_hours

pytestmark = pytest.mark.integration

# Three evening hours in the peak season, and the three after them.
RUN = Interval(datetime(2026, 11, 18, 16, tzinfo=UTC), datetime(2026, 11, 18, 19, tzinfo=UTC))
NEXT = Interval(RUN.end, datetime(2026, 11, 18, 22, tzinfo=UTC))
OPTIONS = CommerceRunOptions(seed=11, orders_per_hour=6.0)

# feed name -> (raw dataset, key column, event time column, schema)
FEEDS = {
    "orders": (COMMERCE_ORDERS, "order_id", "ordered_at", ORDER_SCHEMA),
    "shipment_events": (COMMERCE_SHIPMENT_EVENTS, "event_id", "event_ts", SHIPMENT_EVENT_SCHEMA),
}


def _ingest(
    store: ObjectStore, interval: Interval, options: CommerceRunOptions
) -> dict[str, list[Manifest]]:
    """Every hour of every commerce feed."""
    return ingest_source(store, COMMERCE, interval, options)


def _ids(frame: pd.DataFrame, key: str) -> set[str]:
    """The keys of a frame read by :func:`_read_all`, which has no columns when empty."""
    return set(frame[key].dropna()) if key in frame else set()


def _reason_totals(manifests) -> dict[str, int]:
    totals: dict[str, int] = {}
    for manifest in manifests:
        for reason, count in manifest.reasons.items():
            totals[reason] = totals.get(reason, 0) + count
    return totals


def test_each_feed_writes_one_partition_per_hour_that_reconciles(store: ObjectStore) -> None:
    manifests = _ingest(store, RUN, OPTIONS)

    assert sorted(manifests) == sorted([*FEEDS, "shipments"])
    # The shop simulator reports shipments as scans only: ERP shipment rows come from files.
    assert [m.rows_in for m in manifests["shipments"]] == [0] * len(RUN.hours())
    for name, (dataset, key, event_time, schema) in FEEDS.items():
        assert len(manifests[name]) == len(RUN.hours()) == 3
        keys = sorted(o.key.key for o in store.list(Bucket.RAW, dataset.path + "/"))
        assert keys == [dataset.raw(h).key for h in RUN.hours()]
        for hour, manifest in zip(RUN.hours(), manifests[name], strict=True):
            stored = store.get_json(dataset.manifest(hour))
            raw = from_parquet_bytes(store.get_bytes(dataset.raw(hour)))
            assert stored["reconciles"] is True
            assert stored["rows_in"] == stored["rows_written"] + stored["rows_quarantined"]
            assert len(raw) == manifest.rows_written == stored["rows_written"]
            assert stored["rows_in"] == manifest.rows_in > 0
            assert (raw["ingested_at"] == hour.end).all()
            assert (raw["origin"] == ORIGIN).all()
            assert ((raw[event_time] >= hour.start) & (raw[event_time] < hour.end)).all()
            assert str(raw[event_time].dtype) == "datetime64[us, UTC]"

        raw = read_all(store, Bucket.RAW, dataset.path + "/")
        quarantined = read_all(store, Bucket.QUARANTINE, dataset.path + "/")
        reasons = _reason_totals(manifests[name])
        assert sum(m.rows_in for m in manifests[name]) == len(raw) + len(quarantined)
        assert sum(reasons.values()) == len(quarantined)
        if len(quarantined):
            assert quarantined["reason"].value_counts().to_dict() == reasons
        # The simulator sends no unparsable records, so only the schema's own reasons.
        assert set(reasons) <= set(schema.reasons()) - {"parse_error"}
        assert raw[key].is_unique

    # Scans of orders placed days before far outnumber the hour's own orders.
    rows_in = {name: sum(m.rows_in for m in manifests[name]) for name in FEEDS}
    assert rows_in["shipment_events"] > 2 * rows_in["orders"]
    labels = sorted(o.key.key for o in store.list(Bucket.RAW, COMMERCE_DELIVERY_LABELS.path + "/"))
    assert labels == [COMMERCE_DELIVERY_LABELS.raw(h).key for h in RUN.hours()]


def test_rerun_is_identical_and_a_sub_interval_rerun_replaces_only_its_hours(
    store: ObjectStore,
) -> None:
    first = _ingest(store, RUN, OPTIONS)
    before = object_etags(store)
    second = _ingest(store, RUN, OPTIONS)

    assert object_etags(store) == before  # same keys, byte-identical bodies (ETags)
    for name in FEEDS:
        assert [m.rows_in for m in second[name]] == [m.rows_in for m in first[name]]
        assert [m.reasons for m in second[name]] == [m.reasons for m in first[name]]

    # The middle hour again, from a different seed: only its partitions change.
    middle = RUN.hours()[1]
    reseeded = _ingest(store, middle, replace(OPTIONS, seed=12))
    after = object_etags(store)

    def outside(snapshot: dict[str, str]) -> dict[str, str]:
        return {uri: etag for uri, etag in snapshot.items() if middle.partition not in uri}

    assert outside(after) == outside(before)
    scans = COMMERCE_SHIPMENT_EVENTS.raw(middle).uri
    assert after[scans] != before[scans]
    for name, (dataset, key, _, _) in FEEDS.items():
        [manifest] = reseeded[name]
        assert store.get_json(dataset.manifest(middle))["rows_in"] == manifest.rows_in
        raw = from_parquet_bytes(store.get_bytes(dataset.raw(middle)))
        assert len(raw) == manifest.rows_written
        assert read_hours(store, dataset, RUN)[key].is_unique


def test_late_scans_land_in_the_hour_they_were_made_and_only_once(store: ObjectStore) -> None:
    _ingest(store, RUN, OPTIONS)
    _ingest(store, NEXT, OPTIONS)
    both = Interval(RUN.start, NEXT.end)

    scans = read_hours(store, COMMERCE_SHIPMENT_EVENTS, both)
    quarantined = read_all(store, Bucket.QUARANTINE, COMMERCE_SHIPMENT_EVENTS.path + "/")
    assert scans["event_id"].is_unique
    for hour in both.hours():
        raw = from_parquet_bytes(store.get_bytes(COMMERCE_SHIPMENT_EVENTS.raw(hour)))
        assert ((raw["event_ts"] >= hour.start) & (raw["event_ts"] < hour.end)).all()
    # Split in two runs or simulated in one go, the same scans: none lost, none twice.
    whole = simulate_shipment_events(both, OPTIONS.seed, orders_per_hour=OPTIONS.orders_per_hour)
    stored_ids = set(scans["event_id"]) | _ids(quarantined, "event_id")
    assert stored_ids == set(whole.readings["event_id"])

    # Orders placed in the first run are scanned in the second one...
    first_orders = set(read_hours(store, COMMERCE_ORDERS, RUN)["order_id"])
    all_orders = first_orders | set(read_hours(store, COMMERCE_ORDERS, NEXT)["order_id"])
    later = read_hours(store, COMMERCE_SHIPMENT_EVENTS, NEXT)
    assert later["order_id"].isin(first_orders).any()
    # ...and most scans of either run are of orders placed before both.
    assert (~scans["order_id"].isin(all_orders)).mean() > 0.5

    # Each hour's delivery labels sit beside the scans that report those deliveries.
    for hour in both.hours():
        labels = from_parquet_bytes(store.get_bytes(COMMERCE_DELIVERY_LABELS.raw(hour)))
        raw = from_parquet_bytes(store.get_bytes(COMMERCE_SHIPMENT_EVENTS.raw(hour)))
        delivered = raw.loc[raw["event_type"] == "delivered", "shipment_id"]
        assert set(delivered) <= set(labels["shipment_id"])
        assert ((labels["delivered_at"] >= hour.start) & (labels["delivered_at"] < hour.end)).all()
        assert (labels["delivery_days"] > 0).all()


def _simulated_order_line(hour: Interval) -> tuple[str, str]:
    """A valid order the simulator sends in ``hour``, as a CSV line, and its id."""
    wire = simulate_orders(hour, OPTIONS.seed, orders_per_hour=OPTIONS.orders_per_hour).readings
    valid = validate_orders(wire, hour, ingested_at=hour.end).valid
    order_id = valid["order_id"].iloc[0]
    row = wire[wire["order_id"] == order_id].iloc[0]
    # The file's header names the required columns only (the optional ones are empty here).
    return order_id, ",".join(row[f.name] for f in ORDER_SCHEMA.fields if f.required)


def _orders_csv(duplicate_line: str) -> bytes:
    return (
        "\ufefforder_id, Customer_ID ,ordered_at,destination_country,currency,amount,item_count\r\n"
        "L-1,C00001,2026-11-18T18:05:00Z,US,USD,19.99,1\r\n"
        "\r\n"
        'L-2,C00002,2026-11-18T19:06:00+01:00,DE,EUR,"12,50",2\r\n'
        "L-3,C00003,2026-11-18T18:07:00Z,DE,USD,12.50,1\r\n"
        "L-4,C00004,2026-11-18T18:08:00Z,XX,USD,12.50,1\r\n"
        "L-5,,2026-11-18T18:09:00Z,US,USD,5.00,1\r\n"
        "L-6,C00006,2026-11-18T18:10:00Z,US,USD,5.00,0\r\n"
        "L-7,C00007,2031-01-01T00:00:00Z,US,USD,5.00,1\r\n"
        "L-8,C00008,2026-11-18T18:11:00Z,US,USD,5.00,1,surplus\r\n"
        "L-1,C00001,2026-11-18T18:05:00Z,US,USD,19.99,1\r\n"
        f"{duplicate_line}\r\n"
    ).encode()


SCANS_JSONL = (
    b'{"event_id": "LS-1", "shipment_id": "SHP-L-1", "order_id": "L-1", "carrier": "swiftpost",'
    b' "event_type": "picked_up", "event_ts": "2026-11-18T19:30:00+01:00", "location": "US"}\n'
    b'{"event_id": "LS-2", "shipment_id": "SHP-L-1", "order_id": "L-1", "carrier": "acme",'
    b' "event_type": "in_transit", "event_ts": "2026-11-18T18:40:00Z", "location": "US"}\n'
    b"\n"
    b'{"event_id": "LS-3", "shipment_id": "SHP-L-1", "order_id": "L-1", "carrier": "swiftpost",'
    b' "event_type": "in_transit", "event_ts": "2026-11-18T18:41:00", "location": "US"}\n'
    b'{"event_id": "LS-4", "shipment_id": "SHP-L-1", "order_id": "L-1", "carrier": "swiftpost",'
    b' "event_type": "in_transit", "event_ts": "2026-11-18T18:42:00Z", "location": "ZZ"}\n'
    b'{"event_id": "LS-5", "shipment_id": oops}\n'
    b"[1, 2]\n"
)


def test_landing_files_are_claimed_by_the_last_hour_and_reread_on_rerun(
    store: ObjectStore,
) -> None:
    last = RUN.hours()[-1]
    duplicate_id, duplicate_line = _simulated_order_line(last)
    not_utf8 = b"event_id,shipment_id\r\n\xff\xfe,x\r\n"
    store.put_bytes(COMMERCE_ORDERS_LANDING.incoming("shop-1.csv"), _orders_csv(duplicate_line))
    store.put_bytes(COMMERCE_ORDERS_LANDING.incoming("orders.xlsx"), b"PK\x03\x04 not orders")
    store.put_bytes(COMMERCE_SHIPMENTS_LANDING.incoming("carrier-1.jsonl"), SCANS_JSONL)
    store.put_bytes(COMMERCE_SHIPMENTS_LANDING.incoming("carrier-2.csv"), not_utf8)

    manifests = _ingest(store, RUN, OPTIONS)

    for name in FEEDS:
        assert [m.files for m in manifests[name][:-1]] == [[], []]
        assert [m.files_rejected for m in manifests[name][:-1]] == [{}, {}]
        assert all(m.reconciles for m in manifests[name])
    orders_manifest = manifests["orders"][-1]
    scans_manifest = manifests["shipment_events"][-1]
    assert [f.rsplit("/", 1)[-1] for f in orders_manifest.files] == ["shop-1.csv"]
    assert [f.rsplit("/", 1)[-1] for f in scans_manifest.files] == ["carrier-1.jsonl"]

    # Orders: one good landed row in raw, every bad one quarantined with its reason.
    raw = read_all(store, Bucket.RAW, COMMERCE_ORDERS.prefix(last))
    quarantined = read_all(store, Bucket.QUARANTINE, COMMERCE_ORDERS.prefix(last))
    landed = raw[raw["origin"] == "landing:shop-1.csv"]
    assert list(landed["order_id"]) == ["L-1"]
    assert landed["amount"].iloc[0] == pytest.approx(19.99)
    assert list(raw.loc[raw["order_id"] == duplicate_id, "origin"]) == [ORIGIN]
    from_file = quarantined[quarantined["origin"] == "landing:shop-1.csv"]
    assert sorted(
        zip(from_file["order_id"].fillna("?"), from_file["reason"], strict=True)
    ) == sorted(
        [
            ("?", "malformed_csv"),
            (duplicate_id, "duplicate_order_id"),
            ("L-1", "duplicate_order_id"),
            ("L-2", "bad_value"),
            ("L-3", "currency_mismatch"),
            ("L-4", "unknown_country"),
            ("L-5", "missing_field:customer_id"),
            ("L-6", "non_positive_item_count"),
            ("L-7", "future_timestamp"),
        ]
    )
    assert from_file.loc[from_file["reason"] == "malformed_csv", "raw_record"].iloc[0] == (
        "L-8,C00008,2026-11-18T18:11:00Z,US,USD,5.00,1,surplus"
    )
    simulated_rows = len(
        simulate_orders(last, OPTIONS.seed, orders_per_hour=OPTIONS.orders_per_hour).readings
    )
    assert orders_manifest.rows_in == simulated_rows + 10 == len(raw) + len(quarantined)
    assert quarantined["reason"].value_counts().to_dict() == orders_manifest.reasons

    # Scans: the JSON lines file the same way.
    raw_scans = read_all(store, Bucket.RAW, COMMERCE_SHIPMENT_EVENTS.prefix(last))
    bad_scans = read_all(store, Bucket.QUARANTINE, COMMERCE_SHIPMENT_EVENTS.prefix(last))
    landed = raw_scans[raw_scans["origin"] == "landing:carrier-1.jsonl"]
    assert list(landed["event_id"]) == ["LS-1"]
    assert landed["event_ts"].iloc[0] == pd.Timestamp("2026-11-18T18:30:00Z")
    from_file = bad_scans[bad_scans["origin"] == "landing:carrier-1.jsonl"]
    assert sorted(zip(from_file["event_id"].fillna("?"), from_file["reason"], strict=True)) == [
        ("?", "json_not_object"),
        ("?", "malformed_json"),
        ("LS-2", "unknown_carrier"),
        ("LS-3", "bad_timestamp"),
        ("LS-4", "unknown_location"),
    ]
    assert scans_manifest.rows_in == len(raw_scans) + len(bad_scans)
    assert bad_scans["reason"].value_counts().to_dict() == scans_manifest.reasons

    # Unreadable files are kept whole in quarantine, with their reasons in the manifest.
    for area, name, body, manifest, reason in (
        (COMMERCE_ORDERS_LANDING, "orders.xlsx", None, orders_manifest, "unsupported_format"),
        (COMMERCE_SHIPMENTS_LANDING, "carrier-2.csv", not_utf8, scans_manifest, "not_utf8"),
    ):
        kept = store.get_bytes(area.rejected(last, name))
        assert body is None or kept == body
        [(rejected_file, why)] = manifest.files_rejected.items()
        assert rejected_file.endswith(f"/{name}")
        assert why.split(":")[0] == reason
        assert store.list(Bucket.LANDING, area.incoming_prefix, recursive=False) == []

    # A rerun reads the claimed files again and writes the very same objects.
    before = object_etags(store)
    again = _ingest(store, RUN, OPTIONS)
    assert object_etags(store) == before
    for name in FEEDS:
        assert [(m.rows_in, m.reasons) for m in again[name]] == [
            (m.rows_in, m.reasons) for m in manifests[name]
        ]
        assert again[name][-1].files == manifests[name][-1].files
        assert again[name][-1].files_rejected == manifests[name][-1].files_rejected
