"""Benchmark one simulated day of sensor readings: ingestion, dbt, and two baselines.

For each size the script starts its own MinIO (free ports, a temporary folder),
ingests one day of the simulated fleet into raw/, then times:

- ``dbt build`` of the sensor domain, ``dbt run`` (the same without tests) and
  ``dbt run`` of the hourly mart and its upstream views only;
- the DuckDB floor: one hand-written query that builds the same hourly mart
  straight from the raw Parquet in MinIO (dedup, flags, aggregates);
- the same query without the flag logic, and plain pandas with the same
  aggregates, so pandas is compared with a DuckDB query doing the same work.

Every measured stage runs in a fresh spawned process, so imports, caches and
the peak resident memory of one stage do not leak into the next. The baselines'
results are checked against the dbt mart, row by row; a disagreement stops the
benchmark. Results go to stdout, ``bench/results.md`` and ``bench/results.json``.

    python bench/run.py                  # small (~1M readings) and large (~10M)
    python bench/run.py --quick          # a tiny day, to check that it all works
    python bench/run.py --sizes large --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    REPO_ROOT,
    machine_facts,
    machine_table,
    own_minio,
    parse_arguments,
    run_stage,
    write_results,
)
from common import ratio as _ratio
from common import settings as _settings
from common import store as _store

FLEET_SIZES = {"quick": 30, "small": 315, "large": 3000}
"""Devices simulated per size: about 3,200 readings per device and day."""

DAY = datetime(2026, 11, 2, tzinfo=UTC)
SEED = 20261102
MEMORY_TARGET_MB = 2048
BUILD_TARGET_RATIO = 2.0
MART = "lake.main.fct_sensor_readings_hourly"
MART_KEY = ("device_id", "metric", "event_hour")
# Columns of the mart each baseline computes; the rest of the mart it leaves out.
AGGREGATE_COLUMNS = (
    "reading_count",
    "value_mean",
    "value_min",
    "value_max",
    "value_p95",
    "value_stddev",
)
FLOOR_COLUMNS = (
    *AGGREGATE_COLUMNS,
    "flagged_share",
    "spike_count",
    "stuck_count",
    "first_event_at",
    "last_event_at",
    "last_ingested_at",
)
EXACT_COLUMNS = {
    "reading_count",
    "spike_count",
    "stuck_count",
    "first_event_at",
    "last_event_at",
    "last_ingested_at",
}
RELATIVE_TOLERANCE = 1e-9


# --- Stages: each runs in a fresh process ------------------------------------------


def stage_ingest(fleet_size: int, seed: int) -> dict[str, Any]:
    """Ingest one day of the simulated fleet (24 hourly partitions) into raw/."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.partitions import summarize
    from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
    from fieldhouse.storage.keys import SENSOR_READINGS, Bucket, Interval

    store = _store()
    options = SensorRunOptions(fleet_size=fleet_size, seed=seed)
    started = time.perf_counter()
    day = Interval(DAY, DAY + timedelta(days=1))
    manifests = ingest_source(store, SENSORS, day, options)["readings"]
    seconds = time.perf_counter() - started
    summary = summarize([m.as_dict() for m in manifests])
    raw = store.list(Bucket.RAW, f"{SENSOR_READINGS.path}/")
    return {
        "seconds": seconds,
        "rows_in": summary["rows_in"],
        "rows_written": summary["rows_written"],
        "rows_quarantined": summary["rows_quarantined"],
        "partitions": summary["hours"],
        "raw_mb": sum(obj.size for obj in raw) / 2**20,
    }


