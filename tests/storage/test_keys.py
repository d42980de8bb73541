"""Object key layout: one place builds every key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fieldhouse.storage.keys import (
    SENSOR_LANDING,
    SENSOR_READINGS,
    Bucket,
    Interval,
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
