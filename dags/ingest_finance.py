"""
### Ingest finance: transactions and chargebacks

Moves one logical interval of card and account **transactions** and of
**chargebacks** (a simulator standing in for the issuer's feeds, plus the files
of every contract of these datasets, e.g. **`landing/finance_transactions/`** and
**`landing/finance_chargebacks/`**; see `contracts/feeds/`) into
`raw/finance/transactions/` and `raw/finance/chargebacks/`, Parquet per hour, after
registering the simulated customers (`raw/finance/customers/registered_by=…/`,
merged with every other writer's customers, never replaced).

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

from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_CHARGEBACKS, RAW_TRANSACTIONS
from fieldhouse.ingest.dag_tasks import ingest_source_tasks


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
    ingest_source_tasks(
        "finance",
        {"transactions": RAW_TRANSACTIONS, "chargebacks": RAW_CHARGEBACKS},
        registers=True,
    )


ingest_finance()
