"""
### Ingest price bars

Moves one logical interval of intraday price bars from the **market feed** (a
simulator standing in for a vendor feed of five instruments) and from files
dropped in **`landing/market_prices/`** into
`raw/market/price_bars/dt=…/hour=…/`, one Parquet file per hour.

* Every bar is validated (schema, OHLC consistency, positive prices, trading
  calendar of its instrument, event id dedup); rejects go to `quarantine/` with
  a reason. Each hour's manifest records *rows in = rows written + rows
  quarantined*; the run fails if that ever breaks.
* A rerun of an interval replaces exactly that interval, so clearing a run or
  backfilling never duplicates data.
* Publishes the **raw.price_bars** asset, which starts `transform_lake`.

**Trigger by hand**: pick the logical date (the interval is the hour before it, as
for scheduled runs) and, under *Params*, whether to simulate, the seed, and
whether to pick up landing files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_PRICE_BARS
from fieldhouse.ingest.dag_tasks import plan_hours


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["ingestion", "market"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    params={
        "simulate": Param(
            True, type="boolean", description="Generate bars with the market simulator."
        ),
        "seed": Param(7, type="integer", description="Simulator seed; same seed, same bars."),
        "include_landing": Param(
            True, type="boolean", description="Also ingest files dropped in landing/market_prices/."
        ),
    },
)
def ingest_prices():
    @task
    def register_instruments() -> int:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ingest import prices
        from fieldhouse.storage.objects import ObjectStore

        store = ObjectStore(StorageSettings.from_airflow())
        return len(prices.register_instruments(store))

    @task(max_active_tis_per_dagrun=2)
    def ingest_hour(hour_start: str, claim_landing: bool, params=None) -> dict:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ingest import prices
        from fieldhouse.storage.keys import Interval
        from fieldhouse.storage.objects import ObjectStore

        store = ObjectStore(StorageSettings.from_airflow())
        manifest = prices.ingest_price_hour(
            store,
            Interval.parse(hour_start),
            prices.load_instruments(store),
            prices.PriceRunOptions(**params),
            claim_landing=claim_landing,
        )
        return manifest.as_dict()

    @task(outlets=[RAW_PRICE_BARS])
    def reconcile_counts(manifests: list[dict], outlet_events=None) -> dict:
        from fieldhouse.ingest.partitions import summarize

        summary = summarize(manifests)
        outlet_events[RAW_PRICE_BARS].extra = summary
        return summary

    hours = plan_hours()
    registered = register_instruments()
    manifests = ingest_hour.expand_kwargs(hours)
    registered >> manifests
    reconcile_counts(manifests)


ingest_prices()
