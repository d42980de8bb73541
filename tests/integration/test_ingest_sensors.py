"""Sensor ingestion against a real MinIO server: objects, reruns, quarantine, landing."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.ingest import registries
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions, register_devices
from fieldhouse.storage.keys import (
    SENSOR_ANOMALY_LABELS,
    SENSOR_DEVICES,
    SENSOR_LANDING,
    SENSOR_READINGS,
    Bucket,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.integration.objects import object_etags, read_all

pytestmark = pytest.mark.integration

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))
SMALL = SensorRunOptions(fleet_size=12, seed=3)


def _ingest(store: ObjectStore, interval: Interval, options: SensorRunOptions) -> list[Manifest]:
    """Every hour of the sensors' one feed, readings."""
    return ingest_source(store, SENSORS, interval, options)["readings"]


def _object_etags(store: ObjectStore) -> dict[str, str]:
    """Every object with its ETag; registry objects by key only, as each run re-registers."""
    registry = f"s3://{Bucket.RAW}/{SENSOR_DEVICES.prefix}"
    return {
        uri: "" if uri.startswith(registry) else etag for uri, etag in object_etags(store).items()
    }


def test_one_hour_writes_partitions_that_reconcile(store: ObjectStore) -> None:
    [manifest] = _ingest(store, HOUR, SMALL)

    raw = from_parquet_bytes(store.get_bytes(SENSOR_READINGS.raw(HOUR)))
    quarantined = from_parquet_bytes(store.get_bytes(SENSOR_READINGS.quarantine(HOUR)))
    stored = store.get_json(SENSOR_READINGS.manifest(HOUR))

    assert manifest.rows_in > 500
    assert len(raw) == manifest.rows_written == stored["rows_written"]
    assert len(quarantined) == manifest.rows_quarantined == stored["rows_quarantined"] > 0
    assert stored["rows_in"] == len(raw) + len(quarantined)
    assert stored["reconciles"] is True
    # Every quarantined row says why, and the reasons add up.
    assert quarantined["reason"].notna().all()
    assert quarantined["reason"].value_counts().to_dict() == stored["reasons"]
    # The simulator's known faults show up as their reasons.
    assert {"duplicate_event_id", "bad_value"} <= set(stored["reasons"])
    assert raw["event_id"].is_unique
    assert str(raw["event_ts"].dtype) == "datetime64[us, UTC]"
    assert store.exists(SENSOR_ANOMALY_LABELS.raw(HOUR))
    devices = registries.load(store, registries.DEVICES)
    assert len(devices) == SMALL.fleet_size
    assert set(devices["registered_by"]) == {"simulator:fleet-n12-s3"}


def test_rerun_replaces_the_interval_with_identical_objects(store: ObjectStore) -> None:
    first = _ingest(store, HOUR, SMALL)
    before = _object_etags(store)
    second = _ingest(store, HOUR, SMALL)

    assert _object_etags(store) == before  # same keys, byte-identical bodies (ETags)
    assert [m.rows_in for m in second] == [m.rows_in for m in first]
    assert [m.reasons for m in second] == [m.reasons for m in first]


def test_a_multi_hour_interval_writes_one_partition_per_hour(store: ObjectStore) -> None:
    day_part = Interval(HOUR.start, HOUR.start.replace(hour=16))
    manifests = _ingest(store, day_part, SMALL)
    keys = sorted(o.key.key for o in store.list(Bucket.RAW, SENSOR_READINGS.path + "/"))
    assert keys == [SENSOR_READINGS.raw(h).key for h in day_part.hours()]
    assert all(m.reconciles for m in manifests)
    # Late readings arrive in the next hour: each event id is stored once overall.
    raw = pd.concat(
        from_parquet_bytes(store.get_bytes(SENSOR_READINGS.raw(h))) for h in day_part.hours()
    )
    assert raw["event_id"].is_unique


ODD_CSV = (
    "\ufeffevent_id,Device_ID ,ts,metric,value\r\n"
    "e-1,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5\r\n"
    "\r\n"
    'e-2,env-0001,2026-11-22T13:06:00Z,temperature_c,"22,5"\r\n'
    "e-3,ghost-0001,2026-11-22T13:07:00Z,temperature_c,20\r\n"
    "e-4,env-0001,2031-01-01T00:00:00Z,temperature_c,20\r\n"
    "e-5,env-0001,2026-11-22T13:08:00Z,temperature_c,400\r\n"
    "e-1,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5\r\n"
).encode()
ODD_JSONL = (
    b'{"event_id": "j-1", "device_id": "env-0001", "ts": "2026-11-22T13:10:00+01:00",'
    b' "metric": "humidity_pct", "value": 55}\n'
    b"\n"
    b'{"event_id": "j-2", "device_id": "env-0001", "ts": oops}\n'
)


