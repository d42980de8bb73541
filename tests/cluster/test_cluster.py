"""The production topology, run for real: Celery workers share the work, survive a lost
worker, and MinIO survives a lost drive."""

from __future__ import annotations

import shutil
import signal
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fieldhouse import cluster, localstack
from fieldhouse.lake import duckdb_connect
from fieldhouse.storage.keys import SENSOR_READINGS, Bucket, Interval, ObjectKey
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.reliability.record import record

pytestmark = pytest.mark.cluster

PIPELINE = ["ingest_sensors", "ingest_finance", "transform_lake", "train_models", "monitor_drift"]
WORKER_NAMES = {"worker-1", "worker-2"}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _problems(airflow, runs: list[tuple[str, dict]]) -> tuple[list[str], set[str]]:
    """Task instances that did not end well, and the hosts that ran any."""
    problems, hosts = [], set()
    for dag_id, run in runs:
        for ti in airflow.task_instances(dag_id, run["dag_run_id"]):
            if ti["hostname"]:
                hosts.add(ti["hostname"])
            if ti["state"] not in ("success", "skipped"):
                problems.append(f"{dag_id}/{run['dag_run_id']}/{ti['task_id']}: {ti['state']}")
    return problems, hosts


def test_ingest_transform_train_and_drift_run_on_both_workers(
    cluster_airflow, cluster_stack, cluster_storage
) -> None:
    airflow = cluster_airflow
    airflow.wait_for_dags(set(PIPELINE), timeout=300)
    since = datetime.now(UTC) - timedelta(seconds=5)
    for dag_id in PIPELINE:
        airflow.set_paused(dag_id, False)
    try:
        first = datetime(2026, 11, 25, 6, tzinfo=UTC)
        for hour in range(4):
            logical = _stamp(first + timedelta(hours=hour + 1))
            airflow.trigger("ingest_sensors", f"cl-{hour}", logical, {"fleet_size": 12})
            airflow.trigger("ingest_finance", f"cl-{hour}", logical, {"customers": 80})
        airflow.wait_for_quiet(PIPELINE, since, timeout=900)
        logical = _stamp(first + timedelta(hours=6))
        for dag_id in ("train_models", "monitor_drift"):
            airflow.trigger(dag_id, "cl-ml", logical, {})
            airflow.wait_for_quiet(PIPELINE, since, timeout=900)
        airflow.pause_when_idle(PIPELINE)
    finally:
        for dag_id in PIPELINE:
            airflow.set_paused(dag_id, True)

    runs = airflow.wait_for_quiet(PIPELINE, since, timeout=300)
    assert {d for d, _ in runs} >= {"ingest_sensors", "transform_lake", "train_models"}, runs
    problems, hosts = _problems(airflow, runs)
    assert not problems, problems
    assert hosts >= WORKER_NAMES, hosts
    with duckdb_connect(cluster_storage) as con:
        readings = con.execute(
            "select sum(reading_count) from lake.fct_sensor_readings_hourly"
        ).fetchone()[0]
    assert readings and readings > 0


# The long task of an ingestion run: simulating and writing one hour of readings.
LONG_TASK = "readings.ingest_hour"


