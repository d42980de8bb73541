"""One hour of one raw dataset: simulated rows and every contract's landing files, validated.

This is the one ingestion path. A dataset's hour is written from the simulator
of a built-in source (already in the dataset's wire shape) and from the files
dropped in the landing folder of every contract that lands in it, each file
read and normalised by its contract (:mod:`fieldhouse.contracts`). Validation
and the writer (:func:`fieldhouse.ingest.partitions.write_partition_parts`) are the
same for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from fieldhouse.contracts.contract import SIMULATOR_SOURCE
from fieldhouse.ingest.claims import ClaimedFile, claim_landing_files
from fieldhouse.ingest.datasets import raw_dataset
from fieldhouse.ingest.hour import HourBuilder
from fieldhouse.ingest.partitions import Manifest, write_side_partition
from fieldhouse.storage.keys import Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog
    from fieldhouse.contracts.contract import Contract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedWire:
    """What a simulator produced for one hour: wire rows and their labels."""

    wire: pd.DataFrame
    labels: pd.DataFrame


def ingest_dataset_hour(
    store: ObjectStore,
    dataset_name: str,
    interval: Interval,
    *,
    simulated: SimulatedWire | None = None,
    include_landing: bool = True,
    claim_landing: bool = True,
    contracts: list[Contract] | None = None,
    catalog: Catalog | None = None,
) -> Manifest:
    """Validate and write one hour of a raw dataset from its simulator and its feeds' files.

    ``claim_landing`` says whether this hour takes newly dropped files; files it
    claimed on an earlier run are always read again, so reruns reproduce it.
    ``contracts`` defaults to every contract under ``contracts/feeds/`` that lands
    in the dataset. Files are read in batches, so a big file takes the memory of a
    batch, not of the whole file.
    """
    from fieldhouse.contracts.catalog import load_catalog
    from fieldhouse.contracts.contract import load_contracts

    target = raw_dataset(dataset_name)
    catalog = catalog or load_catalog()
    every = list(load_contracts().values())
    contracts = [c for c in every if c.dataset == dataset_name] if contracts is None else contracts
    # A contract's inline catalog entries are vocabulary like the catalog files':
    # a metric one feed defines is known to every dataset (labels name it too).
    for contract in {c.name: c for c in [*every, *contracts]}.values():
        catalog = catalog.merged(contract.catalog, source=str(contract.path or contract.name))

    hour = HourBuilder(store, target, interval, catalog)
    if simulated is not None:
        hour.add(simulated.wire, source=SIMULATOR_SOURCE)
        if target.labels is not None:
            write_side_partition(store, target.labels, interval, simulated.labels)
    if include_landing:
        for contract in contracts:
            _ingest_feed_files(store, hour, contract, catalog, claim_landing)
    return hour.write()


def _ingest_feed_files(
    store: ObjectStore, hour: HourBuilder, contract: Contract, catalog: Catalog, claim_new: bool
) -> None:
    """Claim one contract's files for the hour, read each in batches, normalise, validate.

    A file that cannot be read at all is copied, byte for byte, to quarantine and
    reported with its reason, which names it (what of it was already read is
    dropped); its claim stays, so reruns agree. Any other error (storage, a
    registry) fails the task, so it is retried, with a note naming the file.
    """
    from fieldhouse.sources.landing import LandingFormatError

    area = LandingArea(contract.landing)
    for claimed in claim_landing_files(store, area, hour.interval, claim_new=claim_new):
        started = hour.checkpoint()
        try:
            rows = _ingest_file(store, hour, contract, catalog, claimed, started)
        except LandingFormatError as exc:
            hour.rollback(started)
            rejected_key = area.rejected(hour.interval, claimed.name)
            store.copy(claimed.key, rejected_key)
            hour.rejected[claimed.key.uri] = f"{exc} (file {claimed.name})"
            log.warning("rejected %s: %s (kept at %s)", claimed.key.uri, exc, rejected_key.uri)
            continue
        except Exception as exc:
            exc.add_note(f"while ingesting {claimed.key.uri} (contract {contract.name})")
            raise
        hour.files.append(claimed.key.uri)
        log.info(
            "%s: %s -> %d rows (contract %s)",
            hour.target.name,
            claimed.key.uri,
            rows,
            contract.name,
        )


def _ingest_file(
    store: ObjectStore,
    hour: HourBuilder,
    contract: Contract,
    catalog: Catalog,
    claimed: ClaimedFile,
    started: int,
) -> int:
    """Stream one claimed file through its contract into ``hour``; returns its rows."""
    import tempfile

    from fieldhouse.contracts.normalize import normalize
    from fieldhouse.sources import landing

    reader = contract_reader(contract)
    rows = 0
    seen: dict[str, set[str]] = {}  # ids this file already checked against each registry
    with tempfile.TemporaryDirectory(prefix="fieldhouse-landing-") as folder:
        local = f"{folder}/file"
        store.download(claimed.key, local)
        with open(local, "rb") as binary:
            batches = landing.iter_landing_file(
                claimed.name, binary, reader.schema, reader.layout, batch_rows=landing.BATCH_ROWS
            )
            for frame in batches:
                if frame is landing.RESTART:
                    hour.rollback(started)
                    rows = 0
                    continue
                normalized = normalize(
                    frame, contract, hour.target.schema, catalog, file_name=claimed.dropped_as
                )
                writer = f"landing:{claimed.name}"
                if _register_first_sight(store, contract, normalized.wire, writer, seen):
                    hour.refresh_context()
                hour.add(normalized.wire, source=contract.source, nulled=normalized.nulled)
                rows += len(normalized.wire)
    return rows


@dataclass(frozen=True)
class ContractReader:
    """What the landing parser needs to read a contract's files."""

    schema: Any  # a WireSchema of the file's own columns, all text and optional
    layout: Any  # fieldhouse.sources.landing.FileLayout