def test_landing_files_go_in_once_with_bad_rows_quarantined(store: ObjectStore) -> None:
    only_files = SensorRunOptions(fleet_size=12, seed=3, simulate=False)
    # Nothing simulated, so no fleet is registered: register a user's device.
    store.put_bytes(SENSOR_LANDING.incoming("gw-1.csv"), ODD_CSV)
    store.put_bytes(SENSOR_LANDING.incoming("gw-2.jsonl"), ODD_JSONL)
    store.put_bytes(SENSOR_LANDING.incoming("notes.xlsx"), b"PK\x03\x04 not a sensor file")
    store.put_bytes(
        registries.DEVICE_REGISTRY_LANDING.incoming("devices.csv"),
        b"device_id,device_kind,site\nenv-0001,environmental,lab\n",
    )

    [manifest] = _ingest(store, HOUR, only_files)

    # Each file is validated as a batch of its own: the hour is every part of it.
    raw = read_all(store, Bucket.RAW, SENSOR_READINGS.prefix(HOUR))
    quarantined = read_all(store, Bucket.QUARANTINE, SENSOR_READINGS.prefix(HOUR))
    assert sorted(raw["event_id"]) == ["e-1", "j-1"]
    assert dict(zip(quarantined["event_id"].fillna("?"), quarantined["reason"], strict=True)) == {
        "e-2": "bad_value",
        "e-3": "unknown_device",
        "e-4": "future_timestamp",
        "e-5": "out_of_range",
        "e-1": "duplicate_event_id",
        "?": "malformed_json",
    }
    assert manifest.rows_in == 8 == len(raw) + len(quarantined)
    # The unreadable file is kept whole in quarantine, with its reason in the manifest.
    assert store.exists(SENSOR_LANDING.rejected(HOUR, "notes.xlsx"))
    [(rejected_file, reason)] = manifest.files_rejected.items()
    assert rejected_file.endswith("/notes.xlsx")
    assert reason.split(":")[0] == "unsupported_format"
    # Claimed files left the drop folder, so the next hour does not see them...
    assert store.list(Bucket.LANDING, SENSOR_LANDING.incoming_prefix, recursive=False) == []
    next_hour = Interval(HOUR.end, HOUR.end.replace(hour=15))
    [later] = _ingest(store, next_hour, only_files)
    assert later.rows_in == 0
    # ...but a rerun of their own hour reads them again, with the same result.
    [again] = _ingest(store, HOUR, only_files)
    assert (again.rows_in, again.reasons) == (manifest.rows_in, manifest.reasons)


def test_a_run_without_simulation_keeps_the_fleet_and_sets_bad_device_files_aside(
    store: ObjectStore,
) -> None:
    _ingest(store, HOUR, SMALL)
    fleet = set(registries.load(store, registries.DEVICES)["device_id"])
    area = registries.DEVICE_REGISTRY_LANDING
    store.put_bytes(area.incoming("lab.csv"), b"device_id,device_kind\nlab-0001,environmental\n")
    store.put_bytes(area.incoming("robots.csv"), b"device_id,device_kind\nbot-0001,robot\n")
    store.put_bytes(
        SENSOR_LANDING.incoming("gw-3.csv"),
        b"event_id,device_id,ts,metric,value\n"
        b"f-1,env-0001,2026-11-22T14:05:00Z,temperature_c,21.5\n"
        b"f-2,lab-0001,2026-11-22T14:06:00Z,temperature_c,22.0\n",
    )
    next_hour = Interval(HOUR.end, HOUR.end.replace(hour=15))

    [manifest] = _ingest(store, next_hour, SensorRunOptions(fleet_size=12, seed=3, simulate=False))

    # The fleet registered by the simulated run stays, merged with the user's file...
    devices = registries.load(store, registries.DEVICES)
    assert set(devices["device_id"]) == fleet | {"lab-0001"}
    assert set(devices["registered_by"]) == {"simulator:fleet-n12-s3", "landing:lab.csv"}
    raw = read_all(store, Bucket.RAW, SENSOR_READINGS.prefix(next_hour))
    assert sorted(raw["event_id"]) == ["f-1", "f-2"]
    assert manifest.rows_quarantined == 0

    # ...and the file naming an unknown kind left the drop folder for quarantine, with why.
    def names(bucket: Bucket, prefix: str) -> set[str]:
        return {o.key.key.rsplit("/", 1)[-1] for o in store.list(bucket, prefix)}

    assert names(Bucket.LANDING, area.incoming_prefix) == {"lab.csv"}
    assert names(Bucket.QUARANTINE, f"{area.source}/") == {"robots.csv", "robots.csv.reason.json"}
    store.put_bytes(area.incoming("robots.csv"), b"device_id,device_kind\nbot-0001,robot\n")
    refused = register_devices(store, SensorRunOptions(simulate=False))
    [(refused_file, reason)] = refused.items()
    assert refused_file.endswith("/robots.csv")
    assert reason.startswith("unknown_device_kind")


def test_a_device_file_that_cannot_be_read_is_set_aside_once(
    store: ObjectStore, monkeypatch
) -> None:
    area = registries.DEVICE_REGISTRY_LANDING
    store.put_bytes(area.incoming("noise.csv"), bytes(range(256)) * 3)
    store.put_bytes(
        area.incoming("huge.csv"), b"device_id,device_kind\n" + b"x,environmental\n" * 99
    )
    store.put_bytes(area.incoming("lab.csv"), b"device_id,device_kind\nlab-0001,environmental\n")
    monkeypatch.setattr(registries, "MAX_REGISTRY_FILE_BYTES", 1000)

    refused = register_devices(store, SensorRunOptions(simulate=False))

    reasons = {uri.rsplit("/", 1)[-1]: reason for uri, reason in refused.items()}
    assert reasons.keys() == {"noise.csv", "huge.csv"}
    assert reasons["noise.csv"].startswith("unreadable: ")
    assert reasons["huge.csv"].startswith("too_large: ")
    assert set(registries.load(store, registries.DEVICES)["device_id"]) == {"lab-0001"}
    # Moved, not left to fail every later run.
    assert register_devices(store, SensorRunOptions(simulate=False)) == {}
