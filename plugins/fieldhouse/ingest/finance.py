"""Finance ingestion: card and account transactions and later chargebacks, into raw/.

The customer registry (home country, currency, registered device) is replaced
whole, then two feeds per hour go through
:func:`fieldhouse.ingest.feeds.ingest_feed_hour`:

* ``transactions`` made in the hour (simulated, and files dropped in
  ``landing/finance_transactions/``), with the simulator's fraud labels in
  ``raw/finance/transaction_labels/``;
* ``chargebacks`` reported in the hour, of fraud up to weeks before (simulated,
  and files dropped in ``landing/finance_chargebacks/``): the late labels a
  risk model learns from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from fieldhouse.ingest.feeds import (
    Feed,
    SimulatedWire,
    Source,
    ingest_source,
    ingest_source_hour,
)
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.quality.finance import (
    CHARGEBACK_SCHEMA,
    TRANSACTION_SCHEMA,
    validate_chargebacks,
    validate_transactions,
)
from fieldhouse.storage.keys import (
    FINANCE_CHARGEBACKS,
    FINANCE_CHARGEBACKS_LANDING,
    FINANCE_CUSTOMERS,
    FINANCE_TRANSACTION_LABELS,
    FINANCE_TRANSACTIONS,
    FINANCE_TRANSACTIONS_LANDING,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import to_parquet_bytes

log = logging.getLogger(__name__)

TRANSACTIONS = Feed(
    dataset=FINANCE_TRANSACTIONS,
    schema=TRANSACTION_SCHEMA,
    landing=FINANCE_TRANSACTIONS_LANDING,
    validate=lambda wire, hour: validate_transactions(wire, hour, ingested_at=hour.end),
    labels=FINANCE_TRANSACTION_LABELS,
)
CHARGEBACKS = Feed(
    dataset=FINANCE_CHARGEBACKS,
    schema=CHARGEBACK_SCHEMA,
    landing=FINANCE_CHARGEBACKS_LANDING,
    validate=lambda wire, hour: validate_chargebacks(wire, hour, ingested_at=hour.end),
)
FEEDS = {"transactions": TRANSACTIONS, "chargebacks": CHARGEBACKS}

# The registry's columns: what an issuer knows of a customer at sign-up. The
# simulator's spending habits stay hidden, as they would be.
CUSTOMER_COLUMNS = ("customer_id", "home_country", "currency", "device_id")


@dataclass(frozen=True)
class FinanceRunOptions:
    """What a person triggering ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 5
    include_landing: bool = True
    customers: int = 500


def register_customers(store: ObjectStore, options: FinanceRunOptions) -> pd.DataFrame:
    """Write the customer registry (every customer the simulated issuer has)."""
    from fieldhouse.sources.finance import customer_profiles

    registry = customer_profiles(options.seed, options.customers)[list(CUSTOMER_COLUMNS)]
    store.put_bytes(FINANCE_CUSTOMERS.key, to_parquet_bytes(registry.reset_index(drop=True)))
    log.info("customers: %d -> %s", len(registry), FINANCE_CUSTOMERS.key.uri)
    return registry


def _simulate(feed_name: str, interval: Interval, options: FinanceRunOptions) -> SimulatedWire:
    from fieldhouse.sources import finance

    simulate = {
        "transactions": finance.simulate_transactions,
        "chargebacks": finance.simulate_chargebacks,
    }[feed_name]
    batch = simulate(interval, options.seed, customers=options.customers)
    return SimulatedWire(batch.readings, batch.labels)


FINANCE = Source(FEEDS, _simulate, FinanceRunOptions)


def ingest_finance_hour(
    store: ObjectStore,
    feed_name: str,
    interval: Interval,
    options: FinanceRunOptions,
    *,
    claim_landing: bool = True,
) -> Manifest:
    """Ingest one hour of one finance feed (``transactions`` or ``chargebacks``)."""
    return ingest_source_hour(
        store, FINANCE, feed_name, interval, options, claim_landing=claim_landing
    )


def ingest_finance(
    store: ObjectStore, interval: Interval, options: FinanceRunOptions | None = None
) -> dict[str, list[Manifest]]:
    """Ingest every hour of ``interval`` for both feeds, after the customer registry."""
    options = options or FinanceRunOptions()
    if options.simulate:
        register_customers(store, options)
    return ingest_source(store, FINANCE, interval, options)
