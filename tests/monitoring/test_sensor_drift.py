"""The anomaly model's drift check on a real lake: quiet when nothing changed,
flagged when the simulator shifts the environmental sensors' calibration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.storage.keys import Interval
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 10, 0, tzinfo=UTC)
OPTIONS = SensorRunOptions(fleet_size=20, seed=21)


@pytest.fixture(scope="module")
def trained_lake(minio_server):
    """Three normal days ingested and built, and a champion trained on them.

    Whole days, because the signals follow daily cycles: a window of other
    hours of the day than the reference differs without anything being wrong.
    """
    from fieldhouse.lake import build_domains
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL, retrain

    store = empty_zones(minio_server)
    ingest_source(store, SENSORS, Interval(START, START + timedelta(hours=72)), OPTIONS)
    build_domains(minio_server, ["sensors"])
    retrain(minio_server, SENSOR_ANOMALY_MODEL)
    return store


def test_unchanged_data_is_not_flagged(trained_lake, minio_server) -> None:
    from fieldhouse.monitoring.sensors import check_sensor_feature_drift

    result = check_sensor_feature_drift(trained_lake, minio_server, "quiet", window_hours=24)
    assert result["drifted_metrics"] == [], result["reason"]
    assert result["reports"] and all(r.startswith("s3://reports/") for r in result["reports"])


def test_a_calibration_shift_is_flagged_and_recorded(trained_lake, minio_server) -> None:
    from fieldhouse.lake import build_domains, duckdb_connect
    from fieldhouse.monitoring.drift import DRIFT_TABLE
    from fieldhouse.monitoring.sensors import check_sensor_feature_drift

    shifted = SensorRunOptions(fleet_size=20, seed=21, calibration_shift_c=8.0)
    later = START + timedelta(hours=72)
    ingest_source(trained_lake, SENSORS, Interval(later, later + timedelta(hours=24)), shifted)
    build_domains(minio_server, ["sensors"])

    result = check_sensor_feature_drift(trained_lake, minio_server, "shifted", window_hours=24)

    # The shift moves temperatures only; the other metrics stay as they were.
    assert result["drifted_metrics"] == ["temperature_c"], result["reason"]
    assert "temperature_c" in result["reason"]
    with duckdb_connect(minio_server) as con:
        rows = con.execute(
            f"select run_id, metric, drifted from {DRIFT_TABLE} order by run_id, metric"
        ).fetchall()
    assert ("shifted", "temperature_c", True) in rows
    assert all(not drifted for run, _, drifted in rows if run == "quiet")
