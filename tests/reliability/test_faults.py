"""Services killed in the middle of work: nothing lost, nothing duplicated.

These scenarios kill servers, so they run on a stack of their own (MinIO and
the lake catalog's PostgreSQL), never the session's. Each compares what the
platform holds after the fault (and the retry Airflow would make) with a run
that met no fault. A worker killed mid-task is in tests/cluster/, a killed
scheduler in tests/e2e/test_stack_health.py, twenty runs at once in
tests/e2e/test_many_writers.py; they report to the same table.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from fieldhouse import localstack
from fieldhouse.config import StorageSettings
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.storage.keys import SENSOR_READINGS, Bucket, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.conftest import STACK_PORTS, free_ports, stack_home
from tests.reliability.record import full_size, record

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[tuple[localstack.StackConfig, StorageSettings]]:
    """MinIO and PostgreSQL of this module's own, with the environment pointing at them."""
    for home in stack_home("fieldhouse-faults-"):
        config = localstack.StackConfig.load(home, **free_ports(*STACK_PORTS))
        localstack.start_postgres(config)
        localstack.start_minio(config)
        try:
            operator = localstack.provision_minio(config)
            with pytest.MonkeyPatch.context() as patch:
                for name, value in config.pipeline_env().items():
                    patch.setenv(name, value)
                patch.delenv("MLFLOW_TRACKING_URI")
                yield config, operator
        finally:
            config.service("minio").stop()
            config.service("postgres").stop(sig=signal.SIGINT)


def _empty(settings: StorageSettings) -> ObjectStore:
    store = ObjectStore(settings)
    for bucket in set(Bucket) - {Bucket.LAKE}:
        for obj in store.list(bucket, ""):
            store.delete(obj.key)
    return store


def _raw_ids(store: ObjectStore) -> pd.Series:
    return from_parquet_bytes(store.get_bytes(SENSOR_READINGS.raw(HOUR)))["event_id"]


def _run_with_fault(work, fault, after: float) -> tuple[bool, BaseException | None]:
    """Run ``work`` in a thread, call ``fault`` ``after`` seconds in; (was it mid-work, error)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as error:  # the fault's effect: reported, then retried
            failure.append(error)

    worker = threading.Thread(target=target)
    worker.start()
    time.sleep(after)
    midway = worker.is_alive()
    fault()
    worker.join()
    return midway, failure[0] if failure else None


def test_minio_killed_mid_ingest(fault_stack) -> None:
    config, operator = fault_stack
    options = SensorRunOptions(fleet_size=5000 if full_size() else 1500, seed=21)
    store = _empty(operator)
    ingest_source(store, SENSORS, HOUR, options)
    expected = set(_raw_ids(store))
    store = _empty(operator)

    def kill_and_return() -> None:
        config.service("minio").stop(sig=signal.SIGKILL)
        time.sleep(3)  # down long enough for requests in flight to fail
        localstack.start_minio(config)

    # A short deadline, so the task itself may fail as Airflow would see it.
    short = ObjectStore(operator, retry_deadline=2)
    midway, error = _run_with_fault(
        lambda: ingest_source(short, SENSORS, HOUR, options), kill_and_return, after=0.5
    )
    assert midway, "the ingest finished before MinIO was killed: raise the fleet size"
    if error is not None:
        ingest_source(store, SENSORS, HOUR, options)  # Airflow's retry
    ids = _raw_ids(store)
    lost, duplicated = len(expected - set(ids)), len(ids) - ids.nunique()
    outcome = (
        f"task failed ({type(error).__name__}), its retry wrote the hour"
        if error is not None
        else "task waited for MinIO and finished"
    )
    record(
        "fault",
        f"MinIO killed mid-ingest ({options.fleet_size} devices, down 3 s)",
        outcome,
        rows_lost=lost,
        rows_duplicated=duplicated,
        error=str(error)[:160] if error is not None else "",
    )
    assert lost == duplicated == 0
    assert set(ids) == expected


BUILD = (
    "import sys; from fieldhouse.config import StorageSettings; "
    "from fieldhouse.lake import run_dbt; "
    "result = run_dbt(['build', '--select', 'tag:sensors'], StorageSettings.from_env(), "
    "check=False); "
    "sys.exit(0 if result.success else 1)"
)


def _build_process() -> subprocess.Popen:
    """``dbt build`` of the sensor models in a process of its own, as an Airflow task runs it."""
    plugins = str(Path(__file__).resolve().parents[2] / "plugins")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([plugins, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", BUILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_lake_catalog_killed_mid_build(fault_stack) -> None:
    from fieldhouse.lake import duckdb_connect

    config, operator = fault_stack
    options = SensorRunOptions(fleet_size=300 if full_size() else 60, seed=22)
    store = _empty(operator)
    ingest_source(store, SENSORS, HOUR, options)
    raw = from_parquet_bytes(store.get_bytes(SENSOR_READINGS.raw(HOUR)))

    build = _build_process()
    lines = []
    for raw_line in build.stdout:
        lines.append(raw_line.decode(errors="replace"))
        # The first table being written: the catalog is in the middle of a commit's work.
        if "START sql table model" in lines[-1]:
            break
    midway = build.poll() is None
    config.service("postgres").stop(sig=signal.SIGKILL)
    assert not localstack.port_open(config.postgres_port), "PostgreSQL still answers"
    lines.append(build.communicate(timeout=300)[0].decode(errors="replace"))
    output = "".join(lines)
    assert midway, "the build finished before the catalog was killed"
    localstack.start_postgres(config)
    retry = _build_process()  # Airflow's retry: a fresh process
    retry_output = retry.communicate(timeout=600)[0].decode(errors="replace")
    assert retry.returncode == 0, retry_output[-3000:]
    with duckdb_connect(operator) as con:
        counted = int(
            con.execute(
                "select sum(reading_count) from lake.fct_sensor_readings_hourly"
            ).fetchone()[0]
        )
    distinct = raw["event_id"].nunique()
    failed = build.returncode != 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)  # dbt's colours
    errors = [line for line in plain.splitlines() if "Error" in line]
    record(
        "fault",
        f"lake catalog (PostgreSQL) killed mid-build ({len(raw)} readings)",
        "build failed, its retry built the marts" if failed else "build finished regardless",
        rows_lost=max(distinct - counted, 0),
        rows_duplicated=max(counted - distinct, 0),
        error=(errors[0].strip() if errors else "")[:160],
    )
    assert counted == distinct
