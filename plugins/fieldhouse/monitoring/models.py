"""Drift checks of the models trained on one wide feature table each.

For a model whose feature table has one row per entity (a shipment, a
transaction), the check compares the rows of the champion's training period
with the latest ``window_days`` of the table, on two questions:

* **features**: do the inputs look like the ones the champion learnt from?
* **predictions**: do the champion's scores (``fct_*_scores``) on the latest
  rows look like its scores on the training rows? Checked where scores exist.

Each question is one Evidently report and one row of ``lake.main.drift_checks``
(``metric`` says which question). The sensor anomaly model's table is long
(one row per device, metric and hour), so its check, per metric, lives in
:mod:`fieldhouse.monitoring.sensors`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from fieldhouse.config import StorageSettings
from fieldhouse.monitoring.drift import check_drift, record_checks, write_report
from fieldhouse.monitoring.workspace import publish_drift
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDriftSpec:
    """What to compare for one model."""

    model_name: str
    feature_table: str
    key: str
    time_column: str
    features: tuple[str, ...]
    scores_table: str
    score_columns: tuple[str, ...]
    window_days: int = 7


DELIVERY_TIME = ModelDriftSpec(
    model_name="delivery_time",
    feature_table="lake.main.ml_delivery_time_features",
    key="shipment_id",
    time_column="ordered_at",
    # What an order looks like when it is placed: where it goes, by whom, when,
    # how big. A new destination mix or a carrier switch shows up here.
    features=(
        "is_domestic",
        "order_hour",
        "order_day_of_week",
        "item_count",
        "amount",
    ),
    scores_table="lake.main.fct_delivery_time_scores",
    score_columns=("p10_delivery_days", "p50_delivery_days", "p90_delivery_days"),
)

TRANSACTION_RISK = ModelDriftSpec(
    model_name="transaction_risk",
    feature_table="lake.main.ml_transaction_risk_features",
    key="transaction_id",
    time_column="ts",
    features=(
        "amount_to_usual_ratio",
        "log_amount",
        "tx_count_1h",
        "tx_count_24h",
        "is_foreign",
        "is_new_country",
        "is_new_device",
        "hour_of_day",
    ),
    scores_table="lake.main.fct_transaction_risk_scores",
    score_columns=("risk_score",),
)

SPECS = {spec.model_name: spec for spec in (DELIVERY_TIME, TRANSACTION_RISK)}


class NothingToCheck(RuntimeError):
    """The model's tables do not exist yet, or a window has no rows."""


def check_model_drift(
    store: ObjectStore,
    settings: StorageSettings,
    spec: ModelDriftSpec,
    run_id: str,
    *,
    window_days: int | None = None,
    threshold: float = 0.5,
    max_rows: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare the latest window of ``spec``'s table with its champion's training period.

    Raises:
        NoChampion: the model has no champion yet.
        NothingToCheck: the feature table is missing, or a window is empty.
    """
    from fieldhouse.ml import registry

    champion = registry.card(spec.model_name)
    window = pd.Timedelta(days=window_days or spec.window_days)
    frame = _load(settings, spec)
    moments = pd.to_datetime(frame[spec.time_column], utc=True)
    period = champion["training_period"]
    reference = frame[
        (moments >= pd.Timestamp(period["start"])) & (moments < pd.Timestamp(period["end"]))
    ]
    current = frame[moments > moments.max() - window]
    if reference.empty or current.empty:
        raise NothingToCheck(
            f"{spec.model_name}: {len(reference)} rows in the training period "
            f"{period['start']}..{period['end']}, {len(current)} in the latest {window}"
        )

    questions = {"features": list(spec.features)}
    if all(column in frame.columns for column in spec.score_columns):
        scored = current[list(spec.score_columns)].notna().all(axis=1)
        if scored.any():
            questions["predictions"] = list(spec.score_columns)
    checks = []
    for question, columns in questions.items():
        rows_ref = reference.dropna(subset=columns)
        rows_cur = current.dropna(subset=columns)
        result = check_drift(
            rows_ref, rows_cur, columns, threshold=threshold, max_rows=max_rows, seed=seed
        )
        keys = write_report(store, f"{spec.model_name}-{question}", run_id, result)
        checked_at = datetime.now(UTC)
        publish_drift(
            spec.model_name,
            result.snapshot,
            question=question,
            run_id=run_id,
            champion_version=champion["version"],
            timestamp=checked_at,
        )
        drifted_columns = sorted(c for c, v in result.per_column.items() if v.drifted)
        checks.append(
            {
                "checked_at": checked_at,
                "run_id": run_id,
                "model_name": spec.model_name,
                "champion_version": champion["version"],
                "metric": question,
                "share_drifted": result.share_drifted,
                "drifted": result.drifted,
                "drifted_columns": ",".join(drifted_columns),
                "report_html": keys.html.uri,
            }
        )
        log.info(
            "%s %s: %d reference rows vs %d current, drift share %.2f%s (%s)",
            spec.model_name,
            question,
            len(rows_ref),
            len(rows_cur),
            result.share_drifted,
            " DRIFTED" if result.drifted else "",
            keys.html.uri,
        )
    record_checks(settings, checks)
    drifted = [c for c in checks if c["drifted"]]
    return {
        "model_name": spec.model_name,
        "champion_version": champion["version"],
        "drifted": bool(drifted),
        "drifted_checks": [c["metric"] for c in drifted],
        "reason": "; ".join(
            f"{spec.model_name} {c['metric']}: {c['share_drifted']:.0%} of columns drifted "
            f"({c['drifted_columns']})"
            for c in drifted
        ),
        "reports": [c["report_html"] for c in checks],
    }


def _load(settings: StorageSettings, spec: ModelDriftSpec) -> pd.DataFrame:
    """The table's key, time and feature columns, with the champion's scores where they exist."""
    from fieldhouse.lake import duckdb_connect, table_exists

    columns = ", ".join(f"f.{c}" for c in (spec.key, spec.time_column, *spec.features))
    with duckdb_connect(settings) as con:
        if not table_exists(con, spec.feature_table):
            raise NothingToCheck(f"{spec.feature_table} does not exist yet")
        if table_exists(con, spec.scores_table):
            scores = ", ".join(f"s.{c}" for c in spec.score_columns)
            return con.execute(
                f"select {columns}, {scores} from {spec.feature_table} f "
                f"left join {spec.scores_table} s on f.{spec.key} = s.{spec.key}"
            ).df()
        return con.execute(f"select {columns} from {spec.feature_table} f").df()
