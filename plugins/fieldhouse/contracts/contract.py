"""Feed contracts: how the files of one feed map onto one of the lake's raw datasets.

A contract is a YAML file under ``contracts/feeds/`` (see ``contracts/README.md``).
It names the dataset its rows land in (``sensors.readings``, ``market.price_bars``,
…), the landing folder its files are dropped in, how the file is laid out, and for
each field of the dataset where its value comes from: a column of the file (with
header aliases), a constant, a part of the file name, or a stable hash of other
fields (a row identity for files without ids). It also declares what the lake
cannot guess: the time zone and format of local timestamps, units, missing-value
sentinels, the decimal separator, unknown values to register on first sight.

This module only reads and checks contracts; :mod:`fieldhouse.contracts.normalize`
applies one to a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

CONTRACTS_ENV = "FIELDHOUSE_CONTRACTS_DIR"
SENTINEL_ACTIONS = ("quarantine", "null")
LAYOUTS = ("long", "wide")


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the entry."""


def contracts_dir() -> Path:
    """The folder holding ``feeds/`` and ``catalogs/``: the env override or the repo's."""
    override = os.environ.get(CONTRACTS_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "contracts"


@dataclass(frozen=True)
class Sentinels:
    """Text a source writes for "no value", and what the platform does with it."""

    values: tuple[str, ...]
    action: str = "quarantine"  # or "null": the field is emptied, the row kept


@dataclass(frozen=True)
class FieldSource:
    """Where one field of the dataset comes from in a file of this feed.

    At most one of ``column``, ``constant``, ``file_name`` or ``hash`` is set; none
    only for a wide file's ``metric`` and ``value``, which the layout provides.
    """

    name: str
    column: str | None = None
    aliases: tuple[str, ...] = ()
    constant: str | None = None
    file_name: str | None = None  # a regex with one group, matched against the file name
    hash: tuple[str, ...] = ()  # fields whose values make a stable identity
    format: str | None = None  # strptime format of a timestamp; default ISO-8601
    timezone: str | None = None  # IANA zone of naive local timestamps
    date_only: bool = False  # the text is a calendar date: midnight in ``timezone``
    resolve: str | None = None  # "country" or "region": names to ISO codes via the catalog
    values: Mapping[str, str] = field(default_factory=dict)  # text -> canonical text
    sentinels: Sentinels | None = None


@dataclass(frozen=True)
class MeltColumn:
    """One metric column of a wide file."""

    column: str
    metric: str
    unit: str | None = None


@dataclass(frozen=True)
class FileFormat:
    """How the text of a file is laid out, beyond what its extension says."""

    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    header_prepend: tuple[str, ...] = ()  # names of leading columns the header leaves out


@dataclass(frozen=True)
class Contract:
    """One feed: its files, the dataset they land in, and how each field is found."""

    name: str
    dataset: str  # "<source>.<entity>", e.g. "sensors.readings"
    landing: str  # landing/<landing>/
    description: str
    fields: Mapping[str, FieldSource]
    file: FileFormat = FileFormat()
    layout: str = "long"
    melt: tuple[MeltColumn, ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)  # metric -> the file's unit
    register: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    catalog: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    simulator: str | None = None  # a built-in feed's simulator, for documentation
    source: str = ""  # the namespace its rows carry in the lake (default: the contract's name)
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", self.name)

    @property
    def file_columns(self) -> tuple[str, ...]:
        """The file's columns this contract reads, lower-cased as the parser matches them."""
        columns = [s.column for s in self.fields.values() if s.column]
        columns += [m.column for m in self.melt]
        return tuple(dict.fromkeys(c.strip().lower() for c in columns))

    @property
    def aliases(self) -> dict[str, str]:
        """Header alias (lower-cased) -> the column name the contract uses."""
        return {
            alias.strip().lower(): source.column.strip().lower()
            for source in self.fields.values()
            if source.column
            for alias in source.aliases
        }


# --- loading ---------------------------------------------------------------------------

_FIELD_KEYS = {
    "column",
    "aliases",
    "constant",
    "file_name",
    "hash",
    "format",
    "timezone",
    "date_only",
    "resolve",
    "values",
    "sentinels",
}
_TOP_KEYS = {
    "name",
    "dataset",
    "landing",
    "description",
    "fields",
    "file",
    "layout",
    "melt",
    "units",
    "register",
    "catalog",
    "simulator",
    "source",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SIMULATOR_SOURCE = "simulator"
"""The source every simulated row carries; no contract may take it."""


def parse_contract(document: Mapping[str, Any], path: Path | None = None) -> Contract:
    """A checked :class:`Contract` from a parsed YAML document."""
    where = str(path) if path else "contract"

    def fail(message: str) -> ContractError:
        return ContractError(f"{where}: {message}")

    if not isinstance(document, Mapping):
        raise fail("a contract is a mapping of keys to values")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}")
    for required in ("name", "dataset", "landing", "fields"):
        if required not in document:
            raise fail(f"'{required}' is required")
    name = str(document["name"])
    if not _NAME.match(name):
        raise fail(f"name {name!r} must be lower-case letters, digits and '_'")
    namespace = str(document.get("source") or name)
    if not _NAME.match(namespace) or namespace == SIMULATOR_SOURCE:
        raise fail(
            f"source {namespace!r} must be lower-case letters, digits and '_' "
            f"and not {SIMULATOR_SOURCE!r}, which simulated rows carry"
        )
    landing = str(document["landing"])
    if not _NAME.match(landing):
        raise fail(f"landing {landing!r} must be lower-case letters, digits and '_'")
    fields = {
        field_name: _field_source(field_name, spec, fail)
        for field_name, spec in (document["fields"] or {}).items()
    }
    layout = str(document.get("layout", "long"))
    if layout not in LAYOUTS:
        raise fail(f"layout {layout!r} is not one of {LAYOUTS}")
    melt = tuple(_melt_column(column, spec, fail) for column, spec in _items(document, "melt"))
    if layout == "wide" and not melt:
        raise fail("a wide layout needs 'melt': the metric of each column")
    if layout == "long" and melt:
        raise fail("'melt' only applies to layout: wide")
    file_spec = dict(document.get("file") or {})
    unknown = set(file_spec) - {"delimiter", "decimal", "thousands", "header_prepend"}
    if unknown:
        raise fail(f"file: unknown keys {sorted(unknown)}")
    file_format = FileFormat(
        delimiter=str(file_spec.get("delimiter", ",")),
        decimal=str(file_spec.get("decimal", ".")),
        thousands=None if file_spec.get("thousands") is None else str(file_spec["thousands"]),
        header_prepend=tuple(str(c) for c in file_spec.get("header_prepend", ())),
    )
    if len(file_format.delimiter) != 1 or len(file_format.decimal) != 1:
        raise fail("file: delimiter and decimal are single characters")
    melted = ("metric", "value") if layout == "wide" else ()
    for field_name, source in fields.items():
        given = source.column or source.constant or source.file_name or source.hash
        if not given and field_name not in melted:
            raise fail(f"fields.{field_name}: say where it comes from (column, constant, …)")
        for part in source.hash:
            if part not in fields and not (layout == "wide" and part in ("metric", "value")):
                raise fail(f"fields.{field_name}: hash names {part!r}, which is not a field")
    return Contract(
        name=name,
        dataset=str(document["dataset"]),
        landing=landing,
        description=str(document.get("description", "")).strip(),
        fields=fields,
        file=file_format,
        layout=layout,
        melt=melt,
        units={str(k): str(v) for k, v in (document.get("units") or {}).items()},
        register={str(k): dict(v or {}) for k, v in (document.get("register") or {}).items()},
        catalog={str(k): dict(v or {}) for k, v in (document.get("catalog") or {}).items()},
        simulator=document.get("simulator"),
        source=namespace,
        path=path,
    )


def _items(document: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
    value = document.get(key) or {}
    return list(value.items())


def _field_source(name: str, spec: Any, fail) -> FieldSource:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, Mapping):
        raise fail(f"fields.{name}: a column name or a mapping")
    unknown = set(spec) - _FIELD_KEYS
    if unknown:
        raise fail(f"fields.{name}: unknown keys {sorted(unknown)}")
    origins = [key for key in ("column", "constant", "file_name", "hash") if key in spec]
    if len(origins) > 1:
        # None is allowed: the field comes from the layout (a wide file's metric and value).
        raise fail(f"fields.{name}: give at most one of column, constant, file_name, hash")
    file_name = spec.get("file_name")
    if file_name is not None and re.compile(file_name).groups != 1:
        raise fail(f"fields.{name}: file_name must be a regex with exactly one group")
    zone = spec.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise fail(f"fields.{name}: unknown time zone {zone!r} (use IANA names)") from error
    if spec.get("resolve") not in (None, "country", "region"):
        raise fail(f"fields.{name}: resolve is 'country' or 'region'")
    sentinels = spec.get("sentinels")
    if sentinels is not None:
        if not isinstance(sentinels, Mapping):
            sentinels = {"values": sentinels}
        action = str(sentinels.get("action", "quarantine"))
        if action not in SENTINEL_ACTIONS:
            raise fail(f"fields.{name}: sentinel action must be one of {SENTINEL_ACTIONS}")
        sentinels = Sentinels(tuple(str(v) for v in sentinels.get("values", ())), action)
    return FieldSource(
        name=name,
        column=None if spec.get("column") is None else str(spec["column"]),
        aliases=tuple(str(a) for a in spec.get("aliases", ())),
        constant=None if spec.get("constant") is None else str(spec["constant"]),
        file_name=file_name,
        hash=tuple(str(h) for h in spec.get("hash", ())),
        format=spec.get("format"),
        timezone=None if zone is None else str(zone),
        date_only=bool(spec.get("date_only", False)),
        resolve=spec.get("resolve"),
        values={str(k): str(v) for k, v in (spec.get("values") or {}).items()},
        sentinels=sentinels,
    )


def _melt_column(column: str, spec: Any, fail) -> MeltColumn:
    if isinstance(spec, str):
        spec = {"metric": spec}
    if not isinstance(spec, Mapping) or "metric" not in spec:
        raise fail(f"melt.{column}: needs a metric")
    return MeltColumn(str(column), str(spec["metric"]), spec.get("unit"))


def load_contract(path: Path) -> Contract:
    """One contract file, checked."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from error
    return parse_contract(document, path)


def load_contracts(folder: Path | None = None) -> dict[str, Contract]:
    """Every contract under ``<contracts>/feeds/``, by name; names and landings are unique."""
    folder = folder or contracts_dir() / "feeds"
    files = tuple(sorted(folder.glob("*.yaml")))
    return dict(_load_cached(files, tuple(p.stat().st_mtime_ns for p in files)))


@cache
def _load_cached(files: tuple[Path, ...], _mtimes: tuple[int, ...]) -> tuple:
    contracts: dict[str, Contract] = {}
    landings: dict[str, Path] = {}
    for path in files:
        contract = load_contract(path)
        if contract.name in contracts:
            raise ContractError(
                f"{path}: contract name {contract.name!r} is also used by "
                f"{contracts[contract.name].path}"
            )
        if contract.landing in landings:
            raise ContractError(
                f"{path}: landing folder {contract.landing!r} is also used by "
                f"{landings[contract.landing]}"
            )
        contracts[contract.name] = contract
        landings[contract.landing] = path
    return tuple(contracts.items())


def contracts_for(dataset: str, folder: Path | None = None) -> list[Contract]:
    """The contracts whose rows land in ``dataset``, in name order."""
    return [c for c in load_contracts(folder).values() if c.dataset == dataset]
