"""Apply a contract to one parsed file: the file's own columns in, the dataset's wire frame out.

The parser (:mod:`fieldhouse.sources.landing`) reads a file's cells as text; this
module turns them into the text the dataset's validation expects, so that every
feed, built-in or a user's, meets the same rules afterwards:

1. a wide file is melted: one row per (row, metric column);
2. each field is taken from its column, a constant or the file name;
3. declared value maps, then missing-value sentinels (quarantined with the reason
   ``missing_value_sentinel:<field>``, or emptied, as the contract says);
4. country and region names resolved to ISO codes through the catalog;
5. numbers: the declared decimal and thousands separators, and whole numbers
   written as ``25643711.0`` read as integers;
6. local timestamps in the declared format and IANA zone to UTC (``Z``); a local
   time that a daylight-saving change makes ambiguous or skips is quarantined
   (``ambiguous_local_time:<field>``, ``nonexistent_local_time:<field>``);
7. readings converted to the catalog's unit of their metric;
8. identities hashed from the declared fields, after all of the above, so the same
   reading in two files has the same id.

Nothing is dropped here: a row that cannot be normalised gets ``parse_error`` set,
which validation turns into its quarantine reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fieldhouse.contracts.contract import Contract, FieldSource

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog
    from fieldhouse.quality.core import WireSchema

_WHOLE = re.compile(r"^\s*([+-]?\d+)\.0*\s*$")


@dataclass
class Normalized:
    """A wire frame of the contract's dataset, and what normalising it changed."""

    wire: pd.DataFrame
    nulled: dict[str, int] = field(default_factory=dict)  # field -> sentinels emptied


def normalize(
    frame: pd.DataFrame,
    contract: Contract,
    schema: WireSchema,
    catalog: Catalog,
    *,
    file_name: str,
) -> Normalized:
    """The wire frame of ``schema`` for one parsed file of ``contract``."""
    from fieldhouse.quality.core import Kind

    if contract.layout == "wide":
        frame = _melt(frame, contract)
    n = len(frame)
    error = frame["parse_error"].to_numpy(dtype=object).copy()
    columns: dict[str, np.ndarray] = {}
    nulled: dict[str, int] = {}
    for spec in schema.fields:
        source = contract.fields.get(spec.name, FieldSource(spec.name))
        values = _initial(frame, source, spec.name, n, file_name, error)
        values = _map_values(values, source)
        values, emptied = _apply_sentinels(values, source, error)
        if emptied:
            nulled[spec.name] = emptied
        if source.resolve == "country":
            values = _resolve(values, catalog.country_code)
        if spec.kind in (Kind.DECIMAL, Kind.INTEGER):
            values = _numbers(values, contract, integer=spec.kind is Kind.INTEGER)
        if spec.kind is Kind.TIMESTAMP and (source.format or source.timezone or source.date_only):
            values = _local_times(values, source, error)
        columns[spec.name] = values
    for spec in schema.fields:
        source = contract.fields.get(spec.name)
        if source is not None and source.resolve == "region":
            columns[spec.name] = _regions(columns[spec.name], columns, catalog)
    if "metric" in columns and "value" in columns:
        columns["value"] = _convert_units(columns["metric"], columns["value"], contract, catalog)
    for spec in schema.fields:
        source = contract.fields.get(spec.name)
        if source is not None and source.hash:
            columns[spec.name] = _identity(columns, source.hash)
    wire = pd.DataFrame(columns)
    wire["origin"] = frame["origin"].to_numpy(dtype=object)
    wire["parse_error"] = error
    wire["raw_record"] = frame["raw_record"].to_numpy(dtype=object)
    return Normalized(wire[list(schema.wire_columns)], nulled)


# --- layout ----------------------------------------------------------------------------


