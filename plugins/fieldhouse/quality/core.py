"""The validation engine every source shares: wire frames in, valid and quarantined rows out.

Records arrive as *wire frames*: every column is text (or ``None``), exactly as a
producer sent it or a file carried it: the fields of a :class:`WireSchema`, then
``origin``, ``parse_error`` and ``raw_record`` set by the platform. :func:`validate`
types them and splits them in two, so that every row read ends up in exactly one
place::

    rows in == len(valid) + len(quarantined)

A quarantined row keeps its original text and gets exactly one reason: the first
rule it fails, in this order:

1. ``<parse_error>``            the record could not be parsed at all
2. ``missing_field:<field>``    a required field is empty (fields in schema order)
3. ``bad_timestamp`` / ``bad_value``  a field is not text of its kind (schema order)
4. ``unknown_<field>``          a field outside its allowed values (schema order)
5. ``out_of_range`` / ``ancient_timestamp``  a number outside its field's bounds, a
                                time before :data:`EARLIEST_TIMESTAMP` (schema order)
6. the schema's own rules, in the order they are listed
7. ``future_timestamp``         a time after 2262-04-11T23:47:16Z, the last a
                                nanosecond timestamp holds, in a field the
                                schema's rules did not already catch
8. ``conflicting_<key>``        a key repeated with different values among rows
                                passing 1-7: every version is quarantined
9. ``duplicate_<key>``          a key repeated with the same values; the first
                                in input order is kept

A well-formed time is a time however far away it is: ``9999-01-01T00:00:00Z`` is
in the future (``future_timestamp``), not bad text, and ``1900-01-01T00:00:00Z``
is older than anything the platform records (``ancient_timestamp``).

A source adds a schema and a few rules, never a validator of its own. A rule is a
reason and a vectorized check: a function of the :class:`Batch` that returns a
boolean mask, ``True`` where a row fails. Checks see every row, including rows
that already failed (their typed values are NaN, NaT or ``None``), and must not
raise on them; only rows still passing take the rule's reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fieldhouse.storage.keys import Interval

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog

PLATFORM_COLUMNS: tuple[str, ...] = ("origin", "parse_error", "raw_record")
"""Wire columns set by the platform after a source's own fields."""

EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
"""Times before this are ``ancient_timestamp``: older than any record the platform reads.

The Unix epoch: no sensor, card system, exchange feed or ERP the platform reads
stamps a record before it, and the real data sets it is tested on start in 2006
(``../shared/datasets/README.md``). Such times come from a wrong date format
(``%y`` reads ``69`` as 1969) or a broken clock. Price history older than 1970
would need an earlier floor.
"""

_EARLIEST = np.datetime64(EARLIEST_TIMESTAMP.replace(tzinfo=None), "us")
# pandas (nanoseconds) holds 1677-09-21 to 2262-04-11; the typed arrays (microseconds)
# hold far more, so a time outside pandas' span can still be typed and judged.
_PANDAS_EARLIEST = np.datetime64(pd.Timestamp.min, "us")
_PANDAS_LATEST = np.datetime64(pd.Timestamp.max, "us")
_NAT = np.datetime64("NaT", "us")


class Kind(StrEnum):
    """What the text of a field must be."""

    TEXT = "text"
    TIMESTAMP = "timestamp"  # ISO-8601 with an offset (``Z`` or ``+01:00``)
    DECIMAL = "decimal"  # a finite decimal number, e.g. ``21.5``, ``-3``, ``1.2e3``
    INTEGER = "integer"  # digits with an optional sign, e.g. ``1200``


_BAD_REASON = {
    Kind.TEXT: "",
    Kind.TIMESTAMP: "bad_timestamp",
    Kind.DECIMAL: "bad_value",
    Kind.INTEGER: "bad_value",
}

Allowed = Collection[str] | Callable[[Mapping[str, Any]], Collection[str]]