def _running_instance(airflow, dag_id: str, run_id: str, timeout: float) -> dict:
    """The run's readings ingestion once a worker runs it (short tasks such as
    ``register`` may end before anything can be done to them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ti in airflow.task_instances(dag_id, run_id):
            running = ti["state"] == "running" and ti["hostname"] in WORKER_NAMES
            if running and ti["task_id"] == LONG_TASK:
                return ti
        time.sleep(1)
    raise AssertionError(
        f"no task of {dag_id}/{run_id} started: {airflow.task_states(dag_id, run_id)}"
    )


def test_a_killed_worker_s_task_is_retried_on_the_other_worker(
    cluster_airflow, cluster_stack
) -> None:
    airflow = cluster_airflow
    airflow.set_paused("ingest_sensors", False)
    try:
        # Enough devices that the hour takes a while (tens of seconds) to simulate and write.
        airflow.trigger(
            "ingest_sensors", "cl-kill", "2026-11-26T10:00:00Z", {"fleet_size": 5000, "seed": 4}
        )
        victim = _running_instance(airflow, "ingest_sensors", "cl-kill", timeout=300)
        index = int(victim["hostname"].rsplit("-", 1)[1])
        # As a machine loses power: the worker and the task it runs die at once,
        # as soon as the task is seen running (a wait here let a fast task finish first).
        assert cluster_stack.service(f"airflow-worker-{index}").stop(sig=signal.SIGKILL)
        path = victim["task_id"] + (f"/{victim['map_index']}" if victim["map_index"] >= 0 else "")
        killed = airflow.task_instance("ingest_sensors", "cl-kill", path)
        assert killed["state"] != "success", f"the task ended before its worker died: {killed}"
        run = airflow.wait_for_run("ingest_sensors", "cl-kill", timeout=600)
    finally:
        airflow.set_paused("ingest_sensors", True)
        cluster.start_worker(cluster_stack, index)
        cluster.wait_for_workers(cluster_stack)

    assert run["state"] == "success", airflow.task_states("ingest_sensors", "cl-kill")
    after = airflow.task_instance("ingest_sensors", "cl-kill", path)
    assert after["state"] == "success"
    assert after["try_number"] > victim["try_number"], after
    assert after["hostname"] == (WORKER_NAMES - {victim["hostname"]}).pop(), after
    # The hour the dead worker had begun was written once, whole.
    store = ObjectStore(cluster_stack.pipeline_settings)
    hour = Interval.parse("2026-11-26T09:00:00+00:00")
    manifest = store.get_json(SENSOR_READINGS.manifest(hour))
    parts = store.list(Bucket.RAW, SENSOR_READINGS.prefix(hour))
    ids = pd.concat(from_parquet_bytes(store.get_bytes(p.key))["event_id"] for p in parts)
    assert manifest["reconciles"] and manifest["rows_written"] == len(ids) == ids.nunique()
    record(
        "fault",
        "Celery worker killed (SIGKILL) mid-task, 5,000 devices",
        "task retried on the other worker and succeeded",
        rows_lost=manifest["rows_in"] - manifest["rows_written"] - manifest["rows_quarantined"],
        rows_duplicated=len(ids) - ids.nunique(),
    )


def _all_objects(store: ObjectStore) -> list[ObjectKey]:
    return [obj.key for bucket in Bucket for obj in store.list(bucket, "")]


def test_a_lost_minio_drive_loses_nothing_and_heals(cluster_airflow, cluster_stack) -> None:
    airflow = cluster_airflow
    root = ObjectStore(cluster_stack.root_settings)
    drive = localstack.minio_drives(cluster_stack, cluster.minio_drive_count())[2]
    airflow.set_paused("ingest_sensors", False)
    try:
        airflow.trigger(
            "ingest_sensors", "cl-drive", "2026-11-26T12:00:00Z", {"fleet_size": 1000, "seed": 5}
        )
        _running_instance(airflow, "ingest_sensors", "cl-drive", timeout=300)
        # The drive goes at once (a rename), then its files: MinIO keeps writing to
        # what it has open, so deleting in place races with it.
        lost = drive.with_name(drive.name + "-lost")
        drive.rename(lost)
        shutil.rmtree(lost, ignore_errors=True)
        run = airflow.wait_for_run("ingest_sensors", "cl-drive", timeout=600)
    finally:
        airflow.set_paused("ingest_sensors", True)
    assert run["state"] == "success", airflow.task_states("ingest_sensors", "cl-drive")

    # Every object, old and new, reads back whole with a drive missing.
    keys = _all_objects(root)
    assert len(keys) > 10
    for key in keys:
        assert root.get_bytes(key) is not None, key

    # MinIO formats the empty drive and heals every object onto it.
    deadline = time.monotonic() + 300
    while True:
        healed = {
            str(p.relative_to(drive).parent)
            for p in drive.rglob("xl.meta")
            if ".minio.sys" not in p.parts
        }
        missing = [k for k in keys if f"{k.bucket}/{k.key}" not in healed]
        if not missing:
            break
        assert time.monotonic() < deadline, (
            f"{len(missing)} of {len(keys)} not healed: {missing[:5]}"
        )
        time.sleep(5)
