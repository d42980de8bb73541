"""What the benchmark scripts share: fresh-process stages, a private MinIO, machine facts.

``bench/run.py`` (sensors) and ``bench/market.py`` (commerce and finance) import
this module; it is not a script of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "plugins"))


class StageError(RuntimeError):
    """A stage failed in its own process; the message carries the original error."""


def settings():
    """The storage settings of the stack the current size runs on (from the environment)."""
    from fieldhouse.config import StorageSettings

    return StorageSettings.from_env()


def store():
    from fieldhouse.storage.objects import ObjectStore

    return ObjectStore(settings())


# --- Running stages in fresh processes ----------------------------------------------


def _child_main(stage_ref: str, log_path: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Entry point of a spawned stage: log to a file, run, add the peak memory.

    ``stage_ref`` is ``module:function``. A stage defined in the script that was
    started is found under ``__main__``, which a spawned process re-imports.
    """
    import logging

    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    logging.basicConfig(level=logging.INFO)
    module, stage = stage_ref.split(":")
    try:
        result = getattr(importlib.import_module(module), stage)(**kwargs)
    except Exception as exc:
        # Not every library exception survives pickling back to the parent (dbt's
        # carry their run result), so send its text, and keep the traceback in the log.
        logging.exception("stage %s failed", stage)
        raise StageError(f"{stage}: {type(exc).__name__}: {exc}") from None
    # VmHWM (KiB) is this process's own high-water mark: it has run this stage and
    # nothing else. (ru_maxrss would also count the parent it was started from.)
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    result["peak_rss_mb"] = hwm / 1024
    return result


def run_stage(
    stage: Callable[..., dict[str, Any]],
    log_dir: Path,
    label: str,
    repeat: int = 1,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``stage`` ``repeat`` times, each in a new spawned interpreter.

    Returns the fastest run, with every run's wall time under ``runs`` and the
    highest peak memory of them all: on a shared machine the fastest run is the
    one least disturbed by other work.
    """
    log_path = log_dir / f"{label.replace(' ', '_')}.log"
    stage_ref = f"{stage.__module__}:{stage.__name__}"
    print(f"  {label} ...", end="", flush=True)
    results = []
    for _ in range(repeat):
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            try:
                future = pool.submit(_child_main, stage_ref, str(log_path), kwargs)
                results.append(future.result())
            except BrokenProcessPool as exc:
                print(f" failed (log: {log_path})", flush=True)
                raise StageError(
                    f"{label}: the stage's process died without a Python error (killed, "
                    f"or a crash in native code such as a DuckDB extension); see {log_path}"
                ) from exc
            except Exception:
                print(f" failed (log: {log_path})", flush=True)
                raise
        print(f" {results[-1]['seconds']:.1f} s", end="", flush=True)
    best = min(results, key=lambda result: result["seconds"])
    best["runs"] = [result["seconds"] for result in results]
    best["peak_rss_mb"] = max(result["peak_rss_mb"] for result in results)
    print(f", peak {best['peak_rss_mb']:.0f} MB", flush=True)
    return best


# --- A private MinIO for one size -----------------------------------------------------


@contextlib.contextmanager
def own_minio(work: Path) -> Iterator[None]:
    """Start MinIO, the lake catalog's PostgreSQL, MLflow and Evidently on free ports.

    This process's environment points at them; spawned stages inherit it, so they
    all use this MinIO and its lake.
    """
    from fieldhouse import localstack

    work.mkdir(parents=True)
    config = localstack.StackConfig.load(
        work / "home",
        minio_port=localstack.free_port(),
        minio_console_port=localstack.free_port(),
        postgres_port=localstack.free_port(),
        mlflow_port=localstack.free_port(),
        evidently_port=localstack.free_port(),
    )
    localstack.start_postgres(config)
    try:
        localstack.start_minio(config)
        try:
            localstack.provision_minio(config)
            localstack.start_mlflow(config)
            localstack.start_evidently(config)
            os.environ.update(config.pipeline_env())
            yield
        finally:
            for service in ("evidently", "mlflow", "minio"):
                config.service(service).stop()
    finally:
        config.service("postgres").stop(sig=signal.SIGINT)


# --- Report helpers --------------------------------------------------------------------


def machine_facts(load_at_start: float) -> dict[str, Any]:
    import duckdb
    import pandas
    import psutil
    from dbt.version import __version__ as dbt_version

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt_core": dbt_version,
        "pandas": pandas.__version__,
        # Other work on the machine slows every stage; these say how busy it was.
        "load average (1 min) at start": round(load_at_start, 2),
        "load average (1 min) at end": round(os.getloadavg()[0], 2),
    }


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def machine_table(machine: dict[str, Any]) -> list[str]:
    out = ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in machine.items()]
    return [*out, ""]


# --- Command line and output -----------------------------------------------------------


def parse_arguments(
    description: str, sizes: Any, results: str, argv: list[str] | None = None
) -> argparse.Namespace:
    """The options every benchmark script takes; ``results`` names its output files."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sizes",
        default="small,large",
        help=f"comma-separated, from {', '.join(sizes)} (default: small,large)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the tiny size: a smoke test of the whole benchmark",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "bench",
        help=f"folder for {results}.md and {results}.json (default: bench/)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs of each repeated stage; the fastest counts (default: 2)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary stacks and stage logs"
    )
    args = parser.parse_args(argv)
    args.sizes = (
        ["quick"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    )
    unknown = set(args.sizes) - set(sizes)
    if unknown:
        parser.error(f"unknown size(s) {sorted(unknown)}; choose from {list(sizes)}")
    args.results = results
    return args


def write_results(args: argparse.Namespace, report: dict[str, Any], markdown: str) -> None:
    """Print the Markdown report and write it and the raw figures to ``args.out``."""
    print("\n" + markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.results}.md").write_text(markdown)
    (args.out / f"{args.results}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