@dataclass(frozen=True)
class Field:
    """One field of a wire record and the declarative checks on it.

    ``allowed`` is a collection of accepted values, or a function of the validation
    context that returns one (e.g. the ids of a registry). ``low`` and ``high`` are
    inclusive bounds of a number. ``output`` renames the field in the valid frame.
    """

    name: str
    kind: Kind = Kind.TEXT
    required: bool = True
    allowed: Allowed | None = None
    low: float | None = None
    high: float | None = None
    output: str | None = None
    unknown_reason: str | None = None  # default: unknown_<name>
    range_reason: str = "out_of_range"
    bad_reason: str | None = None  # default: by kind

    def __post_init__(self) -> None:
        numeric = self.kind in (Kind.DECIMAL, Kind.INTEGER)
        if (self.low is not None or self.high is not None) and not numeric:
            raise ValueError(f"field {self.name!r}: bounds need a decimal or integer field")

    @property
    def output_name(self) -> str:
        return self.output or self.name

    @property
    def bad_value_reason(self) -> str:
        return self.bad_reason or _BAD_REASON[self.kind]


Check = Callable[["Batch"], np.ndarray]


@dataclass(frozen=True)
class Rule:
    """A reason and the check that finds the rows failing it (``True`` = fails)."""

    reason: str
    check: Check


@dataclass(frozen=True)
class WireSchema:
    """What one source's records look like and the rules they must pass."""

    name: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    key: str | None = None  # rows repeating a key are quarantined after the first
    output_order: tuple[str, ...] | None = None  # valid columns before origin, ingested_at

    def __post_init__(self) -> None:
        names = self.field_names
        if len(set(names)) != len(names) or set(names) & set(PLATFORM_COLUMNS):
            raise ValueError(f"schema {self.name}: field names must be unique and not platform's")
        if self.key is not None and self.key not in names:
            raise ValueError(f"schema {self.name}: key {self.key!r} is not a field")
        outputs = [f.output_name for f in self.fields]
        if self.output_order is not None and sorted(self.output_order) != sorted(outputs):
            raise ValueError(f"schema {self.name}: output_order must list each output once")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def wire_columns(self) -> tuple[str, ...]:
        """Columns of this source's wire frame, all text."""
        return (*self.field_names, *PLATFORM_COLUMNS)

    @property
    def valid_columns(self) -> tuple[str, ...]:
        data = self.output_order or tuple(f.output_name for f in self.fields)
        return (*data, "origin", "ingested_at")

    @property
    def lake_columns(self) -> tuple[str, ...]:
        """A raw dataset's Parquet columns: the valid columns and the source the writer stamps."""
        data = self.valid_columns[:-2]
        return (*data, "source", "origin", "ingested_at")

    @property
    def quarantine_columns(self) -> tuple[str, ...]:
        return (*self.wire_columns, "reason", "ingested_at")

    @property
    def duplicate_reason(self) -> str:
        return f"duplicate_{self.key}"

    @property
    def conflict_reason(self) -> str:
        return f"conflicting_{self.key}"

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def reasons(self) -> tuple[str, ...]:
        """Every reason the schema can give, in evaluation order (parse errors first)."""
        return tuple(dict.fromkeys(rule.reason for rule in _ordered_rules(self)))

    def empty_wire_frame(self) -> pd.DataFrame:
        """A wire frame of this schema with no rows."""
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in self.wire_columns})


