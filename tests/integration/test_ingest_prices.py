"""Price ingestion against a real MinIO server: objects, reruns, quarantine, landing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fieldhouse.ingest import registries
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.ingest.sources import PRICES, PriceRunOptions
from fieldhouse.sources.prices import INSTRUMENTS
from fieldhouse.storage.keys import (
    MARKET_INSTRUMENTS,
    MARKET_LANDING,
    MARKET_PRICE_BARS,
    MARKET_PRICE_LABELS,
    Bucket,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.integration.objects import object_etags, read_all

pytestmark = pytest.mark.integration

# A Wednesday: equities trade 14:30 to 21:00 UTC, the currency pair all day.
DAY = Interval(datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC))
HOUR = Interval(datetime(2026, 11, 18, 15, tzinfo=UTC), datetime(2026, 11, 18, 16, tzinfo=UTC))
OPTIONS = PriceRunOptions(seed=3)


def _ingest(store: ObjectStore, interval: Interval, options: PriceRunOptions) -> list[Manifest]:
    """Every hour of the market's one feed, price bars."""
    return ingest_source(store, PRICES, interval, options)["price_bars"]


def _object_etags(store: ObjectStore) -> dict[str, str]:
    """Every object with its ETag; registry objects by key only, as each run re-registers."""
    registry = f"s3://{Bucket.RAW}/{MARKET_INSTRUMENTS.prefix}"
    return {
        uri: "" if uri.startswith(registry) else etag for uri, etag in object_etags(store).items()
    }


def test_a_trading_day_writes_one_partition_per_hour_that_reconciles(store: ObjectStore) -> None:
    manifests = _ingest(store, DAY, OPTIONS)

    assert len(manifests) == 24
    keys = sorted(o.key.key for o in store.list(Bucket.RAW, MARKET_PRICE_BARS.path + "/"))
    assert keys == [MARKET_PRICE_BARS.raw(h).key for h in DAY.hours()]
    for hour, manifest in zip(DAY.hours(), manifests, strict=True):
        stored = store.get_json(MARKET_PRICE_BARS.manifest(hour))
        raw = from_parquet_bytes(store.get_bytes(MARKET_PRICE_BARS.raw(hour)))
        assert stored["reconciles"] is True
        assert stored["rows_in"] == stored["rows_written"] + stored["rows_quarantined"]
        assert len(raw) == manifest.rows_written == stored["rows_written"]
        assert (raw["ingested_at"] == hour.end).all()
        assert ((raw["bar_start"] >= hour.start) & (raw["bar_start"] < hour.end)).all()

    raw = read_all(store, Bucket.RAW, MARKET_PRICE_BARS.path + "/")
    quarantined = read_all(store, Bucket.QUARANTINE, MARKET_PRICE_BARS.path + "/")
    total_reasons: dict[str, int] = {}
    for manifest in manifests:
        for reason, count in manifest.reasons.items():
            total_reasons[reason] = total_reasons.get(reason, 0) + count
    assert sum(m.rows_in for m in manifests) == len(raw) + len(quarantined)
    assert quarantined["reason"].value_counts().to_dict() == total_reasons
    assert set(total_reasons) <= {
        "bad_value",
        "unknown_instrument",
        "ohlc_inconsistent",
        "outside_trading_hours",
        "duplicate_event_id",
    }
    # A full day: the equities' session and the currency pair's 24 hours.
    equity_bars_per_day = (21 * 60 - (14 * 60 + 30)) // OPTIONS.bar_minutes
    per_instrument = raw["instrument"].value_counts()
    assert set(per_instrument.index) == {i.instrument_id for i in INSTRUMENTS}
    assert per_instrument["ACME"] <= equity_bars_per_day
    assert per_instrument["EURUSD"] > per_instrument["ACME"]
    assert raw["event_id"].is_unique
    assert (raw["high"] >= raw[["open", "close", "low"]].max(axis=1)).all()
    assert str(raw["bar_start"].dtype) == "datetime64[us, UTC]"
    assert str(raw["volume"].dtype) == "Int64"
    labels = read_all(store, Bucket.RAW, MARKET_PRICE_LABELS.path + "/")
    assert set(raw["event_id"]) <= set(labels["event_id"])
    registry = registries.load(store, registries.INSTRUMENTS)
    assert sorted(registry["instrument_id"]) == sorted(i.instrument_id for i in INSTRUMENTS)
    assert set(registry["registered_by"]) == {"catalog:instruments"}


