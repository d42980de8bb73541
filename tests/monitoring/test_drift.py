"""Feature drift checks: quiet on an unchanged fleet, loud on a recalibrated one."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from fieldhouse.monitoring.drift import check_drift, sample, write_report
from fieldhouse.sources.fleet import build_fleet, simulate_interval
from fieldhouse.storage.keys import Bucket, CheckReport, Interval

SEED = 23
N_DEVICES = 100
# Five-minute sampling keeps the simulation quick; hourly features stay meaningful.
SAMPLE_SECONDS = 300
REFERENCE = Interval.parse("2026-11-02T00:00:00+00:00", "2026-11-04T00:00:00+00:00")
LATER = Interval.parse("2026-11-04T00:00:00+00:00", "2026-11-05T00:00:00+00:00")
# The mart's per-hour value features; deltas need history the test windows lack.
FEATURES = ["value_mean", "value_min", "value_max", "value_p95", "value_stddev", "value_range"]
TEMPERATURE = "temperature_c"


def _hourly_features(interval: Interval, **shift: float) -> pd.DataFrame:
    """Hourly per device-metric features of the simulated fleet, shaped like the mart.

    Malformed and duplicate wire rows are dropped the way ingestion drops them, and
    only event hours wholly delivered inside ``interval`` are kept.
    """
    devices = build_fleet(N_DEVICES, SEED)
    wire = simulate_interval(
        devices,
        interval,
        SEED,
        sample_seconds=SAMPLE_SECONDS,
        calibration_shift=shift or None,
    ).readings
    readings = pd.DataFrame(
        {
            "event_id": wire["event_id"],
            "device_id": wire["device_id"],
            "metric": wire["metric"],
            "ts": pd.to_datetime(wire["ts"], utc=True, errors="coerce", format="ISO8601"),
            "value": pd.to_numeric(wire["value"], errors="coerce"),
        }
    ).dropna()
    readings = readings.drop_duplicates("event_id")
    readings["event_hour"] = readings["ts"].dt.floor("h")
    whole = (readings["event_hour"] >= interval.start) & (
        readings["event_hour"] < interval.end - timedelta(hours=1)
    )
    grouped = readings[whole].groupby(["device_id", "metric", "event_hour"])["value"]
    features = grouped.agg(
        reading_count="count",
        value_mean="mean",
        value_min="min",
        value_max="max",
        value_stddev="std",
    )
    features["value_p95"] = grouped.quantile(0.95)
    features["value_range"] = features["value_max"] - features["value_min"]
    return features.reset_index()


def _temperature(features: pd.DataFrame) -> pd.DataFrame:
    return features[features["metric"] == TEMPERATURE]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _temperature(_hourly_features(REFERENCE))


@pytest.fixture(scope="module")
def unchanged() -> pd.DataFrame:
    return _temperature(_hourly_features(LATER))


@pytest.fixture(scope="module")
def recalibrated() -> pd.DataFrame:
    return _temperature(_hourly_features(LATER, environmental=8.0))


def test_unchanged_fleet_is_not_flagged(reference, unchanged):
    result = check_drift(reference, unchanged, FEATURES, threshold=0.5, max_rows=5_000, seed=1)
    assert not result.drifted, result.per_column
    assert result.share_drifted < 0.5


def test_shifted_temperature_is_flagged(reference, recalibrated):
    result = check_drift(reference, recalibrated, FEATURES, threshold=0.5, max_rows=5_000, seed=1)
    assert result.drifted
    for column in ("value_mean", "value_min", "value_max", "value_p95"):
        assert result.per_column[column].drifted, column
    # A constant offset leaves the spread of each hour where it was.
    assert not result.per_column["value_stddev"].drifted
    assert not result.per_column["value_range"].drifted


def test_the_test_each_column_used_is_recorded(reference, unchanged):
    result = check_drift(reference, unchanged, FEATURES, max_rows=5_000, seed=1)
    # Over a thousand rows per side, Evidently compares numbers by Wasserstein distance.
    assert {v.method for v in result.per_column.values()} == {"Wasserstein distance (normed)"}
    summary = json.loads(json.dumps(result.summary))
    assert summary["columns"]["value_mean"]["method"] == "Wasserstein distance (normed)"
    assert summary["rows"]["current"] == len(unchanged)
    assert summary["drifted"] is False


def test_sample_is_deterministic_and_bounded():
    frame = pd.DataFrame({"x": np.arange(50_000)})
    first = sample(frame, 1_000, seed=7)
    assert len(first) == 1_000
    assert first["x"].is_unique
    assert first["x"].is_monotonic_increasing  # rows keep their original order
    assert first.equals(sample(frame, 1_000, seed=7))
    assert not first.equals(sample(frame, 1_000, seed=8))
    assert sample(frame.head(10), 1_000, seed=7).equals(frame.head(10))
    with pytest.raises(ValueError):
        sample(frame, 0, seed=7)


def test_sample_draws_from_the_whole_frame():
    frame = pd.DataFrame({"x": np.arange(100_000)})
    drawn = sample(frame, 5_000, seed=3)["x"]
    # Uniform: every tenth of the frame holds about a tenth of the sample.
    counts = np.bincount(drawn // 10_000, minlength=10)
    assert counts.min() > 400 and counts.max() < 600


def test_check_on_a_million_rows_runs_on_a_bounded_sample(reference, unchanged):
    rng = np.random.default_rng(5)
    big_reference = reference.iloc[rng.integers(len(reference), size=1_000_000)]
    big_current = unchanged.iloc[rng.integers(len(unchanged), size=1_000_000)]
    result = check_drift(big_reference, big_current, FEATURES, max_rows=20_000, seed=2)
    assert result.summary["rows"]["reference"] == 1_000_000
    assert result.summary["rows"]["reference_sampled"] == 20_000
    assert result.summary["rows"]["current_sampled"] == 20_000
    assert not result.drifted


def test_rejects_missing_columns_and_bad_threshold(reference, unchanged):
    with pytest.raises(ValueError, match="lacks columns"):
        check_drift(reference, unchanged, ["no_such_feature"])
    with pytest.raises(ValueError, match="threshold"):
        check_drift(reference, unchanged, FEATURES, threshold=0)


def test_report_keys_are_one_folder_per_run():
    report = CheckReport("sensor_feature_drift")
    run_id = "scheduled__2026-11-05T00:00:00+00:00"
    assert report.html(run_id).uri == (f"s3://reports/sensor_feature_drift/{run_id}/report.html")
    assert report.json(run_id).key == f"sensor_feature_drift/{run_id}/report.json"
    with pytest.raises(ValueError):
        report.html("../other")
    with pytest.raises(ValueError):
        CheckReport("")


class _Outline(HTMLParser):
    """Which tags a page opens, and the text of its title."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


@pytest.mark.integration
def test_report_written_to_minio_is_a_page_and_a_document(store, reference, recalibrated):
    result = check_drift(reference, recalibrated, FEATURES, max_rows=5_000, seed=1)
    keys = write_report(store, "sensor_feature_drift", "manual__recalibrated", result)

    assert keys.html.bucket == Bucket.REPORTS
    assert keys.html == CheckReport("sensor_feature_drift").html("manual__recalibrated")
    page = _Outline()
    page.feed(store.get_bytes(keys.html).decode("utf-8"))
    page.close()
    assert {"html", "head", "body"} <= page.tags
    assert page.title == "Drift report: sensor_feature_drift, run manual__recalibrated"

    document = store.get_json(keys.json)
    assert document["run_id"] == "manual__recalibrated"
    assert document["drifted"] is True
    assert document["columns"]["value_mean"]["drifted"] is True
