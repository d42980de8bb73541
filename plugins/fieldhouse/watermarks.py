"""Incremental builds: what raw the lake was built from, and what changed since.

Raw data is partitioned by ingest hour (``dt=/hour=``), and an ingest or a
rerun replaces a partition's objects whole. A partition's *signature* is its
objects' names and ETags, so comparing signatures with those the lake recorded
at its last build finds every partition that is new, rewritten or gone, from
one object listing per dataset, however much history there is.

A transform run:

1. :func:`plan_build` lists raw and compares it with ``meta.built_partitions``;
2. :func:`stage_plan` writes the partitions to reload (``meta.pending_partitions``),
   the event hours whose rows they held (``meta.pending_hours``) and the keys of
   the facts they held (``meta.pending_keys``: instruments, orders, shipments,
   customers, disputed transactions) to the lake;
3. dbt builds with the var ``incremental`` (see ``dbt_project/macros/incremental.sql``);
4. :func:`record_build` records the new signatures and each dataset's watermark
   (``meta.watermarks``) and clears the pending tables, in one transaction.

If dbt fails, nothing is recorded: the next run plans the same partitions
again, and the event hours staged before are kept, so a retry recomputes all of
them. Reloading a partition twice is harmless; it replaces what it held. A full
build that fails leaves a marker, and the next build is a full one too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
    FINANCE_CHARGEBACKS,
    FINANCE_CUSTOMERS,
    FINANCE_TRANSACTION_LABELS,
    FINANCE_TRANSACTIONS,
    MARKET_INSTRUMENTS,
    MARKET_PRICE_BARS,
    MARKET_PRICE_LABELS,
    SENSOR_ANOMALY_LABELS,
    SENSOR_ANOMALY_WINDOWS,
    SENSOR_READINGS,
    Bucket,
    Dataset,
    Reference,
)

if TYPE_CHECKING:
    import duckdb

    from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

# The ingest manifests of the readings (one JSON object per ingested hour, under
# raw/_manifests/), tracked and reloaded like a dataset of their own.
SENSOR_MANIFESTS = Dataset(f"_manifests/{SENSOR_READINGS.source}", SENSOR_READINGS.entity)
# The raw datasets of each dbt domain (tag) whose watermarks the lake keeps.
DOMAIN_RAW: dict[str, tuple[Dataset, ...]] = {
    "sensors": (SENSOR_READINGS, SENSOR_ANOMALY_LABELS, SENSOR_ANOMALY_WINDOWS, SENSOR_MANIFESTS),
    "market": (MARKET_PRICE_BARS, MARKET_PRICE_LABELS),
    "commerce": (
        COMMERCE_ORDERS,
        COMMERCE_SHIPMENT_EVENTS,
        COMMERCE_SHIPMENTS,
        COMMERCE_DELIVERY_LABELS,
    ),
    "finance": (FINANCE_TRANSACTIONS, FINANCE_CHARGEBACKS, FINANCE_TRANSACTION_LABELS),
}
# Registries whose entries the incremental marts of a domain join: a customer's
# home country and device mark all of their transactions, an instrument's
# calendar every day of its series, so a registry that changed makes the build
# a full one. Each writer's object is a "partition".
DOMAIN_REGISTRIES: dict[str, tuple[Reference, ...]] = {
    "finance": (FINANCE_CUSTOMERS,),
    "market": (MARKET_INSTRUMENTS,),
}
# Datasets that incremental models reload a partition at a time (a landed table).
RELOADED = (
    SENSOR_READINGS,
    SENSOR_ANOMALY_LABELS,
    SENSOR_ANOMALY_WINDOWS,
    SENSOR_MANIFESTS,
    MARKET_PRICE_BARS,
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
    FINANCE_TRANSACTIONS,
    FINANCE_CHARGEBACKS,
)
# Datasets whose rows touch every hour of the marts built on them: a labelled
# window marks a device's hours long before and after it arrives. A partition
# of these that holds rows, or held rows before it was rewritten, makes the
# build a full one (the ingest writes an empty partition every hour).
REBUILD_ON_CHANGE = (SENSOR_ANOMALY_WINDOWS,)

SCHEMA = "meta"
# The dataset of the pending_partitions row a full build leaves until it is recorded.
FULL_BUILD_MARKER = "*"
_TABLES = {
    "built_partitions": (
        "dataset varchar, partition varchar, dt date, hour integer, signature varchar, "
        "rows bigint, built_at timestamptz"
    ),
    "pending_partitions": (
        "dataset varchar, partition varchar, dt date, hour integer, present boolean"
    ),
    "pending_hours": "source varchar, event_hour timestamptz",
    "pending_keys": "dataset varchar, source varchar, key varchar, ts timestamptz",
    "watermarks": (
        "dataset varchar, last_partition varchar, partitions_built bigint, "
        "partitions_in_last_build integer, last_build_at timestamptz, last_build_kind varchar"
    ),
}


@dataclass
class BuildPlan:
    """What a transform run builds: everything, or the partitions that changed."""

    domains: list[str]
    full_refresh: bool
    reason: str
    # the build leaves rows out (dbt vars as_of or sources)
    restricted: bool = False
    # dataset path -> partition ("dt=.../hour=..") -> signature, as raw holds them now
    current: dict[str, dict[str, str]] = field(default_factory=dict)
    # dataset path -> partitions new or rewritten since the last build
    changed: dict[str, list[str]] = field(default_factory=dict)
    # dataset path -> partitions the last build read that raw no longer holds
    removed: dict[str, list[str]] = field(default_factory=dict)
    # dataset path -> partition -> rows, where counted (REBUILD_ON_CHANGE datasets)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def vars(self) -> dict[str, Any]:
        """dbt vars of this plan: incremental models read the plan unless it is a full refresh."""
        return {} if self.full_refresh else {"incremental": True}

    def summary(self) -> str:
        if self.full_refresh:
            return f"full refresh ({self.reason})"
        parts = [
            f"{path}: {len(self.changed.get(path, []))} new or rewritten, "
            f"{len(self.removed.get(path, []))} gone"
            for path in sorted(self.current)
            if self.changed.get(path) or self.removed.get(path)
        ]
        return "incremental: " + ("; ".join(parts) if parts else "no raw partition changed")


def partition_signatures(store: ObjectStore, dataset: Dataset) -> dict[str, str]:
    """Each raw partition of ``dataset`` ("dt=.../hour=..") and the digest of its objects."""
    objects: dict[str, list[str]] = {}
    prefix = f"{dataset.path}/"
    for stored in store.list(Bucket.RAW, prefix):
        relative = stored.key.key[len(prefix) :]
        parts = relative.split("/")
        if len(parts) != 3 or not parts[0].startswith("dt=") or not parts[1].startswith("hour="):
            continue
        objects.setdefault(f"{parts[0]}/{parts[1]}", []).append(f"{parts[2]}:{stored.etag}")
    return {
        partition: hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:32]
        for partition, names in objects.items()
    }


def registry_signatures(store: ObjectStore, registry: Reference) -> dict[str, str]:
    """Each writer's entries in ``registry`` ("registered_by=...") and the digest of its objects."""
    objects: dict[str, list[str]] = {}
    for stored in store.list(Bucket.RAW, registry.prefix):
        relative = stored.key.key[len(registry.prefix) :]
        writer, _, name = relative.partition("/")
        if name:
            objects.setdefault(writer, []).append(f"{name}:{stored.etag}")
    return {
        writer: hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:32]
        for writer, names in objects.items()
    }


