"""Housekeeping that keeps the platform's storage flat over years of hourly runs.

Hourly ingestion and incremental dbt builds leave many small Parquet files in the
lake, a row per task and run in Airflow's metadata database, and every landing
file they claimed under ``landing/_processed/``. The ``maintain_lake`` DAG runs
these steps daily; each returns a few counts and logs what it removed. Snapshot
expiry, the step between compaction and the rest, is
:func:`fieldhouse.lake.expire_snapshots`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fieldhouse.config import ConfigError, StorageSettings
from fieldhouse.storage.keys import (
    Bucket,
    Interval,
    LandingArea,
    LandingState,
    ObjectKey,
    parse_landing_key,
)

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

HISTORY_DAYS_VARIABLE = "FIELDHOUSE_HISTORY_DAYS"
PROCESSED_DAYS_VARIABLE = "FIELDHOUSE_PROCESSED_DAYS"
DEFAULT_HISTORY_DAYS = 30
DEFAULT_PROCESSED_DAYS = 30

# What `airflow db clean` prints for each table it looks at.
_CHECKING_TABLE = re.compile(r"^Checking table (?P<table>\S+)")
_ROWS_FOUND = re.compile(r"^Found (?P<rows>\d+) rows meeting deletion criteria")


def days_setting(variable: str, default: int) -> int:
    """A retention in whole days from the environment (at least 1), else ``default``."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        days = int(value)
    except ValueError:
        raise ConfigError(f"{variable} is a whole number of days, got {value!r}") from None
    if days < 1:
        raise ConfigError(f"{variable} is at least 1 day, got {days}")
    return days


def compact_lake(
    settings: StorageSettings, *, max_compacted_files: int | None = None
) -> dict[str, int]:
    """Merge the lake's small adjacent Parquet files (``ducklake_merge_adjacent_files``).

    Each insert writes its own file, so an incremental mart grows by a few small
    files per run. Merging keeps every snapshot readable (time travel and change
    feeds see the same rows); the replaced files stay until no query can still be
    reading them, and :func:`fieldhouse.lake.expire_snapshots` deletes them.
    ``max_compacted_files`` bounds the files merged per table in one call, for
    memory (compaction reads whole files); what is left over is merged next time.
    """

    from fieldhouse.lake import LAKE_ALIAS, write_lake

    def compact(con: duckdb.DuckDBPyConnection) -> tuple[tuple, tuple, list]:
        before = _data_files(con)
        options = ""
        if max_compacted_files is not None:
            options = f", max_compacted_files => {int(max_compacted_files)}"
        merged = con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}'{options})")
        merged = merged.fetchall()
        return before, _data_files(con), merged

    (files_before, bytes_before), (files_after, bytes_after), merged = write_lake(
        settings, compact, what="compaction"
    )
    for schema, table, processed, created in merged:
        log.info("compacted %s.%s: %d files merged into %d", schema, table, processed, created)
    log.info(
        "lake data files: %d (%d bytes) -> %d (%d bytes); %d tables compacted",
        files_before,
        bytes_before,
        files_after,
        bytes_after,
        len({(schema, table) for schema, table, *_ in merged}),
    )
    return {
        "files_before": files_before,
        "files_after": files_after,
        "files_merged": sum(row[2] for row in merged),
        "files_created": sum(row[3] for row in merged),
    }