@dataclass(frozen=True)
class ValidationResult:
    """The two sides of a validated batch and the count of each quarantine reason."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame
    reasons: dict[str, int]
    rows_in: int

    @property
    def reconciles(self) -> bool:
        """Whether every row read is either valid or quarantined, once."""
        return self.rows_in == len(self.valid) + len(self.quarantined)

    def raise_if_unreconciled(self) -> None:
        if not self.reconciles:
            raise ValueError(
                f"rows in {self.rows_in} != valid {len(self.valid)}"
                f" + quarantined {len(self.quarantined)}"
            )


class Batch:
    """The rows under validation, as rules see them: wire text and typed values.

    ``batch["value"]`` is a field's typed array: ``float64`` for decimals and
    integers (NaN where missing or unparsed), naive-UTC ``datetime64[us]`` for
    timestamps (NaT; years beyond pandas' 1677-2262 included, so that range rules
    can judge them), text as an object array (``None``).
    """

    def __init__(
        self,
        text: dict[str, np.ndarray],
        typed: dict[str, np.ndarray],
        interval: Interval,
        context: Mapping[str, Any],
    ) -> None:
        self._text = text
        self._typed = typed
        self.interval = interval
        self.context = context
        self._memo: dict[object, Any] = {}

    def __len__(self) -> int:
        return len(self._text["parse_error"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self._typed[name]

    def text(self, column: str) -> np.ndarray:
        return self._text[column]

    def empty(self, column: str) -> np.ndarray:
        """Where a text column is ``None`` or ``""``; once per batch, as several rules ask."""
        return self.memo(("empty", column), lambda: _is_empty(self._text[column]))

    def memo(self, key: object, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per batch, e.g. a mapping built from the context."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def factorize(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """``pd.factorize`` of a text column, once per batch (``None`` has code -1)."""
        return self.memo(("factorize", column), lambda: pd.factorize(self._text[column]))

    def lookup(self, column: str, mapping: Mapping[str, Any]) -> np.ndarray:
        """``mapping[text]`` per row as objects, ``None`` where absent; each value once."""
        codes, uniques = self.factorize(column)
        mapped = np.array([mapping.get(u) for u in uniques], dtype=object)
        return _take(mapped, codes)

    def lookup_number(self, column: str, mapping: Mapping[str, float]) -> np.ndarray:
        """``mapping[text]`` per row as ``float64``, NaN where absent."""
        codes, uniques = self.factorize(column)
        mapped = pd.Series(uniques, dtype=object).map(mapping).to_numpy(np.float64)
        return _take(mapped, codes, fill=np.nan)

    @property
    def catalog(self) -> Catalog:
        """The vocabularies rules check against (see :func:`catalog_of`), once per batch."""
        return self.memo("catalog", lambda: catalog_of(self.context))

    def isin(self, column: str, values: Collection[str]) -> np.ndarray:
        """Whether each row's text is one of ``values`` (``None`` never is)."""
        codes, uniques = self.factorize(column)
        known = pd.Index(uniques, dtype=object).isin(list(values))
        return _take(np.asarray(known, dtype=bool), codes, fill=False)


def catalog_of(context: Mapping[str, Any]) -> Catalog:
    """The catalog in the context (``context["catalog"]``), else the catalog files'."""
    catalog = context.get("catalog")
    if catalog is None:
        from fieldhouse.contracts.catalog import load_catalog

        catalog = load_catalog()
    return catalog


def from_catalog(vocabulary: str) -> Callable[[Mapping[str, Any]], Collection[str]]:
    """A field's ``allowed``: the codes of one of the catalog's vocabularies (``"countries"``)."""
    return lambda context: getattr(catalog_of(context), vocabulary)


def not_after_interval_end(
    field_name: str,
    *,
    tolerance: timedelta = timedelta(minutes=5),
    reason: str = "future_timestamp",
) -> Rule:
    """A timestamp later than the interval end plus a tolerance cannot have happened yet.

    The context key ``future_tolerance`` overrides ``tolerance``; the limit is inclusive.
    """

    def check(batch: Batch) -> np.ndarray:
        allowed = batch.context.get("future_tolerance", tolerance)
        latest = pd.Timestamp(batch.interval.end + allowed).tz_convert(None)
        return batch[field_name] > np.datetime64(latest, "us")

    return Rule(reason, check)


