"""Landing files at scale: one big file of readings through the contract-driven ingestion.

For each size, one file of simulated readings in the built-in `sensor_readings`
layout is written as CSV, gzipped CSV and Parquet, dropped in `landing/sensors/`
of a private MinIO, and ingested by the one ingestion path
(`fieldhouse.ingest.feeds.ingest_dataset_hour`). Beside it, in the same run, the
floor: DuckDB reading the same object from MinIO and writing the same rows as
Parquet back to MinIO, with no validation at all. Each stage runs in a fresh
process, so its peak memory is its own.

    .venv/bin/python bench/landing.py              # 2M and 10M readings
    .venv/bin/python bench/landing.py --quick      # 20k, to check it works
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    machine_facts,
    machine_table,
    own_minio,
    parse_arguments,
    ratio,
    run_stage,
    settings,
    store,
    write_results,
)

SIZES = {"quick": 20_000, "small": 2_000_000, "large": 10_000_000}
FORMATS = ("csv", "csv.gz", "parquet")
HOUR_START = datetime(2026, 11, 22, 13, tzinfo=UTC)
FLEET = 500


# --- Stages: each runs in a fresh process ------------------------------------------


def stage_write_files(rows: int, folder: str) -> dict[str, Any]:
    """Readings of the simulated fleet's devices in the platform's own long layout."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from fieldhouse.sources.fleet import build_fleet

    started = time.perf_counter()
    rng = np.random.default_rng(7)
    devices = build_fleet(FLEET, 7)
    kinds = {"environmental": ("temperature_c", 15.0, 5.0), "machine": ("power_w", 9000.0, 800.0)}
    usable = [d for d in devices if d.kind in kinds]
    pick = rng.integers(0, len(usable), rows)
    device_ids = np.array([d.device_id for d in usable], dtype=object)[pick]
    metric, centre, spread = (
        np.array([kinds[d.kind][i] for d in usable], dtype=object if i == 0 else float)[pick]
        for i in range(3)
    )
    seconds = int(HOUR_START.timestamp()) + np.sort(rng.integers(0, 3600, rows))
    ts = np.datetime_as_string(seconds.astype("datetime64[s]")).astype(object) + "Z"
    values = np.round(centre + spread * rng.standard_normal(rows), 3)
    table = pa.table(
        {
            "event_id": pa.array([f"bench-{i:09d}" for i in range(rows)]),
            "device_id": pa.array(device_ids.tolist()),
            "ts": pa.array(ts.tolist()),
            "metric": pa.array(metric.tolist()),
            "value": pa.array(values),
        }
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out / "readings.csv")
    with pa.CompressedOutputStream(str(out / "readings.csv.gz"), "gzip") as sink:
        pacsv.write_csv(table, sink)
    pq.write_table(table, out / "readings.parquet")
    return {
        "seconds": time.perf_counter() - started,
        "mb": {f: (out / f"readings.{f}").stat().st_size / 2**20 for f in FORMATS},
    }


def stage_platform(path: str, hour: str) -> dict[str, Any]:
    """Drop the file in landing/sensors/ and ingest its hour through the one path."""
    from fieldhouse.contracts.contract import load_contracts
    from fieldhouse.ingest.feeds import ingest_dataset_hour
    from fieldhouse.ingest.sources import SensorRunOptions, register_devices
    from fieldhouse.storage.keys import SENSOR_LANDING, Interval

    objects = store()
    register_devices(objects, SensorRunOptions(fleet_size=FLEET, seed=7))
    objects.put_bytes(SENSOR_LANDING.incoming(Path(path).name), Path(path).read_bytes())
    contract = load_contracts()["sensor_readings"]
    started = time.perf_counter()
    manifest = ingest_dataset_hour(
        objects, "sensors.readings", Interval.parse(hour), contracts=[contract]
    )
    seconds = time.perf_counter() - started
    if not manifest.reconciles:
        raise RuntimeError(f"counts do not reconcile: {manifest.as_dict()}")
    return {
        "seconds": seconds,
        "rows_in": manifest.rows_in,
        "rows_written": manifest.rows_written,
        "rows_quarantined": manifest.rows_quarantined,
    }


