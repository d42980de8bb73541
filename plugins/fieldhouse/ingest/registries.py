"""Registries (devices, instruments, customers): merged from every writer, never replaced.

A registry is the union of what each writer registered: the simulated fleet, a
registry file a user dropped, a feed that registers unknown ids on first sight.
Each writer owns one object (:meth:`fieldhouse.storage.keys.Reference.registered`),
so concurrent writers never overwrite each other and a retracted file takes its
registrations with it. Reading keeps one row per id: the latest registration.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from fieldhouse.ingest.claims import why_not_claimed
from fieldhouse.storage.keys import (
    FINANCE_CUSTOMERS,
    MARKET_INSTRUMENTS,
    SENSOR_DEVICES,
    Bucket,
    LandingArea,
    Reference,
    registry_slug,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes, to_parquet_bytes

log = logging.getLogger(__name__)

# Users register their own devices by dropping CSV files here (columns: device_id,
# device_kind, and optionally site, latitude, longitude, installed_at).
DEVICE_REGISTRY_LANDING = LandingArea("sensor_devices")


@dataclass(frozen=True)
class Registry:
    """One registry: where it lives, its id column and its columns."""

    reference: Reference
    id_column: str
    columns: tuple[str, ...]


DEVICES = Registry(
    SENSOR_DEVICES,
    "device_id",
    ("device_id", "device_kind", "site", "latitude", "longitude", "installed_at"),
)
INSTRUMENTS = Registry(
    MARKET_INSTRUMENTS,
    "instrument_id",
    ("instrument_id", "name", "asset_class", "currency", "calendar", "has_volume"),
)
CUSTOMERS = Registry(
    FINANCE_CUSTOMERS, "customer_id", ("customer_id", "home_country", "currency", "device_id")
)
REGISTRIES = {"devices": DEVICES, "instruments": INSTRUMENTS, "customers": CUSTOMERS}


def register(store: ObjectStore, registry: Registry, writer: str, entries: pd.DataFrame) -> int:
    """Replace what ``writer`` (an origin such as ``landing:devices.csv``) registered."""
    frame = entries.reset_index(drop=True).reindex(columns=list(registry.columns))
    key = registry.reference.registered(registry_slug(writer))
    if store.exists(key) and _same_entries(from_parquet_bytes(store.get_bytes(key)), frame):
        # Nothing changed: keep the object, and with it when these were registered.
        return len(frame)
    frame["registered_by"] = writer
    frame["registered_at"] = pd.Timestamp(datetime.now(UTC)).as_unit("us")
    store.put_bytes(key, to_parquet_bytes(frame))
    log.info(
        "%s: %d entries registered by %s -> %s", registry.id_column, len(frame), writer, key.uri
    )
    return len(frame)


def _same_entries(stored: pd.DataFrame, entries: pd.DataFrame) -> bool:
    columns = list(entries.columns)
    if list(stored.columns[: len(columns)]) != columns or len(stored) != len(entries):
        return False
    left = stored[columns].astype(object).where(stored[columns].notna(), None)
    right = entries.astype(object).where(entries.notna(), None)
    return left.astype(str).equals(right.astype(str))


def load(store: ObjectStore, registry: Registry) -> pd.DataFrame:
    """Every writer's entries, one row per id: the latest registration wins."""
    frames = [
        from_parquet_bytes(store.get_bytes(obj.key))
        for obj in store.list(Bucket.RAW, registry.reference.prefix)
        if obj.key.key.endswith(".parquet")
    ]
    columns = [*registry.columns, "registered_by", "registered_at"]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    merged = pd.concat([f.reindex(columns=columns) for f in frames], ignore_index=True)
    merged = merged.sort_values(["registered_at", "registered_by"], kind="stable")
    return merged.drop_duplicates(registry.id_column, keep="last").reset_index(drop=True)


