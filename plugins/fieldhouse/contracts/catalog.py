"""Vocabularies as catalog files: metrics, device kinds, instruments, carriers, countries, ….

Every ``*.yaml`` file in ``contracts/catalogs/`` (see the README there) is read and
merged, so a vocabulary grows by a file or a line, not by a change of code. The same
code in two files must carry the same attributes. Countries (ISO 3166-1 alpha-2),
regions (ISO 3166-2) and currencies (ISO 4217) come from ``pycountry``; the files
add only what the platform needs beyond ISO: a country's default currency and the
names real files give it.

Validation reads the catalog from its context (``context["catalog"]``); a contract
declares entries of its own inline, added with :meth:`Catalog.merged`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

if TYPE_CHECKING:
    import pandas as pd

SECTIONS: tuple[str, ...] = (
    "metrics",
    "device_kinds",
    "instruments",
    "carriers",
    "countries",
    "currencies",
    "merchant_categories",
    "channels",
    "chargeback_reasons",
    "shipment_event_types",
    "units",
)
"""The top-level keys a catalog file may have; each maps a code to its attributes."""

_TERMS = ("carriers", "merchant_categories", "channels", "chargeback_reasons")
_TERMS += ("shipment_event_types", "currencies")
# Per section: the attributes an entry must have, and those it may have.
_ATTRIBUTES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "metrics": (frozenset({"unit", "low", "high"}), frozenset({"description"})),
    "device_kinds": (frozenset({"metrics"}), frozenset({"description"})),
    "instruments": (
        frozenset({"asset_class", "currency", "calendar"}),
        frozenset({"name", "has_volume"}),
    ),
    "countries": (frozenset(), frozenset({"name", "currency", "aliases"})),
    "units": (frozenset({"to", "scale"}), frozenset({"offset", "description"})),
    **{section: (frozenset(), frozenset({"name", "description"})) for section in _TERMS},
}
INSTRUMENT_COLUMNS = ("instrument_id", "name", "asset_class", "currency", "calendar", "has_volume")


class CatalogError(ValueError):
    """A catalog file is malformed or contradicts another; the message names file and entry."""


@dataclass(frozen=True)
class Metric:
    """A measured quantity: the unit the lake stores it in and its physical range."""

    code: str
    unit: str
    low: float
    high: float
    description: str = ""


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device and the metrics it reports (a metric may serve several kinds)."""

    code: str
    metrics: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Instrument:
    """A traded instrument: what the price registry says of it."""

    code: str
    name: str
    asset_class: str
    currency: str
    calendar: str  # a trading calendar of fieldhouse.quality.prices.CALENDARS
    has_volume: bool = True  # an index reports no traded volume


@dataclass(frozen=True)
class UnitConversion:
    """A unit a source may send and how it becomes the lake's: ``lake = value * scale + offset``."""

    unit: str
    to: str
    scale: float
    offset: float = 0.0

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Values in ``unit`` as values in ``to``."""
        a, b = _ratio(self.scale)
        c, d = _ratio(self.offset)
        # One division at the end keeps round values round: 212 °F is 100.0 °C, where
        # ``212 * (5/9) - 160/9`` gives 100.00000000000001.
        return (values * float(a * d) + float(c * b)) / float(b * d)

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Values in ``to`` as values in ``unit``."""
        a, b = _ratio(self.scale)
        c, d = _ratio(self.offset)
        return (values * float(b * d) - float(c * b)) / float(a * d)


@dataclass(frozen=True)
class Term:
    """An entry of a plain vocabulary (a carrier, a channel, a currency, …)."""

    code: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Country:
    """An ISO 3166-1 country, with what the catalog files add to it."""

    code: str  # alpha-2
    name: str
    currency: str | None = None  # the default currency of an order shipped there, if known
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Region:
    """An ISO 3166-2 subdivision of a country."""

    code: str  # e.g. "US-CA"
    country: str  # alpha-2
    name: str


@dataclass(frozen=True)
class _Entry:
    attributes: Mapping[str, Any]
    source: str  # the file or contract that declared it


