"""
### Transform the lake

Runs `dbt build` over `dbt_project/` whenever new raw data lands (only the
domains, sensors, market, commerce and finance, that have raw data): staging views
type and deduplicate the raw Parquet in MinIO, intermediate models flag spikes and
stuck sensors, and the marts are written as DuckLake tables (Parquet in
`s3://lake/`, catalog beside the stack). Every model's tests run as part of the
build, so a mart that fails a test is not published.

* Starts on any update of a raw asset (**raw.sensor_readings**,
  **raw.price_bars**, **raw.orders**, **raw.shipment_events**,
  **raw.transactions**, **raw.chargebacks**); no clock schedule.
* Regenerates the **dbt docs** after each build, so the served docs always
  describe what is in the lake.
* Expires lake snapshots older than 7 days (time travel reaches that far back)
  and deletes the files only they used.
* Publishes the mart assets (`lake.fct_sensor_readings_hourly`,
  `lake.fct_market_daily`, …) that the ML DAGs follow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import AssetAny, dag, task

from fieldhouse.assets import ALL_MARTS, RAW_ASSETS


@dag(
    schedule=AssetAny(*RAW_ASSETS),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    # One writer at a time: the embedded lake catalog is a single DuckDB file.
    max_active_runs=1,
    doc_md=__doc__,
    tags=["transform", "dbt", "lake"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    },
)
def transform_lake():
    @task
    def check_source_freshness() -> str:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import run_dbt

        # Stale sources warn in the log; only a build failure stops the run.
        result = run_dbt(["source", "freshness"], StorageSettings.from_airflow(), check=False)
        return "ok" if result.success else "stale or unreachable sources (see log)"

    @task(outlets=ALL_MARTS)
    def build_models() -> list[str]:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import build_domains, domains_with_data
        from fieldhouse.storage.objects import ObjectStore

        settings = StorageSettings.from_airflow()
        domains = domains_with_data(ObjectStore(settings))
        build_domains(settings, domains)
        return domains

    @task
    def generate_docs() -> None:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import run_dbt

        run_dbt(["docs", "generate"], StorageSettings.from_airflow())

    @task
    def expire_old_snapshots() -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import expire_snapshots

        return expire_snapshots(StorageSettings.from_airflow())

    check_source_freshness() >> build_models() >> generate_docs() >> expire_old_snapshots()


transform_lake()
