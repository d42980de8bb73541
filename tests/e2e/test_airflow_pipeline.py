"""End to end: trigger ingestion over REST; the transform follows through the Asset."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from fieldhouse.storage.keys import (
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
    FINANCE_CHARGEBACKS,
    FINANCE_TRANSACTIONS,
    SENSOR_READINGS,
    Interval,
)

pytestmark = pytest.mark.e2e

LOGICAL_DATE = "2026-11-22T14:00:00Z"  # a manual run covers the hour before: 13:00-14:00
INTERVAL = Interval.parse("2026-11-22T13:00:00+00:00")


def _event_time(airflow, source_dag_id: str, source_run_id: str, timeout: float = 120) -> datetime:
    """When ``source_run_id`` published its last asset event.

    A run may publish several (sensor readings and anomaly windows are two
    assets); the transform must have started after the last of them.
    Airflow 3.3 answers 500 for events whose triggered run has not started yet
    (its start_date is null), so ask again until that run starts.
    """
    path = f"/api/v2/assets/events?source_dag_id={source_dag_id}&limit=100"
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = airflow.get(path)["asset_events"]
            break
        except AssertionError as error:
            if "HTTP 500" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(2)
    ours = [e for e in events if e["source_run_id"] == source_run_id]
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in ours]
    assert stamps, f"{source_run_id} published no asset event: {events}"
    return max(stamps)


def _wait_for_build_after(airflow, dag_id: str, after: datetime, timeout: float) -> dict:
    """An asset-triggered run of ``dag_id`` whose dbt build started after ``after``.

    Not "the run created by our event": when two ingestion runs publish within
    milliseconds, Airflow may fold the second event into the run the first one
    just created. What matters is that a build ran after our data was written.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in airflow.runs(dag_id):
            if run["run_type"] != "asset_triggered" or run["state"] == "queued":
                continue
            build = airflow.task_instance(dag_id, run["dag_run_id"], "build_models")
            if build["start_date"] and datetime.fromisoformat(build["start_date"]) > after:
                return airflow.wait_for_run(dag_id, run["dag_run_id"], timeout)
        time.sleep(3)
    raise AssertionError(f"no {dag_id} build started after {after}: {airflow.runs(dag_id)}")


def test_ingestion_triggers_the_transform_and_fills_the_mart(airflow, store) -> None:
    began = datetime.now(UTC) - timedelta(seconds=5)
    airflow.wait_for_dags({"ingest_sensors", "transform_lake"})
    airflow.set_paused("transform_lake", False)
    airflow.set_paused("ingest_sensors", False)
    started = airflow.trigger(
        "ingest_sensors", "e2e-sensors", LOGICAL_DATE, {"fleet_size": 10, "seed": 11}
    )
    assert (started["data_interval_start"], started["data_interval_end"]) == (
        "2026-11-22T13:00:00Z",
        "2026-11-22T14:00:00Z",
    )

    ingest = airflow.wait_for_run("ingest_sensors", "e2e-sensors", timeout=300)
    assert ingest["state"] == "success", airflow.task_states("ingest_sensors", "e2e-sensors")
    manifest = store.get_json(SENSOR_READINGS.manifest(INTERVAL))
    assert manifest["reconciles"] and manifest["rows_written"] > 0

    published = _event_time(airflow, "ingest_sensors", "e2e-sensors")
    transform = _wait_for_build_after(airflow, "transform_lake", published, timeout=600)
    assert transform["state"] == "success", airflow.task_states(
        "transform_lake", transform["dag_run_id"]
    )

    # Stop new runs, so later tests start from a quiet Airflow (reading the lake
    # needs nothing paused).
    airflow.pause_when_idle(["ingest_sensors", "transform_lake"])

    # `python -m fieldhouse status` tells the same story: every run done, nothing failed.
    from fieldhouse.run_health import AirflowApi, run_health

    health = run_health(AirflowApi(airflow.base_url, "admin", airflow.password), began)
    assert health.runs["ingest_sensors"]["success"] >= 1, health.lines()
    assert health.runs["transform_lake"]["success"] >= 1, health.lines()
    assert not health.problems and not health.failed_runs, health.lines()

    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(store.settings) as con:
        rows, readings = con.execute(
            "select count(*), sum(reading_count) from lake.fct_sensor_readings_hourly "
            "where event_hour = ?",
            [datetime.fromisoformat("2026-11-22T13:00:00+00:00")],
        ).fetchone()
    assert rows > 0 and readings > 0


@pytest.mark.parametrize(
    ("dag_id", "conf", "datasets"),
    [
        (
            "ingest_commerce",
            {"orders_per_hour": 5, "seed": 3},
            [COMMERCE_ORDERS, COMMERCE_SHIPMENT_EVENTS, COMMERCE_SHIPMENTS],
        ),
        (
            "ingest_finance",
            {"customers": 60, "seed": 3},
            [FINANCE_TRANSACTIONS, FINANCE_CHARGEBACKS],
        ),
    ],
)
def test_market_ingestion_runs_in_airflow_and_publishes_each_feed(
    airflow, store, dag_id, conf, datasets
) -> None:
    airflow.wait_for_dags({dag_id})
    airflow.set_paused(dag_id, False)
    run_id = f"e2e-{dag_id}"
    airflow.trigger(dag_id, run_id, LOGICAL_DATE, conf)
    run = airflow.wait_for_run(dag_id, run_id, timeout=300)
    airflow.set_paused(dag_id, True)

    assert run["state"] == "success", airflow.task_states(dag_id, run_id)
    for dataset in datasets:
        manifest = store.get_json(dataset.manifest(INTERVAL))
        assert manifest["reconciles"], manifest
        # Each feed's reconcile task published its asset, with the run's totals.
        feed = dataset.entity
        summary = airflow.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{feed}.reconcile_counts"
            "/xcomEntries/return_value"
        )["value"]
        assert summary["rows_in"] == manifest["rows_in"], summary
    # Orders are simulated for the hour; scans of earlier orders arrive in it too.
    if dag_id == "ingest_commerce":
        scans = store.get_json(COMMERCE_SHIPMENT_EVENTS.manifest(INTERVAL))
        assert scans["rows_written"] > 0


def test_the_ui_links_to_the_platform_s_other_uis(airflow, stack_config) -> None:
    plugins = airflow.get("/api/v2/plugins")["plugins"]
    [links] = [p for p in plugins if p["name"] == "fieldhouse_links"]
    hrefs = {v["name"]: v["href"] for v in links["external_views"]}
    assert hrefs == {
        "MLflow models": stack_config.mlflow_url,
        "Evidently drift": stack_config.evidently_url,
        "dbt docs": f"http://127.0.0.1:{stack_config.docs_port}",
        "MinIO console": f"http://127.0.0.1:{stack_config.minio_console_port}",
    }
