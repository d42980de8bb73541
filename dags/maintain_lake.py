"""
### Maintain the lake

Keeps storage flat while the platform runs for years: hourly ingestion and
incremental builds leave small Parquet files, snapshots, Airflow run history and
claimed landing files behind, and nothing else ever removes them. Runs daily at
04:30 UTC; every step logs what it removed and returns its counts (see each
task's XCom).

* `compact_lake_files` merges the lake's small adjacent Parquet files
  (`ducklake_merge_adjacent_files`), table by table. Every snapshot still reads
  the same rows, so time travel is unchanged; the log shows the data files
  before and after.
* `expire_old_snapshots` then expires lake snapshots older than 7 days (time
  travel reaches that far back) and deletes the files no snapshot reads any
  more, among them the ones compaction replaced, once they have been unused
  for an hour (a query may still be scanning them; those of today's compaction
  go on the next run). It runs even when compaction failed.
* `clean_airflow_history` deletes Airflow's run history (runs, task instances,
  XComs, logs, asset events, ...) older than `history_days` with
  `airflow db clean`, without archive tables. Each DAG's latest scheduled
  run is kept.
* `delete_processed_landing_files` deletes landing files claimed by an ingest
  run (`landing/_processed/<source>/dt=…/hour=…/`) that were claimed more than
  `processed_days` ago; their rows stay in the hour's raw partition. Each such
  hour gets a `_pruned.json` marker, and a rerun of it is refused with a clear
  error instead of rewriting raw without those rows. Files waiting to be claimed
  and retracted files are left alone.

The two lake steps take slots in the `lake_writers` pool and run as the
transform account; the landing step runs as the ingest account.

**Trigger by hand** to choose, under *Params*, how many days of Airflow history
(`history_days`) and of processed landing files (`processed_days`) to keep.
Scheduled runs keep 30 days of each, or what `FIELDHOUSE_HISTORY_DAYS` and
`FIELDHOUSE_PROCESSED_DAYS` say.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from fieldhouse.config import LAKE_WRITERS_POOL
from fieldhouse.maintenance import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_PROCESSED_DAYS,
    HISTORY_DAYS_VARIABLE,
    PROCESSED_DAYS_VARIABLE,
    days_setting,
)


@dag(
    # After the night's training (03:00), when the lake is quietest.
    schedule=CronTriggerTimetable("30 4 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["maintenance", "lake"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
    },
    params={
        "history_days": Param(
            days_setting(HISTORY_DAYS_VARIABLE, DEFAULT_HISTORY_DAYS),
            type="integer",
            minimum=1,
            description="Days of Airflow run history (runs, task instances, logs) to keep.",
        ),
        "processed_days": Param(
            days_setting(PROCESSED_DAYS_VARIABLE, DEFAULT_PROCESSED_DAYS),
            type="integer",
            minimum=1,
            description=(
                "Days to keep a landing file after an ingest run claimed it "
                "(landing/_processed/); reruns of hours whose files are gone are refused."
            ),
        ),
    },
)
def maintain_lake():
    @task(pool=LAKE_WRITERS_POOL)
    def compact_lake_files() -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.maintenance import compact_lake

        return compact_lake(StorageSettings.for_role("transform"))

    # Retention must not wait on compaction: a lake that cannot be compacted
    # today still sheds its old snapshots.
    @task(pool=LAKE_WRITERS_POOL, trigger_rule="all_done")
    def expire_old_snapshots() -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import expire_snapshots

        return expire_snapshots(StorageSettings.for_role("transform"))

    @task
    def clean_airflow_history(params=None) -> dict:
        from fieldhouse.maintenance import clean_airflow_history as clean

        return clean(int(params["history_days"]))

    @task
    def delete_processed_landing_files(params=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.maintenance import delete_processed_landing

        return delete_processed_landing(
            StorageSettings.for_role("ingest"), timedelta(days=int(params["processed_days"]))
        )

    compact_lake_files() >> expire_old_snapshots()
    clean_airflow_history()
    delete_processed_landing_files()


maintain_lake()
