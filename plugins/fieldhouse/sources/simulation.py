"""What every simulator shares: its output, stable seeds, and rendering records as text.

Simulators draw with NumPy and render their records the way a feed sends them:
timestamps as ISO-8601 text, duplicates as repeated rows, and the platform
columns (``origin``, ``parse_error``, ``raw_record``) the validation engine reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fieldhouse.storage.keys import Interval

HOUR = 3_600


@dataclass(frozen=True)
class SimulatedBatch:
    """One interval of a simulated feed."""

    readings: pd.DataFrame  # a wire frame of the feed's schema
    labels: pd.DataFrame = field(repr=False)  # the truth behind it


def stable_hash(text: str) -> int:
    """A 64-bit hash that, unlike ``hash()``, is the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def bounds(interval: Interval) -> tuple[int, int]:
    """The interval as whole epoch seconds, [start, end)."""
    return int(interval.start.timestamp()), int(interval.end.timestamp())


def hour_after(end: int) -> int:
    """The index of the first whole hour at or after epoch second ``end``."""
    return -(-end // HOUR)


def iso_text(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as ISO-8601 text in UTC (``2026-11-22T13:05:00Z``)."""
    text = np.datetime_as_string(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))
    return np.char.add(text.astype(str), "Z").astype(object)


def utc_series(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as a UTC timestamp column (microseconds, like validated data)."""
    return pd.Series(
        pd.to_datetime(np.asarray(seconds, dtype=np.int64), unit="s", utc=True)
    ).astype("datetime64[us, UTC]")


def with_duplicates(frame: pd.DataFrame, column: str = "duplicate") -> pd.DataFrame:
    """Each row flagged in ``column`` sent twice, the copy right after the original."""
    copies = np.flatnonzero(frame[column].to_numpy(dtype=bool))
    rows = np.sort(np.concatenate([np.arange(len(frame)), copies]), kind="stable")
    return frame.iloc[rows].reset_index(drop=True)


def platform_columns(n: int, origin: str) -> dict[str, np.ndarray]:
    """The columns the platform sets on ``n`` rows a simulator sends."""
    return {
        "origin": np.full(n, origin, dtype=object),
        "parse_error": np.full(n, None, dtype=object),
        "raw_record": np.full(n, None, dtype=object),
    }
