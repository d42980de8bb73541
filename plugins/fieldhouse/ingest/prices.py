"""Price ingestion: the simulated market feed and landing files, validated, into raw/ partitions.

The same path as sensors: the instrument registry is replaced whole, then each
hour's bars (simulated, and from files dropped in ``landing/market_prices/``) are
validated and written by :func:`fieldhouse.ingest.partitions.write_partition`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from fieldhouse.ingest.claims import read_claimed_files
from fieldhouse.ingest.partitions import Manifest, write_partition, write_side_partition
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

    wires: list[pd.DataFrame] = []
    if options.simulate:
        from fieldhouse.sources.prices import INSTRUMENTS, simulate_bars

        batch = simulate_bars(INSTRUMENTS, interval, options.seed, bar_minutes=options.bar_minutes)
        wires.append(batch.readings)
        write_side_partition(store, MARKET_PRICE_LABELS, interval, batch.labels)

    files: list[str] = []
    rejected: dict[str, str] = {}
    if options.include_landing:
        landing = read_claimed_files(
            store, MARKET_LANDING, interval, PRICE_SCHEMA, claim_new=claim_landing
        )
        wires.extend(landing.wires)
        files, rejected = landing.files, landing.rejected

    wire = pd.concat(wires, ignore_index=True) if wires else PRICE_SCHEMA.empty_wire_frame()
    result = validate_bars(wire, instruments, interval, ingested_at=interval.end)
    return write_partition(
        store,
        MARKET_PRICE_BARS,
        interval,
        rows_in=len(wire),
        valid=result.valid,
        quarantined=result.quarantined,
        reasons=result.reasons,
        files=files,
        files_rejected=rejected,
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