@dataclass(frozen=True, eq=False)
class Catalog:
    """Every vocabulary the platform validates against; build it with :func:`load_catalog`."""

    metrics: Mapping[str, Metric]
    device_kinds: Mapping[str, DeviceKind]
    instruments: Mapping[str, Instrument]
    carriers: Mapping[str, Term]
    countries: Mapping[str, Country]
    currencies: frozenset[str]
    merchant_categories: Mapping[str, Term]
    channels: Mapping[str, Term]
    chargeback_reasons: Mapping[str, Term]
    shipment_event_types: Mapping[str, Term]
    units: Mapping[str, UnitConversion]
    _entries: Mapping[str, Mapping[str, _Entry]] = field(repr=False)
    _country_names: Mapping[str, str] = field(repr=False)

    @property
    def regions(self) -> Mapping[str, Region]:
        """ISO 3166-2 code -> region (no file adds to them)."""
        return _iso_regions()[0]

    @cached_property
    def _pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            (kind.code, metric) for kind in self.device_kinds.values() for metric in kind.metrics
        )

    def country_code(self, text: object) -> str | None:
        """The alpha-2 code of a code, name or alias, ignoring case and accents; None if unknown."""
        if not isinstance(text, str):
            return None
        return self._country_names.get(_normalise(text))

    def region_code(self, text: object, country: object = None) -> str | None:
        """The ISO 3166-2 code of ``US-CA``, or of ``CA`` / ``California`` in ``country``.

        Without a country a name resolves only where no other country has a region
        of that name.
        """
        if not isinstance(text, str) or not text.strip():
            return None
        code = text.strip().upper()
        if code in self.regions:
            return code
        scope = None
        if isinstance(country, str) and country.strip():
            scope = self.country_code(country)
            if scope is None:
                return None
            if f"{scope}-{code}" in self.regions:
                return f"{scope}-{code}"
        return _iso_regions()[1].get((scope, _normalise(text)))

    def convert(self, values: np.ndarray, unit: str, to: str) -> np.ndarray:
        """``values`` in ``unit`` as values in ``to``, through the units both convert to."""
        values = np.asarray(values, dtype=np.float64)
        if unit == to:
            return values
        source, target = self.units.get(unit), self.units.get(to)
        if (source.to if source else unit) != (target.to if target else to):
            raise ValueError(
                f"no conversion from {unit!r} to {to!r} is known; "
                "add one under units: in a catalog file (contracts/catalogs/units.yaml)"
            )
        lake = source.apply(values) if source else values
        return target.invert(lake) if target else lake

    def kind_metric_pairs(self) -> frozenset[tuple[str, str]]:
        """Every (device kind, metric) a device of that kind may report."""
        return self._pairs

    def instruments_frame(self) -> pd.DataFrame:
        """The instruments as rows of the instrument registry."""
        import pandas as pd

        rows = [
            (i.code, i.name, i.asset_class, i.currency, i.calendar, i.has_volume)
            for i in self.instruments.values()
        ]
        return pd.DataFrame(rows, columns=list(INSTRUMENT_COLUMNS)).astype(
            {c: object for c in INSTRUMENT_COLUMNS[:-1]} | {"has_volume": bool}
        )

    def merged(self, extra: Mapping[str, Mapping], *, source: str = "inline entries") -> Catalog:
        """A new catalog with ``extra``'s entries added (a contract's own metrics, kinds, …).

        ``extra`` has the shape of a catalog file; an entry that contradicts one of
        this catalog is a :class:`CatalogError`.
        """
        if not any(extra.values()):
            return self
        entries = {section: dict(self._entries[section]) for section in SECTIONS}
        _add_document(entries, extra, source)
        return _build(entries)


# --- loading ---------------------------------------------------------------------------


def catalogs_dir() -> Path:
    """``$FIELDHOUSE_CONTRACTS_DIR/catalogs`` if set, else the repository's."""
    from fieldhouse.contracts.contract import contracts_dir

    return contracts_dir() / "catalogs"


def load_catalog(folder: Path | None = None) -> Catalog:
    """Every ``*.yaml`` file of ``folder`` merged and checked; cached until a file changes."""
    folder = Path(folder) if folder is not None else catalogs_dir()
    if not folder.is_dir():
        raise CatalogError(f"{folder}: no catalog folder here")
    files = tuple(sorted(folder.glob("*.yaml")))
    return _load_cached(files, tuple(path.stat().st_mtime_ns for path in files))


