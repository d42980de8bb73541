"""Benchmark model training and drift checks: time, peak memory and model quality per size.

For each size the script starts its own MinIO (free ports, a temporary folder),
ingests simulated sensors (three days), commerce and finance (45 days each, so
that delivery outcomes and chargebacks have matured for the first weeks),
builds the lake once, then, for each of the three models, times in a fresh
spawned process:

- ``train``: what a ``train_models`` task does (read the features at a lake
  snapshot, split by time, fit, evaluate, register, re-score the champion,
  promote or not, score the table into ``fct_*_scores``);
- ``drift``: what a ``monitor_drift`` task does (read the features, sample,
  Evidently reports, write them and the ``drift_checks`` rows).

The quality figures are those the training run recorded on its model card, on
the held-out (later) period. Beside the simulated sizes, the sensor anomaly
model runs on real data: the Numenta Anomaly Benchmark's machine-temperature
series and its four labelled failure windows (``../shared/datasets/nab_machine``),
landed through their contracts into a MinIO of their own. Results go to stdout,
``bench/results-ml.md`` and ``bench/results-ml.json``.

    python bench/ml.py                   # small and large
    python bench/ml.py --quick           # a tiny size, to check that it all works
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    machine_facts,
    machine_table,
    own_minio,
    parse_arguments,
    run_stage,
    settings,
    store,
    write_results,
)

SIZES: dict[str, dict[str, Any]] = {
    "quick": {"devices": 10, "orders_per_hour": 4, "customers": 150, "days": 30},
    "small": {"devices": 20, "orders_per_hour": 10, "customers": 400, "days": 45},
    "large": {"devices": 100, "orders_per_hour": 40, "customers": 2000, "days": 45},
}
"""Sensors simulated for three days; commerce and finance for ``days``."""

START = datetime(2026, 9, 1, tzinfo=UTC)
SENSOR_HOURS = 72
SEED = 20260901
MODELS = ("sensor_anomaly", "delivery_time", "transaction_risk")
FEATURE_TABLES = {
    "sensor_anomaly": "lake.main.ml_sensor_anomaly_features",
    "delivery_time": "lake.main.ml_delivery_time_features",
    "transaction_risk": "lake.main.ml_transaction_risk_features",
}


# --- Stages: each runs in a fresh process ------------------------------------------


def stage_ingest(devices: int, orders_per_hour: float, customers: int, days: int) -> dict:
    """Ingest every source for the size; the row counts go into the report."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.sources import (
        COMMERCE,
        FINANCE,
        SENSORS,
        CommerceRunOptions,
        FinanceRunOptions,
        SensorRunOptions,
    )
    from fieldhouse.storage.keys import Interval

    target = store()
    started = time.perf_counter()
    sensor_end = START + timedelta(days=days)
    sensors = ingest_source(
        target,
        SENSORS,
        Interval(sensor_end - timedelta(hours=SENSOR_HOURS), sensor_end),
        SensorRunOptions(fleet_size=devices, seed=SEED, include_landing=False),
    )["readings"]
    window = Interval(START, START + timedelta(days=days))
    commerce = ingest_source(
        target,
        COMMERCE,
        window,
        CommerceRunOptions(seed=SEED, orders_per_hour=orders_per_hour, include_landing=False),
    )
    finance = ingest_source(
        target,
        FINANCE,
        window,
        FinanceRunOptions(seed=SEED, customers=customers, include_landing=False),
    )
    return {
        "seconds": time.perf_counter() - started,
        "rows_written": {
            "sensor readings": sum(m.rows_written for m in sensors),
            **{name: sum(m.rows_written for m in ms) for name, ms in commerce.items()},
            **{name: sum(m.rows_written for m in ms) for name, ms in finance.items()},
        },
    }


def stage_build() -> dict:
    from fieldhouse.lake import build_domains, duckdb_connect

    started = time.perf_counter()
    build_domains(settings(), ["sensors", "commerce", "finance"])
    seconds = time.perf_counter() - started
    with duckdb_connect(settings()) as con:
        rows = {
            model: con.execute(f"select count(*) from {table}").fetchone()[0]
            for model, table in FEATURE_TABLES.items()
        }
    return {"seconds": seconds, "feature_rows": rows}


