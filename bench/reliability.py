"""Faults injected and hostile files tried, at full size: ``make reliability``.

Runs the reliability scenarios (``-m reliability``: hostile landing files and
registry files, a forged and a corrupt model, MinIO and the lake catalog killed
mid-run), the killed scheduler, every DAG at once (4 hours per ingestion DAG a
round, so 19 runs start together) and, on the cluster profile, a Celery worker
killed mid-task. Each test asserts its outcome and records it; this script turns
the records into bench/results-reliability.md and the table in the README.

``make test`` runs the same scenarios at a small size without writing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
README_START = "<!-- reliability table: start -->"
README_END = "<!-- reliability table: end -->"

SESSIONS = (
    (
        "embedded",
        [
            "-m",
            "reliability or e2e",
            "tests/reliability",
            "tests/ml/test_registry.py",
            "tests/e2e/test_stack_health.py",
            "tests/e2e/test_many_writers.py",
        ],
    ),
    ("cluster", ["-m", "cluster", "tests/cluster/test_cluster.py", "-k", "killed_worker"]),
)


def run_sessions(results: Path, quick: bool) -> list[tuple[str, int, float]]:
    env = {
        **os.environ,
        "FIELDHOUSE_RELIABILITY_RESULTS": str(results),
        "FIELDHOUSE_RELIABILITY_SIZE": "small" if quick else "full",
        "FIELDHOUSE_CONCURRENCY_ROUNDS": "1" if quick else "2",
        "FIELDHOUSE_CONCURRENCY_HOURS": "1" if quick else "4",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH")) if p
        ),
    }
    ran = []
    for name, argv in SESSIONS:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *argv],
            cwd=REPO_ROOT,
            env=env,
        )
        ran.append((name, done.returncode, time.monotonic() - started))
    return ran


NONE = "-"


def _cell(value: object) -> str:
    return NONE if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def table(records: list[dict]) -> list[str]:
    out = [
        "| kind | scenario | outcome | rows lost | rows duplicated | peak memory "
        "| what a person sees |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in sorted(records, key=lambda r: (r["kind"], r["scenario"])):
        peak = NONE if r["peak_mb"] is None else f"{r['peak_mb']} MiB"
        out.append(
            f"| {r['kind']} | {_cell(r['scenario'])} | {_cell(r['outcome'])} "
            f"| {_cell(r['rows_lost'])} | {_cell(r['rows_duplicated'])} | {peak} "
            f"| {_cell(r['error']) or NONE} |"
        )
    return out


def summary(records: list[dict]) -> str:
    faults = [r for r in records if r["kind"] == "fault"]
    inputs = [r for r in records if r["kind"] == "input"]
    clean = [r for r in records if (r["rows_lost"] or 0) == 0 and (r["rows_duplicated"] or 0) == 0]
    peaks = [r["peak_mb"] for r in inputs if r["peak_mb"] is not None]
    return (
        f"Faults injected: {len(faults)}, survived: "
        f"{sum(1 for r in faults if r in clean)}. Hostile inputs tried: {len(inputs)}, "
        f"handled cleanly: {sum(1 for r in inputs if r in clean)}. Rows lost or duplicated: "
        f"{sum((r['rows_lost'] or 0) + (r['rows_duplicated'] or 0) for r in records)}. "
        + (f"Peak memory of one hostile file's ingestion: {max(peaks)} MiB." if peaks else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small sizes of `make test`")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "bench", help="folder for the results"
    )
    args = parser.parse_args(argv)
    results = REPO_ROOT / ".local" / "reliability.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    ran = run_sessions(results, args.quick)
    records = (
        [json.loads(line) for line in results.read_text().splitlines()]
        if (results.exists())
        else []
    )
    size = "small (as in `make test`)" if args.quick else "full"
    lines = [
        "# Reliability: faults injected, hostile inputs tried",
        "",
        f"`make reliability`, {time.strftime('%Y-%m-%d', time.gmtime())}, size {size}. "
        "Every row is a test that asserted its outcome; a failing test has no row.",
        "",
        summary(records),
        "",
        *table(records),
        "",
        "| session | result | time |",
        "|---|---|---:|",
        *[
            f"| {name} | {'passed' if code == 0 else f'failed ({code})'} | {seconds:.0f} s |"
            for name, code, seconds in ran
        ],
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results-reliability.md").write_text("\n".join(lines))
    print("\n".join(lines))
    if args.out == REPO_ROOT / "bench" and not args.quick:
        readme = REPO_ROOT / "README.md"
        text = readme.read_text()
        if README_START in text and README_END in text:
            head, rest = text.split(README_START, 1)
            tail = rest.split(README_END, 1)[1]
            block = "\n".join(["", summary(records), "", *table(records), ""])
            readme.write_text(head + README_START + block + README_END + tail)
    return 0 if all(code == 0 for _, code, _ in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