@lru_cache(maxsize=32)
def _load_cached(files: tuple[Path, ...], _mtimes: tuple[int, ...]) -> Catalog:
    entries: dict[str, dict[str, _Entry]] = {section: {} for section in SECTIONS}
    for path in files:
        _add_document(entries, _read(path), str(path))
    return _build(entries)


def _read(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML: {error}") from error
    return {} if document is None else document


def _add_document(
    entries: dict[str, dict[str, _Entry]], document: Mapping[str, Any], source: str
) -> None:
    """Add one file's entries; the same code with other attributes is an error."""
    if not isinstance(document, Mapping):
        raise CatalogError(f"{source}: a catalog maps sections ({', '.join(SECTIONS)}) to entries")
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise CatalogError(f"{source}: unknown sections {unknown}; expected some of {SECTIONS}")
    for section, codes in document.items():
        if codes is None:
            continue
        if not isinstance(codes, Mapping):
            raise CatalogError(f"{source}: {section}: map each code to its attributes")
        for raw_code, attributes in codes.items():
            code = _code(raw_code, section, source)
            attributes = {} if attributes is None else attributes
            if not isinstance(attributes, Mapping):
                raise CatalogError(f"{source}: {section}.{code}: attributes are name: value pairs")
            entry = _Entry(MappingProxyType(dict(attributes)), source)
            known = entries[section].setdefault(code, entry)
            if known.attributes != entry.attributes:
                raise CatalogError(
                    f"{section}.{code} is declared differently in {known.source} and {source}"
                )


def _code(raw: object, section: str, source: str) -> str:
    if isinstance(raw, bool):
        # YAML 1.1 reads NO (Norway), YES, ON and OFF as booleans.
        raise CatalogError(f"{source}: {section}: a code read as {raw}: write it in quotes")
    code = str(raw).strip()
    if not code:
        raise CatalogError(f"{source}: {section}: an empty code")
    return code


# --- checking and typing ---------------------------------------------------------------

Fail = Callable[[str], CatalogError]


def _build(entries: Mapping[str, Mapping[str, _Entry]]) -> Catalog:
    """The typed catalog of merged entries, every entry and reference checked."""
    currencies = _currencies(entries["currencies"])
    countries, names = _countries(entries["countries"], currencies)
    catalog = Catalog(
        metrics=_typed(entries, "metrics", _metric),
        device_kinds=_typed(entries, "device_kinds", _device_kind),
        instruments=_typed(entries, "instruments", _instrument),
        carriers=_typed(entries, "carriers", _term),
        countries=countries,
        currencies=currencies,
        merchant_categories=_typed(entries, "merchant_categories", _term),
        channels=_typed(entries, "channels", _term),
        chargeback_reasons=_typed(entries, "chargeback_reasons", _term),
        shipment_event_types=_typed(entries, "shipment_event_types", _term),
        units=_typed(entries, "units", _unit),
        _entries=MappingProxyType({s: MappingProxyType(dict(entries[s])) for s in SECTIONS}),
        _country_names=names,
    )
    _check_references(catalog, entries)
    return catalog


def _failure(section: str, code: str, entry: _Entry) -> Fail:
    return lambda message: CatalogError(f"{entry.source}: {section}.{code}: {message}")


def _typed(entries: Mapping[str, Mapping[str, _Entry]], section: str, make) -> Mapping[str, Any]:
    typed = {}
    for code, entry in entries[section].items():
        fail = _failure(section, code, entry)
        _check_names(section, entry.attributes, fail)
        typed[code] = make(code, entry.attributes, fail)
    return MappingProxyType(typed)


def _check_names(section: str, attributes: Mapping[str, Any], fail: Fail) -> None:
    required, optional = _ATTRIBUTES[section]
    unknown = sorted(set(attributes) - required - optional)
    if unknown:
        raise fail(f"unknown attributes {unknown}; expected some of {sorted(required | optional)}")
    missing = sorted(required - set(attributes))
    if missing:
        raise fail(f"missing attributes {missing}")


def _metric(code: str, attributes: Mapping[str, Any], fail: Fail) -> Metric:
    low, high = _number(attributes, "low", fail), _number(attributes, "high", fail)
    if low > high:
        raise fail(f"low {low} is above high {high}")
    return Metric(
        code,
        _text(attributes, "unit", fail),
        low,
        high,
        _text(attributes, "description", fail, ""),
    )


def _device_kind(code: str, attributes: Mapping[str, Any], fail: Fail) -> DeviceKind:
    metrics = _texts(attributes, "metrics", fail)
    if not metrics or len(set(metrics)) != len(metrics):
        raise fail("metrics: list each metric the kind reports, once")
    return DeviceKind(code, metrics, _text(attributes, "description", fail, ""))


def _instrument(code: str, attributes: Mapping[str, Any], fail: Fail) -> Instrument:
    has_volume = attributes.get("has_volume", True)
    if not isinstance(has_volume, bool):
        raise fail(f"has_volume is true or false, not {has_volume!r}")
    return Instrument(
        code,
        _text(attributes, "name", fail, code),
        _text(attributes, "asset_class", fail),
        _text(attributes, "currency", fail),
        _text(attributes, "calendar", fail),
        has_volume,
    )


def _term(code: str, attributes: Mapping[str, Any], fail: Fail) -> Term:
    return Term(
        code, _text(attributes, "name", fail, code), _text(attributes, "description", fail, "")
    )


def _unit(code: str, attributes: Mapping[str, Any], fail: Fail) -> UnitConversion:
    conversion = UnitConversion(
        code,
        _text(attributes, "to", fail),
        _number(attributes, "scale", fail),
        _number(attributes, "offset", fail, 0.0),
    )
    if conversion.scale == 0:
        raise fail("scale 0 would lose every value")
    if conversion.to == code:
        raise fail("a unit converts to another unit")
    return conversion


def _currencies(declared: Mapping[str, _Entry]) -> frozenset[str]:
    import pycountry

    for code, entry in declared.items():
        _check_names("currencies", entry.attributes, _failure("currencies", code, entry))
    return frozenset(c.alpha_3 for c in pycountry.currencies) | frozenset(declared)


def _countries(
    declared: Mapping[str, _Entry], currencies: frozenset[str]
) -> tuple[Mapping[str, Country], Mapping[str, str]]:
    """ISO countries with the files' additions, and every name of each -> its code."""
    import pycountry

    countries = {c.alpha_2: Country(c.alpha_2, c.name) for c in pycountry.countries}
    names: dict[str, str] = {}
    for iso in pycountry.countries:
        texts = [iso.alpha_2, iso.alpha_3, iso.name]
        texts += [getattr(iso, a, None) for a in ("official_name", "common_name")]
        for text in filter(None, texts):
            for variant in _variants(text):
                names.setdefault(variant, iso.alpha_2)
    for code, entry in declared.items():
        fail = _failure("countries", code, entry)
        _check_names("countries", entry.attributes, fail)
        country = _country(code, entry.attributes, countries.get(code), currencies, fail)
        countries[code] = country
        for text in (code, country.name, *country.aliases):
            for variant in _variants(text):
                owner = names.setdefault(variant, code)
                if owner != code:
                    raise fail(f"{text!r} already names {owner}")
    return MappingProxyType(countries), MappingProxyType(names)


def _country(
    code: str,
    attributes: Mapping[str, Any],
    iso: Country | None,
    currencies: frozenset[str],
    fail: Fail,
) -> Country:
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise fail("a country code is two capital letters (ISO 3166-1 alpha-2)")
    name = _text(attributes, "name", fail, iso.name if iso else None)
    if name is None:
        raise fail("a code outside ISO 3166-1 needs a name")
    currency = _text(attributes, "currency", fail, None)
    if currency is not None and currency not in currencies:
        raise fail(f"currency {currency!r} is not ISO 4217 nor in a catalog's currencies")
    return Country(code, name, currency, _texts(attributes, "aliases", fail, ()))


def _check_references(catalog: Catalog, entries: Mapping[str, Mapping[str, _Entry]]) -> None:
    """Entries that name other entries: metrics of kinds, calendars, currencies, units."""
    from fieldhouse.quality.prices import CALENDARS

    for kind in catalog.device_kinds.values():
        undefined = [m for m in kind.metrics if m not in catalog.metrics]
        if undefined:
            fail = _failure("device_kinds", kind.code, entries["device_kinds"][kind.code])
            raise fail(f"metrics {undefined} are not defined under metrics:")
    for instrument in catalog.instruments.values():
        fail = _failure("instruments", instrument.code, entries["instruments"][instrument.code])
        if instrument.calendar not in CALENDARS:
            raise fail(f"unknown calendar {instrument.calendar!r}; known: {sorted(CALENDARS)}")
        if instrument.currency not in catalog.currencies:
            raise fail(f"currency {instrument.currency!r} is not ISO 4217 nor in currencies:")
    for conversion in catalog.units.values():
        if conversion.to in catalog.units:
            # One step to the lake's unit: a chain would hide which unit the lake stores.
            fail = _failure("units", conversion.unit, entries["units"][conversion.unit])
            raise fail(
                f"{conversion.to!r} is itself converted; convert straight to the lake's unit"
            )


# --- attribute values ------------------------------------------------------------------

_MISSING = object()


def _text(attributes: Mapping[str, Any], name: str, fail: Fail, default: Any = _MISSING) -> Any:
    value = attributes.get(name)
    if value is None:
        if default is _MISSING:
            raise fail(f"{name} is required")
        return default
    if isinstance(value, bool | list | dict):
        raise fail(f"{name} is text, not {value!r}")
    text = str(value).strip()
    if not text:
        raise fail(f"{name} is empty")
    return text


def _texts(
    attributes: Mapping[str, Any], name: str, fail: Fail, default: Any = _MISSING
) -> tuple[str, ...]:
    value = attributes.get(name)
    if value is None and default is not _MISSING:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"{name} is a list of text, e.g. [a, b]")
    return tuple(v.strip() for v in value)


