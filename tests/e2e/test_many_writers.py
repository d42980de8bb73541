"""End to end: every DAG that writes the lake runs at once, with people reading it.

Rounds of: the four ingestions, a transform, training of all three models and a
drift check, all triggered together, while four readers query the marts the
whole time. Nothing may fail, nothing may need a retry, and after a last quiet
build the marts hold exactly what the raw zone holds.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from fieldhouse.lake import duckdb_connect, table_exists
from fieldhouse.storage.keys import FINANCE_TRANSACTIONS, SENSOR_READINGS
from tests.reliability.record import record

pytestmark = pytest.mark.e2e

# One round here (the session's lake already holds every mart, so the writers meet
# existing tables); `make reliability` runs two rounds of four hours each.
ROUNDS = int(os.environ.get("FIELDHOUSE_CONCURRENCY_ROUNDS", "1"))
# Hours each ingestion DAG is triggered for at once in a round: 2 makes 11 runs at a
# time, 4 makes 19.
HOURS = int(os.environ.get("FIELDHOUSE_CONCURRENCY_HOURS", "2"))
READERS = 4
QUERIES_PER_SESSION = 10
PAUSE_SECONDS = 2.0
FIRST_HOUR = datetime(2026, 11, 24, 8, tzinfo=UTC)
INGESTIONS = {
    "ingest_sensors": {"fleet_size": 8},
    "ingest_prices": {},
    "ingest_commerce": {"orders_per_hour": 5},
    "ingest_finance": {"customers": 60},
}
ALL_DAGS = [*INGESTIONS, "transform_lake", "train_models", "monitor_drift"]
READ_QUERIES = [
    "select count(*), sum(reading_count) from lake.fct_sensor_readings_hourly",
    "select count(*) from lake.ml_sensor_anomaly_features",
    "select count(*) from lake.fct_transactions",
    "select count(*) from lake.fct_market_daily",
]


class Readers:
    """Threads that query the lake in a loop, as people at a notebook would."""

    def __init__(self, settings, count: int) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.reads = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._read, args=(i,), daemon=True) for i in range(count)
        ]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _read(self, index: int) -> None:
        # A person keeps a session open and queries now and then; each query
        # (its own transaction) sees the latest committed snapshot. Sessions are
        # reopened now and then too, so attaching the lake is exercised as well.
        while not self.stop.is_set():
            try:
                with duckdb_connect(self.settings) as con:
                    for _ in range(QUERIES_PER_SESSION):
                        for sql in READ_QUERIES:
                            table = "lake.main." + sql.split(" from lake.")[1]
                            if table_exists(con, table):
                                con.execute(sql).fetchall()
                        with self._lock:
                            self.reads += 1
                        if self.stop.wait(PAUSE_SECONDS):
                            return
            except Exception as error:  # every failed read is a finding
                with self._lock:
                    self.failures.append(f"reader {index}: {type(error).__name__}: {error}")
                self.stop.wait(PAUSE_SECONDS)


@pytest.mark.timeout(900 + 900 * ROUNDS)
def test_every_writer_at_once_with_readers_fails_nothing(airflow, store, minio_server) -> None:
    airflow.wait_for_dags(set(ALL_DAGS))
    since = datetime.now(UTC) - timedelta(seconds=5)
    for dag_id in ALL_DAGS:
        airflow.set_paused(dag_id, False)
    try:
        with Readers(minio_server, READERS) as readers:
            for round_ in range(ROUNDS):
                for offset in range(HOURS):
                    hour = FIRST_HOUR + timedelta(hours=round_ * HOURS + offset)
                    logical = hour.strftime("%Y-%m-%dT%H:%M:%SZ")
                    for dag_id, conf in INGESTIONS.items():
                        run_id = f"many-{round_}-{offset}"
                        airflow.trigger(dag_id, run_id, logical, {**conf, "seed": round_})
                # Started at once with the ingestions: the build meets the training
                # runs' score write-back and the drift checks' rows in the catalog.
                for dag_id in ("transform_lake", "train_models", "monitor_drift"):
                    airflow.trigger(dag_id, f"many-{round_}", logical, {})
                airflow.wait_for_quiet(ALL_DAGS, since, timeout=900)
            # Nothing else runs now: a last build sees every raw row.
            final = (FIRST_HOUR + timedelta(hours=ROUNDS * HOURS)).strftime("%Y-%m-%dT%H:%M:%SZ")
            airflow.trigger("transform_lake", "many-final", final, {})
            airflow.wait_for_quiet(ALL_DAGS, since, timeout=600)
            airflow.pause_when_idle(ALL_DAGS)
    finally:
        for dag_id in ALL_DAGS:
            airflow.set_paused(dag_id, True)

    runs = airflow.wait_for_quiet(ALL_DAGS, since, timeout=300)
    problems = []
    for dag_id, run in runs:
        for ti in airflow.task_instances(dag_id, run["dag_run_id"]):
            if ti["state"] not in ("success", "skipped") or ti["try_number"] > 1:
                problems.append(
                    f"{dag_id}/{run['dag_run_id']}/{ti['task_id']}[{ti['map_index']}]: "
                    f"{ti['state']} after {ti['try_number']} tries; first try's log ends: "
                    + airflow.task_log(dag_id, run["dag_run_id"], ti["task_id"], ti["map_index"])
                )
    assert not problems, "\n\n".join(problems)
    assert not readers.failures, readers.failures[:5]
    assert readers.reads >= READERS, readers.reads
    # Every round's ingestion and transform ran (asset events add more transforms).
    by_dag = {d: sum(1 for dd, _ in runs if dd == d) for d in ALL_DAGS}
    assert all(by_dag[d] >= ROUNDS for d in INGESTIONS), by_dag
    assert by_dag["transform_lake"] >= ROUNDS + 1, by_dag

    with duckdb_connect(minio_server) as con:
        raw_readings = con.execute(
            "select count(distinct event_id) from read_parquet(?, hive_partitioning = false)",
            [f"s3://raw/{SENSOR_READINGS.path}/**/*.parquet"],
        ).fetchone()[0]
        mart_readings = con.execute(
            "select sum(reading_count) from lake.fct_sensor_readings_hourly"
        ).fetchone()[0]
        raw_transactions = con.execute(
            "select count(distinct transaction_id) from read_parquet(?, hive_partitioning = false)",
            [f"s3://raw/{FINANCE_TRANSACTIONS.path}/**/*.parquet"],
        ).fetchone()[0]
        mart_transactions = con.execute("select count(*) from lake.fct_transactions").fetchone()[0]
    assert raw_readings > 0 and mart_readings == raw_readings
    assert raw_transactions > 0 and mart_transactions == raw_transactions
    record(
        "fault",
        f"every DAG at once: {ROUNDS} rounds, {HOURS} hours per ingestion DAG a round, "
        f"{READERS} readers",
        f"{len(runs)} runs (up to {len(INGESTIONS) * HOURS + 3} triggered at once): "
        f"no failed task, no retry, {readers.reads} reads, marts = raw",
        rows_lost=(raw_readings - mart_readings) + (raw_transactions - mart_transactions),
        rows_duplicated=0,
    )