def stage_train(model: str) -> dict:
    # Imported before the clock starts, like every other stage's libraries.
    import sklearn.ensemble  # noqa: F401

    from fieldhouse.ml import registry
    from fieldhouse.ml.training import retrain

    started = time.perf_counter()
    result = retrain(settings(), model, margin=0.01)
    seconds = time.perf_counter() - started
    card = registry.card(model, result["version"])
    return {
        "seconds": seconds,
        # What MLflow adds: logging the run, the model and its card, and the version.
        "register_seconds": result["seconds"]["register"],
        "steps": result["seconds"],
        "metrics": result["metrics"],
        "scored_rows": result["scores"]["rows"],
        "training_period": card["training_period"],
        "evaluation_period": card.get("evaluation_period"),
    }


def stage_drift(model: str) -> dict:
    import evidently  # noqa: F401

    from fieldhouse.monitoring import models, sensors

    started = time.perf_counter()
    if model == "sensor_anomaly":
        result = sensors.check_sensor_feature_drift(store(), settings(), "bench")
        checks = len(result["reports"])
        drifted = result["drifted_metrics"]
    else:
        result = models.check_model_drift(store(), settings(), models.SPECS[model], "bench")
        checks = len(result["reports"])
        drifted = result["drifted_checks"]
    return {"seconds": time.perf_counter() - started, "checks": checks, "drifted": drifted}


NAB_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab_machine"
NAB_SERIES = "machine_temperature_system_failure.csv"


def stage_land_nab(folder: str) -> dict:
    """Land the NAB series and its windows through their contracts; build the sensor models."""
    import json

    import pandas as pd

    from fieldhouse.ingest.feeds import ingest_dataset_hour
    from fieldhouse.lake import build_domains
    from fieldhouse.storage.keys import Interval, LandingArea

    path = Path(folder)
    labels = json.loads((path / "combined_windows.json").read_text())
    (windows,) = (v for k, v in labels.items() if k.endswith(NAB_SERIES))
    objects = store()
    objects.put_bytes(
        LandingArea("nab_machine").incoming(NAB_SERIES), (path / NAB_SERIES).read_bytes()
    )
    objects.put_bytes(
        LandingArea("nab_machine_labels").incoming("windows.csv"),
        pd.DataFrame(windows, columns=["start", "end"]).to_csv(index=False).encode(),
    )
    hour = Interval.parse("2024-01-08T09:00:00+00:00")
    started = time.perf_counter()
    readings = ingest_dataset_hour(objects, "sensors.readings", hour)
    ingest_dataset_hour(objects, "sensors.anomaly_windows", hour)
    build_domains(settings(), ["sensors"])
    return {"seconds": time.perf_counter() - started, "readings": readings.rows_written}


def bench_real(work: Path, repeat: int) -> dict[str, Any] | None:
    """The sensor anomaly model on the real machine-temperature series, if the data is here."""
    if not NAB_DIR.is_dir():
        print(f"\nreal data: {NAB_DIR} not found, skipped", flush=True)
        return None
    print("\nreal data: NAB machine temperature", flush=True)
    logs = work / "logs"
    with own_minio(work):
        logs.mkdir()
        land = run_stage(stage_land_nab, logs, "land NAB", folder=str(NAB_DIR))
        train = run_stage(stage_train, logs, "train sensor_anomaly", repeat, model="sensor_anomaly")
    return {"land": land, "train": train}


# --- One size ------------------------------------------------------------------------


def bench_size(name: str, work: Path, repeat: int) -> dict[str, Any]:
    params = SIZES[name]
    print(f"\n{name}: {params}", flush=True)
    logs = work / "logs"
    with own_minio(work):
        logs.mkdir()
        ingest = run_stage(stage_ingest, logs, "ingest", **params)
        build = run_stage(stage_build, logs, "dbt build")
        models = {}
        for model in MODELS:
            models[model] = {
                "train": run_stage(stage_train, logs, f"train {model}", repeat, model=model),
                "drift": run_stage(stage_drift, logs, f"drift {model}", repeat, model=model),
            }
    return {"name": name, "params": params, "ingest": ingest, "build": build, "models": models}


# --- Report ---------------------------------------------------------------------------

QUALITY = {
    "sensor_anomaly": ("precision", "recall", "f1", "eval_label_rate", "eval_flagged_rate"),
    "delivery_time": (
        "mean_pinball_loss",
        "baseline_mean_pinball_loss",
        "coverage",
        "mean_interval_days",
        "mae_p50",
    ),
    "transaction_risk": (
        "pr_auc",
        "baseline_pr_auc",
        "base_rate",
        "recall_at_alert_rate",
        "precision_at_alert_rate",
        "eval_positives",
    ),
}


