"""Finance ingestion against a real MinIO server: transactions, late chargebacks, landing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fieldhouse.ingest import registries
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.ingest.sources import (
    CUSTOMER_COLUMNS,
    FINANCE,
    FinanceRunOptions,
    register_customers,
)
from fieldhouse.quality.finance import (
    CHARGEBACK_SCHEMA,
    TRANSACTION_SCHEMA,
    validate_transactions,
)
from fieldhouse.sources.finance import (
    CHARGEBACK_DAYS,
    ORIGIN,
    simulate_chargebacks,
    simulate_transactions,
)
from fieldhouse.storage.keys import (
    FINANCE_CHARGEBACKS,
    FINANCE_CHARGEBACKS_LANDING,
    FINANCE_CUSTOMERS,
    FINANCE_TRANSACTION_LABELS,
    FINANCE_TRANSACTIONS,
    FINANCE_TRANSACTIONS_LANDING,
    Bucket,
    Interval,
    registry_slug,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.integration.objects import object_etags, read_all, read_hours

pytestmark = pytest.mark.integration

# Three morning hours and the three after them; with this seed and issuer size,
# chargebacks are reported in both and a fraud burst happens in the last hour.
RUN = Interval(datetime(2026, 11, 18, 9, tzinfo=UTC), datetime(2026, 11, 18, 12, tzinfo=UTC))
NEXT = Interval(RUN.end, datetime(2026, 11, 18, 15, tzinfo=UTC))
OPTIONS = FinanceRunOptions(seed=5, customers=80)

# feed name -> (raw dataset, key column, event time column, schema)
FEEDS = {
    "transactions": (FINANCE_TRANSACTIONS, "transaction_id", "ts", TRANSACTION_SCHEMA),
    "chargebacks": (FINANCE_CHARGEBACKS, "chargeback_id", "reported_at", CHARGEBACK_SCHEMA),
}


def _ingest(
    store: ObjectStore, interval: Interval, options: FinanceRunOptions
) -> dict[str, list[Manifest]]:
    """Every hour of both finance feeds, after the issuer's customers are registered."""
    return ingest_source(store, FINANCE, interval, options)


def _object_etags(store: ObjectStore) -> dict[str, str]:
    """Every object with its ETag; registry objects by key only, as each run re-registers."""
    registry = f"s3://{Bucket.RAW}/{FINANCE_CUSTOMERS.prefix}"
    return {
        uri: "" if uri.startswith(registry) else etag for uri, etag in object_etags(store).items()
    }


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

    assert sorted(manifests) == sorted(FEEDS)
    for name, (dataset, key, event_time, schema) in FEEDS.items():
        assert len(manifests[name]) == len(RUN.hours()) == 3
        keys = sorted(o.key.key for o in store.list(Bucket.RAW, dataset.path + "/"))
        assert keys == [dataset.raw(h).key for h in RUN.hours()]
        for hour, manifest in zip(RUN.hours(), manifests[name], strict=True):
            stored = store.get_json(dataset.manifest(hour))
            raw = from_parquet_bytes(store.get_bytes(dataset.raw(hour)))
            assert stored["reconciles"] is True
            assert stored["rows_in"] == stored["rows_written"] + stored["rows_quarantined"]
            assert stored["rows_in"] == manifest.rows_in > 0
            assert len(raw) == manifest.rows_written == stored["rows_written"]
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

    # The registry, and the fraud labels of every hour beside its transactions.
    registry = registries.load(store, registries.CUSTOMERS)
    assert list(registry.columns) == [*CUSTOMER_COLUMNS, "registered_by", "registered_at"]
    assert set(registry["registered_by"]) == {"simulator:issuer-n80-s5"}
    assert len(registry) == OPTIONS.customers
    assert registry["customer_id"].is_unique
    transactions = read_hours(store, FINANCE_TRANSACTIONS, RUN)
    assert transactions["customer_id"].isin(registry["customer_id"]).all()
    labels = read_hours(store, FINANCE_TRANSACTION_LABELS, RUN)
    label_keys = sorted(
        o.key.key for o in store.list(Bucket.RAW, FINANCE_TRANSACTION_LABELS.path + "/")
    )
    assert label_keys == [FINANCE_TRANSACTION_LABELS.raw(h).key for h in RUN.hours()]
    assert set(transactions["transaction_id"]) <= set(labels["transaction_id"])
    assert labels["is_fraud"].any()


