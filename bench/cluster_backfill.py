"""Benchmark the cluster profile: a 24-hour backfill on one Celery worker, then on two.

Starts the cluster profile (PostgreSQL, Redis, MinIO on four drives, Airflow with
CeleryExecutor) on free ports in a temporary folder, then, through Airflow's REST
API as a person would, backfills 24 hours of ``ingest_sensors`` (``transform_lake``
follows through the raw assets):

1. with worker-2 stopped: one worker, 4 task slots;
2. the same 24 hours again (reruns replace their intervals, so both passes do the
   same work) with both workers: 8 task slots.

For each: wall time from the backfill request until every run it caused is done,
the span of the ingestion runs alone (how many transforms the asset events start
varies with timing), task instances run, tasks per minute, and how many ran on
each worker. Results go
to stdout, ``bench/results-cluster.md`` and ``bench/results-cluster.json``.

    python bench/cluster_backfill.py             # 24 hours of 50 devices
    python bench/cluster_backfill.py --sizes large   # 24 hours of 500 devices
    python bench/cluster_backfill.py --quick     # 4 hours of 10 devices, to check it works
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import machine_facts, machine_table, parse_arguments, write_results

SIZES = {
    "small": {"hours": 24, "fleet_size": 50},
    "large": {"hours": 24, "fleet_size": 500},
    "quick": {"hours": 4, "fleet_size": 10},
}
FIRST_HOUR = datetime(2026, 11, 10, 0, tzinfo=UTC)
DAGS = ["ingest_sensors", "transform_lake"]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _runs(api, dag_id: str, since: datetime) -> list[dict]:
    runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns", updated_at_gte=_stamp(since), limit=1000)
    return runs["dag_runs"]


def _wait_quiet(api, since: datetime, timeout: float = 3600) -> list[tuple[str, dict]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = [(d, r) for d in DAGS for r in _runs(api, d, since)]
        busy = [r for _, r in runs if r["state"] in ("queued", "running")]
        if not busy and runs:
            return runs
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(busy)} runs still busy after {timeout:.0f}s")
        time.sleep(5)


def backfill(api, hours: int, fleet_size: int) -> dict[str, Any]:
    """One backfill of ``hours`` hours; the figures of every run it caused."""
    since = datetime.now(UTC)
    started = time.perf_counter()
    api.post(
        "/api/v2/backfills",
        {
            "dag_id": "ingest_sensors",
            "from_date": _stamp(FIRST_HOUR),
            "to_date": _stamp(FIRST_HOUR + timedelta(hours=hours - 1)),
            "dag_run_conf": {"fleet_size": fleet_size},
            "reprocess_behavior": "completed",
            "max_active_runs": 10,
        },
    )
    # The backfill's runs are created at once; wait for them and the transforms.
    time.sleep(10)
    runs = _wait_quiet(api, since)
    seconds = time.perf_counter() - started
    ingests = [r for d, r in runs if d == "ingest_sensors" and r["start_date"] and r["end_date"]]
    ingest_seconds = (
        max(datetime.fromisoformat(r["end_date"]) for r in ingests)
        - min(datetime.fromisoformat(r["start_date"]) for r in ingests)
    ).total_seconds()
    states: Counter = Counter()
    hosts: Counter = Counter()
    tasks = 0
    for dag_id, run in runs:
        states[f"{dag_id} {run['state']}"] += 1
        for ti in api.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances", limit=1000
        )["task_instances"]:
            if ti["state"] == "success":
                tasks += 1
                hosts[ti["hostname"] or "?"] += 1
    return {
        "seconds": seconds,
        "ingest_seconds": ingest_seconds,
        "runs": dict(states),
        "tasks": tasks,
        "tasks_per_minute": tasks / (seconds / 60),
        "hosts": dict(hosts),
    }


def bench(size: str, work: Path) -> dict[str, Any]:
    from fieldhouse import cluster, localstack
    from fieldhouse.__main__ import build_minio
    from fieldhouse.run_health import AirflowApi

    params = SIZES[size]
    print(f"\n{size}: {params}", flush=True)
    build_minio()
    ports = {
        name: localstack.free_port()
        for name in (
            "minio_port",
            "minio_console_port",
            "airflow_port",
            "docs_port",
            "postgres_port",
            "redis_port",
        )
    }
    config = cluster.ClusterConfig.load(work, **ports)
    os.environ["FIELDHOUSE_DAGS_PAUSED"] = "True"
    print("  starting the cluster profile ...", flush=True)
    cluster.start_cluster(config)
    try:
        api = AirflowApi(config.airflow_url, "admin", config.secrets["airflow_password"])
        deadline = time.monotonic() + 300
        while not set(DAGS) <= {d["dag_id"] for d in api.get("/api/v2/dags")["dags"]}:
            if time.monotonic() > deadline:
                raise RuntimeError("the DAGs did not appear within 300 s")
            time.sleep(3)
        for dag_id in DAGS:
            api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})
        # Unpausing starts the latest scheduled hour; let it pass before timing.
        time.sleep(10)
        _wait_quiet(api, datetime.now(UTC) - timedelta(minutes=5))

        results = {}
        print("  one worker ...", end="", flush=True)
        config.service("airflow-worker-2").stop(timeout=60)
        results[1] = backfill(api, **params)
        print(f" {results[1]['seconds']:.0f} s", flush=True)
        print("  two workers ...", end="", flush=True)
        cluster.start_worker(config, 2)
        cluster.wait_for_workers(config)
        results[2] = backfill(api, **params)
        print(f" {results[2]['seconds']:.0f} s", flush=True)
    finally:
        cluster.stop_cluster(config)
    return {"size": size, "params": params, "workers": results}


def render(report: dict[str, Any]) -> str:
    workers = report["workers"]
    one = workers[1]["seconds"]
    lines = [
        "# Fieldhouse benchmark: a backfill on the cluster profile",
        "",
        f"Written by `bench/cluster_backfill.py` on {report['machine']['date']}, size "
        f"`{report['size']}`: a backfill of {report['params']['hours']} hours of "
        f"`ingest_sensors` ({report['params']['fleet_size']} simulated devices), "
        "`transform_lake` following through the raw assets; CeleryExecutor, 4 task slots "
        "per worker. The second pass reruns the same hours, so both do the same work.",
        "",
        "| workers | wall time | vs one worker | ingestion runs (first start to last end) "
        "| tasks run | tasks per minute | runs | tasks by worker |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for count, w in workers.items():
        runs = ", ".join(f"{n} {k}" for k, n in sorted(w["runs"].items()))
        hosts = ", ".join(f"{h}: {n}" for h, n in sorted(w["hosts"].items()))
        lines.append(
            f"| {count} | {w['seconds']:.0f} s | {one / w['seconds']:.2f}x "
            f"| {w['ingest_seconds']:.0f} s | {w['tasks']} "
            f"| {w['tasks_per_minute']:.1f} | {runs} | {hosts} |"
        )
    lines += ["", *machine_table(report["machine"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.split("\n")[0], SIZES, "results-cluster", argv)
    # One size a run (the default list, small and large, means small).
    size = args.sizes[0]
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-cluster-"))
    started = time.perf_counter()
    try:
        report = bench(size, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["total_seconds"] = time.perf_counter() - started
    report["machine"] = machine_facts(load)
    write_results(args, report, render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