def plan_build(
    settings: StorageSettings,
    store: ObjectStore,
    domains: list[str],
    *,
    full_refresh: bool = False,
    restricted: bool = False,
) -> BuildPlan:
    """Compare raw with what the lake was built from; decide full or incremental.

    ``restricted``: the build leaves rows out (dbt vars as_of or sources), so
    it rebuilds everything, and so does the build after it.
    """
    from fieldhouse.lake import duckdb_connect

    current = {
        dataset.path: partition_signatures(store, dataset)
        for domain in domains
        for dataset in DOMAIN_RAW.get(domain, ())
    }
    registries = [r for domain in domains for r in DOMAIN_REGISTRIES.get(domain, ())]
    for registry in registries:
        current[registry.prefix.rstrip("/")] = registry_signatures(store, registry)
    with duckdb_connect(settings) as con:
        built, built_rows = _built_signatures(con)
        last_kinds = _last_build_kinds(con)
        unfinished = _unfinished_full_build(con)
        # A lake built before a dataset was landed (an upgrade) has no copy to
        # reload partitions into: its first build must read everything.
        landed = _landed_tables(con)
        unlanded = [d.path for d in RELOADED if d.path in current and d.path not in landed]
        changed = {
            path: sorted(p for p, sig in partitions.items() if built.get(path, {}).get(p) != sig)
            for path, partitions in current.items()
        }
        removed = {
            path: sorted(set(built.get(path, {})) - set(partitions))
            for path, partitions in current.items()
        }
        rows = {
            d.path: _partition_rows(con, d, changed[d.path])
            for d in REBUILD_ON_CHANGE
            if d.path in current
        }
    reason = ""
    if full_refresh:
        reason = "asked for"
    elif restricted:
        reason = "as_of or sources chosen: the marts leave rows out"
    elif not built:
        reason = "no earlier build recorded"
    elif unlanded:
        reason = f"no landed copy of {', '.join(unlanded)} yet"
    elif unfinished:
        reason = f"a full build ({unfinished}) did not finish"
    elif any(last_kinds.get(path) == "restricted" for path in current):
        reason = "the last build left rows out (as_of or sources)"
    else:
        rebuilt = [
            path
            for path, counted in rows.items()
            if any(counted.values())
            or any(built_rows.get(path, {}).get(p) for p in [*changed[path], *removed[path]])
        ]
        rebuilt += [
            path
            for path in (r.prefix.rstrip("/") for r in registries)
            if changed[path] or removed[path]
        ]
        if rebuilt:
            reason = f"{', '.join(rebuilt)} changed, which touches the marts' whole history"
    return BuildPlan(
        domains=list(domains),
        full_refresh=bool(reason),
        reason=reason or "incremental",
        restricted=restricted,
        current=current,
        changed=changed,
        removed=removed,
    )