def test_rerun_replaces_the_interval_with_identical_objects(store: ObjectStore) -> None:
    two_hours = Interval(HOUR.start, HOUR.start.replace(hour=17))
    first = _ingest(store, two_hours, OPTIONS)
    before = _object_etags(store)
    second = _ingest(store, two_hours, OPTIONS)

    assert _object_etags(store) == before  # same keys, byte-identical bodies (ETags)
    assert [m.rows_in for m in second] == [m.rows_in for m in first]
    assert [m.reasons for m in second] == [m.reasons for m in first]


BAD_BARS_CSV = (
    "\ufeffevent_id,Instrument ,bar_start,open,high,low,close,volume\r\n"
    "b-1,ACME,2026-11-18T15:05:00Z,180.10,180.50,179.90,180.30,42000\r\n"
    "b-2,ACME,2026-11-18T15:10:00Z,180.10,179.00,179.90,180.30,42000\r\n"
    "b-3,ACME,2026-11-18T15:15:00Z,0,180.50,-1,180.30,42000\r\n"
    "b-4,ACME,2026-11-18T15:20:00Z,180.10,180.50,179.90,180.30,-5\r\n"
    "b-5,ACME,2026-11-18T03:00:00Z,180.10,180.50,179.90,180.30,42000\r\n"
    "b-6,ZZZZ,2026-11-18T15:25:00Z,180.10,180.50,179.90,180.30,42000\r\n"
    "b-7,EURUSD,2026-11-18T18:00:00Z,1.08500,1.08600,1.08400,1.08550,3500\r\n"
    'b-8,ACME,2026-11-18T15:30:00Z,180.10,180.50,179.90,"180,30",42000\r\n'
    "b-1,ACME,2026-11-18T15:05:00Z,180.10,180.50,179.90,180.30,42000\r\n"
    "b-9,EURUSD,2026-11-18T15:35:00Z,1.08500,1.08600,1.08400,1.08550,3500\r\n"
).encode()


def test_landing_files_go_in_once_with_bad_bars_quarantined(store: ObjectStore) -> None:
    only_files = PriceRunOptions(simulate=False)
    store.put_bytes(MARKET_LANDING.incoming("vendor-1.csv"), BAD_BARS_CSV)
    store.put_bytes(MARKET_LANDING.incoming("notes.xlsx"), b"PK\x03\x04 not a price file")

    [manifest] = _ingest(store, HOUR, only_files)

    raw = read_all(store, Bucket.RAW, MARKET_PRICE_BARS.prefix(HOUR))
    quarantined = read_all(store, Bucket.QUARANTINE, MARKET_PRICE_BARS.prefix(HOUR))
    assert sorted(raw["event_id"]) == ["b-1", "b-9"]
    assert (raw["origin"] == "landing:vendor-1.csv").all()
    assert sorted(zip(quarantined["event_id"], quarantined["reason"], strict=True)) == [
        ("b-1", "duplicate_event_id"),
        ("b-2", "ohlc_inconsistent"),
        ("b-3", "non_positive_price"),
        ("b-4", "negative_volume"),
        ("b-5", "outside_trading_hours"),
        ("b-6", "unknown_instrument"),
        ("b-7", "future_timestamp"),
        ("b-8", "bad_value"),
    ]
    assert manifest.rows_in == 10 == len(raw) + len(quarantined)
    assert sum(manifest.reasons.values()) == manifest.rows_quarantined == 8
    assert store.get_json(MARKET_PRICE_BARS.manifest(HOUR))["reconciles"] is True
    # The unreadable file is kept whole in quarantine, with its reason in the manifest.
    assert store.exists(MARKET_LANDING.rejected(HOUR, "notes.xlsx"))
    [(rejected_file, reason)] = manifest.files_rejected.items()
    assert rejected_file.endswith("/notes.xlsx")
    assert reason.split(":")[0] == "unsupported_format"
    # Claimed files left the drop folder, so the next hour does not see them...
    assert store.list(Bucket.LANDING, MARKET_LANDING.incoming_prefix, recursive=False) == []
    next_hour = Interval(HOUR.end, HOUR.end.replace(hour=17))
    [later] = _ingest(store, next_hour, only_files)
    assert later.rows_in == 0
    # ...but a rerun of their own hour reads them again, with the same result.
    [again] = _ingest(store, HOUR, only_files)
    assert (again.rows_in, again.reasons) == (manifest.rows_in, manifest.reasons)
