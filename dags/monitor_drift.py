"""
### Monitor drift

After every update of the sensor feature mart, compares each metric's latest
24 hours of `ml_sensor_anomaly_features` with the period the champion anomaly
model was trained on, using Evidently's data-drift tests on a seeded sample.

* Writes one report per metric to `s3://reports/sensor_anomaly-<metric>/<run>/`
  (`report.html` for people, `report.json` for machines) and one row per metric
  to the lake table `drift_checks`.
* When a metric drifts, triggers `train_models`; the reason (which metric, which
  columns) is in the triggered run's configuration and in this run's
  `check_feature_drift` return value.
* Skips quietly while no champion model exists yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from fieldhouse.assets import ML_SENSOR_ANOMALY_FEATURES


@dag(
    schedule=[ML_SENSOR_ANOMALY_FEATURES],
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
    def check_feature_drift(run_id=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ml.registry import NoChampion
        from fieldhouse.monitoring.sensors import check_sensor_feature_drift
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.from_airflow()
        try:
            return check_sensor_feature_drift(
                ObjectStore(settings), settings, run_id.replace(":", "-").replace("+", "-")
            )
        except NoChampion:
            return {"drifted_metrics": [], "reason": "no champion model to compare with yet"}

    @task.short_circuit
    def drift_found(result: dict) -> bool:
        return bool(result["drifted_metrics"])

    result = check_feature_drift()
    retrain = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id="train_models",
        conf={"reason": "drift: {{ ti.xcom_pull(task_ids='check_feature_drift')['reason'] }}"},
    )
    drift_found(result) >> retrain


monitor_drift()