def stage_plan(settings: StorageSettings, plan: BuildPlan) -> int:
    """Write the plan's pending partitions and event hours to the lake; returns the hours staged.

    Pending partitions are replaced by this plan's; pending hours are added to
    those a failed build left, so a retry recomputes them too.
    """
    from fieldhouse.lake import write_lake

    if plan.full_refresh:
        # Until this build is recorded, the marts may be half rebuilt (or left
        # restricted): the marker makes the next plan a full one too.
        def mark(con: duckdb.DuckDBPyConnection) -> int:
            _create_tables(con)
            con.execute(
                f"INSERT INTO lake.{SCHEMA}.pending_partitions VALUES (?, ?, NULL, NULL, false)",
                [FULL_BUILD_MARKER, plan.reason],
            )
            return 0

        return write_lake(settings, mark, what="mark a full build")
    reload = [d for d in RELOADED if d.path in plan.current]

    def stage(con: duckdb.DuckDBPyConnection) -> int:
        _create_tables(con)
        landed = _landed_tables(con)
        con.execute("BEGIN")
        con.execute(f"DELETE FROM lake.{SCHEMA}.pending_partitions")
        for dataset in reload:
            rows = [
                (dataset.path, p, *_partition_values(p), p in plan.current[dataset.path])
                for p in [*plan.changed[dataset.path], *plan.removed[dataset.path]]
            ]
            if rows:
                con.executemany(
                    f"INSERT INTO lake.{SCHEMA}.pending_partitions VALUES (?, ?, ?, ?, ?)", rows
                )
        before = con.execute(f"SELECT count(*) FROM lake.{SCHEMA}.pending_hours").fetchone()[0]
        # The event hours whose readings, or simulator labels, a reloaded
        # partition held before this build.
        for path, source in (
            (SENSOR_READINGS.path, "landed.source"),
            (SENSOR_ANOMALY_LABELS.path, "'simulator'"),
        ):
            if path in landed:
                con.execute(
                    f"""
                    INSERT INTO lake.{SCHEMA}.pending_hours
                    SELECT DISTINCT {source}, landed.event_hour
                    FROM {landed[path]} AS landed
                    SEMI JOIN lake.{SCHEMA}.pending_partitions AS pending
                        ON pending.dataset = '{path}'
                        AND landed.ingest_dt = pending.dt AND landed.ingest_hour = pending.hour
                    WHERE landed.event_hour IS NOT NULL
                    """
                )
        # The keys of the facts a reloaded partition held before this build:
        # the instruments (from their bar), the orders, the shipments (from
        # their scans and records), the customers (from their transaction)
        # and the disputed transactions.
        for path, key in (
            (MARKET_PRICE_BARS.path, "instrument, bar_start"),
            (COMMERCE_ORDERS.path, "order_id, ordered_at"),
            (COMMERCE_SHIPMENT_EVENTS.path, "shipment_id, event_ts"),
            (COMMERCE_SHIPMENTS.path, "shipment_id, NULL"),
            (FINANCE_TRANSACTIONS.path, "customer_id, ts"),
            (FINANCE_CHARGEBACKS.path, "transaction_id, NULL"),
        ):
            if path in landed:
                con.execute(
                    f"""
                    INSERT INTO lake.{SCHEMA}.pending_keys
                    SELECT DISTINCT '{path}', landed.source, {key}
                    FROM {landed[path]} AS landed
                    SEMI JOIN lake.{SCHEMA}.pending_partitions AS pending
                        ON pending.dataset = '{path}'
                        AND landed.ingest_dt = pending.dt AND landed.ingest_hour = pending.hour
                    """
                )
        # The hours of labels that changed (the simulator's own ground truth).
        label_partitions = plan.changed.get(SENSOR_ANOMALY_LABELS.path, [])
        if label_partitions:
            files = ", ".join(
                f"'s3://{Bucket.RAW}/{SENSOR_ANOMALY_LABELS.path}/{p}/*.parquet'"
                for p in label_partitions
            )
            con.execute(
                f"""
                INSERT INTO lake.{SCHEMA}.pending_hours
                SELECT DISTINCT 'simulator', make_timestamptz(
                    epoch_us(cast(event_ts AS timestamptz)) // 3600000000 * 3600000000
                )
                FROM read_parquet([{files}], union_by_name = true)
                WHERE event_ts IS NOT NULL
                """
            )
        after = con.execute(f"SELECT count(*) FROM lake.{SCHEMA}.pending_hours").fetchone()[0]
        con.execute("COMMIT")
        return int(after - before)

    staged = write_lake(settings, stage, what="stage the build plan")
    log.info("build plan staged: %s; %d changed event hours added", plan.summary(), staged)
    return staged