def register_unseen(
    store: ObjectStore,
    registry: Registry,
    writer: str,
    ids: pd.Series,
    defaults: dict,
) -> int:
    """Register on first sight: ids the registry lacks, with the contract's attributes.

    Added to what ``writer`` registered before (a big file registers batch by
    batch), so a writer's entries only grow until the file is retracted.
    """
    known = set(load(store, registry)[registry.id_column].dropna())
    unseen = sorted(set(ids.dropna()) - known)
    if not unseen:
        return 0
    entries = pd.DataFrame({registry.id_column: unseen})
    for column, value in defaults.items():
        entries[column] = value
    key = registry.reference.registered(registry_slug(writer))
    if store.exists(key):
        earlier = from_parquet_bytes(store.get_bytes(key))[list(registry.columns)]
        entries = pd.concat([earlier, entries.reindex(columns=list(registry.columns))])
    register(store, registry, writer, entries)
    return len(unseen)


def register_device_files(store: ObjectStore, known_kinds: set[str]) -> dict[str, str]:
    """Register every device file in ``landing/sensor_devices/``; returns files refused.

    Names are taken as landing files' are (:func:`fieldhouse.ingest.claims.why_not_claimed`):
    the ones left alone are named in a warning.

    A file that cannot be used (missing columns, a device kind the catalog lacks)
    is moved to quarantine with its reason; it never stops other files or feeds.
    """
    refused: dict[str, str] = {}
    area = DEVICE_REGISTRY_LANDING
    for obj in store.list(Bucket.LANDING, area.incoming_prefix, recursive=False):
        name = obj.key.key.removeprefix(area.incoming_prefix)
        if not name or name.endswith("/"):
            continue
        reason = why_not_claimed(name)
        if reason is not None:
            log.warning("not registered: %r: %s", obj.key.uri, reason)
            continue
        try:
            if obj.size > MAX_REGISTRY_FILE_BYTES:
                raise ValueError(
                    f"too_large: {obj.size} bytes; a device registry file holds at most "
                    f"{MAX_REGISTRY_FILE_BYTES} (split it)"
                )
            entries = _read_device_file(store.get_bytes(obj.key), known_kinds)
        except ValueError as error:
            target = area.refused(name)
            store.move(obj.key, target)
            store.put_json(area.refused_reason(name), {"file": obj.key.uri, "reason": str(error)})
            refused[obj.key.uri] = str(error)
            log.warning(
                "refused device registry %s: %s (moved to %s)", obj.key.uri, error, target.uri
            )
            continue
        register(store, DEVICES, f"landing:{name}", entries)
    return refused


MAX_REGISTRY_FILE_BYTES = 64 << 20
"""A device registry file is read whole: bigger ones are refused, not read."""


def _read_device_file(body: bytes, known_kinds: set[str]) -> pd.DataFrame:
    """One user-provided registry CSV, typed like the simulator's registry.

    Anything wrong with the file is a ``ValueError`` naming what: the file is
    refused, never retried.
    """
    try:
        frame = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig", dtype=str)
    except Exception as error:  # the parser's errors are many; each refuses this file only
        raise ValueError(f"unreadable: {type(error).__name__}: {error}") from error
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = {"device_id", "device_kind"} - set(frame.columns)
    if missing:
        raise ValueError(f"missing_columns: {sorted(missing)}")
    unknown = set(frame["device_kind"].dropna().str.strip()) - known_kinds
    if unknown:
        raise ValueError(
            f"unknown_device_kind: {sorted(unknown)}; add them to a catalog file "
            f"(contracts/catalogs/) or use one of {sorted(known_kinds)}"
        )
    empty = pd.Series(None, index=frame.index, dtype=object)
    return pd.DataFrame(
        {
            "device_id": frame["device_id"].str.strip(),
            "device_kind": frame["device_kind"].str.strip(),
            "site": frame.get("site", empty),
            "latitude": pd.to_numeric(frame.get("latitude", empty), errors="coerce"),
            "longitude": pd.to_numeric(frame.get("longitude", empty), errors="coerce"),
            "installed_at": pd.to_datetime(
                frame.get("installed_at", empty), errors="coerce"
            ).dt.date,
        }
    )