def _melt(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """One row per (row, metric column); a row that did not parse stays one row."""
    broken = frame["parse_error"].notna().to_numpy()
    good = frame.loc[~broken]
    keep = [c for c in frame.columns if c not in {m.column.lower() for m in contract.melt}]
    parts = []
    for melt in contract.melt:
        part = good[keep].copy()
        part["metric"] = melt.metric
        part["value"] = good[melt.column.lower()].to_numpy(dtype=object)
        part["_row"] = np.flatnonzero(~broken)
        parts.append(part)
    bad = frame.loc[broken, keep].copy()
    bad["metric"] = None
    bad["value"] = None
    bad["_row"] = np.flatnonzero(broken)
    melted = pd.concat([*parts, bad], ignore_index=True)
    # Row order follows the file, metrics in contract order within a row.
    return melted.sort_values("_row", kind="stable").drop(columns="_row").reset_index(drop=True)


def _initial(
    frame: pd.DataFrame,
    source: FieldSource,
    name: str,
    n: int,
    file_name: str,
    error: np.ndarray,
) -> np.ndarray:
    """The field's text before any rule: its column, constant or part of the file name."""
    if source.column:
        column = source.column.strip().lower()
        if column in frame.columns:
            return frame[column].to_numpy(dtype=object).copy()
        return np.full(n, None, dtype=object)
    if name in frame.columns and not (source.constant or source.file_name or source.hash):
        return frame[name].to_numpy(dtype=object).copy()  # a melted metric or value
    if source.constant is not None:
        return np.full(n, source.constant, dtype=object)
    if source.file_name:
        match = re.search(source.file_name, file_name)
        if match is None:
            error[pd.isna(error)] = f"file_name_mismatch:{name}"
            return np.full(n, None, dtype=object)
        return np.full(n, match.group(1), dtype=object)
    return np.full(n, None, dtype=object)


# --- values ----------------------------------------------------------------------------


def _map_values(values: np.ndarray, source: FieldSource) -> np.ndarray:
    if not source.values:
        return values
    mapped = pd.Series(values, dtype=object)
    return mapped.map(
        lambda v: source.values.get(v.strip(), v) if isinstance(v, str) else v
    ).to_numpy(dtype=object)


def _apply_sentinels(
    values: np.ndarray, source: FieldSource, error: np.ndarray
) -> tuple[np.ndarray, int]:
    """Mark or empty the sentinel values; returns the values and how many were emptied."""
    if source.sentinels is None:
        return values, 0
    stripped = pd.Series(values, dtype=object).str.strip()
    hit = stripped.isin(source.sentinels.values).to_numpy()
    if source.sentinels.action == "null":
        values = values.copy()
        values[hit] = None
        return values, int(hit.sum())
    error[hit & pd.isna(error)] = f"missing_value_sentinel:{source.name}"
    return values, 0


def _resolve(values: np.ndarray, lookup) -> np.ndarray:
    """Each distinct text through ``lookup``; text it does not know stays as it was."""
    codes, uniques = pd.factorize(values)
    resolved = np.array([lookup(u) or u for u in uniques], dtype=object)
    return np.append(resolved, np.array([None], dtype=object))[codes]


def _regions(values: np.ndarray, columns: dict[str, np.ndarray], catalog: Catalog) -> np.ndarray:
    country = columns.get("destination_country", columns.get("country"))
    if country is None:
        return _resolve(values, catalog.region_code)
    pairs = pd.DataFrame({"region": values, "country": country})
    unique = pairs.drop_duplicates()
    resolved = {
        (r, c): (catalog.region_code(r, c) or r) if isinstance(r, str) else r
        for r, c in unique.itertuples(index=False)
    }
    return np.array([resolved[(r, c)] for r, c in pairs.itertuples(index=False)], dtype=object)


def _numbers(values: np.ndarray, contract: Contract, *, integer: bool) -> np.ndarray:
    """Numbers in the lake's notation: ``.`` decimals, no thousands separators."""
    if not (integer or contract.file.thousands or contract.file.decimal != "."):
        return values
    text = pd.Series(values, dtype=object)
    present = text.notna()
    if not present.any():
        return values
    cleaned = text[present].astype(str)
    if contract.file.thousands:
        cleaned = cleaned.str.replace(contract.file.thousands, "", regex=False)
    if contract.file.decimal != ".":
        cleaned = cleaned.str.replace(contract.file.decimal, ".", regex=False)
    if integer:
        # A count written as a float (25643711.0) is still a whole number.
        cleaned = cleaned.str.replace(_WHOLE, r"\1", regex=True)
    out = text.copy()
    out[present] = cleaned
    return out.to_numpy(dtype=object)


# --- time ------------------------------------------------------------------------------


def _local_times(values: np.ndarray, source: FieldSource, error: np.ndarray) -> np.ndarray:
    """Local text in the declared format and zone, as UTC ISO-8601 text.

    Text that does not parse is left as it was, so validation quarantines it as
    ``bad_timestamp`` with the original text.
    """
    codes, uniques = pd.factorize(values)
    if not len(uniques):
        return values
    text = pd.Series(uniques, dtype=object).str.strip()
    fmt = source.format or ("%Y-%m-%d" if source.date_only else "ISO8601")
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if parsed.dt.tz is not None:
        utc = parsed.dt.tz_convert("UTC")
        ambiguous = nonexistent = np.zeros(len(text), dtype=bool)
    else:
        zone = source.timezone or "UTC"
        # Two tries tell the two daylight-saving faults apart.
        forward = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
        backward = parsed.dt.tz_localize(
            zone, ambiguous=np.ones(len(text), dtype=bool), nonexistent="NaT"
        )
        ambiguous = (forward.isna() & parsed.notna()).to_numpy()
        nonexistent = (backward.isna() & parsed.notna()).to_numpy()
        utc = forward.dt.tz_convert("UTC")
    rendered = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy(dtype=object)
    ok = parsed.notna().to_numpy() & ~ambiguous & ~nonexistent
    out_uniques = np.where(ok, rendered, uniques.astype(object))
    out = np.append(out_uniques, np.array([None], dtype=object))[codes]
    for mask, reason in (
        (ambiguous, "ambiguous_local_time"),
        (nonexistent, "nonexistent_local_time"),
    ):
        rows = np.isin(codes, np.flatnonzero(mask))
        error[rows & pd.isna(error)] = f"{reason}:{source.name}"
    return out


# --- units and identity ----------------------------------------------------------------


def _convert_units(
    metric: np.ndarray, value: np.ndarray, contract: Contract, catalog: Catalog
) -> np.ndarray:
    """Readings in their metric's lake unit; the file's unit comes from the contract."""
    file_units = dict(contract.units)
    file_units.update({m.metric: m.unit for m in contract.melt if m.unit})
    value = value.copy()
    for code, unit in file_units.items():
        known = catalog.metrics.get(code)
        if known is None or unit == known.unit:
            continue
        rows = np.equal(metric, code)
        numbers = pd.to_numeric(pd.Series(value[rows], dtype=object), errors="coerce").to_numpy()
        converted = catalog.convert(numbers, unit, known.unit)
        text = np.array([None if np.isnan(x) else repr(float(x)) for x in converted], dtype=object)
        # Text that was not a number stays as it was, for validation to reject.
        value[rows] = np.where(np.isnan(numbers), value[rows], text)
    return value


def _identity(columns: dict[str, np.ndarray], parts: tuple[str, ...]) -> np.ndarray:
    """A stable id per row from the normalised values of ``parts``.

    Rows missing any part get no id (validation then reports the missing part).
    """
    frame = pd.DataFrame({p: columns[p] for p in parts})
    complete = frame.notna().all(axis=1).to_numpy()
    joined = frame.astype(str).agg("\x1f".join, axis=1).to_numpy(dtype=object)
    out = np.full(len(frame), None, dtype=object)
    out[complete] = [
        hashlib.blake2b(text.encode(), digest_size=10).hexdigest() for text in joined[complete]
    ]
    return out
