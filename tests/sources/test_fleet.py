"""The fleet simulator: deterministic, delivered exactly once, labelled truthfully."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse.quality import KIND_METRICS, METRIC_RANGES, WIRE_COLUMNS, validate_readings
from fieldhouse.sources.fleet import (
    FaultRates,
    build_fleet,
    devices_frame,
    simulate_interval,
)
from fieldhouse.storage.keys import Interval

SEED = 11
HOUR = Interval.parse("2026-11-23T13:00:00+00:00")  # a Monday
NEXT_HOUR = Interval(HOUR.end, HOUR.end + timedelta(hours=1))
CLEAN = FaultRates.none()


@pytest.fixture(scope="module")
def fleet():
    return build_fleet(40, SEED)


def _epoch(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def _rows_of(readings: pd.DataFrame, device_id: str) -> pd.DataFrame:
    own = readings["event_id"].str.startswith(f"{device_id}-")
    return readings[own].reset_index(drop=True)


def _numbers(readings: pd.DataFrame) -> pd.DataFrame:
    """Readings with a parsed value and event time, malformed ones left out."""
    out = readings.assign(
        value=pd.to_numeric(readings["value"], errors="coerce"),
        event_ts=pd.to_datetime(readings["ts"], utc=True, format="ISO8601", errors="coerce"),
    )
    return out.dropna(subset=["value", "event_ts", "device_id"])


# --- the fleet ------------------------------------------------------------------------


def test_build_fleet_is_deterministic_and_prefix_stable():
    assert build_fleet(50, SEED) == build_fleet(50, SEED)
    assert build_fleet(50, SEED)[:10] == build_fleet(10, SEED)
    assert build_fleet(10, SEED) != build_fleet(10, SEED + 1)


def test_build_fleet_mixes_kinds_and_ids_are_unique():
    devices = build_fleet(100, SEED)
    assert Counter(d.kind for d in devices) == {
        "environmental": 50,
        "machine": 30,
        "gps_tracker": 20,
    }
    assert len({d.device_id for d in devices}) == 100
    assert {d.device_id for d in devices} >= {"env-0001", "mach-0001", "gps-0001", "env-0050"}
    assert all(d.site.split("-")[0] in {"plant", "warehouse", "depot"} for d in devices)


def test_devices_frame_is_typed():
    frame = devices_frame(build_fleet(5, SEED))
    assert list(frame.columns) == [
        "device_id",
        "device_kind",
        "site",
        "latitude",
        "longitude",
        "installed_at",
    ]
    assert frame["latitude"].dtype == "float64"
    assert frame["longitude"].dtype == "float64"
    assert frame["device_kind"].tolist()[:4] == [
        "environmental",
        "machine",
        "environmental",
        "gps_tracker",
    ]
    assert all(type(d).__name__ == "date" for d in frame["installed_at"])


# --- determinism ----------------------------------------------------------------------


def test_same_arguments_give_identical_batches(fleet):
    first = simulate_interval(fleet, HOUR, SEED)
    second = simulate_interval(fleet, HOUR, SEED)
    pd.testing.assert_frame_equal(first.readings, second.readings)
    pd.testing.assert_frame_equal(first.labels, second.labels)
    other = simulate_interval(fleet, HOUR, SEED + 1)
    assert not first.readings["value"].equals(other.readings["value"])


def test_a_devices_rows_do_not_depend_on_the_rest_of_the_fleet():
    small, large = build_fleet(10, SEED), build_fleet(50, SEED)
    faults = FaultRates(spike=0.02, stuck=0.01, dropout=0.5, duplicate=0.05, malformed=0.05)
    alone = simulate_interval(small, HOUR, SEED, faults=faults)
    crowded = simulate_interval(large, HOUR, SEED, faults=faults)
    for device in small:
        pd.testing.assert_frame_equal(
            _rows_of(alone.readings, device.device_id),
            _rows_of(crowded.readings, device.device_id),
        )
        own = crowded.labels["device_id"] == device.device_id
        pd.testing.assert_frame_equal(
            alone.labels[alone.labels["device_id"] == device.device_id].reset_index(drop=True),
            crowded.labels[own].reset_index(drop=True),
        )


# --- the wire format ------------------------------------------------------------------


def test_readings_are_a_wire_frame(fleet):
    readings = simulate_interval(fleet, HOUR, SEED).readings
    assert tuple(readings.columns) == WIRE_COLUMNS
    assert all(readings[column].dtype == object for column in WIRE_COLUMNS)
    assert set(readings["origin"]) == {"fleet_simulator"}
    assert readings["parse_error"].isna().all()
    for text in readings["ts"].head(50):
        assert text.endswith(("Z", "+01:00"))


def test_clean_fleet_sends_every_sample_once(fleet):
    batch = simulate_interval(fleet, HOUR, SEED, faults=CLEAN)
    readings = batch.readings
    assert readings["event_id"].is_unique
    assert batch.labels.empty
    expected = sum(60 * len(KIND_METRICS[d.kind]) for d in fleet)
    # Readings of the last seconds of an hour arrive in the next one, and vice versa.
    assert abs(len(readings) - expected) < 0.01 * expected
    expected_ids = {f"{d.device_id}-{metric}-" for d in fleet for metric in KIND_METRICS[d.kind]}
    assert {event_id.rsplit("-", 1)[0] + "-" for event_id in readings["event_id"]} == (expected_ids)


def test_every_reading_arrives_exactly_once_across_consecutive_intervals(fleet):
    faults = FaultRates(late=0.2, duplicate=0.0, dropout=0.0)
    before = simulate_interval(
        fleet, Interval(HOUR.start - timedelta(hours=1), HOUR.start), SEED, faults=faults
    )
    this = simulate_interval(fleet, HOUR, SEED, faults=faults)
    after = simulate_interval(fleet, NEXT_HOUR, SEED, faults=faults)
    ids = [set(batch.readings["event_id"]) for batch in (before, this, after)]
    assert ids[0].isdisjoint(ids[1])
    assert ids[1].isdisjoint(ids[2])
    assert ids[0].isdisjoint(ids[2])

    start, end = int(HOUR.start.timestamp()), int(HOUR.end.timestamp())
    arrived = [{e for e in batch if start <= _epoch(e) < end} for batch in ids]
    assert not arrived[0], "nothing arrives before it happened"
    assert len(arrived[2]) > 0.05 * len(arrived[1]), "late readings arrive in the next hour"
    expected = sum(60 * len(KIND_METRICS[d.kind]) for d in fleet)
    assert len(arrived[0] | arrived[1] | arrived[2]) == expected


def test_a_multi_hour_interval_equals_its_hours(fleet):
    two_hours = Interval(HOUR.start, NEXT_HOUR.end)
    whole = simulate_interval(fleet, two_hours, SEED).readings
    parts = pd.concat([simulate_interval(fleet, hour, SEED).readings for hour in (HOUR, NEXT_HOUR)])
    assert Counter(whole["event_id"]) == Counter(parts["event_id"])


def test_duplicates_are_exact_copies_in_the_same_batch(fleet):
    readings = simulate_interval(fleet, HOUR, SEED, faults=FaultRates(duplicate=0.05)).readings
    repeated = readings[readings["event_id"].duplicated(keep=False)]
    assert len(repeated) > 0
    assert repeated.groupby("event_id").size().eq(2).all()
    assert len(repeated.drop_duplicates()) == len(repeated) // 2


def test_batch_is_not_in_event_time_order(fleet):
    readings = _numbers(simulate_interval(fleet, HOUR, SEED).readings)
    assert not readings["event_ts"].is_monotonic_increasing


def test_malformed_records_of_every_kind_are_sent(fleet):
    faults = FaultRates(malformed=0.05)
    readings = simulate_interval(fleet, HOUR, SEED, faults=faults).readings
    assert {"err", "", "NaN"} <= set(readings["value"])
    assert (readings["ts"] == "2026-13-45T99:00").any()
    assert readings["device_id"].isna().any()
    assert not set(readings["metric"]) <= set(METRIC_RANGES)
    result = validate_readings(
        readings, devices_frame(fleet), HOUR, ingested_at=datetime(2026, 11, 23, 14, tzinfo=UTC)
    )
    for reason in (
        "bad_value",
        "missing_field:value",
        "bad_timestamp",
        "missing_field:device_id",
        "unknown_metric",
    ):
        assert result.reasons.get(reason, 0) > 0, reason


# --- labels ---------------------------------------------------------------------------


def test_every_spike_and_stuck_label_points_at_a_reading(fleet):
    faults = FaultRates(spike=0.02, stuck=0.01, malformed=0.01, dropout=0.3)
    batch = simulate_interval(fleet, HOUR, SEED, faults=faults)
    labels = batch.labels
    assert {"spike", "stuck", "dropout"} <= set(labels["fault"])
    pointed = labels[labels["fault"].isin(["spike", "stuck"])]
    assert pointed["event_id"].isin(batch.readings["event_id"]).all()
    assert not pointed.duplicated(["event_id", "fault"]).any()
    assert labels["event_ts"].dtype == "datetime64[us, UTC]"
    ts = pd.to_datetime(pointed["event_id"].map(_epoch), unit="s", utc=True)
    assert (ts.to_numpy() == pointed["event_ts"].to_numpy()).all()


def test_far_spikes_leave_the_physical_range(fleet):
    faults = FaultRates(spike=0.05, spike_out_of_range_share=0.5, malformed=0.0)
    batch = simulate_interval(fleet, HOUR, SEED, faults=faults)
    readings = batch.readings.set_index("event_id")
    spikes = batch.labels[batch.labels["fault"] == "spike"]
    values = readings.loc[spikes["event_id"], "value"].astype(float).to_numpy()
    low = spikes["metric"].map(lambda m: METRIC_RANGES[m][0]).to_numpy()
    high = spikes["metric"].map(lambda m: METRIC_RANGES[m][1]).to_numpy()
    outside = (values < low) | (values > high)
    assert 0.3 < outside.mean() < 0.7
    unlabelled = readings.drop(index=spikes["event_id"])
    unlabelled = _numbers(unlabelled.reset_index())
    low = unlabelled["metric"].map(lambda m: METRIC_RANGES.get(m, (-math.inf,))[0])
    high = unlabelled["metric"].map(lambda m: METRIC_RANGES.get(m, (0, math.inf))[1])
    assert unlabelled["value"].between(low, high).all()


def test_stuck_labels_repeat_the_reading_before(fleet):
    faults = FaultRates(stuck=0.01, spike=0.0, malformed=0.0, dropout=0.0, duplicate=0.0)
    before = Interval(HOUR.start - timedelta(hours=1), HOUR.start)
    batches = [
        simulate_interval(fleet, hour, SEED, faults=faults) for hour in (before, HOUR, NEXT_HOUR)
    ]
    value = pd.concat([batch.readings for batch in batches]).set_index("event_id")["value"]
    this = batches[1]
    stuck = this.labels[this.labels["fault"] == "stuck"]
    assert len(stuck) > 10
    for event_id in stuck["event_id"]:
        stem, second = event_id.rsplit("-", 1)
        assert value[event_id] == value[f"{stem}-{int(second) - 60}"]


def test_dropout_labels_mark_missing_readings(fleet):
    faults = FaultRates(dropout=0.5, late=0.0, malformed=0.0, duplicate=0.0)
    this = simulate_interval(fleet, HOUR, SEED, faults=faults)
    after = simulate_interval(fleet, NEXT_HOUR, SEED, faults=faults)
    sent = set(this.readings["event_id"]) | set(after.readings["event_id"])
    dropouts = this.labels[this.labels["fault"] == "dropout"]
    assert len(dropouts) > 5
    assert dropouts["event_id"].isna().all()
    assert dropouts["event_ts"].between(HOUR.start, HOUR.end, inclusive="left").all()
    kinds = {d.device_id: d.kind for d in fleet}
    for row in dropouts.itertuples():
        second = int(row.event_ts.timestamp())
        for metric in KIND_METRICS[kinds[row.device_id]]:
            assert f"{row.device_id}-{metric}-{second}" not in sent
            assert f"{row.device_id}-{metric}-{second - 60}" in sent or second - 60 < int(
                HOUR.start.timestamp()
            )  # the gap starts at its label, unless another gap runs into it


def test_calibration_shift_moves_the_primary_metric(fleet):
    target = next(d for d in fleet if d.kind == "environmental")
    plain = simulate_interval(fleet, HOUR, SEED, faults=CLEAN)
    shifted = simulate_interval(
        fleet, HOUR, SEED, faults=CLEAN, calibration_shift={target.device_id: 5.0, "machine": 2.0}
    )

    def mean_of(batch, device_id, metric):
        rows = _numbers(_rows_of(batch.readings, device_id))
        return rows.loc[rows["metric"] == metric, "value"].mean()

    delta = mean_of(shifted, target.device_id, "temperature_c") - mean_of(
        plain, target.device_id, "temperature_c"
    )
    assert delta == pytest.approx(5.0, abs=0.01)
    assert mean_of(shifted, target.device_id, "humidity_pct") == mean_of(
        plain, target.device_id, "humidity_pct"
    )
    machine = next(d for d in fleet if d.kind == "machine")
    delta = mean_of(shifted, machine.device_id, "vibration_mm_s") - mean_of(
        plain, machine.device_id, "vibration_mm_s"
    )
    assert delta == pytest.approx(2.0, abs=0.01)

    labels = shifted.labels[shifted.labels["fault"] == "calibration_shift"]
    assert set(labels["metric"]) == {"temperature_c", "vibration_mm_s"}
    primary = shifted.readings[
        shifted.readings["metric"].isin(["temperature_c", "vibration_mm_s"])
        & shifted.readings["device_id"].isin(
            [target.device_id] + [d.device_id for d in fleet if d.kind == "machine"]
        )
    ]
    assert set(labels["event_id"]) == set(primary["event_id"])


def test_device_id_shift_wins_over_its_kind(fleet):
    target = next(d for d in fleet if d.kind == "machine")
    both = simulate_interval(
        fleet, HOUR, SEED, faults=CLEAN, calibration_shift={"machine": 2.0, target.device_id: 0.0}
    )
    plain = simulate_interval(fleet, HOUR, SEED, faults=CLEAN)
    pd.testing.assert_frame_equal(
        _rows_of(both.readings, target.device_id), _rows_of(plain.readings, target.device_id)
    )


# --- realism --------------------------------------------------------------------------


def test_temperature_follows_the_time_of_day():
    devices = build_fleet(200, SEED)

    def mean_at(hour: int, metric: str) -> float:
        interval = Interval.parse(f"2026-11-23T{hour:02d}:00:00+00:00")
        rows = _numbers(simulate_interval(devices, interval, SEED).readings)
        rows = rows[rows["event_ts"].dt.hour == hour]
        return rows.loc[rows["metric"] == metric, "value"].median()

    assert mean_at(14, "temperature_c") > mean_at(4, "temperature_c") + 2.0
    assert mean_at(14, "humidity_pct") < mean_at(4, "humidity_pct") - 2.0


def test_machines_rest_outside_their_shifts(fleet):
    def vibration(start: str) -> float:
        rows = _numbers(
            simulate_interval(fleet, Interval.parse(start), SEED, faults=CLEAN).readings
        )
        return rows.loc[rows["metric"] == "vibration_mm_s", "value"].median()

    monday_morning = vibration("2026-11-23T10:00:00+00:00")
    sunday_night = vibration("2026-11-22T02:00:00+00:00")
    assert monday_morning > 2.0
    assert sunday_night < 0.5


def test_gps_positions_move_at_the_reported_speed(fleet):
    tracker = next(d for d in build_fleet(40, SEED) if d.kind == "gps_tracker")
    readings = _rows_of(
        simulate_interval(fleet, HOUR, SEED, faults=CLEAN).readings, tracker.device_id
    )
    rows = _numbers(readings).pivot_table(index="event_ts", columns="metric", values="value")
    rows = rows.sort_index().dropna()
    lat = np.radians(rows["latitude"].to_numpy())
    lon = np.radians(rows["longitude"].to_numpy())
    hours = np.diff(rows.index.to_numpy()).astype("timedelta64[s]").astype(float) / 3600
    a = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
    implied = km / hours
    reported = rows["speed_kmh"].to_numpy()[1:]
    assert np.median(reported) > 20, "trackers drive during the day"
    assert np.median(np.abs(implied - reported)) < 0.15 * np.median(reported)
