"""Validation of sensor readings: what goes to raw, what goes to quarantine, and why.

Readings arrive as *wire frames*: every column is text (or ``None``), exactly as a
gateway sent it or a file carried it. :func:`validate_readings` types them and splits
them in two, so that every row read ends up in exactly one place::

    rows in == len(valid) + len(quarantined)

A quarantined row keeps its original text and gets exactly one reason: the first
rule it fails, in this order:

1. ``<parse_error>``          the record could not be parsed at all (e.g. ``malformed_json``)
2. ``missing_field:<column>`` event_id, device_id, ts, metric or value is empty
3. ``bad_timestamp``          ts is not ISO-8601 with an offset (``Z`` or ``+01:00``)
4. ``bad_value``              value is not a finite number
5. ``unknown_device``         device_id is not in the device registry
6. ``unknown_metric``         metric is not one the platform knows
7. ``metric_not_for_device_kind``  e.g. ``speed_kmh`` from an environmental sensor
8. ``out_of_range``           outside the physical range of the metric
9. ``future_timestamp``       later than the interval end plus a tolerance
10. ``duplicate_event_id``    an event_id already seen among rows passing 1-9

These are the de-noising rules of collection: readings that cannot be true (out of
physical range, from the future), cannot be attributed (unknown device or metric) or
were sent twice (gateway retries). Plausible-but-odd values (spikes within range,
stuck sensors) stay valid: finding them is the job of the anomaly models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fieldhouse.storage.keys import Interval

WIRE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "device_id",
    "ts",
    "metric",
    "value",
    "origin",
    "parse_error",
    "raw_record",
)
"""Columns of a wire frame, all text: five data fields, then three set by the platform."""

REQUIRED_FIELDS: tuple[str, ...] = ("event_id", "device_id", "ts", "metric", "value")

KIND_METRICS: Mapping[str, tuple[str, ...]] = {
    "environmental": ("temperature_c", "humidity_pct"),
    "machine": ("vibration_mm_s", "power_w"),
    "gps_tracker": ("latitude", "longitude", "speed_kmh"),
}

METRIC_RANGES: Mapping[str, tuple[float, float]] = {
    "temperature_c": (-40.0, 85.0),
    "humidity_pct": (0.0, 100.0),
    "vibration_mm_s": (0.0, 100.0),
    "power_w": (0.0, 50_000.0),
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "speed_kmh": (0.0, 250.0),
}
"""Physically plausible range of each metric, bounds included."""

METRIC_KIND: Mapping[str, str] = {
    metric: kind for kind, metrics in KIND_METRICS.items() for metric in metrics
}
if len(METRIC_KIND) != sum(len(m) for m in KIND_METRICS.values()):
    # The kind check maps each metric to one kind; a shared metric would break it.
    raise RuntimeError("a metric is listed under two device kinds")

VALID_COLUMNS: tuple[str, ...] = (
    "event_id",
    "device_id",
    "metric",
    "value",
    "event_ts",
    "origin",
    "ingested_at",
)
QUARANTINE_COLUMNS: tuple[str, ...] = (*WIRE_COLUMNS, "reason", "ingested_at")

# Rule codes, in evaluation order; 0 means the row passed every rule so far.
_RULES: tuple[str, ...] = (
    "",  # passed
    "parse_error",
    *(f"missing_field:{column}" for column in REQUIRED_FIELDS),
    "bad_timestamp",
    "bad_value",
    "unknown_device",
    "unknown_metric",
    "metric_not_for_device_kind",
    "out_of_range",
    "future_timestamp",
    "duplicate_event_id",
)
_CODE = {name: code for code, name in enumerate(_RULES)}

_LOW = {metric: bounds[0] for metric, bounds in METRIC_RANGES.items()}
_HIGH = {metric: bounds[1] for metric, bounds in METRIC_RANGES.items()}
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$")


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


def empty_wire_frame() -> pd.DataFrame:
    """A wire frame with no rows."""
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in WIRE_COLUMNS})


def validate_readings(
    wire: pd.DataFrame,
    devices: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame into typed valid readings and quarantined rows with a reason.

    ``devices`` is the device registry with columns ``device_id`` and ``device_kind``.
    ``interval`` is the logical interval being ingested; a reading stamped later than
    ``interval.end + future_tolerance`` cannot have been observed yet.
    Missing wire columns are treated as empty; extra columns are dropped.
    """
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    text = {column: _wire_text(wire, column) for column in WIRE_COLUMNS}
    n = len(wire)
    code = np.zeros(n, dtype=np.int8)

    def fail(rule: str, mask: np.ndarray) -> None:
        code[(code == 0) & mask] = _CODE[rule]

    fail("parse_error", ~_is_empty(text["parse_error"]))
    for column in REQUIRED_FIELDS:
        fail(f"missing_field:{column}", _is_empty(text[column]))

    event_ts = _parse_timestamps(text["ts"])
    fail("bad_timestamp", np.isnat(event_ts))

    value = _parse_decimals(text["value"])
    fail("bad_value", ~np.isfinite(value))

    registry = devices.drop_duplicates("device_id").set_index("device_id")["device_kind"]
    device_kind = _lookup(text["device_id"], registry.to_dict())
    fail("unknown_device", pd.isna(device_kind))

    metric_codes, metric_uniques = pd.factorize(text["metric"])
    metric_kind = _lookup(text["metric"], METRIC_KIND, factorized=(metric_codes, metric_uniques))
    fail("unknown_metric", pd.isna(metric_kind))
    fail("metric_not_for_device_kind", metric_kind != device_kind)

    low = _take(
        pd.Series(metric_uniques, dtype=object).map(_LOW).to_numpy(np.float64),
        metric_codes,
        fill=np.nan,
    )
    high = _take(
        pd.Series(metric_uniques, dtype=object).map(_HIGH).to_numpy(np.float64),
        metric_codes,
        fill=np.nan,
    )
    with np.errstate(invalid="ignore"):
        fail("out_of_range", (value < low) | (value > high))

    latest = np.datetime64(pd.Timestamp(interval.end + future_tolerance).tz_convert(None), "us")
    fail("future_timestamp", event_ts > latest)

    passed = np.flatnonzero(code == 0)
    repeated = pd.Series(text["event_id"][passed]).duplicated(keep="first").to_numpy()
    duplicate = np.zeros(n, dtype=bool)
    duplicate[passed[repeated]] = True
    fail("duplicate_event_id", duplicate)

    return _split(text, code, value, event_ts, ingested_at)


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