def contract_reader(contract: Contract) -> ContractReader:
    """The parser's view of a contract: the file's columns, aliases, header and delimiter."""
    from fieldhouse.quality.core import Field, WireSchema
    from fieldhouse.sources.landing import FileLayout

    schema = WireSchema(
        name=f"file:{contract.name}",
        fields=tuple(Field(column, required=False) for column in contract.file_columns),
    )
    layout = FileLayout(
        aliases=contract.aliases,
        header_prepend=tuple(c.strip().lower() for c in contract.file.header_prepend),
        delimiter=contract.file.delimiter,
    )
    return ContractReader(schema, layout)


_FIRST_SIGHT_FIELD = {"devices": "device_id", "instruments": "instrument"}


def _register_first_sight(
    store: ObjectStore,
    contract: Contract,
    wire: pd.DataFrame,
    writer: str,
    seen: dict[str, set[str]],
) -> int:
    """Register the ids a contract declares should be registered when first seen.

    ``seen`` holds the ids earlier batches of the same file checked already, so a
    big file reads the registry only for batches that bring new ids.
    """
    from fieldhouse.ingest import registries

    registered = 0
    for name, defaults in contract.register.items():
        if name not in _FIRST_SIGHT_FIELD:
            raise ValueError(
                f"contract {contract.name}: cannot register {name!r}; "
                f"registries are {sorted(_FIRST_SIGHT_FIELD)}"
            )
        ids = set(wire.loc[wire["parse_error"].isna(), _FIRST_SIGHT_FIELD[name]].dropna())
        new = ids - seen.setdefault(name, set())
        if not new:
            continue
        seen[name] |= new
        registered += registries.register_unseen(
            store, registries.REGISTRIES[name], writer, pd.Series(sorted(new)), defaults
        )
    return registered


# --- sources: the built-in feeds and their simulators ------------------------------------


@dataclass(frozen=True)
class Source:
    """A source whose feeds are ingested side by side, hour by hour.

    ``feeds`` maps a feed name (a task group in its DAG) to the raw dataset it
    writes. ``simulate(feed_name, interval, options)`` returns the simulator's
    hour of one feed (None for a feed it does not simulate); ``register(store,
    options)`` writes the simulator's registry entries before the hours run.
    ``options`` is an instance of ``options_type``, the DAG's Params, with at
    least ``simulate`` and ``include_landing``.
    """

    name: str
    feeds: Mapping[str, str]
    simulate: Callable[[str, Interval, Any], SimulatedWire | None]
    options_type: type
    register: Callable[[ObjectStore, Any], Any] | None = None


def allowed_options(options: Any) -> Any:
    """``options`` with ``simulate`` off when the simulators are switched off as a whole."""
    import dataclasses

    from fieldhouse.config import SIMULATORS_VARIABLE, simulators_enabled

    if options.simulate and not simulators_enabled():
        log.info("simulators are off (%s=off): landing files only", SIMULATORS_VARIABLE)
        return dataclasses.replace(options, simulate=False)
    return options


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
    options = allowed_options(options)
    simulated = source.simulate(feed_name, interval, options) if options.simulate else None
    return ingest_dataset_hour(
        store,
        source.feeds[feed_name],
        interval,
        simulated=simulated,
        include_landing=options.include_landing,
        claim_landing=claim_landing,
    )


def ingest_source(
    store: ObjectStore, source: Source, interval: Interval, options: Any = None
) -> dict[str, list[Manifest]]:
    """Register, then every hour of ``interval`` for every feed; new files go to its last hour."""
    options = allowed_options(options or source.options_type())
    if source.register is not None:
        source.register(store, options)
    hours = interval.hours()
    return {
        name: [
            ingest_source_hour(store, source, name, hour, options, claim_landing=hour == hours[-1])
            for hour in hours
        ]
        for name in source.feeds
    }
