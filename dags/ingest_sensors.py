"""
### Ingest sensor readings

Moves one logical interval of readings from the **sensor fleet** (a simulator
standing in for gateways) and from files dropped in **`landing/sensors/`** into
`raw/sensors/readings/dt=…/hour=…/`, one Parquet file per hour.

* Every row is validated (schema, ranges per sensor kind, known device, event id
  dedup); rejects go to `quarantine/` with a reason. Each hour's manifest records
  *rows in = rows written + rows quarantined*; the run fails if that ever breaks.
* A rerun of an interval replaces exactly that interval, so clearing a run or
  backfilling never duplicates data.
* Publishes the **raw.sensor_readings** asset, which starts `transform_lake`.

**Trigger by hand**: pick the logical date (the interval is the hour before it, as
for scheduled runs) and, under *Params*, whether to simulate, the fleet size and
seed, and whether to pick up landing files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_SENSOR_READINGS
from fieldhouse.ingest.dag_tasks import plan_hours


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["ingestion", "sensors"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    params={
        "simulate": Param(
            True, type="boolean", description="Generate readings with the fleet simulator."
        ),
        "fleet_size": Param(
            50, type="integer", minimum=1, maximum=20000, description="Number of simulated devices."
        ),
        "seed": Param(7, type="integer", description="Simulator seed; same seed, same data."),
        "calibration_shift_c": Param(
            0.0,
            type="number",
            description="Simulated calibration error (°C) on environmental sensors: "
            "a drill for monitor_drift.",
        ),
        "include_landing": Param(
            True, type="boolean", description="Also ingest files dropped in landing/sensors/."
        ),
    },
)
def ingest_sensors():
    @task
    def register_devices(params=None) -> int:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ingest import sensors
        from fieldhouse.storage.objects import ObjectStore

        store = ObjectStore(StorageSettings.from_airflow())
        return len(sensors.register_devices(store, sensors.SensorRunOptions(**params)))

    @task(max_active_tis_per_dagrun=2)
    def ingest_hour(hour_start: str, claim_landing: bool, params=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ingest import sensors
        from fieldhouse.storage.keys import Interval
        from fieldhouse.storage.objects import ObjectStore

        store = ObjectStore(StorageSettings.from_airflow())
        manifest = sensors.ingest_sensor_hour(
            store,
            Interval.parse(hour_start),
            sensors.load_registry(store),
            sensors.SensorRunOptions(**params),
            claim_landing=claim_landing,
        )
        return manifest.as_dict()

    @task(outlets=[RAW_SENSOR_READINGS])
    def reconcile_counts(manifests: list[dict], outlet_events=None) -> dict:
        from fieldhouse.ingest.partitions import summarize

        summary = summarize(manifests)
        outlet_events[RAW_SENSOR_READINGS].extra = summary
        return summary

    hours = plan_hours()
    registered = register_devices()
    manifests = ingest_hour.expand_kwargs(hours)
    registered >> manifests
    reconcile_counts(manifests)


ingest_sensors()
