"""One hour of one feed: simulate and/or read landing files, validate, write.

Every source but the sensor fleet is a set of *feeds*: a wire schema, the raw
dataset it lands in, where outside systems drop its files, and optionally a
simulator that also yields labels (the truth a model is later scored against).
:func:`ingest_feed_hour` is the one path a feed's hour takes into raw/, through
:func:`fieldhouse.ingest.partitions.write_partition`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from fieldhouse.ingest.claims import read_claimed_files
from fieldhouse.ingest.partitions import Manifest, write_partition, write_side_partition
from fieldhouse.storage.keys import Dataset, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore

if TYPE_CHECKING:
    from fieldhouse.quality.core import ValidationResult, WireSchema

log = logging.getLogger(__name__)

Validator = Callable[[pd.DataFrame, Interval], "ValidationResult"]


@dataclass(frozen=True)
class Feed:
    """A stream of records of one kind and the places it moves through."""

    dataset: Dataset
    schema: WireSchema
    landing: LandingArea
    validate: Validator
    labels: Dataset | None = None  # where a simulated batch's labels go


@dataclass(frozen=True)
class SimulatedWire:
    """What a simulator produced for one hour: wire rows and their labels."""

    wire: pd.DataFrame
    labels: pd.DataFrame


def ingest_feed_hour(
    store: ObjectStore,
    feed: Feed,
    interval: Interval,
    *,
    simulated: SimulatedWire | None,
    include_landing: bool,
    claim_landing: bool,
) -> Manifest:
    """Validate and write one hour of ``feed``: the simulated rows and the landed files.

    ``claim_landing`` says whether this hour takes newly dropped files; files it
    claimed on an earlier run are always read again, so reruns reproduce it.
    """
    wires: list[pd.DataFrame] = []
    if simulated is not None:
        wires.append(simulated.wire)
        if feed.labels is not None:
            write_side_partition(store, feed.labels, interval, simulated.labels)

    files: list[str] = []
    rejected: dict[str, str] = {}
    if include_landing:
        landing = read_claimed_files(
            store, feed.landing, interval, feed.schema, claim_new=claim_landing
        )
        wires.extend(landing.wires)
        files, rejected = landing.files, landing.rejected

    wire = pd.concat(wires, ignore_index=True) if wires else feed.schema.empty_wire_frame()
    result = feed.validate(wire, interval)
    return write_partition(
        store,
        feed.dataset,
        interval,
        rows_in=len(wire),
        valid=result.valid,
        quarantined=result.quarantined,
        reasons=result.reasons,
        files=files,
        files_rejected=rejected,
    )


@dataclass(frozen=True)
class Source:
    """A source of several feeds ingested side by side, hour by hour.

    ``simulate(feed_name, interval, options)`` returns the simulator's hour of
    one feed; ``options`` is an instance of ``options_type``, the source's run
    options (the DAG's Params), with at least ``simulate`` and ``include_landing``.
    """

    feeds: Mapping[str, Feed]
    simulate: Callable[[str, Interval, Any], SimulatedWire]
    options_type: type


def ingest_source_hour(
    store: ObjectStore,
    source: Source,
    feed_name: str,
    interval: Interval,
    options: Any,
    *,
    claim_landing: bool = True,
) -> Manifest:
    """One hour of one feed of ``source``, simulated and/or from landing files."""
    simulated = source.simulate(feed_name, interval, options) if options.simulate else None
    return ingest_feed_hour(
        store,
        source.feeds[feed_name],
        interval,
        simulated=simulated,
        include_landing=options.include_landing,
        claim_landing=claim_landing,
    )


def ingest_source(
    store: ObjectStore, source: Source, interval: Interval, options: Any
) -> dict[str, list[Manifest]]:
    """Every hour of ``interval`` for every feed; new landing files go to its last hour."""
    hours = interval.hours()
    return {
        name: [
            ingest_source_hour(store, source, name, hour, options, claim_landing=hour == hours[-1])
            for hour in hours
        ]
        for name in source.feeds
    }
