"""Retracting a landing file against a real MinIO: rows, manifest, registrations, reruns."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fieldhouse.__main__ import main
from fieldhouse.ingest import registries
from fieldhouse.ingest.partitions import Manifest, write_partition
from fieldhouse.ingest.retract import RetractionError, retract_landing_file
from fieldhouse.storage.keys import (
    SENSOR_LANDING,
    SENSOR_READINGS,
    Bucket,
    Interval,
    LandingArea,
    registry_slug,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.integration.objects import object_etags, read_all

pytestmark = pytest.mark.integration

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))
NEXT_HOUR = Interval(HOUR.end, HOUR.end.replace(hour=15))
# The NAB machine feed lands in sensors.readings too, and registers its device on first sight.
MACHINE_LANDING = LandingArea("nab_machine")
GONE = "landing:gone.csv"

KEEP_CSV = (
    b"event_id,device_id,ts,metric,value\n"
    b"keep-1,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5\n"
    b'keep-2,env-0001,2026-11-22T13:06:00Z,temperature_c,"22,5"\n'
)
GONE_CSV = (
    b"timestamp,value\n"
    b"2026-11-22 13:00:00,71.5\n"
    b"2026-11-22 13:05:00,72.0\n"
    b"2026-11-22 13:10:00,300\n"
    b"2026-11-22 13:15:00,warm\n"
)


def _ingest(store: ObjectStore, hour: Interval = HOUR) -> Manifest:
    """The one ingestion call of this module: one hour of sensor readings, simulated and files."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.sources import SENSORS, SensorRunOptions

    [manifest] = ingest_source(store, SENSORS, hour, SensorRunOptions(fleet_size=12, seed=3))[
        "readings"
    ]
    return manifest


def _rows(store: ObjectStore, bucket: Bucket, hour: Interval = HOUR) -> pd.DataFrame:
    return read_all(store, bucket, SENSOR_READINGS.prefix(hour))


def _others(frame: pd.DataFrame, origin: str = GONE) -> pd.DataFrame:
    return frame.loc[frame["origin"] != origin].reset_index(drop=True)


@dataclass
class Ingested:
    """An hour ingested from the simulator, keep.csv and gone.csv, as it was before retracting."""

    manifest: Manifest
    raw: pd.DataFrame
    quarantine: pd.DataFrame


@pytest.fixture
def ingested(store: ObjectStore) -> Ingested:
    store.put_bytes(SENSOR_LANDING.incoming("keep.csv"), KEEP_CSV)
    store.put_bytes(MACHINE_LANDING.incoming("gone.csv"), GONE_CSV)
    manifest = _ingest(store)
    raw, quarantine = _rows(store, Bucket.RAW), _rows(store, Bucket.QUARANTINE)
    # The setting the assertions below rely on: three origins in raw and quarantine.
    assert (raw["origin"] == GONE).sum() == 2
    assert (quarantine["origin"] == GONE).sum() == 2
    assert {"landing:keep.csv", GONE} < set(raw["origin"])
    assert "nab-machine-01" in set(registries.load(store, registries.DEVICES)["device_id"])
    return Ingested(manifest, raw, quarantine)


def test_retracting_a_file_removes_its_rows_and_leaves_every_other_row_as_it_was(
    store: ObjectStore, ingested: Ingested
) -> None:
    claimed = MACHINE_LANDING.claimed(HOUR, "gone.csv")

    retraction = retract_landing_file(store, "gone.csv")

    raw, quarantine = _rows(store, Bucket.RAW), _rows(store, Bucket.QUARANTINE)
    assert GONE not in set(raw["origin"]) | set(quarantine["origin"])
    pd.testing.assert_frame_equal(raw, _others(ingested.raw), check_exact=True)
    pd.testing.assert_frame_equal(quarantine, _others(ingested.quarantine), check_exact=True)
    assert (retraction.rows_written, retraction.rows_quarantined) == (2, 2)
    assert retraction.hours == [HOUR.partition]
    assert retraction.moved == {claimed.uri: MACHINE_LANDING.retracted("gone.csv").uri}

    manifest = store.get_json(SENSOR_READINGS.manifest(HOUR))
    assert manifest["rows_in"] == ingested.manifest.rows_in - 4
    assert manifest["rows_in"] == manifest["rows_written"] + manifest["rows_quarantined"]
    assert manifest["rows_written"] == len(raw)
    assert manifest["rows_quarantined"] == len(quarantine)
    assert manifest["reasons"] == quarantine["reason"].value_counts().to_dict()
    assert manifest["reconciles"] is True
    assert manifest["retracted"] == {claimed.uri: {"rows_written": 2, "rows_quarantined": 2}}
    assert claimed.uri not in manifest["files"]
    assert manifest["files"] == [f for f in ingested.manifest.files if f != claimed.uri]
    assert sorted(manifest["objects"]) == sorted(
        o.key.uri
        for bucket in (Bucket.RAW, Bucket.QUARANTINE)
        for o in store.list(bucket, SENSOR_READINGS.prefix(HOUR))
    )

    # The device the file registered on first sight is no longer registered...
    slug = registry_slug(GONE)
    assert retraction.registrations == [registries.DEVICES.reference.registered(slug).uri]
    assert "nab-machine-01" not in set(registries.load(store, registries.DEVICES)["device_id"])
    # ...and the file waits outside every hour's claim.
    assert not store.exists(claimed)
    assert store.get_bytes(MACHINE_LANDING.retracted("gone.csv")) == GONE_CSV


