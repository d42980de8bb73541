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
to `s3://reports/<model>-<check>/<run>/` and a row to the lake table
`drift_checks`. When a check drifts, `train_models` is triggered for the
drifted models only; the reason is in the triggered run's configuration
(`conf.reason`) and in `plan_retraining`'s return value. A model without a
champion or without data yet is skipped with the reason in the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import AssetAny, dag, task

from fieldhouse.assets import (
    ML_DELIVERY_TIME_FEATURES,
    ML_SENSOR_ANOMALY_FEATURES,
    ML_TRANSACTION_RISK_FEATURES,
)


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
)
def monitor_drift():
    @task
    def check_sensor_anomaly_drift(run_id=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ml.registry import NoChampion
        from fieldhouse.monitoring.sensors import check_sensor_feature_drift
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.from_airflow()
        try:
            result = check_sensor_feature_drift(
                ObjectStore(settings), settings, _report_run_id(run_id)
            )
        except NoChampion:
            return {"model_name": "sensor_anomaly", "drifted": False, "skipped": "no champion"}
        drifted = bool(result["drifted_metrics"])
        reason = f"sensor_anomaly {result['reason']}" if drifted else ""
        return {**result, "drifted": drifted, "reason": reason}

    @task
    def check_model_drift(model_name: str, run_id=None) -> dict:
        import logging

        from fieldhouse.config import StorageSettings
        from fieldhouse.ml.registry import NoChampion
        from fieldhouse.monitoring import models
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.from_airflow()
        try:
            return models.check_model_drift(
                ObjectStore(settings), settings, models.SPECS[model_name], _report_run_id(run_id)
            )
        except (NoChampion, models.NothingToCheck) as exc:
            reason = str(exc) if isinstance(exc, models.NothingToCheck) else "no champion"
            logging.getLogger(__name__).info("%s: skipped, %s", model_name, reason)
            return {"model_name": model_name, "drifted": False, "skipped": reason}

    @task
    def plan_retraining(results: list[dict]) -> dict:
        drifted = [r for r in results if r["drifted"]]
        return {
            "models": [r["model_name"] for r in drifted],
            "reason": "drift: " + "; ".join(r["reason"] for r in drifted) if drifted else "",
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
