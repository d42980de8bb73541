"""
### Ingest finance: transactions and chargebacks

Moves one logical interval of card and account **transactions** and of
**chargebacks** (a simulator standing in for the issuer's feeds, plus files
dropped in **`landing/finance_transactions/`** and
**`landing/finance_chargebacks/`**) into `raw/finance/transactions/` and
`raw/finance/chargebacks/`, one Parquet file per hour each, after replacing the
customer registry `raw/finance/customers/current.parquet`.

* Chargebacks are the *late labels* of fraud: one is reported 2 to 20 days after
  the transaction it disputes. The marts join them back; the risk model learns
  only from transactions old enough for their chargeback to have arrived.
* Every record is validated (schema, known currencies, channels, merchant
  categories, countries and reason codes, positive amounts, no future
  timestamps, id dedup); rejects go to `quarantine/` with a reason. Each hour's
  manifest records *rows in = rows written + rows quarantined*; the run fails
  if that ever breaks.
* A rerun of an interval replaces exactly that interval, so clearing a run or
  backfilling never duplicates data.
* Publishes **raw.transactions** and **raw.chargebacks**, which start `transform_lake`.

**Trigger by hand**: pick the logical date (the interval is the hour before it)
and, under *Params*, whether to simulate, the seed, the number of customers, and
whether to pick up landing files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task, task_group
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_CHARGEBACKS, RAW_TRANSACTIONS


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["ingestion", "finance"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    params={
        "simulate": Param(
            True, type="boolean", description="Generate records with the issuer simulator."
        ),
        "seed": Param(5, type="integer", description="Simulator seed; same seed, same records."),
        "include_landing": Param(
            True,
            type="boolean",
            description="Also ingest files dropped in landing/finance_transactions/ and "
            "landing/finance_chargebacks/.",
        ),
        "customers": Param(
            500, type="integer", minimum=1, description="Customers of the simulated issuer."
        ),
    },
)
def ingest_finance():
    @task
    def plan_hours(data_interval_start=None, data_interval_end=None) -> list[dict]:
        from fieldhouse.ingest import partitions

        return partitions.plan_hours(data_interval_start, data_interval_end)

    @task
    def register_customers(params=None) -> int:
        from fieldhouse.config import StorageSettings
        from fieldhouse.ingest import finance
        from fieldhouse.storage.objects import ObjectStore

        options = finance.FinanceRunOptions(**params)
        if not options.simulate:
            return 0
        store = ObjectStore(StorageSettings.from_airflow())
        return len(finance.register_customers(store, options))

    hours = plan_hours()
    registered = register_customers()

    for feed_name, asset in (("transactions", RAW_TRANSACTIONS), ("chargebacks", RAW_CHARGEBACKS)):

        @task_group(group_id=feed_name, tooltip=f"Validate and write {feed_name}, hour by hour")
        def feed(feed_name: str = feed_name, asset=asset):
            @task(max_active_tis_per_dagrun=2)
            def ingest_hour(hour_start: str, claim_landing: bool, params=None) -> dict:
                from fieldhouse.config import StorageSettings
                from fieldhouse.ingest import finance
                from fieldhouse.storage.keys import Interval
                from fieldhouse.storage.objects import ObjectStore

                manifest = finance.ingest_finance_hour(
                    ObjectStore(StorageSettings.from_airflow()),
                    feed_name,
                    Interval.parse(hour_start),
                    finance.FinanceRunOptions(**params),
                    claim_landing=claim_landing,
                )
                return manifest.as_dict()

            @task(outlets=[asset])
            def reconcile_counts(manifests: list[dict], outlet_events=None) -> dict:
                from fieldhouse.ingest.partitions import summarize

                summary = summarize(manifests)
                outlet_events[asset].extra = summary
                return summary

            manifests = ingest_hour.expand_kwargs(hours)
            registered >> manifests
            reconcile_counts(manifests)

        feed()


ingest_finance()