def test_a_rerun_of_the_hour_leaves_the_file_out_and_retracting_again_changes_nothing(
    store: ObjectStore, ingested: Ingested
) -> None:
    retract_landing_file(store, "landing/nab_machine/gone.csv")
    after = _rows(store, Bucket.RAW), _rows(store, Bucket.QUARANTINE)

    rerun = _ingest(store)

    assert rerun.rows_in == ingested.manifest.rows_in - 4
    assert MACHINE_LANDING.claimed(HOUR, "gone.csv").uri not in rerun.files
    assert not registries.load(store, registries.DEVICES)["registered_by"].eq(GONE).any()
    raw, quarantine = _rows(store, Bucket.RAW), _rows(store, Bucket.QUARANTINE)
    assert GONE not in set(raw["origin"]) | set(quarantine["origin"])
    pd.testing.assert_frame_equal(
        raw.drop(columns="ingested_at"), after[0].drop(columns="ingested_at"), check_exact=True
    )
    assert len(quarantine) == len(after[1])

    before = object_etags(store)
    again = retract_landing_file(store, "gone.csv")
    assert again.changed_nothing and again.partitions == [] and again.registrations == []
    assert again.already_retracted == [MACHINE_LANDING.retracted("gone.csv").uri]
    assert "nothing to retract" in again.summary()
    assert object_etags(store) == before


def test_a_name_claimed_by_two_hours_is_retracted_from_one_by_key_or_from_both_by_name(
    store: ObjectStore,
) -> None:
    store.put_bytes(MACHINE_LANDING.incoming("gone.csv"), GONE_CSV)
    _ingest(store, HOUR)
    second = GONE_CSV.replace(b"2026-11-22 13:", b"2026-11-22 14:").replace(b"71.5", b"70.5")
    store.put_bytes(MACHINE_LANDING.incoming("gone.csv"), second)
    _ingest(store, NEXT_HOUR)
    next_raw = _rows(store, Bucket.RAW, NEXT_HOUR)

    first = retract_landing_file(store, MACHINE_LANDING.claimed(HOUR, "gone.csv").uri)

    assert first.hours == [HOUR.partition]
    assert GONE not in set(_rows(store, Bucket.RAW)["origin"])
    pd.testing.assert_frame_equal(_rows(store, Bucket.RAW, NEXT_HOUR), next_raw, check_exact=True)

    both = retract_landing_file(store, "gone.csv")

    assert both.hours == [NEXT_HOUR.partition]
    assert (both.rows_written, both.rows_quarantined) == (2, 2)
    assert GONE not in set(_rows(store, Bucket.RAW, NEXT_HOUR)["origin"])
    # Two different files of one name are both kept aside, neither over the other.
    aside = {o.key.key: store.get_bytes(o.key) for o in store.list(Bucket.LANDING, "_retracted/")}
    assert sorted(aside.values()) == sorted([GONE_CSV, second])
    assert MACHINE_LANDING.retracted("gone.csv").key in aside
    assert store.list(Bucket.LANDING, MACHINE_LANDING.claims_prefix) == []


def test_a_part_shared_with_other_files_is_rewritten_without_its_rows_and_same_schema(
    store: ObjectStore, ingested: Ingested
) -> None:
    # Put every row of the hour in one raw and one quarantine part, through the writer.
    manifest = write_partition(
        store,
        SENSOR_READINGS,
        HOUR,
        rows_in=ingested.manifest.rows_in,
        valid=ingested.raw,
        quarantined=ingested.quarantine,
        reasons=ingested.manifest.reasons,
        files=ingested.manifest.files,
    )
    schemas = {
        bucket: pq.read_schema(io.BytesIO(store.get_bytes(key)))
        for bucket, key in (
            (Bucket.RAW, SENSOR_READINGS.raw(HOUR)),
            (Bucket.QUARANTINE, SENSOR_READINGS.quarantine(HOUR)),
        )
    }

    retraction = retract_landing_file(store, "gone.csv")

    assert (retraction.rows_written, retraction.rows_quarantined) == (2, 2)
    for bucket, key in (
        (Bucket.RAW, SENSOR_READINGS.raw(HOUR)),
        (Bucket.QUARANTINE, SENSOR_READINGS.quarantine(HOUR)),
    ):
        body = store.get_bytes(key)
        assert pq.read_schema(io.BytesIO(body)).equals(schemas[bucket], check_metadata=False)
        before = ingested.raw if bucket is Bucket.RAW else ingested.quarantine
        pd.testing.assert_frame_equal(from_parquet_bytes(body), _others(before), check_exact=True)
    stored = store.get_json(SENSOR_READINGS.manifest(HOUR))
    assert (
        stored["rows_in"]
        == manifest.rows_in - 4
        == stored["rows_written"] + stored["rows_quarantined"]
    )