def stage_dbt(args: list[str]) -> dict[str, Any]:
    """One dbt command through fieldhouse.lake.run_dbt, as the transform DAG runs it."""
    # Imported before the clock starts, like every other stage's libraries.
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401

    from fieldhouse.lake import run_dbt

    started = time.perf_counter()
    result = run_dbt(args, _settings())
    seconds = time.perf_counter() - started
    nodes = list(getattr(result.result, "results", None) or [])
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = str(node.node.resource_type)
        by_type[kind] = by_type.get(kind, 0.0) + node.execution_time
    return {
        "seconds": seconds,
        "dbt_elapsed": getattr(result.result, "elapsed_time", None),
        "nodes": len(nodes),
        "node_seconds": by_type,
        "slowest": sorted(
            ((n.node.name, round(n.execution_time, 2)) for n in nodes), key=lambda pair: -pair[1]
        )[:5],
    }


def stage_duckdb(with_flags: bool, output: str) -> dict[str, Any]:
    """The hand-written DuckDB query, materialized in memory, then saved for checking."""
    from fieldhouse.lake import duckdb_connect

    con = duckdb_connect(_settings(), attach_lake=False)
    try:
        # Event hours are UTC hours, as in the dbt profile, whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        sql = floor_sql() if with_flags else aggregates_sql()
        started = time.perf_counter()
        con.execute(f"CREATE TABLE hourly AS {sql}")
        seconds = time.perf_counter() - started
        rows = con.execute("SELECT count(*) FROM hourly").fetchone()[0]
        con.execute(f"COPY hourly TO '{output}' (FORMAT parquet)")
    finally:
        con.close()
    return {"seconds": seconds, "mart_rows": rows}


def stage_pandas(output: str) -> dict[str, Any]:
    """Plain pandas: read every raw file, dedup, group by device, metric and hour."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from fieldhouse.storage.keys import SENSOR_READINGS, Bucket

    store = _store()
    columns = ["event_id", "device_id", "metric", "value", "event_ts", "ingested_at"]
    started = time.perf_counter()
    keys = [
        obj.key
        for obj in store.list(Bucket.RAW, f"{SENSOR_READINGS.path}/")
        if obj.key.key.endswith(".parquet")
    ]
    tables = [
        pq.read_table(
            io.BytesIO(store.get_bytes(key)),
            columns=columns,
            read_dictionary=["device_id", "metric"],
        )
        for key in keys
    ]
    frame = pa.concat_tables(tables).to_pandas()
    del tables
    rows_read = len(frame)
    frame = frame.sort_values("ingested_at", kind="stable").drop_duplicates("event_id")
    frame["event_hour"] = frame["event_ts"].dt.floor("h")
    values = frame.groupby(list(MART_KEY), observed=True, sort=False)["value"]
    hourly = values.agg(
        reading_count="count",
        value_mean="mean",
        value_min="min",
        value_max="max",
        value_stddev="std",
    )
    hourly["value_p95"] = values.quantile(0.95)
    hourly = hourly.reset_index()
    seconds = time.perf_counter() - started
    hourly["device_id"] = hourly["device_id"].astype(str)
    hourly["metric"] = hourly["metric"].astype(str)
    hourly.to_parquet(output, index=False)
    return {
        "seconds": seconds,
        "mart_rows": len(hourly),
        "rows_read": rows_read,
        "duplicates_dropped": rows_read - len(frame),
    }


def stage_verify(baselines: dict[str, str]) -> dict[str, Any]:
    """Compare each baseline with the dbt mart row by row; raise on any difference."""
    from fieldhouse.lake import duckdb_connect

    started = time.perf_counter()
    con = duckdb_connect(_settings())
    try:
        con.execute("SET TimeZone = 'UTC'")
        totals = {"dbt mart": _totals(con, MART)}
        mismatches = {}
        for name, path in baselines.items():
            source = f"read_parquet('{path}')"
            columns = FLOOR_COLUMNS if name == "floor" else AGGREGATE_COLUMNS
            totals[name] = _totals(con, source)
            mismatches[name] = _mismatches(con, source, columns)
    finally:
        con.close()
    failures = {name: bad for name, bad in mismatches.items() if any(bad.values())}
    if failures:
        raise RuntimeError(
            "baselines disagree with the dbt mart (rows that differ, per column): "
            f"{json.dumps(failures)}; totals: {json.dumps(totals, default=str)}"
        )
    return {"seconds": time.perf_counter() - started, "totals": totals, "mismatches": mismatches}


def stage_parse_dags(dags_folder: str) -> dict[str, Any]:
    """Parse time of each DAG file, as Airflow's DagBag records it."""
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="fieldhouse-bench-airflow-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=dags_folder)
    seconds = time.perf_counter() - started
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    files = [
        {
            "file": stat.file,
            "ms": stat.duration.total_seconds() * 1000,
            "dags": stat.dag_num,
            "tasks": stat.task_num,
        }
        for stat in sorted(bag.dagbag_stats, key=lambda s: s.file)
    ]
    shutil.rmtree(os.environ["AIRFLOW_HOME"], ignore_errors=True)
    return {"seconds": seconds, "files": files}


