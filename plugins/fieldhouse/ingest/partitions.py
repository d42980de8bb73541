"""Write one ingest interval of a dataset: raw rows, quarantined rows, a manifest.

This is the only writer of raw/ and quarantine/ partitions, for every source. It
refuses to write anything when the counts do not reconcile, so a bug upstream
surfaces as a failed task instead of silently lost rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fieldhouse.storage.keys import Bucket, Dataset, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import to_parquet_bytes

log = logging.getLogger(__name__)


class ReconciliationError(RuntimeError):
    """Rows in != rows written + rows quarantined."""


@dataclass
class Manifest:
    """What one ingest of one interval did; stored beside the data as JSON."""

    dataset: str
    interval_start: str
    interval_end: str
    rows_in: int
    rows_written: int
    rows_quarantined: int
    reasons: dict[str, int]
    ingested_at: str
    run_at: str
    objects: list[str]
    files: list[str] = field(default_factory=list)
    files_rejected: dict[str, str] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.rows_in == self.rows_written + self.rows_quarantined

    def as_dict(self) -> dict:
        return {**asdict(self), "reconciles": self.reconciles}


def write_partition(
    store: ObjectStore,
    dataset: Dataset,
    interval: Interval,
    *,
    rows_in: int,
    valid: pd.DataFrame,
    quarantined: pd.DataFrame,
    reasons: Mapping[str, int],
    files: list[str] | None = None,
    files_rejected: Mapping[str, str] | None = None,
) -> Manifest:
    """Replace ``interval`` of ``dataset`` with one valid and one quarantined frame."""
    return write_partition_parts(
        store,
        dataset,
        interval,
        rows_in=rows_in,
        raw_parts=[to_parquet_bytes(valid)],
        rows_written=len(valid),
        quarantine_parts=[to_parquet_bytes(quarantined)] if len(quarantined) else [],
        rows_quarantined=len(quarantined),
        reasons=reasons,
        files=files,
        files_rejected=files_rejected,
    )


def write_partition_parts(
    store: ObjectStore,
    dataset: Dataset,
    interval: Interval,
    *,
    rows_in: int,
    raw_parts: Sequence[bytes | Path],
    rows_written: int,
    quarantine_parts: Sequence[bytes | Path],
    rows_quarantined: int,
    reasons: Mapping[str, int],
    files: list[str] | None = None,
    files_rejected: Mapping[str, str] | None = None,
) -> Manifest:
    """Replace ``interval`` of ``dataset`` in raw/ and quarantine/, then record a manifest.

    The parts are Parquet files already serialised, in memory or on local disk (a
    big file is validated in batches, each its own part). The raw partition always
    gets at least one part, empty or not, so a rerun that finds fewer rows than
    before still replaces what was there.
    """
    if rows_in != rows_written + rows_quarantined:
        raise ReconciliationError(
            f"{dataset.path} {interval}: {rows_in} rows in, but {rows_written} valid "
            f"+ {rows_quarantined} quarantined; nothing was written"
        )
    if sum(reasons.values()) != rows_quarantined:
        raise ReconciliationError(
            f"{dataset.path} {interval}: reasons count {sum(reasons.values())} rows "
            f"but {rows_quarantined} were quarantined; nothing was written"
        )
    if not raw_parts:
        raise ValueError("a raw partition needs at least one part, even an empty one")
    raw = {dataset.raw(interval, index): body for index, body in enumerate(raw_parts)}
    store.replace_prefix(Bucket.RAW, dataset.prefix(interval), raw)
    quarantine = {
        dataset.quarantine(interval, index): body for index, body in enumerate(quarantine_parts)
    }
    store.replace_prefix(Bucket.QUARANTINE, dataset.prefix(interval), quarantine)
    written = [*raw, *quarantine]

    manifest = Manifest(
        dataset=dataset.path,
        interval_start=interval.start.isoformat(),
        interval_end=interval.end.isoformat(),
        rows_in=rows_in,
        rows_written=rows_written,
        rows_quarantined=rows_quarantined,
        reasons=dict(sorted(reasons.items())),
        ingested_at=interval.end.isoformat(),
        run_at=datetime.now(UTC).isoformat(timespec="seconds"),
        objects=[key.uri for key in written],
        files=list(files or []),
        files_rejected=dict(files_rejected or {}),
    )
    store.put_json(dataset.manifest(interval), manifest.as_dict())
    log.info(
        "%s %s: %d in = %d written + %d quarantined in %d part(s) %s",
        dataset.path,
        interval.partition,
        rows_in,
        rows_written,
        rows_quarantined,
        len(raw_parts),
        dict(manifest.reasons) or "",
    )
    return manifest


def write_side_partition(
    store: ObjectStore, dataset: Dataset, interval: Interval, frame: pd.DataFrame
) -> str:
    """Replace one interval of a dataset that needs no validation (simulator labels)."""
    key = dataset.raw(interval)
    store.replace_prefix(Bucket.RAW, dataset.prefix(interval), {key: to_parquet_bytes(frame)})
    return key.uri


def plan_hours(start: datetime, end: datetime) -> list[dict]:
    """The hours of one ingestion run, as task arguments.

    Newly dropped landing files are claimed by the newest hour only, so one file
    lands in one partition however long the run's interval is.
    """
    hours = Interval(start, end).hours()
    return [{"hour_start": h.start.isoformat(), "claim_landing": h == hours[-1]} for h in hours]


def summarize(manifests: list[dict]) -> dict:
    """Totals over the hours of one run; fails loudly if any hour does not reconcile."""
    broken = [m["interval_start"] for m in manifests if not m["reconciles"]]
    if broken:
        raise ReconciliationError(f"counts do not reconcile for hours starting {broken}")
    reasons: dict[str, int] = {}
    for manifest in manifests:
        for reason, count in manifest["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    summary = {
        "hours": len(manifests),
        "rows_in": sum(m["rows_in"] for m in manifests),
        "rows_written": sum(m["rows_written"] for m in manifests),
        "rows_quarantined": sum(m["rows_quarantined"] for m in manifests),
        "reasons": dict(sorted(reasons.items())),
        "files_rejected": sum(len(m["files_rejected"]) for m in manifests),
    }
    log.info(
        "run total: %(rows_in)d in = %(rows_written)d written + "
        "%(rows_quarantined)d quarantined over %(hours)d hour(s)",
        summary,
    )
    return summary