def test_a_file_rejected_whole_leaves_the_manifest_and_quarantine(store: ObjectStore) -> None:
    store.put_bytes(SENSOR_LANDING.incoming("notes.xlsx"), b"PK\x03\x04 not a sensor file")
    ingested = _ingest(store)
    claimed = SENSOR_LANDING.claimed(HOUR, "notes.xlsx")
    assert claimed.uri in ingested.files_rejected

    retraction = retract_landing_file(store, "notes.xlsx")

    assert (retraction.rows_written, retraction.rows_quarantined) == (0, 0)
    manifest = store.get_json(SENSOR_READINGS.manifest(HOUR))
    assert manifest["files_rejected"] == {}
    assert manifest["retracted"] == {claimed.uri: {"rows_written": 0, "rows_quarantined": 0}}
    assert manifest["rows_in"] == ingested.rows_in
    assert not store.exists(SENSOR_LANDING.rejected(HOUR, "notes.xlsx"))
    assert _ingest(store).files_rejected == {}


def test_files_of_one_name_in_two_areas_of_one_hour_go_together_or_not_at_all(
    store: ObjectStore,
) -> None:
    store.put_bytes(SENSOR_LANDING.incoming("gone.csv"), KEEP_CSV)
    store.put_bytes(MACHINE_LANDING.incoming("gone.csv"), GONE_CSV)
    _ingest(store)
    before = object_etags(store)

    # Both files' rows carry the origin landing:gone.csv: one cannot go alone.
    with pytest.raises(RetractionError, match=r"share the origin landing:gone\.csv"):
        retract_landing_file(store, "landing/sensors/gone.csv")
    assert object_etags(store) == before

    both = retract_landing_file(store, "gone.csv")

    assert len(both.moved) == 2
    assert both.rows_written + both.rows_quarantined == 6
    assert GONE not in set(_rows(store, Bucket.RAW)["origin"])
    manifest = store.get_json(SENSOR_READINGS.manifest(HOUR))
    assert set(manifest["retracted"]) == set(both.moved)
    assert manifest["rows_in"] == manifest["rows_written"] + manifest["rows_quarantined"]


def test_a_device_registry_file_is_set_aside_with_its_registrations(store: ObjectStore) -> None:
    area = registries.DEVICE_REGISTRY_LANDING
    store.put_bytes(area.incoming("lab.csv"), b"device_id,device_kind\nlab-0001,environmental\n")
    _ingest(store)
    assert "lab-0001" in set(registries.load(store, registries.DEVICES)["device_id"])

    retraction = retract_landing_file(store, "lab.csv")

    assert retraction.moved == {area.incoming("lab.csv").uri: area.retracted("lab.csv").uri}
    assert retraction.partitions == []
    _ingest(store)  # the next run no longer finds the file to register
    assert "lab-0001" not in set(registries.load(store, registries.DEVICES)["device_id"])


def test_a_name_that_matches_nothing_says_where_it_looked(store: ObjectStore) -> None:
    with pytest.raises(
        RetractionError, match=r"no landing file matches 'nope\.csv'.*s3://landing/"
    ):
        retract_landing_file(store, "nope.csv")
    with pytest.raises(RetractionError, match="_processed/sensors/"):
        retract_landing_file(store, "landing/sensors/nope.csv")
    with pytest.raises(RetractionError, match="not in the landing bucket"):
        retract_landing_file(store, "s3://raw/sensors/readings/x.parquet")


def test_the_command_prints_hours_and_rows_removed(
    store: ObjectStore, ingested: Ingested, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retract", "gone.csv"]) == 0
    out = capsys.readouterr().out
    assert "hours touched: 1; rows removed: 2 from raw, 2 from quarantine" in out
    assert "transform_lake" in out

    assert main(["retract", "gone.csv"]) == 0
    assert "nothing to retract" in capsys.readouterr().out
    assert main(["retract", "nope.csv"]) == 1
    assert "no landing file matches" in capsys.readouterr().err