# --- The SQL of the baselines -------------------------------------------------------


def _raw_readings() -> str:
    from fieldhouse.storage.keys import SENSOR_READINGS

    return f"read_parquet('{SENSOR_READINGS.glob()}', hive_partitioning = true)"


def _dbt_vars() -> dict[str, Any]:
    """The flag thresholds, read from dbt_project.yml so the floor stays in step."""
    import yaml

    from fieldhouse.config import dbt_project_dir

    return yaml.safe_load((dbt_project_dir() / "dbt_project.yml").read_text())["vars"]


# The UTC hour of a TIMESTAMPTZ by integer arithmetic: the same value as
# date_trunc('hour', event_ts) in UTC, which goes through the ICU calendar and
# costs seconds per ten million rows. The agreement check joins on this hour.
EVENT_HOUR = "make_timestamptz(epoch_us(event_ts) // 3600000000 * 3600000000)"


def _deduplicated_cte(raw: str | None = None) -> str:
    """``readings``: each event (id and event hour) once, its earliest ingested copy.

    The key and tie-breakers are those of stg_sensors__readings (one source
    here), so both keep the same copy. Repeated events are rare, so only they
    are ranked: a hash aggregation over every event_id is cheaper than sorting
    all readings by it.
    """
    columns = "event_id, device_id, metric, value, event_ts, ingested_at, event_hour"
    return f"""
    scanned AS (
        SELECT event_id, device_id, metric, value, event_ts, ingested_at,
               {EVENT_HOUR} AS event_hour, dt, hour, origin
        FROM {raw or _raw_readings()}
    ),
    repeated AS (
        SELECT event_id, event_hour FROM scanned GROUP BY event_id, event_hour
        HAVING count(*) > 1
    ),
    readings AS (
        SELECT {columns} FROM scanned ANTI JOIN repeated USING (event_id, event_hour)
        UNION ALL
        SELECT {columns} FROM scanned SEMI JOIN repeated USING (event_id, event_hour)
        QUALIFY row_number() OVER (
            PARTITION BY event_id, event_hour ORDER BY ingested_at, dt, hour, origin) = 1
    )"""


def aggregates_sql() -> str:
    """Dedup and the per-hour aggregates, without the flag logic."""
    return f"""
    WITH {_deduplicated_cte()}
    SELECT device_id, metric, event_hour,
           count(*) AS reading_count, avg(value) AS value_mean,
           min(value) AS value_min, max(value) AS value_max,
           quantile_cont(value, 0.95) AS value_p95, stddev_samp(value) AS value_stddev
    FROM readings
    GROUP BY device_id, metric, event_hour"""