def test_rerun_is_identical_and_a_sub_interval_rerun_replaces_only_its_hours(
    store: ObjectStore,
) -> None:
    first = _ingest(store, RUN, OPTIONS)
    before = _object_etags(store)
    second = _ingest(store, RUN, OPTIONS)

    assert _object_etags(store) == before  # same keys, byte-identical bodies (ETags)
    for name in FEEDS:
        assert [m.rows_in for m in second[name]] == [m.rows_in for m in first[name]]
        assert [m.reasons for m in second[name]] == [m.reasons for m in first[name]]

    # The first hour again, from a different seed: only its partitions change.
    hour = RUN.hours()[0]
    reseeded = _ingest(store, hour, replace(OPTIONS, seed=6))
    after = _object_etags(store)

    # The new seed's issuer registers its customers beside the first one's.
    first_registry, reseeded_registry = (
        FINANCE_CUSTOMERS.registered(registry_slug(f"simulator:issuer-n80-s{seed}")).uri
        for seed in (5, 6)
    )
    assert {first_registry, reseeded_registry} <= set(after)

    def outside(snapshot: dict[str, str]) -> dict[str, str]:
        return {
            uri: etag
            for uri, etag in snapshot.items()
            if hour.partition not in uri and uri != reseeded_registry
        }

    assert outside(after) == outside(before)
    assert after[FINANCE_TRANSACTIONS.raw(hour).uri] != before[FINANCE_TRANSACTIONS.raw(hour).uri]
    for name, (dataset, key, _, _) in FEEDS.items():
        [manifest] = reseeded[name]
        assert store.get_json(dataset.manifest(hour))["rows_in"] == manifest.rows_in
        raw = from_parquet_bytes(store.get_bytes(dataset.raw(hour)))
        assert len(raw) == manifest.rows_written
        assert read_hours(store, dataset, RUN)[key].is_unique


def test_late_chargebacks_land_in_the_hour_they_are_reported_and_only_once(
    store: ObjectStore,
) -> None:
    _ingest(store, RUN, OPTIONS)
    _ingest(store, NEXT, OPTIONS)
    both = Interval(RUN.start, NEXT.end)

    chargebacks = read_hours(store, FINANCE_CHARGEBACKS, both)
    quarantined = read_all(store, Bucket.QUARANTINE, FINANCE_CHARGEBACKS.path + "/")
    assert len(read_hours(store, FINANCE_CHARGEBACKS, RUN)) > 0
    assert len(read_hours(store, FINANCE_CHARGEBACKS, NEXT)) > 0
    assert chargebacks["chargeback_id"].is_unique
    # Split in two runs or simulated in one go, the same chargebacks: none lost, none twice.
    whole = simulate_chargebacks(both, OPTIONS.seed, customers=OPTIONS.customers)
    stored_ids = set(chargebacks["chargeback_id"]) | _ids(quarantined, "chargeback_id")
    assert stored_ids == set(whole.readings["chargeback_id"])
    # Each one disputes a transaction made days before the run, never seen by it.
    made = whole.labels.set_index("chargeback_id")["transaction_ts"]
    delay = chargebacks["reported_at"] - chargebacks["chargeback_id"].map(made)
    assert (delay >= timedelta(days=CHARGEBACK_DAYS[0])).all()
    transactions = read_hours(store, FINANCE_TRANSACTIONS, both)
    assert not chargebacks["transaction_id"].isin(transactions["transaction_id"]).any()
    for hour in both.hours():
        raw = from_parquet_bytes(store.get_bytes(FINANCE_CHARGEBACKS.raw(hour)))
        assert ((raw["reported_at"] >= hour.start) & (raw["reported_at"] < hour.end)).all()
        labels = from_parquet_bytes(store.get_bytes(FINANCE_TRANSACTION_LABELS.raw(hour)))
        made_here = from_parquet_bytes(store.get_bytes(FINANCE_TRANSACTIONS.raw(hour)))
        assert set(made_here["transaction_id"]) <= set(labels["transaction_id"])


def _simulated_transaction_line(hour: Interval) -> tuple[str, str]:
    """A valid transaction the simulator sends in ``hour``, as a CSV line, and its id."""
    wire = simulate_transactions(hour, OPTIONS.seed, customers=OPTIONS.customers).readings
    valid = validate_transactions(wire, hour, ingested_at=hour.end).valid
    transaction_id = valid["transaction_id"].iloc[0]
    row = wire[wire["transaction_id"] == transaction_id].iloc[0]
    return transaction_id, ",".join(row[f.name] for f in TRANSACTION_SCHEMA.fields)


