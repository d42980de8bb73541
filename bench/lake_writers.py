"""Benchmark the lake with many writers: dbt threads and processes, writers committing at once.

The lake's catalog is a PostgreSQL database, so several processes write it at
once. This script starts its own MinIO and PostgreSQL (free ports, a temporary
folder), ingests the ``small`` size of ``bench/ml.py`` (sensors, commerce,
finance), then measures, each in a fresh spawned process:

- ``dbt build`` of every domain with 1, 2 and 4 threads, ``--repeat`` times
  each (the fastest counts; every failed build is counted, none is hidden);
- the same build as ``fieldhouse.lake.build_domains`` runs it: one dbt process
  per domain, 1, 2 and 3 of them at once (1 is a single dbt build, the baseline);
- appends to one lake table (as drift checks do) from 1 process, then the same
  number of appends split over 4 processes at once: wall time, and how many
  commits lost a race and were redone (``fieldhouse.lake.write_lake``).

Results go to stdout, ``bench/results-lake.md`` and ``bench/results-lake.json``.

    python bench/lake_writers.py              # the small size
    python bench/lake_writers.py --quick      # a tiny size, to check that it all works
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from common import (
    machine_facts,
    machine_table,
    own_minio,
    parse_arguments,
    run_stage,
    settings,
    write_results,
)
from ml import SIZES, stage_ingest

THREADS = (1, 2, 4)
PROCESSES = (1, 2, 3)
DOMAINS = ("sensors", "commerce", "finance")
APPENDS = 40
WRITERS = 4
TABLE = "lake.main.bench_appends"


# --- Stages: each runs in a fresh process ------------------------------------------


def stage_build(threads: int) -> dict:
    """One ``dbt build`` of every domain; a failure is reported, not raised."""
    import dbt.adapters.duckdb  # noqa: F401  imported before the clock starts

    from fieldhouse.lake import _failure_message, run_dbt

    selection = [f"tag:{domain}" for domain in DOMAINS]
    started = time.perf_counter()
    result = run_dbt(
        ["build", "--threads", str(threads), "--select", *selection], settings(), check=False
    )
    seconds = time.perf_counter() - started
    nodes = list(getattr(result.result, "results", None) or [])
    return {
        "seconds": seconds,
        "success": bool(result.success),
        "nodes": len(nodes),
        "failure": "" if result.success else _failure_message(["build"], result)[:2000],
    }


def stage_build_domains(processes: int) -> dict:
    """``build_domains`` of every domain, ``processes`` dbt processes at once."""
    import dbt.adapters.duckdb  # noqa: F401  imported before the clock starts

    from fieldhouse.lake import DbtRunError, build_domains

    started = time.perf_counter()
    try:
        statuses = build_domains(settings(), list(DOMAINS), processes=processes)
        failure = ""
    except DbtRunError as error:
        statuses, failure = {}, str(error)[:2000]
    return {
        "seconds": time.perf_counter() - started,
        "success": not failure,
        "nodes": len(statuses),
        "failure": failure,
    }


def _summary(runs: list[dict]) -> dict:
    return {
        "seconds": min(r["seconds"] for r in runs),
        "runs": [round(r["seconds"], 2) for r in runs],
        "failed": sum(not r["success"] for r in runs),
        "failures": [r["failure"] for r in runs if not r["success"]],
        "nodes": runs[0]["nodes"],
    }


def _append(worker: int, count: int) -> int:
    """``count`` one-row appends to TABLE; returns the commits that were redone."""
    import logging

    import pandas as pd

    from fieldhouse.lake import write_lake

    redone = 0

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            nonlocal redone
            redone += "lake commit conflict" in record.getMessage()

    logging.getLogger("fieldhouse.lake").addHandler(Count())
    for i in range(count):
        row = pd.DataFrame(
            {"worker": [worker], "i": [i], "written_at": [pd.Timestamp.now(tz="UTC")]}
        )

        def insert(con, row=row) -> None:
            con.register("new_row", row)
            con.execute(f"insert into {TABLE} by name from new_row")

        write_lake(settings(), insert, what=f"bench append {worker}/{i}")
    return redone


def stage_appends(writers: int, appends: int) -> dict:
    """``appends`` appends to one table, split over ``writers`` processes running at once."""
    import lake_writers  # by its name, so the writer processes find _append

    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(settings()) as con:
        con.execute(f"create or replace table {TABLE} (worker int, i int, written_at timestamptz)")
    started = time.perf_counter()
    with get_context("spawn").Pool(writers) as pool:
        shares = [(w, appends // writers) for w in range(writers)]
        redone = pool.starmap(lake_writers._append, shares)
    seconds = time.perf_counter() - started
    with duckdb_connect(settings()) as con:
        rows = con.execute(f"select count(*) from {TABLE}").fetchone()[0]
    if rows != appends:
        raise RuntimeError(f"{appends} appends left {rows} rows in {TABLE}")
    return {"seconds": seconds, "rows": rows, "redone": sum(redone)}


# --- The run -------------------------------------------------------------------------


def bench(size: str, work: Path, repeat: int) -> dict[str, Any]:
    params = SIZES[size]
    print(f"\n{size}: {params}", flush=True)
    logs = work / "logs"
    with own_minio(work):
        logs.mkdir()
        ingest = run_stage(stage_ingest, logs, "ingest", **params)
        # The first build creates every table; the timed ones replace them, as
        # every transform run does.
        run_stage(stage_build, logs, "first build", threads=1)
        builds, apart = {}, {}
        for _ in range(repeat):
            # Interleaved, so that a slow spell of the machine hits every variant.
            for threads in THREADS:
                run = run_stage(stage_build, logs, f"dbt build {threads} threads", threads=threads)
                builds.setdefault(threads, []).append(run)
            for processes in PROCESSES:
                run = run_stage(
                    stage_build_domains, logs, f"{processes} dbt processes", processes=processes
                )
                apart.setdefault(processes, []).append(run)
        builds = {threads: _summary(runs) for threads, runs in builds.items()}
        apart = {processes: _summary(runs) for processes, runs in apart.items()}
        appends = {
            writers: run_stage(
                stage_appends, logs, f"appends {writers} writers", writers=writers, appends=APPENDS
            )
            for writers in (1, WRITERS)
        }
    return {
        "size": size,
        "params": params,
        "ingest": ingest,
        "builds": builds,
        "processes": apart,
        "appends": appends,
    }


def render(report: dict[str, Any]) -> str:
    builds, apart, appends = report["builds"], report["processes"], report["appends"]
    one = builds[1]["seconds"]
    lines = [
        "# Fieldhouse benchmark: the lake with many writers",
        "",
        f"Written by `bench/lake_writers.py` on {report['machine']['date']}, size "
        f"`{report['size']}` ({report['params']}); catalog in PostgreSQL.",
        "",
        "## dbt build of every domain, by threads",
        "",
        f"{builds[1]['nodes']} nodes (models and tests). Fastest of the runs; "
        "`failed` counts builds that did not succeed.",
        "",
        "| threads | build | runs | vs 1 thread | failed |",
        "|---:|---:|---|---:|---:|",
    ]
    for threads, b in builds.items():
        lines.append(
            f"| {threads} | {b['seconds']:.1f} s | {', '.join(f'{s:.1f}' for s in b['runs'])} "
            f"| {one / b['seconds']:.2f}x | {b['failed']} |"
        )
    failures = [f for b in builds.values() for f in b["failures"]]
    if failures:
        lines += ["", "Failures:", "", *[f"    {line}" for f in failures for line in f.split("\n")]]
    single = apart[1]["seconds"]
    lines += [
        "",
        "## dbt build of every domain, one dbt process per domain",
        "",
        "What `transform_lake` runs (`fieldhouse.lake.build_domains`): each domain "
        f"({', '.join(DOMAINS)}) is a `dbt build --select tag:<domain>` of its own, one thread "
        "each; 1 process is one dbt build of them all, the baseline.",
        "",
        "| processes at once | build | runs | vs 1 process | failed |",
        "|---:|---:|---|---:|---:|",
    ]
    for processes, b in apart.items():
        lines.append(
            f"| {processes} | {b['seconds']:.1f} s | {', '.join(f'{s:.1f}' for s in b['runs'])} "
            f"| {single / b['seconds']:.2f}x | {b['failed']} |"
        )
    failures = [f for b in apart.values() for f in b["failures"]]
    if failures:
        lines += ["", "Failures:", "", *[f"    {line}" for f in failures for line in f.split("\n")]]
    lines += [
        "",
        f"## {APPENDS} appends to one lake table",
        "",
        "| writers at once | wall time | commits redone after a conflict | rows |",
        "|---:|---:|---:|---:|",
    ]
    for writers, a in appends.items():
        lines.append(f"| {writers} | {a['seconds']:.1f} s | {a['redone']} | {a['rows']} |")
    lines += ["", *machine_table(report["machine"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.split("\n")[0], SIZES, "results-lake", argv)
    if args.sizes == ["small", "large"]:
        args.sizes = ["small"]
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-lake-"))
    started = time.perf_counter()
    try:
        report = bench(args.sizes[0], work / args.sizes[0], args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["total_seconds"] = time.perf_counter() - started
    report["machine"] = machine_facts(load)
    write_results(args, report, render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