def floor_sql(raw: str | None = None) -> str:
    """The whole hourly mart in one query: dedup, spike and stuck flags, aggregates.

    ``raw``: what to read instead of every raw partition (a read_parquet call).

    The same logic as int_sensor_readings_flagged, written for one pass: each
    hour's median and median absolute deviation come from a GROUP BY joined back
    (instead of two window medians), and the stuck test is the same row frame.
    """
    knobs = _dbt_vars()
    repeats = int(knobs["stuck_min_repeats"])
    return f"""
    WITH {_deduplicated_cte(raw)},
    medians AS (
        SELECT device_id, metric, event_hour, median(value) AS hour_median
        FROM readings GROUP BY ALL
    ),
    centred AS (
        SELECT r.*, abs(r.value - m.hour_median) AS deviation
        FROM readings r JOIN medians m USING (device_id, metric, event_hour)
    ),
    spreads AS (
        SELECT device_id, metric, event_hour, median(deviation) AS hour_mad
        FROM centred GROUP BY ALL
    ),
    flagged AS (
        SELECT c.*,
               c.deviation > {knobs["spike_mad_multiplier"]}
                   * greatest(s.hour_mad, {knobs["spike_mad_floor"]}) AS is_spike,
               count(*) OVER recent = {repeats + 1}
                   AND min(c.value) OVER recent = max(c.value) OVER recent AS is_stuck
        FROM centred c JOIN spreads s USING (device_id, metric, event_hour)
        WINDOW recent AS (
            PARTITION BY c.device_id, c.metric ORDER BY c.event_ts, c.event_id
            ROWS BETWEEN {repeats} PRECEDING AND CURRENT ROW)
    )
    SELECT device_id, metric, event_hour,
           count(*) AS reading_count, avg(value) AS value_mean,
           min(value) AS value_min, max(value) AS value_max,
           quantile_cont(value, 0.95) AS value_p95, stddev_samp(value) AS value_stddev,
           avg(CAST(is_spike OR is_stuck AS INTEGER)) AS flagged_share,
           count_if(is_spike) AS spike_count, count_if(is_stuck) AS stuck_count,
           min(event_ts) AS first_event_at, max(event_ts) AS last_event_at,
           max(ingested_at) AS last_ingested_at
    FROM flagged
    GROUP BY device_id, metric, event_hour"""


def _totals(con, source: str) -> dict[str, Any]:
    rows, readings, mean_sum, p95_sum = con.execute(
        f"SELECT count(*), sum(reading_count), sum(value_mean), sum(value_p95) FROM {source}"
    ).fetchone()
    return {
        "rows": rows,
        "readings": int(readings or 0),
        "sum_value_mean": mean_sum,
        "sum_value_p95": p95_sum,
    }


def _mismatches(con, source: str, columns: tuple[str, ...]) -> dict[str, int]:
    """Rows missing on either side, and per column the rows whose values differ."""
    on = " AND ".join(f"m.{key} = b.{key}" for key in MART_KEY)
    checks = {
        "missing_in_mart": "m.device_id IS NULL",
        "missing_in_baseline": "b.device_id IS NULL",
        **{column: _differs(column) for column in columns},
    }
    select = ", ".join(f"count(*) FILTER (WHERE {check})" for check in checks.values())
    counts = con.execute(f"SELECT {select} FROM {MART} m FULL JOIN {source} b ON {on}").fetchone()
    return dict(zip(checks, (int(c) for c in counts), strict=True))


def _differs(column: str) -> str:
    """SQL that is true when both sides have the row and ``column`` differs."""
    mart, base = f"m.{column}", f"b.{column}"
    if column in EXACT_COLUMNS:
        differs = f"{mart} IS DISTINCT FROM {base}"
    else:
        differs = (
            f"({mart} IS NULL) <> ({base} IS NULL) OR abs({mart} - {base}) > "
            f"{RELATIVE_TOLERANCE} * greatest(1, abs({mart}))"
        )
    return f"m.device_id IS NOT NULL AND b.device_id IS NOT NULL AND ({differs})"


# --- One size, on its own MinIO ------------------------------------------------------


def bench_size(name: str, work: Path, repeat: int) -> dict[str, Any]:
    """Start a fresh stack, ingest one day at this size, time every stage, verify."""
    with own_minio(work):
        return _measure_size(name, work, repeat)