def _transactions_csv(duplicate_line: str) -> bytes:
    header = "transaction_id,customer_id, TS ,amount,currency,merchant_category,channel,country"
    return (
        f"\ufeff{header},device_id\r\n"
        "L-1,CUST-00001,2026-11-18T11:05:00Z,42.10,USD,grocery,card_present,US,DEV-1\r\n"
        "\r\n"
        'L-2,CUST-00002,2026-11-18T12:06:00+01:00,"42,10",USD,grocery,online,US,DEV-2\r\n'
        "L-3,CUST-00003,2026-11-18T11:07:00Z,-3.00,USD,grocery,online,US,DEV-3\r\n"
        "L-4,CUST-00004,2026-11-18T11:08:00Z,9.99,XBT,grocery,online,US,DEV-4\r\n"
        "L-5,CUST-00005,2026-11-18T11:09:00Z,9.99,USD,grocery,carrier_pigeon,US,DEV-5\r\n"
        "L-6,CUST-00006,2031-01-01T00:00:00Z,9.99,USD,grocery,online,US,DEV-6\r\n"
        "L-7,CUST-00007,2026-11-18T11:10:00Z,9.99,USD,grocery,online,US\r\n"
        'L-8,CUST-00008,2026-11-18T11:11:00Z,9.99,USD,grocery,online,US,DEV-8,"x"\r\n'
        "L-1,CUST-00001,2026-11-18T11:05:00Z,42.10,USD,grocery,card_present,US,DEV-1\r\n"
        f"{duplicate_line}\r\n"
    ).encode()


CHARGEBACKS_JSONL = (
    b'{"chargeback_id": "LC-1", "transaction_id": "TX-1", "customer_id": "CUST-00001",'
    b' "reported_at": "2026-11-18T12:15:00+01:00", "amount": 120.50, "currency": "EUR",'
    b' "reason_code": "fraud_card_present"}\n'
    b'{"chargeback_id": "LC-2", "transaction_id": "TX-2", "customer_id": "CUST-00001",'
    b' "reported_at": "2026-11-18T11:16:00Z", "amount": 0, "currency": "EUR",'
    b' "reason_code": "fraud_card_present"}\n'
    b'{"chargeback_id": "LC-3", "transaction_id": "TX-3", "customer_id": "CUST-00001",'
    b' "reported_at": "2026-11-18T11:17:00Z", "amount": 9.5, "currency": "EUR",'
    b' "reason_code": "changed_mind"}\n'
    b"\r\n"
    b'{"chargeback_id": "LC-4", "transaction_id": "TX-4", "customer_id": null,'
    b' "reported_at": "2026-11-18T11:18:00Z", "amount": 9.5, "currency": "EUR",'
    b' "reason_code": "fraud_card_present"}\n'
    b'{"chargeback_id": "LC-5", \n'
)


