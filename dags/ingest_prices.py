"""
### Ingest price bars

Moves one logical interval of intraday price bars from the **market feed** (a
simulator standing in for a vendor feed of five instruments) and from the files of
every contract of `market.price_bars` (**`landing/market_prices/`**,
`landing/daily_stock_bars/`, and yours; see `contracts/feeds/`) into
`raw/market/price_bars/dt=…/hour=…/`. Instruments come from the catalog
(`contracts/catalogs/`) or are registered on first sight, as a contract declares.

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

from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_PRICE_BARS
from fieldhouse.ingest.dag_tasks import ingest_source_tasks


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
    ingest_source_tasks("market", {"price_bars": RAW_PRICE_BARS}, registers=True)


ingest_prices()