def validate(
    wire: pd.DataFrame,
    schema: WireSchema,
    interval: Interval,
    *,
    ingested_at: datetime,
    context: Mapping[str, Any] | None = None,
) -> ValidationResult:
    """Split a wire frame into typed valid rows and quarantined rows with one reason each.

    ``interval`` is the logical interval being ingested; ``context`` carries what
    rules need beyond the rows (reference data, tolerances). Missing wire columns are
    treated as empty; extra columns are dropped.
    """
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    text = {column: _wire_text(wire, column) for column in schema.wire_columns}
    typed: dict[str, np.ndarray] = {}
    exact: dict[str, np.ndarray] = {}  # integer fields as int64, for exact output
    for spec in schema.fields:
        typed[spec.name], exact_values = _parse(text[spec.name], spec.kind)
        if exact_values is not None:
            exact[spec.name] = exact_values
    batch = Batch(text, typed, interval, context or {})

    rules = _ordered_rules(schema)
    codes = {
        reason: position + 1
        for position, reason in enumerate(dict.fromkeys(rule.reason for rule in rules))
    }
    code = np.zeros(len(batch), dtype=np.int16)
    for rule in rules:
        with np.errstate(invalid="ignore"):
            mask = np.asarray(rule.check(batch), dtype=bool)
        code[(code == 0) & mask] = codes[rule.reason]

    if schema.key is not None:
        _mark_repeats(schema, batch, code, codes)

    return _split(schema, batch, exact, code, ["", *codes], ingested_at)


def _mark_repeats(
    schema: WireSchema, batch: Batch, code: np.ndarray, codes: dict[str, int]
) -> None:
    """Repeated keys among rows still passing: copies and conflicts.

    A key sent again with the same values is a copy: the first stays valid, the
    rest are ``duplicate_<key>``. A key sent with different values is a conflict
    the platform cannot settle: every version goes to quarantine as
    ``conflicting_<key>``: both values are kept and nothing is chosen by file order.
    """
    passed = np.flatnonzero(code == 0)
    keys = pd.Series(batch.text(schema.key)[passed])
    repeated = keys.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    rows = passed[repeated]
    # Typed values, so 21.5 and 21.50 are the same reading.
    values = pd.DataFrame({name: batch[name][rows] for name in schema.field_names})
    fingerprint = pd.util.hash_pandas_object(values, index=False).to_numpy()
    versions = pd.DataFrame({"key": keys.to_numpy()[repeated], "fingerprint": fingerprint})
    conflicting = versions.groupby("key")["fingerprint"].transform("nunique").to_numpy() > 1
    code[rows[conflicting]] = codes[schema.conflict_reason]
    copies = ~conflicting & versions["key"].duplicated(keep="first").to_numpy()
    code[rows[copies]] = codes[schema.duplicate_reason]


# --- the rules a schema declares -------------------------------------------------------


def _ordered_rules(schema: WireSchema) -> list[Rule]:
    """Built-in checks from the field declarations, then the schema's own rules."""
    rules = [Rule("parse_error", lambda b: ~b.empty("parse_error"))]
    for spec in schema.fields:
        if spec.required:
            rules.append(Rule(f"missing_field:{spec.name}", _missing(spec.name)))
    for spec in schema.fields:
        if spec.kind is not Kind.TEXT:
            rules.append(Rule(spec.bad_value_reason, _unparsed(spec.name)))
    for spec in schema.fields:
        if spec.allowed is not None:
            rules.append(Rule(spec.unknown_reason or f"unknown_{spec.name}", _unknown(spec)))
    for spec in schema.fields:
        if spec.low is not None or spec.high is not None:
            rules.append(Rule(spec.range_reason, _outside(spec)))
        if spec.kind is Kind.TIMESTAMP:
            rules.append(Rule("ancient_timestamp", _before_earliest(spec.name)))
    rules.extend(schema.rules)
    for spec in schema.fields:
        if spec.kind is Kind.TIMESTAMP:
            # After the schema's rules: an event time is judged against its interval
            # first. This catches the rest (a promised date in 9999), which the lake's
            # nanosecond readers could not hold.
            rules.append(Rule("future_timestamp", _beyond_pandas(spec.name)))
    if schema.key is not None:
        # Placeholders so the reasons have their place; repeats are found in validate().
        rules.append(Rule(schema.conflict_reason, lambda b: np.zeros(len(b), dtype=bool)))
        rules.append(Rule(schema.duplicate_reason, lambda b: np.zeros(len(b), dtype=bool)))
    return rules


def _missing(name: str) -> Check:
    return lambda batch: batch.empty(name)