def _data_files(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Data files the lake's current snapshot reads, and their bytes."""
    from fieldhouse.lake import LAKE_ALIAS

    files, size = con.execute(
        "select coalesce(sum(file_count), 0), coalesce(sum(file_size_bytes), 0) "
        f"from ducklake_table_info('{LAKE_ALIAS}')"
    ).fetchone()
    return int(files), int(size)


def clean_airflow_history(days: int, *, now: datetime | None = None) -> dict[str, int]:
    """Delete Airflow's metadata rows (runs, task instances, logs, ...) older than ``days``.

    Runs ``airflow db clean`` without archive tables (an archive would keep the
    rows it deletes). Airflow keeps each DAG's latest scheduled run whatever its
    age, so schedules carry on. The database is the one Airflow's configuration
    names, as for any ``airflow`` command on this machine.

    Raises:
        RuntimeError: the command failed, or a table could not be cleaned.
    """
    if days < 1:
        raise ValueError(f"history is kept for at least 1 day, got {days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    argv = [
        _airflow_executable(),
        "db",
        "clean",
        "--clean-before-timestamp",
        cutoff.isoformat(),
        "--yes",
        "--skip-archive",
        "--error-on-cleanup-failure",
    ]
    log.info("airflow db clean: removing history before %s", cutoff.isoformat())
    done = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    lines = [line.rstrip() for line in done.stdout.splitlines() if line.strip()]
    # Its per-table lines are summed up below; the whole output is there when asked for.
    for line in lines:
        log.debug("airflow db clean: %s", line)
    if done.returncode != 0:
        tail = "\n".join(lines[-20:])
        raise RuntimeError(f"airflow db clean exited {done.returncode}:\n{tail}")
    deleted = _rows_deleted(lines)
    cleaned = {table: rows for table, rows in deleted.items() if rows}
    log.info(
        "Airflow history before %s: %d rows deleted (%s)",
        cutoff.isoformat(),
        sum(cleaned.values()),
        ", ".join(f"{table} {rows}" for table, rows in sorted(cleaned.items())) or "none",
    )
    return {
        "rows_deleted": sum(cleaned.values()),
        "tables_cleaned": len(cleaned),
        "tables_checked": len(deleted),
    }


def _mark_pruned(store, area: LandingArea, hour: Interval, names: list[str], now: datetime) -> None:
    """Leave ``_pruned.json`` in the hour's claim, so a rerun of it is refused, not lossy."""
    from fieldhouse.ingest.claims import PRUNED_MARKER

    marker = ObjectKey(Bucket.LANDING, area.claimed_prefix(hour) + PRUNED_MARKER)
    earlier = json.loads(store.get_bytes(marker)) if store.exists(marker) else {}
    record = {
        "pruned_at": now.isoformat(),
        "files": sorted({*earlier.get("files", []), *names}),
        "why": "deleted by landing retention; the raw partition holds their rows",
    }
    store.put_bytes(marker, json.dumps(record, indent=2).encode())


def _airflow_executable() -> str:
    """The ``airflow`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("airflow")
    if beside.is_file():
        return str(beside)
    found = shutil.which("airflow")
    if found is None:
        raise FileNotFoundError(f"no airflow executable beside {sys.executable} or on PATH")
    return found


def _rows_deleted(lines: list[str]) -> dict[str, int]:
    """Rows found for deletion per table, from ``airflow db clean``'s output."""
    deleted: dict[str, int] = {}
    table = None
    for line in lines:
        if checking := _CHECKING_TABLE.match(line):
            table = checking["table"]
        elif (found := _ROWS_FOUND.match(line)) and table is not None:
            deleted[table] = int(found["rows"])
            table = None
    return deleted


def delete_processed_landing(
    settings: StorageSettings, max_age: timedelta, *, now: datetime | None = None
) -> dict[str, int]:
    """Delete claimed landing files (``_processed/``) stored longer ago than ``max_age``.

    A claimed file is the input a rerun of its hour reads again; past ``max_age``
    that hour's raw partition is what is kept. The age is the object's time in the
    store (when it was claimed), not the hour it was claimed for, so a backfill of
    an old hour keeps its files for ``max_age`` too. Files waiting to be claimed
    and retracted files are left alone. Each hour that lost files gets
    ``_pruned.json`` in its claim: a rerun of it is then refused
    (:class:`fieldhouse.ingest.claims.ClaimsPruned`) rather than rewriting its raw
    partition without their rows. ``settings``: the ingest role's account.
    """
    from fieldhouse.storage.objects import ObjectStore

    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    cutoff = now - max_age
    store = ObjectStore(settings)
    files: Counter[LandingArea] = Counter()
    sizes: Counter[LandingArea] = Counter()
    pruned: dict[tuple[LandingArea, Interval], list[str]] = {}
    kept = 0
    # Listed through the client: the age is the object's last-modified time.
    for obj in store.client.list_objects(Bucket.LANDING, recursive=True):
        found = parse_landing_key(obj.object_name)
        if found is None or found.state is not LandingState.CLAIMED:
            continue
        if found.name.startswith("_"):
            continue  # the platform's own marker (PRUNED_MARKER), not a claimed file
        if obj.last_modified is None or obj.last_modified >= cutoff:
            kept += 1
            continue
        store.delete(found.key)
        pruned.setdefault((found.area, found.hour), []).append(found.name)
        files[found.area] += 1
        sizes[found.area] += obj.size or 0
    for (area, hour), names in pruned.items():
        _mark_pruned(store, area, hour, names, now)
    for area in sorted(files, key=lambda a: a.source):
        log.info(
            "landing/%s: %d files (%d bytes) stored before %s deleted",
            area.claims_prefix,
            files[area],
            sizes[area],
            cutoff.isoformat(),
        )
    deleted, size = sum(files.values()), sum(sizes.values())
    log.info("processed landing files: %d deleted (%d bytes), %d newer kept", deleted, size, kept)
    return {"files_deleted": deleted, "bytes_deleted": size, "files_kept": kept}
