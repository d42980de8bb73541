"""Simulated and user sensor data side by side: kept apart by source, and the simulators' switch."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.sources.fleet import build_fleet
from fieldhouse.storage.keys import Bucket, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore
from tests.integration.objects import read_all

pytestmark = pytest.mark.integration

HOURS = Interval(datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC))
OPTIONS = SensorRunOptions(fleet_size=6, seed=3)


def _empty(store: ObjectStore) -> None:
    for bucket in set(Bucket) - {Bucket.LAKE}:
        for obj in store.list(bucket, ""):
            store.delete(obj.key)


def _user_file(device_id: str) -> bytes:
    """A user's readings for a device id the simulated fleet also uses, in the same hours."""
    rows = [
        f"u-{i},{device_id},2026-11-20T{9 + i // 6:02d}:{(i % 6) * 10:02d}:00Z,temperature_c,-30.0"
        for i in range(12)
    ]
    return ("event_id,device_id,ts,metric,value\n" + "\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def side_by_side(minio_server) -> pd.DataFrame:
    """The hourly mart after the fleet and a user's file wrote readings of one device id."""
    from fieldhouse.lake import build_domains, duckdb_connect

    store = ObjectStore(minio_server)
    _empty(store)
    shared = next(
        d.device_id
        for d in build_fleet(OPTIONS.fleet_size, OPTIONS.seed)
        if d.device_id.startswith("env-")
    )
    store.put_bytes(LandingArea("sensors").incoming("mine.csv"), _user_file(shared))
    ingest_source(store, SENSORS, HOURS, OPTIONS)
    build_domains(minio_server, ["sensors"])
    with duckdb_connect(minio_server) as con:
        hourly = con.execute(
            "select * from lake.main.fct_sensor_readings_hourly where device_id = ? "
            "and metric = 'temperature_c'",
            [shared],
        ).df()
    return hourly


def test_one_device_id_from_two_sources_stays_two_series(side_by_side) -> None:
    by_source = {source: rows for source, rows in side_by_side.groupby("source")}
    assert set(by_source) == {"simulator", "sensor_readings"}
    user = by_source["sensor_readings"]
    assert user["reading_count"].sum() == 12
    assert (user["value_mean"] == -30.0).all()
    # The fleet's hours are untouched by the user's -30 °C readings.
    simulated = by_source["simulator"]
    assert (simulated["value_min"] > -30.0).all()
    assert set(user["event_hour"]) <= set(simulated["event_hour"])


def test_switching_the_simulators_off_leaves_landing_files_only(minio_server, monkeypatch) -> None:
    store = ObjectStore(minio_server)
    _empty(store)
    monkeypatch.setenv("FIELDHOUSE_SIMULATORS", "off")
    store.put_bytes(LandingArea("sensors").incoming("mine.csv"), _user_file("env-0001"))
    from fieldhouse.ingest import registries

    registries.register_unseen(
        store,
        registries.DEVICES,
        "landing:devices.csv",
        pd.Series(["env-0001"]),
        {"device_kind": "environmental", "site": "mine"},
    )
    manifests = ingest_source(store, SENSORS, HOURS, OPTIONS)

    written = read_all(store, Bucket.RAW, "sensors/readings/")
    assert sum(m.rows_written for m in manifests["readings"]) == len(written) == 12
    assert set(written["source"]) == {"sensor_readings"}
    assert read_all(store, Bucket.RAW, "sensors/anomaly_labels/").empty
    fleet = registries.load(store, registries.DEVICES)
    assert set(fleet["device_id"]) == {"env-0001"}, "the simulated fleet was registered"
