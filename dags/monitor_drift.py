"""
### Monitor drift

After the feature marts update, checks each champion model's inputs against the
data it was trained on, with Evidently's data-drift tests on seeded samples:

* **sensor_anomaly**: each metric's latest 24 hours of
  `ml_sensor_anomaly_features` against the champion's training period, one
  metric at a time (the table mixes units).
* **delivery_time**: the latest 7 days of orders in `ml_delivery_time_features`
  (destination, timing, basket), and the champion's predicted delivery days in
  `fct_delivery_time_scores` (prediction drift).
* **transaction_risk**: the latest 7 days of `ml_transaction_risk_features`
  (amount against the customer's usual, velocity, new country or device) and
  the champion's risk scores in `fct_transaction_risk_scores`.

Every check writes `report.html` (for people) and `report.json` (for machines)
to `s3://reports/<model>-<check>/<run>/`, a row to the lake table
`drift_checks`, and a snapshot to the model's project in the Evidently UI
(**Browse → Evidently drift**), whose dashboard shows each check's drift share,
drifted columns and per-column scores run after run. A model without a
champion or without data yet is skipped with the reason in the log.

#### When drift starts a retrain

Drift alone does not: `plan_retraining` triggers `train_models` for a drifted
model only if all of these hold, since a retrain on the rows the champion
already had keeps the same champion and the next check would ask again:

1. **new training data**: the rows a retrain would learn from now (the
   feature table, cut to the champion's training window) do not hash to the
   `data_fingerprint` on the champion's model card;
2. **not already tried**: no earlier retrain of the model was triggered on
   these same rows;
3. **cooldown over**: its last triggered retrain is older than the cooldown,
   *Params* `retrain_cooldown_hours` (default 6; 0 turns it off).

Drift of a champion that learnt from other data than the checked inputs is
reported as `inputs_outside_training_scope`: its data ends more than the
cooldown before the checked window starts, or the checked rows' `source`
is not among the `sources` on its card. The same three rules apply, so such
drift starts at most one retrain per change of the training data.

Every decision, trigger or suppression, is in the log and in the lake table
`retraining_decisions` (model, run, time, drifted, triggered, verdict, reason,
champion version, champion's and current data fingerprints); the cooldown is
read from there. The triggered run's configuration names the models
(`conf.models`) and why (`conf.reason`), as does `plan_retraining`'s return
value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import AssetAny, Param, dag, task

from fieldhouse.assets import (
    ML_DELIVERY_TIME_FEATURES,
    ML_SENSOR_ANOMALY_FEATURES,
    ML_TRANSACTION_RISK_FEATURES,
)
from fieldhouse.config import LAKE_WRITERS_POOL


def _report_run_id(run_id: str) -> str:
    """A run id usable as one path segment of a report key."""
    return run_id.replace(":", "-").replace("+", "-")


@dag(
    schedule=AssetAny(
        ML_SENSOR_ANOMALY_FEATURES, ML_DELIVERY_TIME_FEATURES, ML_TRANSACTION_RISK_FEATURES
    ),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["ml", "monitoring", "drift"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    },
    params={
        "retrain_cooldown_hours": Param(
            6,
            type="number",
            minimum=0,
            description=(
                "Hours after a triggered retrain of a model during which its drift "
                "triggers no other (0: no cooldown)."
            ),
        ),
    },
)
def monitor_drift():
    @task(pool=LAKE_WRITERS_POOL)
    def check_sensor_anomaly_drift(run_id=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ml.registry import NoChampion
        from fieldhouse.monitoring.sensors import check_sensor_feature_drift
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.for_role("ml")
        try:
            result = check_sensor_feature_drift(
                ObjectStore(settings), settings, _report_run_id(run_id)
            )
        except NoChampion:
            return {"model_name": "sensor_anomaly", "drifted": False, "skipped": "no champion"}
        drifted = bool(result["drifted_metrics"])
        reason = f"sensor_anomaly {result['reason']}" if drifted else ""
        return {**result, "drifted": drifted, "reason": reason}

    @task(pool=LAKE_WRITERS_POOL)
    def check_model_drift(model_name: str, run_id=None) -> dict:
        import logging

        from fieldhouse.config import StorageSettings
        from fieldhouse.ml.registry import NoChampion
        from fieldhouse.monitoring import models
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.for_role("ml")
        try:
            return models.check_model_drift(
                ObjectStore(settings), settings, models.SPECS[model_name], _report_run_id(run_id)
            )
        except (NoChampion, models.NothingToCheck) as exc:
            reason = str(exc) if isinstance(exc, models.NothingToCheck) else "no champion"
            logging.getLogger(__name__).info("%s: skipped, %s", model_name, reason)
            return {"model_name": model_name, "drifted": False, "skipped": reason}

    @task(pool=LAKE_WRITERS_POOL)
    def plan_retraining(results: list[dict], params=None, run_id=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.monitoring import retraining

        settings = StorageSettings.for_role("ml")
        decisions = retraining.plan_retraining(
            settings,
            results,
            _report_run_id(run_id),
            cooldown=timedelta(hours=float(params["retrain_cooldown_hours"])),
        )
        checks = {r["model_name"]: r for r in results}
        triggered = [d for d in decisions if d.triggered]
        reasons = [f"{checks[d.model_name]['reason']} ({d.reason})" for d in triggered]
        return {
            "models": [d.model_name for d in triggered],
            "reason": "drift: " + "; ".join(reasons) if triggered else "",
        }

    @task.short_circuit
    def drift_found(plan: dict) -> bool:
        return bool(plan["models"])

    results = [
        check_sensor_anomaly_drift(),
        check_model_drift.override(task_id="check_delivery_time_drift")("delivery_time"),
        check_model_drift.override(task_id="check_transaction_risk_drift")("transaction_risk"),
    ]
    plan = plan_retraining(results)
    retrain = TriggerDagRunOperator(
        task_id="trigger_retraining", trigger_dag_id="train_models", conf=plan
    )
    drift_found(plan) >> retrain


monitor_drift()