def _unparsed(name: str) -> Check:
    def check(batch: Batch) -> np.ndarray:
        values = batch[name]
        failed = np.isnat(values) if values.dtype.kind == "M" else np.isnan(values)
        return failed & ~batch.empty(name)

    return check


def _unknown(spec: Field) -> Check:
    def check(batch: Batch) -> np.ndarray:
        allowed = spec.allowed(batch.context) if callable(spec.allowed) else spec.allowed
        present = ~batch.empty(spec.name)
        return present & ~batch.isin(spec.name, allowed)

    return check


def _outside(spec: Field) -> Check:
    low = -np.inf if spec.low is None else spec.low
    high = np.inf if spec.high is None else spec.high
    return lambda batch: (batch[spec.name] < low) | (batch[spec.name] > high)


def _before_earliest(name: str) -> Check:
    return lambda batch: batch[name] < _EARLIEST


def _beyond_pandas(name: str) -> Check:
    return lambda batch: batch[name] > _PANDAS_LATEST


# --- wire text -------------------------------------------------------------------------


def _wire_text(wire: pd.DataFrame, column: str) -> np.ndarray:
    """One wire column as an object array of ``str`` or ``None`` (missing column: all None)."""
    if column not in wire.columns:
        return np.full(len(wire), None, dtype=object)
    values = wire[column].to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    values = values.copy()
    missing = pd.isna(values)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # A producer handed over non-text values; keep them, as text.
        for at in np.flatnonzero(~missing):
            if not isinstance(values[at], str):
                values[at] = str(values[at])
    values[missing] = None
    return values


def _is_empty(values: np.ndarray) -> np.ndarray:
    """``None`` or ``""`` (the arrays come from :func:`_wire_text`, so no NaN is left)."""
    return np.equal(values, None) | np.equal(values, "")


def _take(uniques: np.ndarray, codes: np.ndarray, fill: object = None) -> np.ndarray:
    """``uniques[codes]`` where code -1 (a missing value in ``pd.factorize``) gives ``fill``."""
    padded = np.append(uniques, np.array([fill], dtype=uniques.dtype))
    return padded[codes]


# --- typing ----------------------------------------------------------------------------


def _parse(values: np.ndarray, kind: Kind) -> tuple[np.ndarray, np.ndarray | None]:
    """A field's typed array, plus the exact int64 values of an integer field."""
    if kind is Kind.TIMESTAMP:
        return _parse_timestamps(values), None
    if kind is Kind.DECIMAL:
        numbers = np.array(_parse_decimals(values), dtype=np.float64)
        # 1e309 is decimal text but not a finite number: it fails like "NaN" does.
        numbers[np.isinf(numbers)] = np.nan
        return numbers, None
    if kind is Kind.INTEGER:
        integers, ok = _parse_integers(values)
        return np.where(ok, integers.astype(np.float64), np.nan), np.where(ok, integers, 0)
    return values, None


_DECIMAL = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
# At most 18 digits: every such number fits in int64.
_INTEGER = r"^\s*[+-]?\d{1,18}\s*$"
# The offset must follow a time of day: "2026-11-18" ends in "-18", which is a day.
_HAS_OFFSET = re.compile(r"[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$")


