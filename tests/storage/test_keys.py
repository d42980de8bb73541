"""Object key layout: one place builds every key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fieldhouse.storage.keys import (
    SENSOR_DEVICES,
    SENSOR_LANDING,
    SENSOR_READINGS,
    Bucket,
    Interval,
    LandingState,
    parse_landing_key,
    registry_slug,
)

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))


def test_raw_and_quarantine_keys_are_hive_partitioned_by_interval() -> None:
    assert SENSOR_READINGS.raw(HOUR).uri == (
        "s3://raw/sensors/readings/dt=2026-11-22/hour=13/part-0.parquet"
    )
    assert SENSOR_READINGS.quarantine(HOUR).uri == (
        "s3://quarantine/sensors/readings/dt=2026-11-22/hour=13/part-0.parquet"
    )
    assert SENSOR_READINGS.manifest(HOUR).uri == (
        "s3://raw/_manifests/sensors/readings/dt=2026-11-22/hour=13/manifest.json"
    )


def test_glob_matches_every_partition_key() -> None:
    from fnmatch import fnmatch

    assert fnmatch(SENSOR_READINGS.raw(HOUR).uri, SENSOR_READINGS.glob())
    assert fnmatch(SENSOR_READINGS.quarantine(HOUR).uri, SENSOR_READINGS.glob(Bucket.QUARANTINE))
    assert not fnmatch(SENSOR_READINGS.manifest(HOUR).uri, SENSOR_READINGS.glob())


def test_interval_normalizes_to_utc_and_splits_into_hours() -> None:
    cet = timezone(timedelta(hours=1))
    day = Interval(datetime(2026, 11, 22, 1, tzinfo=cet), datetime(2026, 11, 23, 1, tzinfo=cet))
    hours = day.hours()
    assert len(hours) == 24
    assert hours[0].partition == "dt=2026-11-22/hour=00"
    assert hours[-1].partition == "dt=2026-11-22/hour=23"


def test_partial_hours_are_covered_by_whole_hours() -> None:
    odd = Interval(
        datetime(2026, 11, 22, 13, 30, tzinfo=UTC), datetime(2026, 11, 22, 15, 10, tzinfo=UTC)
    )
    assert [h.partition for h in odd.hours()] == [
        "dt=2026-11-22/hour=13",
        "dt=2026-11-22/hour=14",
        "dt=2026-11-22/hour=15",
    ]
    with pytest.raises(ValueError, match="hourly"):
        _ = odd.partition


def test_interval_rejects_naive_and_empty() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2026, 11, 22, 13), datetime(2026, 11, 22, 14, tzinfo=UTC))
    with pytest.raises(ValueError, match="empty"):
        Interval(HOUR.end, HOUR.start)


def test_interval_parse_defaults_to_one_utc_hour() -> None:
    assert Interval.parse("2026-11-22T13:00:00") == HOUR
    assert Interval.parse("2026-11-22T13:00:00+00:00", "2026-11-22T14:00:00+00:00") == HOUR


def test_landing_claims_live_under_the_interval() -> None:
    assert SENSOR_LANDING.claimed(HOUR, "gw-1.csv").uri == (
        "s3://landing/_processed/sensors/dt=2026-11-22/hour=13/gw-1.csv"
    )
    assert SENSOR_LANDING.rejected(HOUR, "bad.xlsx").uri == (
        "s3://quarantine/sensors/files/dt=2026-11-22/hour=13/bad.xlsx"
    )
    with pytest.raises(ValueError, match="flat"):
        SENSOR_LANDING.claimed(HOUR, "nested/x.csv")


def test_retracted_files_live_outside_every_hour() -> None:
    assert SENSOR_LANDING.retracted("gw-1.csv").uri == "s3://landing/_retracted/sensors/gw-1.csv"
    assert SENSOR_LANDING.claimed(HOUR, "gw-1.csv").key.startswith(SENSOR_LANDING.claims_prefix)
    assert not SENSOR_LANDING.retracted("gw-1.csv").key.startswith(SENSOR_LANDING.claims_prefix)
    with pytest.raises(ValueError, match="flat"):
        SENSOR_LANDING.retracted("nested/x.csv")


def test_landing_keys_parse_back_into_area_state_hour_and_name() -> None:
    for key in (
        SENSOR_LANDING.incoming("gw-1.csv"),
        SENSOR_LANDING.claimed(HOUR, "gw-1.csv"),
        SENSOR_LANDING.retracted("gw-1.csv"),
    ):
        parsed = parse_landing_key(key.key)
        assert parsed is not None and parsed.key == key
        assert (parsed.area, parsed.name) == (SENSOR_LANDING, "gw-1.csv")
    claimed = parse_landing_key(SENSOR_LANDING.claimed(HOUR, "gw-1.csv").key)
    assert claimed is not None and (claimed.state, claimed.hour) == (LandingState.CLAIMED, HOUR)
    waiting = parse_landing_key("sensors/gw-1.csv")
    assert waiting is not None and (waiting.state, waiting.hour) == (LandingState.WAITING, None)
    # Hidden files, folders of folders and malformed hours are no landing files.
    for other in (
        "sensors/.keep",
        "sensors/sub/gw-1.csv",
        "_processed/sensors/gw-1.csv",
        "_processed/sensors/dt=2026-11-22/hour=1/gw-1.csv",
        "_processed/sensors/dt=2026-11-22/hour=13/x/gw-1.csv",
    ):
        assert parse_landing_key(other) is None, other


def test_registry_slug_is_one_stable_path_segment() -> None:
    assert registry_slug("catalog.instruments") == "catalog.instruments"  # already plain
    slug = registry_slug("landing:Devices 2026.csv")
    assert slug.startswith("landing-devices-2026.csv-")
    assert slug == registry_slug("landing:Devices 2026.csv")  # stable across calls
    # Origins that differ only in replaced characters keep apart through the hash.
    assert registry_slug("landing:a b.csv") != registry_slug("landing:a?b.csv")
    assert registry_slug("Landing:x.csv") != registry_slug("landing:x.csv")
    long = registry_slug("landing:" + "x" * 300)
    assert len(long) == 120 and long != registry_slug("landing:" + "x" * 301)
    assert registry_slug(".hidden")[0] == "-"
    for origin in ("landing:devices.csv", "simulator:fleet-n50-s7", "a/b", ".x", "é:ü"):
        slug = registry_slug(origin)
        assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-"), slug
        assert SENSOR_DEVICES.registered(slug).key.startswith(SENSOR_DEVICES.writer_prefix(slug))
    with pytest.raises(ValueError, match="non-empty"):
        registry_slug("")
