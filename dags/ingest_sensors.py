"""
### Ingest sensor readings

Moves one logical interval of readings from the **sensor fleet** (a simulator
standing in for gateways) and from the files of every feed contract of
`sensors.readings` (`contracts/feeds/`: **`landing/sensors/`**, `landing/nab_machine/`,
`landing/office_occupancy/`, and yours) into `raw/sensors/readings/dt=…/hour=…/`.

* `register` first registers the simulated fleet and the device files dropped in
  `landing/sensor_devices/` (a file with an unknown device kind is quarantined with
  its reason, never stopping the run).
* Each file is read in batches and normalised by its contract (columns, local time
  zones, units, sentinels, wide layouts), then every row is validated (ranges and
  device kinds from the catalog, known device, duplicates and conflicting
  repeats); rejects go to `quarantine/` with a reason. Each hour's manifest records
  *rows in = rows written + rows quarantined*; the run fails if that ever breaks.
* A rerun of an interval replaces exactly that interval, so clearing a run or
  backfilling never duplicates data.
* Anomaly labels people send (failure windows of a device, or of one metric)
  land beside the readings through the contracts of `sensors.anomaly_windows`
  (`landing/anomaly_windows/`, `landing/nab_machine_labels/`, yours): the
  `anomaly_windows` group. The sensor anomaly model learns its thresholds from them.
* Publishes the **raw.sensor_readings** and **raw.sensor_anomaly_windows**
  assets, which start `transform_lake`.

**Trigger by hand**: pick the logical date (the interval is the hour before it, as
for scheduled runs) and, under *Params*, whether to simulate, the fleet size and
seed, and whether to pick up landing files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_SENSOR_ANOMALY_WINDOWS, RAW_SENSOR_READINGS
from fieldhouse.ingest.dag_tasks import ingest_source_tasks


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
    ingest_source_tasks(
        "sensors",
        {"readings": RAW_SENSOR_READINGS, "anomaly_windows": RAW_SENSOR_ANOMALY_WINDOWS},
        registers=True,
    )


ingest_sensors()