def _parse_decimals(values: np.ndarray) -> np.ndarray:
    """Decimal text to float64; anything that is not a plain decimal number to NaN.

    ``NaN`` and ``inf`` are not decimals, so they come out as NaN as well.
    """
    text = pa.array(values, type=pa.string())
    decimal = pc.if_else(pc.match_substring_regex(text, _DECIMAL), text, None)
    try:
        numbers = pc.cast(pc.utf8_trim_whitespace(decimal), pa.float64())
    except pa.ArrowInvalid:
        # Arrow's parser is the fast path; pandas' takes whatever it refuses, per value.
        return pd.to_numeric(decimal.to_numpy(zero_copy_only=False), errors="coerce").astype(
            np.float64
        )
    return numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _parse_integers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer text to int64 and a mask of what parsed; ``1.0`` and ``1e3`` do not."""
    text = pa.array(values, type=pa.string())
    integer = pc.if_else(pc.match_substring_regex(text, _INTEGER), text, None)
    # Arrow's integer cast refuses a leading plus sign.
    unsigned = pc.replace_substring_regex(pc.utf8_trim_whitespace(integer), r"^\+", "")
    numbers = pc.cast(unsigned, pa.int64())
    ok = pc.is_valid(numbers).to_numpy(zero_copy_only=False)
    return pc.fill_null(numbers, 0).to_numpy(zero_copy_only=False), ok


def _parse_timestamps(ts: np.ndarray) -> np.ndarray:
    """ISO-8601 text with an offset to naive UTC ``datetime64[us]``; anything else to NaT.

    Timestamps repeat a lot (one per sample tick across a fleet), so each distinct
    text is parsed once. Text without an offset is rejected rather than guessed.
    """
    codes, uniques = pd.factorize(ts)
    text = pd.Series(uniques, dtype=object)
    has_offset = text.map(lambda t: _HAS_OFFSET.search(t) is not None).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text.where(has_offset), utc=True, format="ISO8601", errors="coerce")
    naive = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]", copy=True)
    refused = np.flatnonzero(has_offset & np.isnat(naive))
    naive[refused] = [_outside_pandas(text.iat[at]) for at in refused]
    return _take(naive, codes, fill=_NAT)


def _outside_pandas(text: str) -> np.datetime64:
    """ISO-8601 text of a time pandas cannot hold (before 1677, after 2262); else NaT.

    Only such times are taken, so what pandas refused for its form stays refused.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _NAT
    offset = moment.utcoffset()
    if offset is None:
        return _NAT
    # numpy moves it to UTC, as datetime cannot: 9999-12-31T23:00-05:00 is in year 10000.
    utc = np.datetime64(moment.replace(tzinfo=None), "us") - np.timedelta64(offset)
    return utc if utc < _PANDAS_EARLIEST or utc > _PANDAS_LATEST else _NAT


def _utc_series(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(values.astype("datetime64[us]")).tz_localize("UTC"))


# --- output ----------------------------------------------------------------------------


def _output_column(spec: Field, batch: Batch, exact: dict[str, np.ndarray], ok: np.ndarray):
    if spec.kind is Kind.TIMESTAMP:
        return _utc_series(batch[spec.name][ok])
    if spec.kind is Kind.INTEGER:
        present = ~np.isnan(batch[spec.name][ok])
        return pd.arrays.IntegerArray(exact[spec.name][ok], ~present)
    return batch[spec.name][ok]


def _split(
    schema: WireSchema,
    batch: Batch,
    exact: dict[str, np.ndarray],
    code: np.ndarray,
    names_by_code: Sequence[str],
    ingested_at: datetime,
) -> ValidationResult:
    stamp = np.datetime64(pd.Timestamp(ingested_at).tz_convert(None), "us")
    ok = code == 0
    bad = ~ok

    outputs = {spec.output_name: _output_column(spec, batch, exact, ok) for spec in schema.fields}
    valid = pd.DataFrame({name: outputs[name] for name in schema.valid_columns[:-2]})
    valid["origin"] = batch.text("origin")[ok]
    valid["ingested_at"] = _utc_series(np.full(int(ok.sum()), stamp))

    names = np.array(names_by_code, dtype=object)[code[bad]]
    from_parser = code[bad] == 1  # parse_error is always the first rule
    names[from_parser] = batch.text("parse_error")[bad][from_parser]
    quarantined = pd.DataFrame({c: batch.text(c)[bad] for c in schema.wire_columns})
    quarantined["reason"] = names
    quarantined["ingested_at"] = _utc_series(np.full(len(names), stamp))

    counts = pd.Series(names, dtype=object).value_counts(sort=False)
    order = {name: position for position, name in enumerate(names_by_code)}
    reasons = {
        str(name): int(count)
        for name, count in sorted(counts.items(), key=lambda item: (order.get(item[0], 1), item[0]))
    }
    return ValidationResult(
        valid=valid, quarantined=quarantined, reasons=reasons, rows_in=len(code)
    )
