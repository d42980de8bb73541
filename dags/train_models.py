"""
### Train models

Retrains the platform's models on the current lake, keeps the better one in
service and writes the champion's scores back to the lake. For each model, a
run is an MLflow run (experiment = the model's name: parameters, held-out
metrics, lake snapshot, the feature rows as a dataset input, the model with its
signature and a model card) that registers a new version of the registered
model of the same name. The champion is re-scored on the challenger's held-out
period and the challenger promoted only if it wins by the margin; the aliases
`champion` and `challenger` say which version is which, and the decision with
its reason is on the version (description, `decision.*` tags) and the run, and
in `retrain_and_promote`'s return value. Then `write_scores` brings the scores
table up to date with the champion (new or kept): only feature rows it has not
scored yet, or whose features changed, are scored (counts in the log).
Open **Browse → MLflow models** to see them.

* Runs daily at 03:00 UTC (retraining on every hourly transform would churn
  versions without new information), and when `monitor_drift` finds drift, for
  the drifted models only (`conf.models`, with `conf.reason`).
* **Trigger by hand** to retrain now; under *Params* choose the models, the
  training window (`training_days`) and the promotion margin. A model not
  chosen is skipped.
* Idempotent per logical date: clearing and rerunning a run finds the version
  it registered from the same feature rows and window, and registers no other.
* A model whose feature table is not in the lake yet (no data in its domain),
  or without enough labelled rows, is skipped with the reason in the log.

Models (each with its scores table in the lake):

* **sensor_anomaly**: an isolation forest per device kind on
  `ml_sensor_anomaly_features`, whose features compare each hour with its own
  series' history (level over a day and a week, the daily cycle, trend,
  spread). It learns from any series; labels, wherever they exist (the
  simulator's injected faults, anomaly windows you land in
  `landing/anomaly_windows/`), choose its thresholds on a validation period
  and score it on held-out hours; promoted on F1. Without labels it flags 1%
  of hours and its card says it is unjudged. Scores: `fct_sensor_anomaly_scores`.
* **delivery_time**: gradient-boosted quantile regressions (p10, p50, p90
  delivery days) on `ml_delivery_time_features`, using only what is known when
  the order is placed; promoted on mean pinball loss (lower is better), with
  p10-p90 coverage and p50 MAE on the card. Scores: `fct_delivery_time_scores`.
* **transaction_risk**: gradient-boosted trees on velocity, amount and novelty
  in `ml_transaction_risk_features`; promoted on PR-AUC, with recall and
  precision when the top 1% of scores alert. With fewer than 5 chargebacks to
  learn from, an isolation forest on the same features instead (its card says
  so). Scores: `fct_transaction_risk_scores`.

Every split is by time: each model is evaluated on the latest 30% of its
labelled rows (for sensors, of each series' own hours). A model without
enough data, or with a feature that is empty in every training row, is
skipped with the reason; it never fails the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task, task_group

from fieldhouse.config import LAKE_WRITERS_POOL

# Names in the model registry; fieldhouse.ml.training.MODELS holds the same (not
# imported here, as it loads scikit-learn).
TOOLTIPS = {
    "sensor_anomaly": "Isolation forest on each series' hours against its own history",
    "delivery_time": "Quantile regressions of delivery days per shipment (p10, p50, p90)",
    "transaction_risk": "Chargeback risk per transaction; the top 1% of scores alert",
}
MODELS = tuple(TOOLTIPS)


def _retrain_and_promote(model_name: str, params: dict, run_key: str) -> dict:
    """Retrain ``model_name`` unless it was not chosen or has no data to learn from."""
    import logging

    from airflow.exceptions import AirflowSkipException

    from fieldhouse.config import StorageSettings
    from fieldhouse.ml import tabular, training

    chosen = list(params.get("models", MODELS))
    if model_name not in chosen:
        raise AirflowSkipException(f"{model_name} not chosen in this run (models={chosen})")
    if params.get("reason"):
        logging.getLogger(__name__).info("retraining %s: %s", model_name, params["reason"])
    settings = StorageSettings.for_role("ml")
    try:
        return training.retrain(
            settings,
            model_name,
            margin=float(params["margin"]),
            score=False,
            window_days=params.get("training_days"),
            run_key=run_key,
            sources=params.get("sources") or None,
        )
    except (tabular.MissingFeatureTable, tabular.NotEnoughData) as exc:
        raise AirflowSkipException(f"{model_name}: not retrained, {exc}") from exc


def _write_scores(model_name: str) -> dict:
    from fieldhouse.config import StorageSettings
    from fieldhouse.ml.training import score_with_champion

    settings = StorageSettings.for_role("ml")
    return score_with_champion(settings, model_name)


@dag(
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["ml", "training"],
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
    params={
        "models": Param(
            list(MODELS),
            type="array",
            items={"type": "string", "enum": list(MODELS)},
            examples=list(MODELS),
            description="The models to retrain; the others are skipped.",
        ),
        "margin": Param(
            0.01,
            type="number",
            minimum=0,
            description=(
                "How much the challenger must beat the champion by, in the model's "
                "promotion metric (F1, mean pinball loss in days, PR-AUC)."
            ),
        ),
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            description=(
                "Train only on rows of these sources (`simulator`, or a feed contract's "
                "source); empty: every source."
            ),
        ),
        "training_days": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            description=(
                "Train on the latest this many days of each feature table (empty: all of it). "
                "The held-out period is the latest 30% of those days."
            ),
        ),
        "reason": Param(
            "",
            type="string",
            description="Why this run was started (set by monitor_drift).",
        ),
    },
)
def train_models():
    for model_name, tooltip in TOOLTIPS.items():

        @task_group(group_id=model_name, tooltip=tooltip)
        def model_group(model_name: str = model_name):
            @task
            def retrain_and_promote(params=None, logical_date=None, run_id=None) -> dict:
                # Scheduled runs are keyed by their date; a rerun of one finds its version.
                key = logical_date.isoformat() if logical_date is not None else run_id
                return _retrain_and_promote(model_name, params, key)

            @task(pool=LAKE_WRITERS_POOL)
            def write_scores() -> dict:
                return _write_scores(model_name)

            retrain_and_promote() >> write_scores()

        model_group()


train_models()