def _measure_size(name: str, work: Path, repeat: int) -> dict[str, Any]:
    fleet = FLEET_SIZES[name]
    print(f"{name}: {fleet} devices, one day", flush=True)
    floor_out, agg_out, pandas_out = (
        str(work / f"{n}.parquet") for n in ("floor", "agg", "pandas")
    )

    def timed(label: str, stage: Callable[..., dict[str, Any]], **kwargs: Any) -> dict:
        return run_stage(stage, work, label, repeat=repeat, **kwargs)

    stages = {
        # Ingestion runs once: it is the slowest stage and writes the data.
        "ingest": run_stage(stage_ingest, work, "ingest", fleet_size=fleet, seed=SEED),
        "dbt parse": run_stage(stage_dbt, work, "dbt parse", args=["parse"]),
        "duckdb floor": timed("duckdb floor", stage_duckdb, with_flags=True, output=floor_out),
        "duckdb aggregates": timed(
            "duckdb aggregates", stage_duckdb, with_flags=False, output=agg_out
        ),
        "pandas": timed("pandas", stage_pandas, output=pandas_out),
        # --full-refresh: every command rebuilds the whole day, even if a model
        # becomes incremental, so the three dbt figures stay comparable.
        "dbt run hourly": timed(
            "dbt run hourly",
            stage_dbt,
            args=["run", "--full-refresh", "--select", "+fct_sensor_readings_hourly"],
        ),
        # Only the sensor domain has data here; the transform DAG builds by tag the same way.
        "dbt run": timed(
            "dbt run", stage_dbt, args=["run", "--full-refresh", "--select", "tag:sensors"]
        ),
        "dbt build": timed(
            "dbt build", stage_dbt, args=["build", "--full-refresh", "--select", "tag:sensors"]
        ),
    }
    verify = run_stage(
        stage_verify,
        work,
        "verify",
        baselines={"floor": floor_out, "duckdb aggregates": agg_out, "pandas": pandas_out},
    )
    _check_row_flow(stages, verify)
    return {"name": name, "fleet_size": fleet, "stages": stages, "verify": verify}


def _check_row_flow(stages: dict[str, Any], verify: dict[str, Any]) -> None:
    """Every row ingestion wrote is read, and the mart counts each distinct event once."""
    written = stages["ingest"]["rows_written"]
    read = stages["pandas"]["rows_read"]
    distinct = read - stages["pandas"]["duplicates_dropped"]
    in_mart = verify["totals"]["dbt mart"]["readings"]
    if not written == read or in_mart != distinct:
        raise RuntimeError(
            f"row counts do not add up: ingestion wrote {written:,}, pandas read "
            f"{read:,} ({distinct:,} distinct events), the mart counts {in_mart:,}"
        )


# --- Report --------------------------------------------------------------------------


def derived(size: dict[str, Any]) -> dict[str, float]:
    """The ratios and rates the report leads with."""
    s = size["stages"]
    rows = s["ingest"]["rows_written"]
    return {
        "readings": rows,
        "ingest_rows_per_s": _ratio(s["ingest"]["rows_in"], s["ingest"]["seconds"]),
        "build_over_floor": _ratio(s["dbt build"]["seconds"], s["duckdb floor"]["seconds"]),
        "run_over_floor": _ratio(s["dbt run"]["seconds"], s["duckdb floor"]["seconds"]),
        "run_hourly_over_floor": _ratio(
            s["dbt run hourly"]["seconds"], s["duckdb floor"]["seconds"]
        ),
        "pandas_over_duckdb": _ratio(s["pandas"]["seconds"], s["duckdb aggregates"]["seconds"]),
        "test_seconds": s["dbt build"]["seconds"] - s["dbt run"]["seconds"],
        "peak_rss_mb": max(stage["peak_rss_mb"] for stage in s.values()),
    }


