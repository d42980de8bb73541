"""
### Ingest commerce: orders and shipment scans

Moves one logical interval of the web shop's **orders** and the carriers'
**tracking scans** (a simulator standing in for the shop's order feed and the
carriers' scan feeds, plus files dropped in **`landing/commerce_orders/`** and
**`landing/commerce_shipments/`**) into `raw/commerce/orders/` and
`raw/commerce/shipment_events/`, one Parquet file per hour each.

* Scans are *late-arriving facts*: an hour holds the scans made in it, of orders
  placed up to 19 days before. The marts join deliveries back to their orders.
* Every record is validated (schema, known countries, carriers and scan types,
  currency of the destination, positive amounts, no future timestamps, id
  dedup); rejects go to `quarantine/` with a reason. Each hour's manifest
  records *rows in = rows written + rows quarantined*; the run fails if that
  ever breaks.
* A rerun of an interval replaces exactly that interval, so clearing a run or
  backfilling never duplicates data.
* Publishes **raw.orders** and **raw.shipment_events**, which start `transform_lake`.

**Trigger by hand**: pick the logical date (the interval is the hour before it)
and, under *Params*, whether to simulate, the seed, the order rate, and whether
to pick up landing files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from fieldhouse.assets import RAW_ORDERS, RAW_SHIPMENT_EVENTS, RAW_SHIPMENTS
from fieldhouse.ingest.dag_tasks import ingest_source_tasks


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["ingestion", "commerce"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    params={
        "simulate": Param(
            True, type="boolean", description="Generate orders and scans with the shop simulator."
        ),
        "seed": Param(11, type="integer", description="Simulator seed; same seed, same records."),
        "include_landing": Param(
            True,
            type="boolean",
            description="Also ingest files dropped in landing/commerce_orders/ and "
            "landing/commerce_shipments/.",
        ),
        "orders_per_hour": Param(
            30.0, type="number", minimum=0, description="Mean simulated orders per hour."
        ),
    },
)
def ingest_commerce():
    ingest_source_tasks(
        "commerce",
        {
            "orders": RAW_ORDERS,
            "shipment_events": RAW_SHIPMENT_EVENTS,
            "shipments": RAW_SHIPMENTS,
        },
        registers=False,
    )


ingest_commerce()