def stage_floor(path: str) -> dict[str, Any]:
    """DuckDB: read the same object from MinIO, write the same rows as Parquet to MinIO."""
    import duckdb  # noqa: F401

    from fieldhouse.lake import duckdb_connect
    from fieldhouse.storage.keys import Bucket, ObjectKey

    name = Path(path).name
    source = ObjectKey(Bucket.LANDING, f"bench-floor/{name}")
    store().put_bytes(source, Path(path).read_bytes())
    con = duckdb_connect(settings(), attach_lake=False)
    reader = (
        f"read_parquet('{source.uri}')"
        if name.endswith(".parquet")
        else f"read_csv('{source.uri}', header = true, all_varchar = true)"
    )
    started = time.perf_counter()
    rows = con.execute(
        f"COPY (SELECT event_id, device_id, CAST(ts AS TIMESTAMPTZ) AS event_ts, metric,"
        f" CAST(value AS DOUBLE) AS value FROM {reader})"
        f" TO 's3://{Bucket.RAW}/bench-floor/{name}.parquet' (FORMAT parquet)"
    ).fetchall()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows[0][0] if rows else None}


# --- Measuring ---------------------------------------------------------------------


def _measure(name: str, work: Path, repeat: int) -> dict[str, Any]:
    rows = SIZES[name]
    print(f"{name}: {rows:,} readings", flush=True)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    files = work / "files"
    made = run_stage(stage_write_files, logs, f"{name} write files", rows=rows, folder=str(files))
    results: dict[str, Any] = {"rows": rows, "file_mb": made["mb"], "formats": {}}
    for index, fmt in enumerate(FORMATS):
        path = str(files / f"readings.{fmt}")
        hour = HOUR_START.replace(hour=HOUR_START.hour + index).isoformat()
        platform = run_stage(
            stage_platform, logs, f"{name} {fmt} platform", 1, path=path, hour=hour
        )
        floor = run_stage(stage_floor, logs, f"{name} {fmt} floor", repeat, path=path)
        results["formats"][fmt] = {
            "platform": platform,
            "floor": floor,
            "rows_per_s": rows / platform["seconds"],
            "platform_vs_floor": ratio(platform["seconds"], floor["seconds"]),
        }
    return results


def _markdown(report: dict[str, Any]) -> str:
    out = [
        "# Landing files at scale",
        "",
        "One file of readings in the `sensor_readings` layout through the contract-driven",
        "ingestion path, against DuckDB reading the same object from MinIO and writing",
        "the same rows as Parquet to MinIO (no validation): the floor. Each stage in a",
        "fresh process; peak memory is the process's maximum resident set.",
        "",
        "| size | format | file MB | platform s | rows/s | peak MB | floor s | floor peak MB"
        " | platform / floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"].values():
        for fmt, r in size["formats"].items():
            out.append(
                f"| {size['rows']:,} | {fmt} | {size['file_mb'][fmt]:.0f} "
                f"| {r['platform']['seconds']:.1f} | {r['rows_per_s']:,.0f} "
                f"| {r['platform']['peak_rss_mb']:.0f} | {r['floor']['seconds']:.1f} "
                f"| {r['floor']['peak_rss_mb']:.0f} | {r['platform_vs_floor']:.2f}x |"
            )
    out.append("")
    return "\n".join([*out, *machine_table(report["machine"])])


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], SIZES, "results-landing", argv)
    load_at_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-landing-"))
    report: dict[str, Any] = {"sizes": {}}
    for name in args.sizes:
        with own_minio(work / name):
            report["sizes"][name] = _measure(name, work / name, args.repeat)
    report["machine"] = machine_facts(load_at_start)
    write_results(args, report, _markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