def record_build(settings: StorageSettings, plan: BuildPlan) -> list[dict[str, Any]]:
    """After a successful build: the new signatures, each dataset's watermark, no pending work.

    Returns the watermarks of the plan's datasets, as the log shows them.
    """
    from fieldhouse.lake import write_lake

    now = datetime.now(UTC)
    kind = "restricted" if plan.restricted else "full" if plan.full_refresh else "incremental"

    def record(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        _create_tables(con)
        con.execute("BEGIN")
        for path, partitions in plan.current.items():
            if plan.full_refresh:
                con.execute(f"DELETE FROM lake.{SCHEMA}.built_partitions WHERE dataset = ?", [path])
                written = partitions
            else:
                stale = [*plan.changed[path], *plan.removed[path]]
                if stale:
                    con.execute(
                        f"DELETE FROM lake.{SCHEMA}.built_partitions "
                        "WHERE dataset = ? AND list_contains(?, partition)",
                        [path, stale],
                    )
                written = {p: partitions[p] for p in plan.changed[path]}
            if written:
                counted = plan.rows.get(path, {})
                con.executemany(
                    f"INSERT INTO lake.{SCHEMA}.built_partitions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (path, p, *_partition_values(p), sig, counted.get(p), now)
                        for p, sig in written.items()
                    ],
                )
            reloaded = len(partitions) if plan.full_refresh else len(plan.changed[path])
            con.execute(f"DELETE FROM lake.{SCHEMA}.watermarks WHERE dataset = ?", [path])
            con.execute(
                f"""
                INSERT INTO lake.{SCHEMA}.watermarks
                SELECT ?, max(partition), count(*), ?, ?, ?
                FROM lake.{SCHEMA}.built_partitions WHERE dataset = ?
                """,
                [path, reloaded, now, kind, path],
            )
        con.execute(f"DELETE FROM lake.{SCHEMA}.pending_partitions")
        con.execute(f"DELETE FROM lake.{SCHEMA}.pending_hours")
        con.execute(f"DELETE FROM lake.{SCHEMA}.pending_keys")
        con.execute("COMMIT")
        return watermarks(con, list(plan.current))

    marks = write_lake(settings, record, what="record the build's watermarks")
    for mark in marks:
        log.info(
            "watermark %s: built up to %s (%d partitions; %d read by this %s build)",
            mark["dataset"],
            mark["last_partition"],
            mark["partitions_built"],
            mark["partitions_in_last_build"],
            mark["last_build_kind"],
        )
    return marks


