"""Sensor ingestion: fleet simulator and landing files, validated, into raw/ partitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from fieldhouse.ingest.claims import read_claimed_files
from fieldhouse.ingest.partitions import Manifest, write_partition, write_side_partition
from fieldhouse.storage.keys import (
    SENSOR_ANOMALY_LABELS,
    SENSOR_DEVICES,
    SENSOR_LANDING,
    SENSOR_READINGS,
    Bucket,
    Interval,
    LandingArea,
    ObjectKey,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes, to_parquet_bytes

log = logging.getLogger(__name__)

# Users register their own devices by dropping CSV files here (same columns as
# the registry: device_id, device_kind, site, latitude, longitude, installed_at).
DEVICE_REGISTRY_LANDING = LandingArea("sensor_devices")


@dataclass(frozen=True)
class SensorRunOptions:
    """What a person triggering ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    fleet_size: int = 50
    seed: int = 7
    include_landing: bool = True
    # A calibration error (°C) the simulator adds to every environmental sensor:
    # a drill for the drift checks.
    calibration_shift_c: float = 0.0


def register_devices(store: ObjectStore, options: SensorRunOptions) -> pd.DataFrame:
    """Write the device registry: the simulated fleet plus devices users registered."""
    from fieldhouse.sources.fleet import build_fleet, devices_frame

    frames = []
    if options.simulate:
        frames.append(devices_frame(build_fleet(options.fleet_size, options.seed)))
    for obj in store.list(Bucket.LANDING, DEVICE_REGISTRY_LANDING.incoming_prefix):
        frames.append(_read_registry_file(store, obj.key))
    columns = ["device_id", "device_kind", "site", "latitude", "longitude", "installed_at"]
    registry = (
        pd.concat(frames, ignore_index=True)[columns].drop_duplicates("device_id", keep="last")
        if frames
        else pd.DataFrame(columns=columns)
    )
    store.put_bytes(SENSOR_DEVICES.key, to_parquet_bytes(registry))
    log.info("device registry: %d devices -> %s", len(registry), SENSOR_DEVICES.key.uri)
    return registry


def _read_registry_file(store: ObjectStore, key: ObjectKey) -> pd.DataFrame:
    """One user-provided registry CSV, typed like the simulator's registry."""
    import io

    from fieldhouse.quality import KIND_METRICS

    frame = pd.read_csv(io.BytesIO(store.get_bytes(key)), encoding="utf-8-sig", dtype=str)
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = {"device_id", "device_kind"} - set(frame.columns)
    if missing:
        raise ValueError(f"{key.uri}: device registry file lacks columns {sorted(missing)}")
    unknown = set(frame["device_kind"]) - set(KIND_METRICS)
    if unknown:
        raise ValueError(
            f"{key.uri}: unknown device_kind {sorted(unknown)}; "
            f"expected one of {sorted(KIND_METRICS)}"
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


def load_registry(store: ObjectStore) -> pd.DataFrame:
    return from_parquet_bytes(store.get_bytes(SENSOR_DEVICES.key))


def ingest_sensor_hour(
    store: ObjectStore,
    interval: Interval,
    registry: pd.DataFrame,
    options: SensorRunOptions,
    *,
    claim_landing: bool = True,
) -> Manifest:
    """Ingest one hour: simulate and/or read landing files, validate, write.

    ``claim_landing`` says whether this hour takes newly dropped files; files it
    claimed on an earlier run are always read again, so reruns reproduce it.
    """
    from fieldhouse.quality import SENSOR_SCHEMA, empty_wire_frame, validate_readings

    wires: list[pd.DataFrame] = []
    if options.simulate:
        from fieldhouse.sources.fleet import build_fleet, simulate_interval

        shift = (
            {"environmental": options.calibration_shift_c} if options.calibration_shift_c else None
        )
        batch = simulate_interval(
            build_fleet(options.fleet_size, options.seed),
            interval,
            options.seed,
            calibration_shift=shift,
        )
        wires.append(batch.readings)
        write_side_partition(store, SENSOR_ANOMALY_LABELS, interval, batch.labels)

    files: list[str] = []
    rejected: dict[str, str] = {}
    if options.include_landing:
        landing = read_claimed_files(
            store, SENSOR_LANDING, interval, SENSOR_SCHEMA, claim_new=claim_landing
        )
        wires.extend(landing.wires)
        files, rejected = landing.files, landing.rejected

    wire = pd.concat(wires, ignore_index=True) if wires else empty_wire_frame()
    result = validate_readings(wire, registry, interval, ingested_at=interval.end)
    return write_partition(
        store,
        SENSOR_READINGS,
        interval,
        rows_in=len(wire),
        valid=result.valid,
        quarantined=result.quarantined,
        reasons=result.reasons,
        files=files,
        files_rejected=rejected,
    )


def ingest_sensors(
    store: ObjectStore, interval: Interval, options: SensorRunOptions | None = None
) -> list[Manifest]:
    """Ingest every hour of ``interval``; landing files are claimed by its last hour."""
    options = options or SensorRunOptions()
    registry = register_devices(store, options)
    hours = interval.hours()
    return [
        ingest_sensor_hour(store, hour, registry, options, claim_landing=hour == hours[-1])
        for hour in hours
    ]