STAGE_NOTES = {
    "ingest": "simulate, validate, write 24 partitions",
    "dbt parse": "project parse, cold (not in the ratios)",
    "duckdb floor": "one query: dedup, flags, aggregates",
    "duckdb aggregates": "the floor without the flag logic",
    "pandas": "read, dedup, groupby (no flags)",
    "dbt run hourly": "`+fct_sensor_readings_hourly` only",
    "dbt run": "every sensor model, no tests",
    "dbt build": "every sensor model and test",
}


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Fieldhouse benchmark results",
        "",
        f"Written by `bench/run.py` on {report['machine']['date']}; "
        f"whole run {report['total_seconds'] / 60:.1f} min. "
        "See `bench/README.md` for what each figure means.",
        "",
    ]
    lines += _summary_table(report)
    for size in report["sizes"]:
        lines += _stage_table(size)
    lines += _agreement_table(report)
    lines += _dag_table(report["dag_parse"])
    lines += machine_table(report["machine"])
    lines += BASELINE_SCOPE
    return "\n".join(lines) + "\n"


def _summary_table(report: dict[str, Any]) -> list[str]:
    out = [
        "## Summary",
        "",
        "| Size | Readings | Ingest rows/s | Ingest peak | dbt build | DuckDB floor "
        "| build / floor | run / floor | hourly-only run / floor | pandas / DuckDB "
        "| tests cost | highest peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        d, s = size["derived"], size["stages"]
        out.append(
            f"| {size['name']} | {d['readings']:,} | {d['ingest_rows_per_s']:,.0f} "
            f"| {s['ingest']['peak_rss_mb']:,.0f} MB | {s['dbt build']['seconds']:.1f} s "
            f"| {s['duckdb floor']['seconds']:.1f} s | {d['build_over_floor']:.2f}x "
            f"| {d['run_over_floor']:.2f}x | {d['run_hourly_over_floor']:.2f}x "
            f"| {d['pandas_over_duckdb']:.2f}x | {d['test_seconds']:+.1f} s "
            f"| {d['peak_rss_mb']:,.0f} MB |"
        )
    out += [
        "",
        f"Targets: ingestion peak memory below {MEMORY_TARGET_MB:,} MB at ~10M "
        f"readings; `dbt build` at most {BUILD_TARGET_RATIO:g}x the DuckDB floor. "
        "pandas / DuckDB compares pandas with the DuckDB query that does the same "
        "work (no flags). Tests cost = `dbt build` minus `dbt run`.",
        "",
    ]
    for size in report["sizes"]:
        d, s = size["derived"], size["stages"]
        if size["name"] != "large":
            continue
        memory = "met" if s["ingest"]["peak_rss_mb"] < MEMORY_TARGET_MB else "NOT met"
        ratio = "met" if d["build_over_floor"] <= BUILD_TARGET_RATIO else "NOT met"
        out += [
            f"At {d['readings']:,} readings: memory target {memory}, build / floor target {ratio}.",
            "",
        ]
    return out


def _stage_table(size: dict[str, Any]) -> list[str]:
    s, rows = size["stages"], size["derived"]["readings"]
    out = [
        f"## {size['name']}: {size['fleet_size']:,} devices, {rows:,} readings, "
        f"{s['ingest']['raw_mb']:.0f} MB of raw Parquet",
        "",
        "| Stage | What | Wall (best) | Slowest run | Rows/s | Peak RSS | x floor |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    floor = s["duckdb floor"]["seconds"]
    for name, stage in s.items():
        # Ingestion is rated on the rows it read, every other stage on the raw rows.
        read = s["ingest"]["rows_in"] if name == "ingest" else rows
        rate = f"{read / stage['seconds']:,.0f}" if name != "dbt parse" else ""
        times = f"{stage['seconds'] / floor:.2f}" if name not in ("ingest", "dbt parse") else ""
        slowest = f"{max(stage['runs']):.2f} s" if len(stage["runs"]) > 1 else ""
        out.append(
            f"| {name} | {STAGE_NOTES[name]} | {stage['seconds']:.2f} s | {slowest} | {rate} "
            f"| {stage['peak_rss_mb']:,.0f} MB | {times} |"
        )
    build = s["dbt build"]
    node_times = ", ".join(f"{kind} {secs:.1f} s" for kind, secs in build["node_seconds"].items())
    slowest = ", ".join(f"{node} {secs:.1f} s" for node, secs in build["slowest"])
    out += [
        "",
        f"`dbt build`: {build['nodes']} nodes; summed node time {node_times} "
        f"(one dbt thread; DuckDB parallelizes within each node); slowest: {slowest}.",
        "",
    ]
    return out


def _agreement_table(report: dict[str, Any]) -> list[str]:
    out = [
        "## Agreement with the dbt mart",
        "",
        "Every baseline row is joined to `fct_sensor_readings_hourly` on device, "
        "metric and event hour; counts and timestamps must be equal, floats equal "
        f"to a relative {RELATIVE_TOLERANCE:g}. The run stops if any row differs.",
        "",
        "| Size | Result | Rows | Readings | Sum of hourly means | Sum of hourly p95 "
        "| Rows that differ |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        verify = size["verify"]
        for name, totals in verify["totals"].items():
            bad = sum(verify["mismatches"].get(name, {}).values()) if name != "dbt mart" else ""
            out.append(
                f"| {size['name']} | {name} | {totals['rows']:,} "
                f"| {totals['readings']:,} | {totals['sum_value_mean']:,.4f} "
                f"| {totals['sum_value_p95']:,.4f} | {bad} |"
            )
    return [*out, ""]


def _dag_table(dag_parse: dict[str, Any]) -> list[str]:
    out = [
        "## DAG parse time",
        "",
        f"`DagBag(dag_folder='dags')` took {dag_parse['seconds']:.2f} s in a fresh "
        "process (Airflow's own imports included); per file, as `dagbag_stats` reports:",
        "",
        "| DAG file | Parse | DAGs | Tasks |",
        "|---|---:|---:|---:|",
    ]
    for entry in dag_parse["files"]:
        out.append(
            f"| {entry['file']} | {entry['ms']:.0f} ms | {entry['dags']} | {entry['tasks']} |"
        )
    return [*out, ""]


BASELINE_SCOPE = [
    "## What the baselines leave out",
    "",
    "- The DuckDB floor computes every column of `fct_sensor_readings_hourly`, flags "
    "included, but only that mart: not `dim_devices`, `fct_ingest_runs`, "
    "`ml_sensor_anomaly_features`, nor any test. `dbt run hourly` is the like-for-like "
    "dbt figure; `dbt build` does the whole sensor domain.",
    "- The floor writes to an in-memory DuckDB table; dbt writes Parquet to MinIO and "
    "commits to the DuckLake catalog.",
    "- DuckDB aggregates and pandas leave out the spike and stuck flags (`flagged_share`, "
    "`spike_count`, `stuck_count`) and the first/last event and ingest times.",
    "- Ingestion time includes simulating the fleet, which a real source would not cost.",
    "- Peak RSS is the stage's own process; MinIO's memory is not counted.",
    "",
]


# --- Main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_arguments(__doc__.splitlines()[0], FLEET_SIZES, "results", argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-"))
    try:
        sizes = [bench_size(name, work / name, args.repeat) for name in args.sizes]
        for size in sizes:
            size["derived"] = derived(size)
        print("DAG files", flush=True)
        dag_parse = run_stage(
            stage_parse_dags, work, "parse dags", dags_folder=str(REPO_ROOT / "dags")
        )
    except BaseException:
        print(f"benchmark failed; stage logs kept in {work}", file=sys.stderr)
        raise
    else:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "machine": machine_facts(load_at_start),
        "sizes": sizes,
        "dag_parse": dag_parse,
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(report)
    write_results(args, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
