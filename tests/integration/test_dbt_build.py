"""dbt build on ingested data: tests pass and the marts reconcile with raw counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import (
    COMMERCE,
    FINANCE,
    PRICES,
    SENSORS,
    CommerceRunOptions,
    FinanceRunOptions,
    PriceRunOptions,
    SensorRunOptions,
)
from fieldhouse.storage.keys import SENSOR_READINGS, Bucket, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

WINDOW = Interval(datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 13, tzinfo=UTC))
OPTIONS = SensorRunOptions(fleet_size=15, seed=5)
# The build reads every source, so every domain gets a few hours (prices: a Friday session).
PRICE_WINDOW = Interval(
    datetime(2026, 11, 20, 14, tzinfo=UTC), datetime(2026, 11, 20, 17, tzinfo=UTC)
)


@pytest.fixture(scope="module")
def built_lake(minio_server):
    """Three hours of each source ingested into a fresh MinIO, then one `dbt build`."""
    from fieldhouse.lake import run_dbt

    store = empty_zones(minio_server)
    manifests = ingest_source(store, SENSORS, WINDOW, OPTIONS)["readings"]
    ingest_source(store, PRICES, PRICE_WINDOW, PriceRunOptions(seed=5))
    commerce = CommerceRunOptions(orders_per_hour=5, include_landing=False)
    ingest_source(store, COMMERCE, WINDOW, commerce)
    ingest_source(store, FINANCE, WINDOW, FinanceRunOptions(customers=50, include_landing=False))
    result = run_dbt(["build"], minio_server)
    return store, manifests, result


def _raw_readings(store: ObjectStore) -> pd.DataFrame:
    return pd.concat(
        from_parquet_bytes(store.get_bytes(SENSOR_READINGS.raw(h))) for h in WINDOW.hours()
    )


def _query(settings, sql: str) -> pd.DataFrame:
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(settings) as con:
        return con.execute(sql).df()


def test_build_passes_every_model_and_test(built_lake) -> None:
    _, _, result = built_lake
    assert result.success
    statuses = {r.node.unique_id: str(r.status) for r in result.result}
    assert statuses, "dbt built nothing"
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses  # no-op: exposures
    assert any(uid.startswith("test.") for uid in statuses), "no data tests ran"


def test_hourly_mart_counts_every_distinct_raw_reading(built_lake, minio_server) -> None:
    store, _, _ = built_lake
    raw = _raw_readings(store)
    mart = _query(minio_server, "select * from lake.fct_sensor_readings_hourly")
    # Each event id counted once, in the hour it was measured.
    assert mart["reading_count"].sum() == raw["event_id"].nunique()
    expected = (
        raw.drop_duplicates("event_id")
        .assign(event_hour=lambda f: f["event_ts"].dt.floor("h"))
        .groupby(["device_id", "metric", "event_hour"])["value"]
        .agg(["count", "mean", "min", "max"])
        .reset_index()
    )
    merged = expected.merge(
        mart, on=["device_id", "metric", "event_hour"], how="outer", indicator=True
    )
    assert (merged["_merge"] == "both").all()
    assert (merged["count"] == merged["reading_count"]).all()
    assert merged["mean"].sub(merged["value_mean"]).abs().max() < 1e-9
    assert (merged["min"] == merged["value_min"]).all()
    assert (merged["max"] == merged["value_max"]).all()


def test_ingest_runs_mart_reconciles_with_the_manifests(built_lake, minio_server) -> None:
    _, manifests, _ = built_lake
    runs = _query(minio_server, "select * from lake.fct_ingest_runs order by interval_start")
    assert len(runs) == len(manifests) == 3
    assert runs["reconciles"].all()
    assert list(runs["rows_in"]) == [m.rows_in for m in manifests]
    assert list(runs["rows_quarantined"]) == [m.rows_quarantined for m in manifests]


def test_devices_and_features_cover_the_fleet(built_lake, minio_server) -> None:
    devices = _query(minio_server, "select * from lake.dim_devices")
    assert len(devices) == OPTIONS.fleet_size and devices["device_id"].is_unique
    features = _query(minio_server, "select * from lake.ml_sensor_anomaly_features")
    hourly = _query(minio_server, "select count(*) as n from lake.fct_sensor_readings_hourly")
    assert len(features) == hourly["n"].iloc[0]
    # The simulator injects faults; some hours must carry their label.
    assert features["has_injected_anomaly"].any()


def test_a_second_build_gives_the_same_marts(built_lake, minio_server) -> None:
    from fieldhouse.lake import run_dbt

    before = _query(
        minio_server, "select count(*) n, sum(reading_count) s from lake.fct_sensor_readings_hourly"
    )
    assert run_dbt(["build"], minio_server).success
    after = _query(
        minio_server, "select count(*) n, sum(reading_count) s from lake.fct_sensor_readings_hourly"
    )
    pd.testing.assert_frame_equal(before, after)


def test_expiring_snapshots_keeps_the_marts_and_frees_old_files(built_lake, minio_server) -> None:
    from datetime import timedelta

    from fieldhouse.lake import expire_snapshots, run_dbt

    store, _, _ = built_lake
    assert run_dbt(["build"], minio_server).success  # leaves superseded files behind
    files_before = len(store.list(Bucket.LAKE, ""))
    counts = _query(minio_server, "select count(*) n from lake.fct_sensor_readings_hourly")

    report = expire_snapshots(minio_server, keep=timedelta(0), grace=timedelta(0))

    assert report["snapshots_after"] == 1 < report["snapshots_before"]
    assert report["files_deleted"] > 0
    assert len(store.list(Bucket.LAKE, "")) == files_before - report["files_deleted"]
    pd.testing.assert_frame_equal(
        counts, _query(minio_server, "select count(*) n from lake.fct_sensor_readings_hourly")
    )


def test_only_domains_with_raw_data_are_built(minio_server) -> None:
    from fieldhouse.lake import build_domains, domains_with_data

    store = empty_zones(minio_server)
    assert domains_with_data(store) == []
    assert build_domains(minio_server, []) is None

    ingest_source(store, SENSORS, Interval.parse("2026-11-22T09:00:00+00:00"), OPTIONS)
    assert domains_with_data(store) == ["sensors"]
    result = build_domains(minio_server, ["sensors"])
    built = set(result)
    assert "model.fieldhouse.fct_sensor_readings_hourly" in built
    assert not any("market" in uid for uid in built), sorted(built)


def test_domains_build_in_dbt_processes_of_their_own(minio_server) -> None:
    """Two domains, two dbt processes at once: a failing one names its nodes, the other builds."""
    from fieldhouse.lake import DbtRunError, build_domains

    store = empty_zones(minio_server)
    ingest_source(store, SENSORS, WINDOW, OPTIONS)

    # No price bars yet: the market process fails on its empty source, sensors' does not.
    with pytest.raises(DbtRunError) as failure:
        build_domains(minio_server, ["sensors", "market"], processes=2)
    message = str(failure.value)
    assert "model.fieldhouse.stg_market__price_bars" in message, message
    assert "sensors" not in message.replace("tag:sensors", ""), message

    ingest_source(store, PRICES, PRICE_WINDOW, PriceRunOptions(seed=5))
    statuses = build_domains(minio_server, ["sensors", "market"], processes=2)
    assert statuses["model.fieldhouse.fct_sensor_readings_hourly"] == "success"
    assert statuses["model.fieldhouse.fct_market_daily"] == "success"
    assert not [uid for uid, status in statuses.items() if status in {"error", "fail"}]

    hourly = _query(
        minio_server, "select sum(reading_count) n from lake.fct_sensor_readings_hourly"
    )
    raw = _raw_readings(store)
    assert int(hourly["n"].iloc[0]) == raw["event_id"].nunique()
