"""A big file read in batches gives the same hour as read whole: counts, repeats, conflicts."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.contracts.contract import load_contracts
from fieldhouse.ingest.feeds import ingest_dataset_hour
from fieldhouse.ingest.sources import SensorRunOptions, register_devices
from fieldhouse.sources import landing
from fieldhouse.storage.keys import SENSOR_LANDING, SENSOR_READINGS, Bucket, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes

pytestmark = pytest.mark.integration

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))
FLEET = SensorRunOptions(fleet_size=6, seed=3)


def _readings_csv(extra: str = "") -> str:
    """120 readings of one device, with repeats placed so batches of 25 split them."""
    lines = ["event_id,device_id,ts,metric,value"]
    for i in range(120):
        lines.append(
            f"r-{i:03d},env-0001,2026-11-22T13:{i % 60:02d}:00Z,temperature_c,{20 + i / 10}"
        )
    lines.append("r-005,env-0001,2026-11-22T13:05:00Z,temperature_c,20.5")  # the same again
    lines.append("r-007,env-0001,2026-11-22T13:07:00Z,temperature_c,29.0")  # another value
    lines.append("r-010,env-0001,2026-11-22T13:10:00Z,temperature_c,21.00")  # 21.0 written longer
    return "\n".join(lines) + "\n" + extra


def _ingest(store: ObjectStore, name: str, body: bytes):
    register_devices(store, FLEET)
    store.put_bytes(SENSOR_LANDING.incoming(name), body)
    contract = load_contracts()["sensor_readings"]
    return ingest_dataset_hour(store, "sensors.readings", HOUR, contracts=[contract])


def _raw(store: ObjectStore) -> pd.DataFrame:
    parts = store.list(Bucket.RAW, SENSOR_READINGS.prefix(HOUR))
    frame = pd.concat([from_parquet_bytes(store.get_bytes(o.key)) for o in parts])
    return frame.sort_values("event_id").reset_index(drop=True)


def _quarantine(store: ObjectStore) -> pd.DataFrame:
    parts = store.list(Bucket.QUARANTINE, SENSOR_READINGS.prefix(HOUR))
    frames = [from_parquet_bytes(store.get_bytes(o.key)) for o in parts]
    return pd.concat(frames).sort_values(["event_id", "value"]).reset_index(drop=True)


@pytest.mark.parametrize("name", ["readings.csv", "readings.csv.gz"])
def test_batches_settle_repeats_as_one_read_does(store, monkeypatch, name) -> None:
    body = _readings_csv().encode()
    body = gzip.compress(body) if name.endswith(".gz") else body
    whole = _ingest(store, name, body)
    whole_raw, whole_quarantine = _raw(store), _quarantine(store)

    for obj in store.list(Bucket.LANDING, "") + store.list(Bucket.RAW, SENSOR_READINGS.path):
        store.delete(obj.key)
    monkeypatch.setattr(landing, "BATCH_ROWS", 25)
    batched = _ingest(store, name, body)

    assert len(store.list(Bucket.RAW, SENSOR_READINGS.prefix(HOUR))) > 1  # several parts
    for manifest in (whole, batched):
        assert manifest.rows_in == 123 == manifest.rows_written + manifest.rows_quarantined
        # r-005 and r-010 were sent twice with the same reading; r-007 with two values.
        assert manifest.reasons == {"conflicting_event_id": 2, "duplicate_event_id": 2}
    pd.testing.assert_frame_equal(whole_raw, _raw(store))
    assert list(_quarantine(store)["event_id"]) == list(whole_quarantine["event_id"])
    conflict = _quarantine(store).query("reason == 'conflicting_event_id'")
    assert sorted(float(v) for v in conflict["value"]) == [20.7, 29.0]


def test_a_record_the_fast_reader_refuses_restarts_the_file(store, monkeypatch) -> None:
    monkeypatch.setattr(landing, "BATCH_ROWS", 25)
    # Far into the file, a record with one field too many: malformed, kept in place.
    body = _readings_csv(extra="r-900,env-0001,2026-11-22T13:00:00Z,temperature_c,1,oops\n")
    manifest = _ingest(store, "late-trouble.csv", body.encode())
    assert manifest.rows_in == 124
    assert manifest.reasons["malformed_csv"] == 1
    assert manifest.rows_written == 124 - 1 - 4


def test_a_gzip_that_breaks_midway_keeps_nothing_of_it(store, monkeypatch) -> None:
    monkeypatch.setattr(landing, "BATCH_ROWS", 25)
    compressed = gzip.compress(_readings_csv().encode() * 40)
    broken = compressed[: len(compressed) // 2]
    manifest = _ingest(store, "broken.csv.gz", broken)
    assert manifest.rows_in == 0
    [reason] = manifest.files_rejected.values()
    assert reason.startswith("unreadable_gzip")