def _number(attributes: Mapping[str, Any], name: str, fail: Fail, default: Any = _MISSING) -> float:
    value = attributes.get(name)
    if value is None and default is not _MISSING:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(Fraction(value.replace(" ", "")))  # "5/9" as well as "0.3048"
        except (ValueError, ZeroDivisionError):
            raise fail(f"{name} is a number or a fraction such as 5/9, not {value!r}") from None
    else:
        raise fail(f"{name} is a number, not {value!r}")
    if not np.isfinite(number):
        raise fail(f"{name} is a finite number")
    return number


def _ratio(number: float) -> tuple[int, int]:
    """A float as numerator and denominator, small where a short fraction is exactly it."""
    short = Fraction(number).limit_denominator(1_000_000)
    exact = short if float(short) == number else Fraction(number)
    return exact.numerator, exact.denominator


# --- names -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _iso_regions() -> tuple[Mapping[str, Region], Mapping[tuple[str | None, str], str | None]]:
    """ISO 3166-2 regions by code, and (country or None, normalised name) -> code.

    Read once, on first use (five thousand entries); a name two regions share maps
    to None.
    """
    import pycountry

    regions = {s.code: Region(s.code, s.country_code, s.name) for s in pycountry.subdivisions}
    names: dict[tuple[str | None, str], str | None] = {}
    for region in regions.values():
        name = _normalise(region.name)
        for scope in (region.country, None):
            known = names.get((scope, name), region.code)
            names[(scope, name)] = region.code if known == region.code else None
    return MappingProxyType(regions), MappingProxyType(names)


def _normalise(text: str) -> str:
    """Lower case, no accents or punctuation, single spaces, no leading "the", "st" as "saint".

    Apostrophes and dots join what they separate, so "d'Ivoire" is "divoire" however
    it is written and "U.S.A." is "usa".
    """
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    plain = re.sub(r"['\u2019`.]", "", plain)  # ' and its typographic form
    words = re.sub(r"[^0-9a-z]+", " ", plain).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join("saint" if word == "st" else word for word in words)


def _variants(name: str) -> tuple[str, ...]:
    """A name's normalised forms: ISO's "Korea, Republic of" is also "Republic of Korea"."""
    head, comma, tail = name.partition(", ")
    if not comma:
        return (_normalise(name),)
    return (_normalise(name), _normalise(f"{tail} {head}"))