def render_markdown(report: dict[str, Any]) -> str:
    out = [
        "# ML benchmark results",
        "",
        "Generated by `python bench/ml.py`; see the script's docstring for what each",
        "stage does. Each stage ran in a fresh process; wall time excludes imports;",
        "peak memory is that process's maximum resident set size. Training and drift",
        "stages ran twice on the same lake and the faster run counts (the second",
        "training run meets the first one's champion, as a daily run would).",
        "",
        "## Time and memory",
        "",
        "`of which MLflow` is the registration step inside `train`: the run, its",
        "parameters, metrics and dataset input, the model (skops) and its card through",
        "the tracking server into MinIO, and the new version; its share is of `train`.",
        "",
        "| size | model | feature rows | train | of which MLflow | train peak "
        "| drift check | drift peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        for model, stages in size["models"].items():
            train = stages["train"]
            share = train["register_seconds"] / train["seconds"]
            out.append(
                f"| {size['name']} | {model} | {size['build']['feature_rows'][model]:,} "
                f"| {train['seconds']:.1f} s | {train['register_seconds']:.2f} s ({share:.0%}) "
                f"| {train['peak_rss_mb']:.0f} MB "
                f"| {stages['drift']['seconds']:.1f} s | {stages['drift']['peak_rss_mb']:.0f} MB |"
            )
    out += ["", "## Model quality on the held-out period", ""]
    for model, names in QUALITY.items():
        out += [f"**{model}**", "", "| size | " + " | ".join(names) + " |"]
        out.append("|---|" + "---:|" * len(names))
        for size in report["sizes"]:
            metrics = size["models"][model]["train"]["metrics"]
            values = [_number(metrics.get(name)) for name in names]
            out.append(f"| {size['name']} | " + " | ".join(values) + " |")
        out.append("")
    out += _real_section(report.get("real"))
    out += ["## Data", "", "| size | ingest | dbt build | rows written |", "|---|---:|---:|---|"]
    for size in report["sizes"]:
        rows = ", ".join(f"{k} {v:,}" for k, v in size["ingest"]["rows_written"].items())
        out.append(
            f"| {size['name']} | {size['ingest']['seconds']:.0f} s "
            f"| {size['build']['seconds']:.0f} s | {rows} |"
        )
    out.append("")
    return "\n".join(out + machine_table(report["machine"]))


REAL_QUALITY = (
    "precision",
    "recall",
    "f1",
    "eval_label_rate",
    "eval_flagged_rate",
    "windows",
    "windows_detected",
    "median_hours_to_first_flag",
)


def _real_section(real: dict[str, Any] | None) -> list[str]:
    if real is None:
        return []
    metrics = real["train"]["metrics"]
    return [
        "## Real data: a machine's temperature and its labelled failures",
        "",
        "The sensor anomaly model on the NAB machine-temperature series (22,695",
        "readings every 5 minutes, 1,890 hours) and its four labelled windows, landed",
        "through their contracts. Each series holds out its latest 30% of hours (here",
        "from late January: the third and fourth windows); thresholds were chosen on",
        "the labelled training hours. Hour-level figures count hours inside a window",
        "as anomalies; window figures count a window as caught when at least one of",
        "its hours is flagged, and how many hours after the window opened.",
        "",
        "| " + " | ".join(REAL_QUALITY) + " | train |",
        "|" + "---:|" * (len(REAL_QUALITY) + 1),
        "| "
        + " | ".join(_number(metrics.get(name)) for name in REAL_QUALITY)
        + f" | {real['train']['seconds']:.1f} s |",
        "",
        "Flagging every held-out hour would score F1 "
        f"{_number(_all_hours_f1(metrics.get('eval_label_rate')))}; flagging at random at",
        "the label rate, precision equal to that rate.",
        "",
    ]


def _all_hours_f1(rate: float | None) -> float | None:
    return None if not rate else 2 * rate / (1 + rate)


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_arguments(__doc__.splitlines()[0], SIZES, "results-ml", argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-ml-"))
    try:
        sizes = [bench_size(name, work / name, args.repeat) for name in args.sizes]
        real = bench_real(work / "real", args.repeat)
    except BaseException:
        print(f"benchmark failed; stage logs kept in {work}", file=sys.stderr)
        raise
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "machine": machine_facts(load_at_start),
        "sizes": sizes,
        "real": real,
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(report)
    write_results(args, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