def watermarks(con: duckdb.DuckDBPyConnection, datasets: list[str] | None = None) -> list[dict]:
    """Where the lake stands per raw dataset (``meta.watermarks``), by dataset."""
    if not _has_table(con, "watermarks"):
        return []
    frame = con.execute(f"SELECT * FROM lake.{SCHEMA}.watermarks ORDER BY dataset").df()
    rows = frame.to_dict("records")
    return [r for r in rows if datasets is None or r["dataset"] in datasets]


def _partition_values(partition: str) -> tuple[str | None, int | None]:
    """The dt and hour of a raw partition; none for a registry writer's entries."""
    if not partition.startswith("dt="):
        return None, None
    dt, hour = partition.split("/")
    return dt.removeprefix("dt="), int(hour.removeprefix("hour="))


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{SCHEMA}")
    for name, columns in _TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS lake.{SCHEMA}.{name} ({columns})")


def _has_table(con: duckdb.DuckDBPyConnection, name: str, schema: str = SCHEMA) -> bool:
    return bool(
        con.execute(
            # A table, not a view: a model that was a view before it was landed
            # has no landed copy yet.
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'lake' "
            "AND table_schema = ? AND table_name = ? AND table_type = 'BASE TABLE'",
            [schema, name],
        ).fetchone()[0]
    )


def _built_signatures(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, int | None]]]:
    """The signature and, where counted, the rows of every partition built, by dataset."""
    if not _has_table(con, "built_partitions"):
        return {}, {}
    built: dict[str, dict[str, str]] = {}
    rows: dict[str, dict[str, int | None]] = {}
    for dataset, partition, signature, count in con.execute(
        f"SELECT dataset, partition, signature, rows FROM lake.{SCHEMA}.built_partitions"
    ).fetchall():
        built.setdefault(dataset, {})[partition] = signature
        rows.setdefault(dataset, {})[partition] = count
    return built, rows


def _partition_rows(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, partitions: list[str]
) -> dict[str, int]:
    """Rows of each partition, from the Parquet footers alone."""
    if not partitions:
        return {}
    files = ", ".join(f"'s3://{Bucket.RAW}/{dataset.path}/{p}/*.parquet'" for p in partitions)
    counts = dict(
        con.execute(
            f"""
            SELECT regexp_extract(file_name, 'dt=[^/]+/hour=[0-9]+'), sum(num_rows)
            FROM parquet_file_metadata([{files}]) GROUP BY 1
            """
        ).fetchall()
    )
    return {p: int(counts.get(p, 0)) for p in partitions}


def _unfinished_full_build(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why a full build was started that was never recorded, if one was."""
    if not _has_table(con, "pending_partitions"):
        return None
    row = con.execute(
        f"SELECT partition FROM lake.{SCHEMA}.pending_partitions WHERE dataset = ? LIMIT 1",
        [FULL_BUILD_MARKER],
    ).fetchone()
    return row[0] if row else None


def _last_build_kinds(con: duckdb.DuckDBPyConnection) -> Mapping[str, str]:
    if not _has_table(con, "watermarks"):
        return {}
    return dict(
        con.execute(f"SELECT dataset, last_build_kind FROM lake.{SCHEMA}.watermarks").fetchall()
    )


def _landed_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The landed tables that exist, by the dataset they reload."""
    tables = {
        SENSOR_READINGS.path: ("staging", "stg_sensors__readings_landed"),
        SENSOR_ANOMALY_LABELS.path: ("staging", "stg_sensors__anomaly_labels_landed"),
        SENSOR_ANOMALY_WINDOWS.path: ("staging", "stg_sensors__anomaly_windows_landed"),
        SENSOR_MANIFESTS.path: ("staging", "stg_sensors__ingest_runs"),
        MARKET_PRICE_BARS.path: ("staging", "stg_market__price_bars_landed"),
        COMMERCE_ORDERS.path: ("staging", "stg_commerce__orders_landed"),
        COMMERCE_SHIPMENT_EVENTS.path: ("staging", "stg_commerce__shipment_events_landed"),
        COMMERCE_SHIPMENTS.path: ("staging", "stg_commerce__shipments_landed"),
        FINANCE_TRANSACTIONS.path: ("staging", "stg_finance__transactions_landed"),
        FINANCE_CHARGEBACKS.path: ("staging", "stg_finance__chargebacks_landed"),
    }
    return {
        path: f"lake.{schema}.{name}"
        for path, (schema, name) in tables.items()
        if _has_table(con, name, schema)
    }
