"""One hour of one feed: simulate and/or read landing files, validate, write.

Every source but the sensor fleet is a set of *feeds*: a wire schema, the raw
dataset it lands in, where outside systems drop its files, and optionally a
simulator that also yields labels (the truth a model is later scored against).
:func:`ingest_feed_hour` is the one path a feed's hour takes into raw/, through
:func:`fieldhouse.ingest.partitions.write_partition`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
