"""
### Train models

Retrains the platform's models on the current lake and keeps the better one in
service. Each run registers a new version in the model registry
(`s3://models/<model>/versions/<version>/`: the artifact and a model card with
metrics, parameters, features, training period, lake snapshot, library versions,
code revision and the artifact's checksum), then scores the champion on the
challenger's held-out period and promotes the challenger only if it wins by the
margin. The decision and its reason are stored beside the versions and shown in
the task's return value.

* Runs daily at 03:00 UTC (retraining on every hourly transform would churn
  versions without new information).
* **Trigger by hand** to retrain now; under *Params* choose the promotion margin.

Models: **sensor_anomaly**: an isolation forest per device kind on
`ml_sensor_anomaly_features`, split by time, scored against the simulator's
injected-anomaly labels (precision, recall, F1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task, task_group


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
        "margin": Param(
            0.01,
            type="number",
            minimum=0,
            description="F1 the challenger must gain over the champion to replace it.",
        ),
    },
)
def train_models():
    @task_group(tooltip="Isolation forest per device kind on the hourly sensor features")
    def sensor_anomaly():
        @task
        def retrain_and_promote(params=None) -> dict:
            from fieldhouse.config import StorageSettings
            from fieldhouse.ml.training import retrain_sensor_anomaly
            from fieldhouse.storage.objects import ObjectStore

            settings = StorageSettings.from_airflow()
            return retrain_sensor_anomaly(
                ObjectStore(settings), settings, margin=float(params["margin"])
            )

        retrain_and_promote()

    sensor_anomaly()


train_models()
