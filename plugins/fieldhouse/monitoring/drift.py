"""Feature drift: does a current window look like the reference it is compared with?

Evidently's ``DataDriftPreset`` picks a test per column from its type and size (for
numbers: Kolmogorov-Smirnov up to 1,000 rows, normed Wasserstein distance above) and
the window counts as drifted when the share of drifted columns reaches a threshold,
as Evidently's own dataset-drift rule does.

Both frames are sampled down to ``max_rows`` first: the tests compare distributions,
and a few thousand rows describe a distribution as well as a million do, at a
fraction of the time. Long-format feature tables (one row per device, metric and
hour, like ``ml_sensor_anomaly_features``) mix units in one column, so check one
metric at a time: a shift of 8 degrees disappears next to power readings in watts.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import CheckReport, ObjectKey
from fieldhouse.storage.objects import ObjectStore

if TYPE_CHECKING:
    import duckdb

DEFAULT_MAX_ROWS = 20_000
DRIFT_TABLE = "lake.main.drift_checks"
"""One row per check of every model: which run, which champion, what drifted, the report."""
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column, with the test Evidently chose for it."""

    score: float
    drifted: bool
    method: str
    method_threshold: float


@dataclass(frozen=True)
class DriftResult:
    drifted: bool
    share_drifted: float
    per_column: dict[str, ColumnDrift]
    html: str = field(repr=False)
    summary: dict[str, Any]
    # Evidently's own snapshot of the report, for the monitoring workspace.
    snapshot: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ReportKeys:
    html: ObjectKey
    json: ObjectKey


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows, drawn uniformly without replacement.

    Uniform sampling keeps every column's distribution unbiased, which is all a drift
    test looks at; stratifying (say by device kind) would need the strata's shares in
    the reference and the current window to agree, and hides a change in those shares.
    The same frame, ``max_rows`` and ``seed`` always give the same rows, in their
    original order. A frame no longer than ``max_rows`` is returned whole.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    if len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[positions]


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_rows: int = DEFAULT_MAX_ROWS,
    seed: int = 0,
    method: str | None = None,
    method_threshold: float | None = None,
) -> DriftResult:
    """Compare the numeric ``columns`` of ``current`` with ``reference`` using Evidently.

    ``threshold`` is the share of drifted columns from which the window counts as
    drifted. ``method`` and ``method_threshold`` choose Evidently's per-column
    test and its cut-off (default: Evidently picks by sample size). Raises
    ``ValueError`` for a missing column or an empty frame.
    """
    # Imported here: Evidently takes seconds to import, and DAG files import this module.
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(columns)
    if not columns:
        raise ValueError("no columns to check")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a share of columns, in (0, 1], got {threshold}")
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}")
        if frame.empty:
            raise ValueError(f"{name} has no rows")

    # Different seeds per side, so two frames of equal length are not cut at the same rows.
    reference_rows = _numeric(sample(reference, max_rows, seed), columns)
    current_rows = _numeric(sample(current, max_rows, seed + 1), columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report(
        [
            DataDriftPreset(
                columns=columns,
                drift_share=threshold,
                method=method,
                threshold=method_threshold,
            )
        ],
        include_tests=True,
    )
    snapshot = report.run(
        Dataset.from_pandas(current_rows, data_definition=definition),
        Dataset.from_pandas(reference_rows, data_definition=definition),
    )
    evidently = json.loads(snapshot.json())
    per_column, share = _read_verdicts(evidently, columns)
    drifted = share >= threshold
    summary = {
        "drifted": drifted,
        "share_drifted": share,
        "threshold": threshold,
        "columns": {name: vars(verdict) for name, verdict in per_column.items()},
        "rows": {
            "reference": len(reference),
            "current": len(current),
            "reference_sampled": len(reference_rows),
            "current_sampled": len(current_rows),
        },
        "sampling": {"strategy": "uniform_without_replacement", "max_rows": max_rows, "seed": seed},
        "method": {"name": method or "evidently default", "threshold": method_threshold},
        "evidently": evidently,
    }
    return DriftResult(
        drifted=drifted,
        share_drifted=share,
        per_column=per_column,
        html=snapshot.get_html_str(as_iframe=False),
        summary=summary,
        snapshot=snapshot,
    )


def write_report(
    store: ObjectStore, check_name: str, run_id: str, result: DriftResult
) -> ReportKeys:
    """Write the HTML report and the JSON summary of one run to the reports bucket."""
    report = CheckReport(check_name)
    keys = ReportKeys(html=report.html(run_id), json=report.json(run_id))
    page = _titled(result.html, f"Drift report: {check_name}, run {run_id}")
    store.put_bytes(keys.html, page.encode("utf-8"), "text/html; charset=utf-8")
    store.put_json(keys.json, {"check_name": check_name, "run_id": run_id, **result.summary})
    return keys


def _titled(page: str, title: str) -> str:
    """The page with a document title: Evidently's has none, so every tab reads alike."""
    head = page.find("<head>")
    if head < 0:
        return page
    at = head + len("<head>")
    return f"{page[:at]}\n<title>{html.escape(title)}</title>{page[at:]}"


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    # Plain float64: nullable and decimal columns from DuckDB confuse the column tests.
    return frame[columns].astype("float64").reset_index(drop=True)


def _read_verdicts(
    evidently: Mapping[str, Any], columns: list[str]
) -> tuple[dict[str, ColumnDrift], float]:
    """Per-column verdicts and the drifted share, from a snapshot's JSON form."""
    # Whether a score means drift depends on the test (a p-value below its threshold,
    # a distance above it), so the verdict is read from Evidently's own test result.
    status = {
        test["metric_config"]["metric_id"]: test["status"] for test in evidently.get("tests", [])
    }
    per_column: dict[str, ColumnDrift] = {}
    share = None
    for metric in evidently["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif config["type"].endswith(":ValueDrift") and config["column"] in columns:
            per_column[config["column"]] = ColumnDrift(
                score=float(metric["value"]),
                drifted=status[metric["id"]] == "FAIL",
                method=str(config["method"]),
                method_threshold=float(config["threshold"]),
            )
    if share is None or set(per_column) != set(columns):
        raise RuntimeError("Evidently's snapshot lacks the drift metrics it was asked for")
    return per_column, share


def record_checks(settings: StorageSettings, checks: list[dict[str, Any]]) -> None:
    """Append checks to :data:`DRIFT_TABLE` in the lake (created on first use)."""
    from fieldhouse.lake import write_lake

    if not checks:
        return
    rows = pd.DataFrame(checks)

    def append(con: duckdb.DuckDBPyConnection) -> None:
        con.register("new_checks", rows)
        con.execute(f"create table if not exists {DRIFT_TABLE} as from new_checks limit 0")
        con.execute(f"insert into {DRIFT_TABLE} by name from new_checks")

    write_lake(settings, append, what="drift checks")
