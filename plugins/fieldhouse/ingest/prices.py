"""Price ingestion: the simulated market feed and landing files, validated, into raw/ partitions.

The same path as sensors: the instrument registry is replaced whole, then each
hour's bars (simulated, and from files dropped in ``landing/market_prices/``) are
validated and written by :func:`fieldhouse.ingest.partitions.write_partition`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from fieldhouse.ingest.feeds import Feed, SimulatedWire, ingest_feed_hour
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.storage.keys import (
    MARKET_INSTRUMENTS,
    MARKET_LANDING,
    MARKET_PRICE_BARS,
    MARKET_PRICE_LABELS,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes, to_parquet_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriceRunOptions:
    """What a person triggering ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 7
    include_landing: bool = True
    bar_minutes: int = 5


def register_instruments(store: ObjectStore) -> pd.DataFrame:
    """Write the instrument registry (every instrument the feed can quote)."""
    from fieldhouse.sources.prices import INSTRUMENTS, instruments_frame

    registry = instruments_frame(INSTRUMENTS)
    store.put_bytes(MARKET_INSTRUMENTS.key, to_parquet_bytes(registry))
    log.info("instruments: %d -> %s", len(registry), MARKET_INSTRUMENTS.key.uri)
    return registry


def load_instruments(store: ObjectStore) -> pd.DataFrame:
    return from_parquet_bytes(store.get_bytes(MARKET_INSTRUMENTS.key))


def ingest_price_hour(
    store: ObjectStore,
    interval: Interval,
    instruments: pd.DataFrame,
    options: PriceRunOptions,
    *,
    claim_landing: bool = True,
) -> Manifest:
    """Ingest one hour of bars: simulate and/or read landing files, validate, write.

    ``claim_landing`` says whether this hour takes newly dropped files; files it
    claimed on an earlier run are always read again, so reruns reproduce it.
    """
    from fieldhouse.quality.prices import PRICE_SCHEMA, validate_bars

    feed = Feed(
        dataset=MARKET_PRICE_BARS,
        schema=PRICE_SCHEMA,
        landing=MARKET_LANDING,
        validate=lambda wire, hour: validate_bars(wire, instruments, hour, ingested_at=hour.end),
        labels=MARKET_PRICE_LABELS,
    )
    simulated = None
    if options.simulate:
        from fieldhouse.sources.prices import INSTRUMENTS, simulate_bars

        batch = simulate_bars(INSTRUMENTS, interval, options.seed, bar_minutes=options.bar_minutes)
        simulated = SimulatedWire(batch.readings, batch.labels)
    return ingest_feed_hour(
        store,
        feed,
        interval,
        simulated=simulated,
        include_landing=options.include_landing,
        claim_landing=claim_landing,
    )


def ingest_prices(
    store: ObjectStore, interval: Interval, options: PriceRunOptions | None = None
) -> list[Manifest]:
    """Ingest every hour of ``interval``; landing files are claimed by its last hour."""
    options = options or PriceRunOptions()
    instruments = register_instruments(store)
    hours = interval.hours()
    return [
        ingest_price_hour(store, hour, instruments, options, claim_landing=hour == hours[-1])
        for hour in hours
    ]
