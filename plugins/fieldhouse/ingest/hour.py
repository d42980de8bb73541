"""One dataset hour built from batches: validated one by one, written together.

A big landing file is read in batches (:func:`fieldhouse.sources.landing.iter_landing_file`),
so an hour is validated batch by batch and each batch is kept as Parquet bytes:
memory holds one batch of rows, not the hour. A key repeated within a batch is
settled by validation; one repeated across batches (a big file, or two files of
the same hour) is settled when the hour is written, by the same rule: copies
after the first are ``duplicate_<key>``, every version of a conflict is
``conflicting_<key>``, moved to quarantine with their values as the lake reads them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fieldhouse.contracts.contract import SIMULATOR_SOURCE
from fieldhouse.ingest.datasets import RawDataset
from fieldhouse.ingest.partitions import Manifest, write_partition_parts
from fieldhouse.storage.keys import Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import (
    from_parquet_bytes,
    table_to_parquet_bytes,
    to_arrow_table,
    to_parquet_bytes,
)

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog
    from fieldhouse.quality.core import WireSchema

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    """One validated batch, serialised, with the hashes cross-batch repeats are found by."""

    raw: Path  # Parquet, parked on local disk until the hour is written
    quarantine: Path | None
    rows_in: int
    rows_written: int
    rows_quarantined: int
    reasons: dict[str, int]
    keys: np.ndarray  # a 64-bit hash of each valid row's key, in row order


class HourBuilder:
    """The batches of one hour of one raw dataset, and the files they came from."""

    def __init__(
        self, store: ObjectStore, target: RawDataset, interval: Interval, catalog: Catalog
    ) -> None:
        self.store = store
        self.target = target
        self.interval = interval
        self.catalog = catalog
        self.schema: WireSchema = target.schema
        self.files: list[str] = []
        self.rejected: dict[str, str] = {}
        self.nulled: dict[str, int] = {}
        self._batches: list[_Batch] = []
        self._context: dict[str, Any] | None = None
        self._duckdb: Any = None
        # Validated batches wait on local disk, not in memory: an hour of a big file
        # takes the memory of one batch.
        self._parked = tempfile.TemporaryDirectory(prefix="fieldhouse-hour-")
        self._parts = 0

    def _park(self, body: bytes) -> Path:
        path = Path(self._parked.name) / f"{self._parts}.parquet"
        self._parts += 1
        path.write_bytes(body)
        return path

    def refresh_context(self) -> None:
        """Registries changed (ids registered on first sight): read them again."""
        self._context = None

    def checkpoint(self) -> int:
        return len(self._batches)

    def rollback(self, checkpoint: int) -> None:
        """Drop the batches added since ``checkpoint`` (a file that turned out unreadable)."""
        del self._batches[checkpoint:]

    def add(
        self, wire: pd.DataFrame, *, source: str, nulled: Mapping[str, int] | None = None
    ) -> None:
        """Validate one batch of wire rows and keep it, serialised.

        ``source`` is the namespace the batch's rows carry in the lake (``simulator``
        or the contract's source), so marts can keep user data and simulated data apart.
        """
        from fieldhouse.quality.core import validate

        if self._context is None:
            self._context = self.target.context(self.store, self.catalog)
        result = validate(
            wire, self.schema, self.interval, ingested_at=self.interval.end, context=self._context
        )
        valid = result.valid
        valid.insert(valid.columns.get_loc("origin"), "source", source)
        table = to_arrow_table(valid)
        quarantined = result.quarantined
        self._batches.append(
            _Batch(
                raw=self._park(table_to_parquet_bytes(table)),
                quarantine=self._park(to_parquet_bytes(quarantined)) if len(quarantined) else None,
                rows_in=result.rows_in,
                rows_written=len(result.valid),
                rows_quarantined=len(quarantined),
                reasons=dict(result.reasons),
                keys=self._key_hashes(table),
            )
        )
        for name, count in (nulled or {}).items():
            self.nulled[name] = self.nulled.get(name, 0) + count

    def write(self) -> Manifest:
        """Settle repeats across batches, then write the hour's parts and its manifest."""
        if not self._batches:
            self.add(self.schema.empty_wire_frame(), source=SIMULATOR_SOURCE)
        if len(self._batches) > 1 and self.schema.key is not None:
            self._settle_repeats_across_batches()
        if self.nulled:
            log.info("%s %s: sentinels emptied %s", self.target.name, self.interval, self.nulled)
        reasons: dict[str, int] = {}
        for batch in self._batches:
            for reason, count in batch.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
        raw_parts = [b.raw for b in self._batches if b.rows_written] or [self._batches[0].raw]
        try:
            return self._write(raw_parts, reasons)
        finally:
            self._parked.cleanup()

    def _write(self, raw_parts: list[Path], reasons: dict[str, int]) -> Manifest:
        return write_partition_parts(
            self.store,
            self.target.dataset,
            self.interval,
            rows_in=sum(b.rows_in for b in self._batches),
            raw_parts=raw_parts,
            rows_written=sum(b.rows_written for b in self._batches),
            quarantine_parts=[b.quarantine for b in self._batches if b.quarantine],
            rows_quarantined=sum(b.rows_quarantined for b in self._batches),
            reasons=reasons,
            files=self.files,
            files_rejected=self.rejected,
        )

    def _key_output(self) -> str | None:
        return None if self.schema.key is None else self.schema.field(self.schema.key).output_name

    def _key_hashes(self, table: pa.Table) -> np.ndarray:
        """8 bytes a row, whatever the key's length: what the hour keeps of every key."""
        key = self._key_output()
        if key is None or not table.num_rows:
            return np.zeros(0, dtype=np.uint64)
        if self._duckdb is None:
            import duckdb

            self._duckdb = duckdb.connect()
        self._duckdb.register("batch_keys", table.select([key]).rename_columns(["key"]))
        try:
            hashed = self._duckdb.execute(
                "select hash(key) as h from batch_keys"
            ).fetch_arrow_table()
        finally:
            self._duckdb.unregister("batch_keys")
        return hashed.column("h").to_numpy()

    def _settle_repeats_across_batches(self) -> None:
        every = np.sort(np.concatenate([b.keys for b in self._batches]))
        candidates = np.unique(every[1:][every[1:] == every[:-1]])
        if not len(candidates):
            return  # the usual case: one sort of 8 bytes a row
        # Few rows repeat: read just those back, in hour order, and settle them by
        # their real keys (a hash shared by two keys only brings a row to look at).
        found = []
        for index, batch in enumerate(self._batches):
            rows = np.flatnonzero(np.isin(batch.keys, candidates))
            if len(rows):
                valid = from_parquet_bytes(batch.raw.read_bytes()).iloc[rows]
                found.append(valid.assign(_batch=index, _row=rows))
        versions = pd.concat(found, ignore_index=True)
        key = self._key_output()
        outputs = [f.output_name for f in self.schema.fields]
        fingerprint = pd.util.hash_pandas_object(versions[outputs], index=False)
        conflicting = fingerprint.groupby(versions[key]).transform("nunique").to_numpy() > 1
        copies = ~conflicting & versions[key].duplicated(keep="first").to_numpy()
        reasons = np.where(conflicting, self.schema.conflict_reason, self.schema.duplicate_reason)
        moving = conflicting | copies
        for index in np.unique(versions.loc[moving, "_batch"]):
            mine = moving & (versions["_batch"] == index).to_numpy()
            self._move_to_quarantine(
                int(index), versions.loc[mine, "_row"].to_numpy(), reasons[mine]
            )

    def _move_to_quarantine(self, index: int, rows: np.ndarray, reasons: np.ndarray) -> None:
        """Move valid rows of one batch to its quarantine, rendered back to text."""
        batch = self._batches[index]
        valid = from_parquet_bytes(batch.raw.read_bytes())
        leaving = np.zeros(len(valid), dtype=bool)
        leaving[rows] = True
        moved = _as_wire_text(valid.loc[leaving], self.schema)
        moved["reason"] = reasons
        moved["ingested_at"] = valid.loc[leaving, "ingested_at"].to_numpy()
        quarantined = (
            [from_parquet_bytes(batch.quarantine.read_bytes())] if batch.quarantine else []
        )
        quarantined.append(moved[list(self.schema.quarantine_columns)])
        staying = to_arrow_table(valid.loc[~leaving].reset_index(drop=True))
        batch.raw = self._park(table_to_parquet_bytes(staying))
        batch.keys = batch.keys[~leaving]
        batch.quarantine = self._park(to_parquet_bytes(pd.concat(quarantined, ignore_index=True)))
        batch.rows_written -= len(rows)
        batch.rows_quarantined += len(rows)
        for name in reasons:
            batch.reasons[str(name)] = batch.reasons.get(str(name), 0) + 1
        log.info(
            "%s %s: %d rows repeated across batches moved to quarantine",
            self.target.name,
            self.interval,
            len(rows),
        )


def _as_wire_text(valid: pd.DataFrame, schema: WireSchema) -> pd.DataFrame:
    """Valid rows back in their wire columns, as text the way the lake reads them."""
    text = {}
    for spec in schema.fields:
        values = valid[spec.output_name]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            rendered = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
        else:
            rendered = values.astype(object).map(str)
        text[spec.name] = rendered.where(values.notna(), None).to_numpy(dtype=object)
    frame = pd.DataFrame(text)
    frame["origin"] = valid["origin"].to_numpy(dtype=object)
    frame["parse_error"] = None
    frame["raw_record"] = None
    return frame