def test_landing_files_are_claimed_by_the_last_hour_and_reread_on_rerun(
    store: ObjectStore,
) -> None:
    last = RUN.hours()[-1]
    duplicate_id, duplicate_line = _simulated_transaction_line(last)
    unreadable = b"\x1f\x8b\x08\x00 not really gzip"
    store.put_bytes(
        FINANCE_TRANSACTIONS_LANDING.incoming("bank-1.csv"), _transactions_csv(duplicate_line)
    )
    store.put_bytes(FINANCE_TRANSACTIONS_LANDING.incoming("bank-2.csv.gz"), unreadable)
    store.put_bytes(FINANCE_CHARGEBACKS_LANDING.incoming("disputes-1.jsonl"), CHARGEBACKS_JSONL)

    manifests = _ingest(store, RUN, OPTIONS)

    for name in FEEDS:
        assert [m.files for m in manifests[name][:-1]] == [[], []]
        assert all(m.reconciles for m in manifests[name])
    tx_manifest = manifests["transactions"][-1]
    cb_manifest = manifests["chargebacks"][-1]
    assert [f.rsplit("/", 1)[-1] for f in tx_manifest.files] == ["bank-1.csv"]
    assert [f.rsplit("/", 1)[-1] for f in cb_manifest.files] == ["disputes-1.jsonl"]

    # Transactions: the good landed rows in raw, every bad one quarantined with its reason.
    raw = read_all(store, Bucket.RAW, FINANCE_TRANSACTIONS.prefix(last))
    quarantined = read_all(store, Bucket.QUARANTINE, FINANCE_TRANSACTIONS.prefix(last))
    landed = raw[raw["origin"] == "landing:bank-1.csv"]
    assert list(landed["transaction_id"]) == ["L-1"]
    assert landed["amount"].iloc[0] == pytest.approx(42.10)
    assert list(raw.loc[raw["transaction_id"] == duplicate_id, "origin"]) == [ORIGIN]
    from_file = quarantined[quarantined["origin"] == "landing:bank-1.csv"]
    found = zip(from_file["transaction_id"].fillna("?"), from_file["reason"], strict=True)
    assert sorted(found) == sorted(
        [
            ("?", "malformed_csv"),
            (duplicate_id, "duplicate_transaction_id"),
            ("L-1", "duplicate_transaction_id"),
            ("L-2", "bad_value"),
            ("L-3", "non_positive_amount"),
            ("L-4", "unknown_currency"),
            ("L-5", "unknown_channel"),
            ("L-6", "future_timestamp"),
            ("L-7", "missing_field:device_id"),
        ]
    )
    simulated_rows = len(
        simulate_transactions(last, OPTIONS.seed, customers=OPTIONS.customers).readings
    )
    assert tx_manifest.rows_in == simulated_rows + 10 == len(raw) + len(quarantined)
    assert quarantined["reason"].value_counts().to_dict() == tx_manifest.reasons

    # Chargebacks: the JSON lines file the same way.
    raw_cb = read_all(store, Bucket.RAW, FINANCE_CHARGEBACKS.prefix(last))
    bad_cb = read_all(store, Bucket.QUARANTINE, FINANCE_CHARGEBACKS.prefix(last))
    landed = raw_cb[raw_cb["origin"] == "landing:disputes-1.jsonl"]
    assert list(landed["chargeback_id"]) == ["LC-1"]
    assert landed["reported_at"].iloc[0] == pd.Timestamp("2026-11-18T11:15:00Z")
    from_file = bad_cb[bad_cb["origin"] == "landing:disputes-1.jsonl"]
    assert sorted(
        zip(from_file["chargeback_id"].fillna("?"), from_file["reason"], strict=True)
    ) == [
        ("?", "malformed_json"),
        ("LC-2", "non_positive_amount"),
        ("LC-3", "unknown_reason_code"),
        ("LC-4", "missing_field:customer_id"),
    ]
    assert cb_manifest.rows_in == len(raw_cb) + len(bad_cb)
    assert bad_cb["reason"].value_counts().to_dict() == cb_manifest.reasons

    # The unreadable file is kept whole in quarantine, with its reason in the manifest.
    assert store.get_bytes(FINANCE_TRANSACTIONS_LANDING.rejected(last, "bank-2.csv.gz")) == (
        unreadable
    )
    [(rejected_file, reason)] = tx_manifest.files_rejected.items()
    assert rejected_file.endswith("/bank-2.csv.gz")
    assert reason.split(":")[0] == "unreadable_gzip"
    assert cb_manifest.files_rejected == {}
    for area in (FINANCE_TRANSACTIONS_LANDING, FINANCE_CHARGEBACKS_LANDING):
        assert store.list(Bucket.LANDING, area.incoming_prefix, recursive=False) == []

    # A rerun reads the claimed files again and writes the very same objects.
    before = _object_etags(store)
    again = _ingest(store, RUN, OPTIONS)
    assert _object_etags(store) == before
    for name in FEEDS:
        assert [(m.rows_in, m.reasons) for m in again[name]] == [
            (m.rows_in, m.reasons) for m in manifests[name]
        ]
        assert again[name][-1].files == manifests[name][-1].files
        assert again[name][-1].files_rejected == manifests[name][-1].files_rejected


def test_without_simulation_or_files_every_hour_writes_an_empty_partition(
    store: ObjectStore,
) -> None:
    register_customers(store, OPTIONS)
    manifests = _ingest(store, RUN, FinanceRunOptions(simulate=False))

    for name, (dataset, _, _, schema) in FEEDS.items():
        for hour, manifest in zip(RUN.hours(), manifests[name], strict=True):
            assert (manifest.rows_in, manifest.rows_written, manifest.rows_quarantined) == (0, 0, 0)
            stored = store.get_json(dataset.manifest(hour))
            assert stored["reconciles"] is True
            assert (stored["rows_in"], stored["reasons"], stored["files"]) == (0, {}, [])
            raw = from_parquet_bytes(store.get_bytes(dataset.raw(hour)))
            assert raw.empty
            assert list(raw.columns) == list(schema.lake_columns)
        assert store.list(Bucket.QUARANTINE, dataset.path + "/") == []
    # Nothing simulated: no labels, and the customers registered before stay registered.
    assert store.list(Bucket.RAW, FINANCE_TRANSACTION_LABELS.path + "/") == []
    assert len(registries.load(store, registries.CUSTOMERS)) == OPTIONS.customers