def _lookup(
    values: np.ndarray,
    mapping: Mapping[str, str],
    factorized: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``mapping[value]`` for each value, ``None`` where absent; each distinct value once."""
    codes, uniques = factorized if factorized is not None else pd.factorize(values)
    mapped = np.array([mapping.get(u) for u in uniques], dtype=object)
    return _take(mapped, codes)


_DECIMAL = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


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


def _parse_timestamps(ts: np.ndarray) -> np.ndarray:
    """ISO-8601 text with an offset to naive UTC ``datetime64[us]``; anything else to NaT.

    Timestamps repeat a lot (one per sample tick across a fleet), so each distinct
    text is parsed once. Text without an offset is rejected rather than guessed.
    """
    codes, uniques = pd.factorize(ts)
    text = pd.Series(uniques, dtype=object)
    has_offset = text.map(lambda t: _HAS_OFFSET.search(t) is not None).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text.where(has_offset), utc=True, format="ISO8601", errors="coerce")
    naive = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    return _take(naive, codes, fill=np.datetime64("NaT", "us"))


def _utc_series(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(values.astype("datetime64[us]")).tz_localize("UTC"))


def _split(
    text: dict[str, np.ndarray],
    code: np.ndarray,
    value: np.ndarray,
    event_ts: np.ndarray,
    ingested_at: datetime,
) -> ValidationResult:
    stamp = np.datetime64(pd.Timestamp(ingested_at).tz_convert(None), "us")
    ok = code == 0
    bad = ~ok

    valid = pd.DataFrame(
        {
            "event_id": text["event_id"][ok],
            "device_id": text["device_id"][ok],
            "metric": text["metric"][ok],
            "value": value[ok],
            "event_ts": _utc_series(event_ts[ok]),
            "origin": text["origin"][ok],
            "ingested_at": _utc_series(np.full(int(ok.sum()), stamp)),
        }
    )

    names = np.array(_RULES, dtype=object)[code[bad]]
    from_parser = code[bad] == _CODE["parse_error"]
    names[from_parser] = text["parse_error"][bad][from_parser]
    quarantined = pd.DataFrame({column: text[column][bad] for column in WIRE_COLUMNS})
    quarantined["reason"] = names
    quarantined["ingested_at"] = _utc_series(np.full(len(names), stamp))

    counts = pd.Series(names, dtype=object).value_counts(sort=False)
    order = {name: position for position, name in enumerate(_RULES)}
    reasons = {
        str(name): int(count)
        for name, count in sorted(counts.items(), key=lambda item: (order.get(item[0], 1), item[0]))
    }
    return ValidationResult(
        valid=valid, quarantined=quarantined, reasons=reasons, rows_in=len(code)
    )
