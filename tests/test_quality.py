"""Validation: one reason per rejected row, and every row accounted for."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse.contracts.catalog import load_catalog
from fieldhouse.quality import WIRE_COLUMNS, ValidationResult, validate_readings
from fieldhouse.sources.fleet import FaultRates, build_fleet, devices_frame, simulate_interval
from fieldhouse.storage.keys import Interval

INTERVAL = Interval.parse("2026-11-22T13:00:00+00:00")
INGESTED_AT = datetime(2026, 11, 22, 14, 2, tzinfo=UTC)
DEVICES = pd.DataFrame(
    {
        "device_id": ["env-0001", "mach-0001", "gps-0001"],
        "device_kind": ["environmental", "machine", "gps_tracker"],
    }
)
GOOD = {
    "event_id": "env-0001-temperature_c-1795352700",
    "device_id": "env-0001",
    "ts": "2026-11-22T13:05:00.000Z",
    "metric": "temperature_c",
    "value": "21.5",
    "origin": "fleet_simulator",
    "parse_error": None,
    "raw_record": None,
}


def _wire(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            column: pd.Series([row.get(column) for row in rows], dtype=object)
            for column in WIRE_COLUMNS
        }
    )


def _row(**changes) -> dict:
    return {**GOOD, **changes}


def _validate(wire: pd.DataFrame, **options) -> ValidationResult:
    result = validate_readings(wire, DEVICES, INTERVAL, ingested_at=INGESTED_AT, **options)
    assert result.reconciles
    return result


def _reasons(*rows: dict) -> list[str]:
    return list(_validate(_wire(*rows)).quarantined["reason"])


# --- each rule ------------------------------------------------------------------------


def test_a_good_reading_is_valid_and_typed():
    result = _validate(_wire(GOOD))
    assert result.quarantined.empty
    assert result.reasons == {}
    row = result.valid.iloc[0]
    assert row["event_id"] == GOOD["event_id"]
    assert row["value"] == 21.5
    assert row["event_ts"] == pd.Timestamp("2026-11-22T13:05:00Z")
    assert row["ingested_at"] == pd.Timestamp(INGESTED_AT)
    assert row["origin"] == "fleet_simulator"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"parse_error": "malformed_json", "raw_record": "{oops"}, "malformed_json"),
        ({"event_id": None}, "missing_field:event_id"),
        ({"device_id": ""}, "missing_field:device_id"),
        ({"ts": None}, "missing_field:ts"),
        ({"metric": None}, "missing_field:metric"),
        ({"value": ""}, "missing_field:value"),
        ({"ts": "2026-13-45T99:00"}, "bad_timestamp"),
        ({"ts": "2026-11-22T13:05:00"}, "bad_timestamp"),  # no offset: ambiguous
        ({"ts": "yesterday"}, "bad_timestamp"),
        ({"value": "err"}, "bad_value"),
        ({"value": "NaN"}, "bad_value"),
        ({"value": "inf"}, "bad_value"),
        ({"value": "1,5"}, "bad_value"),
        ({"device_id": "env-9999"}, "unknown_device"),
        ({"metric": "battery_pct"}, "unknown_metric"),
        ({"metric": "speed_kmh"}, "metric_not_for_device_kind"),
        ({"value": "85.01"}, "out_of_range"),
        ({"value": "-40.5"}, "out_of_range"),
        ({"ts": "2026-11-22T14:05:01Z"}, "future_timestamp"),
        ({"ts": "2026-11-22T15:05:01+01:00"}, "future_timestamp"),
    ],
)
def test_each_rule_quarantines_with_its_reason(changes, reason):
    result = _validate(_wire(_row(**changes)))
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]
    assert result.reasons == {reason: 1}


def test_duplicate_event_ids_keep_the_first_in_input_order():
    first = _row(value="20.0")
    again = _row(value="20.00", origin="retry")
    result = _validate(_wire(first, again, _row(event_id="other")))
    assert list(result.valid["value"]) == [20.0, 21.5]
    assert list(result.valid["origin"]) == ["fleet_simulator", "fleet_simulator"]
    assert list(result.quarantined["reason"]) == ["duplicate_event_id"]
    assert list(result.quarantined["value"]) == ["20.00"]


def test_a_rejected_first_copy_does_not_shadow_a_good_second_one():
    result = _validate(_wire(_row(value="999"), _row(value="20.0")))
    assert list(result.valid["value"]) == [20.0]
    assert list(result.quarantined["reason"]) == ["out_of_range"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("-40", True),
        ("85", True),
        ("85.0", True),
        (" 21.5 ", True),
        ("2.15e1", True),
        ("+3", True),
        (".5", True),
        ("1_0", False),
        ("0x10", False),
        ("--1", False),
    ],
)
def test_decimal_text(value, ok):
    result = _validate(_wire(_row(value=value)))
    assert len(result.valid) == int(ok)


def test_offsets_are_converted_to_utc():
    result = _validate(
        _wire(
            _row(event_id="a", ts="2026-11-22T14:05:00+01:00"),
            _row(event_id="b", ts="2026-11-22T08:05:00.250-05:00"),
            _row(event_id="c", ts="2026-11-22T13:05:00+00:00"),
        )
    )
    assert list(result.valid["event_ts"]) == [
        pd.Timestamp("2026-11-22T13:05:00Z"),
        pd.Timestamp("2026-11-22T13:05:00.250Z"),
        pd.Timestamp("2026-11-22T13:05:00Z"),
    ]


def test_future_tolerance_is_inclusive_and_configurable():
    at_limit = _row(event_id="a", ts="2026-11-22T14:05:00Z")
    past_limit = _row(event_id="b", ts="2026-11-22T14:05:00.001Z")
    result = _validate(_wire(at_limit, past_limit))
    assert list(result.valid["event_id"]) == ["a"]
    strict = _validate(_wire(at_limit), future_tolerance=timedelta(0))
    assert list(strict.quarantined["reason"]) == ["future_timestamp"]


def test_every_metric_range_bound_is_inclusive():
    catalog = load_catalog()
    rows = []
    for device_id, kind in zip(DEVICES["device_id"], DEVICES["device_kind"], strict=True):
        for metric in catalog.device_kinds[kind].metrics:
            bounds = (catalog.metrics[metric].low, catalog.metrics[metric].high)
            for n, value in enumerate(bounds):
                rows.append(
                    _row(
                        event_id=f"{metric}-{n}",
                        device_id=device_id,
                        metric=metric,
                        value=repr(value),
                    )
                )
    result = _validate(_wire(*rows))
    assert result.quarantined.empty
    assert len(result.valid) == len(rows) == 2 * 7


# --- the catalog ----------------------------------------------------------------------

ROOM = {
    "metrics": {"radon_bq_m3": {"unit": "Bq_m3", "low": 0, "high": 10000}},
    "device_kinds": {"room": {"metrics": ["temperature_c", "radon_bq_m3"]}},
}


def _with_room(*rows: dict, catalog=None) -> ValidationResult:
    devices = pd.concat([DEVICES, pd.DataFrame({"device_id": ["room-1"], "device_kind": ["room"]})])
    result = validate_readings(
        _wire(*rows), devices, INTERVAL, ingested_at=INGESTED_AT, catalog=catalog
    )
    assert result.reconciles
    return result


def test_a_kind_the_catalog_lacks_quarantines_its_readings():
    catalog = load_catalog().merged({"metrics": ROOM["metrics"]})
    rows = [_row(event_id="a", device_id="room-1"), _row(event_id="b")]
    result = _with_room(*rows, catalog=catalog)
    assert list(result.quarantined["reason"]) == ["unknown_device_kind"]
    assert list(result.valid["event_id"]) == ["b"]


def test_a_metric_may_serve_several_kinds():
    catalog = load_catalog().merged(ROOM)
    rows = [
        _row(event_id="a", device_id="room-1"),
        _row(event_id="b", device_id="room-1", metric="radon_bq_m3", value="415"),
        _row(event_id="c"),
        _row(event_id="d", metric="radon_bq_m3", value="415"),
        _row(event_id="e", device_id="room-1", metric="humidity_pct", value="40"),
    ]
    result = _with_room(*rows, catalog=catalog)
    assert list(result.valid["event_id"]) == ["a", "b", "c"]
    assert list(result.quarantined["reason"]) == ["metric_not_for_device_kind"] * 2


def test_ranges_come_from_the_catalog():
    narrow = load_catalog().merged(
        {"metrics": {"radon_bq_m3": {"unit": "Bq_m3", "low": 0, "high": 2000}}}
    )
    rows = [_row(event_id="a", device_id="room-1", metric="radon_bq_m3", value="2500")]
    wide = _with_room(*rows, catalog=load_catalog().merged(ROOM))
    assert wide.quarantined.empty
    tight = _with_room(*rows, catalog=narrow.merged({"device_kinds": ROOM["device_kinds"]}))
    assert list(tight.quarantined["reason"]) == ["out_of_range"]


# --- one reason, the first ------------------------------------------------------------


def test_the_first_failing_rule_is_the_only_reason():
    rows = [
        _row(parse_error="malformed_json", event_id=None, value="err"),
        _row(event_id=None, ts=None, value="err"),
        _row(ts="garbage", value="err", device_id="nobody"),
        _row(value="err", device_id="nobody", metric="nothing"),
        _row(device_id="nobody", metric="nothing", value="999"),
        _row(metric="nothing", value="-999"),
        _row(metric="power_w", value="-1"),
        _row(value="999", ts="2030-01-01T00:00:00Z"),
    ]
    assert _reasons(*rows) == [
        "malformed_json",
        "missing_field:event_id",
        "bad_timestamp",
        "bad_value",
        "unknown_device",
        "unknown_metric",
        "metric_not_for_device_kind",
        "out_of_range",
    ]


def test_quarantine_keeps_the_original_text():
    odd = _row(value=" 999 ", ts="2026-11-22T13:05:00.000Z", raw_record=None)
    result = _validate(_wire(odd))
    row = result.quarantined.iloc[0]
    assert list(result.quarantined.columns) == [*WIRE_COLUMNS, "reason", "ingested_at"]
    assert {column: row[column] for column in WIRE_COLUMNS} == odd
    assert row["ingested_at"] == pd.Timestamp(INGESTED_AT)


def test_output_columns_and_dtypes():
    result = _validate(_wire(GOOD, _row(value="err")))
    assert dict(result.valid.dtypes.astype(str)) == {
        "event_id": "object",
        "device_id": "object",
        "metric": "object",
        "value": "float64",
        "event_ts": "datetime64[us, UTC]",
        "origin": "object",
        "ingested_at": "datetime64[us, UTC]",
    }
    assert str(result.quarantined["ingested_at"].dtype) == "datetime64[us, UTC]"
    assert all(result.quarantined[c].dtype == object for c in [*WIRE_COLUMNS, "reason"])


def test_empty_input_gives_empty_typed_outputs():
    result = _validate(_wire())
    assert result.rows_in == 0
    assert result.valid.empty and result.quarantined.empty
    assert str(result.valid["event_ts"].dtype) == "datetime64[us, UTC]"


def test_missing_and_extra_columns():
    wire = _wire(GOOD).drop(columns=["value", "raw_record"]).assign(firmware="1.2")
    result = _validate(wire)
    assert list(result.quarantined["reason"]) == ["missing_field:value"]
    assert "firmware" not in result.quarantined.columns


def test_non_text_values_are_handled_as_text():
    wire = _wire(GOOD, _row(event_id="x"), _row(event_id="y"))
    wire["value"] = pd.Series([21.5, np.nan, 1000], dtype=object)
    result = _validate(wire)
    assert list(result.valid["value"]) == [21.5]
    assert list(result.quarantined["reason"]) == ["missing_field:value", "out_of_range"]
    assert list(result.quarantined["value"]) == [None, "1000"]


def test_unreconciled_result_is_reported():
    result = _validate(_wire(GOOD))
    broken = ValidationResult(result.valid, result.quarantined, result.reasons, rows_in=2)
    assert not broken.reconciles
    with pytest.raises(ValueError, match="rows in 2"):
        broken.raise_if_unreconciled()


# --- whole batches --------------------------------------------------------------------


def test_a_faulty_simulated_batch_reconciles():
    fleet = build_fleet(60, seed=3)
    faults = FaultRates(spike=0.01, malformed=0.02, duplicate=0.02, late=0.1)
    batch = simulate_interval(fleet, INTERVAL, 3, faults=faults)
    result = validate_readings(
        batch.readings, devices_frame(fleet), INTERVAL, ingested_at=INGESTED_AT
    )
    assert result.reconciles
    assert result.rows_in == len(batch.readings)
    assert sum(result.reasons.values()) == len(result.quarantined)
    assert Counter(result.quarantined["reason"]) == result.reasons
    assert result.valid["event_id"].is_unique
    assert Counter(result.valid["event_id"]) + Counter(result.quarantined["event_id"]) == (
        Counter(batch.readings["event_id"])
    )
    assert {"duplicate_event_id", "bad_value", "out_of_range"} <= set(result.reasons)
    spikes = batch.labels.loc[batch.labels["fault"] == "spike", "event_id"]
    assert set(
        result.quarantined.loc[result.quarantined["reason"] == "out_of_range", "event_id"]
    ) <= set(spikes)


_JUNK = [
    None,
    "",
    " ",
    "err",
    "NaN",
    "inf",
    "1e309",
    "-0",
    "12.5",
    "1,5",
    "\x00",
    "ü",
    "999999",
    "2026-11-22T13:05:00Z",
    "2026-11-22T13:05",
    "env-0001",
    "mach-0001",
    "gps-0001",
    "temperature_c",
    "power_w",
    "speed_kmh",
    "latitude",
    "malformed_json",
    "e1",
    "e2",
    np.nan,
    7,
    3.25,
    True,
]


@pytest.mark.parametrize("seed", range(12))
def test_fuzzed_frames_always_reconcile(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    wire = pd.DataFrame(
        {
            column: pd.Series([_JUNK[i] for i in rng.integers(len(_JUNK), size=n)], dtype=object)
            for column in WIRE_COLUMNS
            if rng.random() > 0.1
        }
    )
    result = validate_readings(wire, DEVICES, INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    assert result.rows_in == n
    assert result.quarantined["reason"].map(lambda r: isinstance(r, str) and r != "").all()
    assert result.valid["value"].map(np.isfinite).all()
    assert result.valid["event_id"].is_unique
    for column in WIRE_COLUMNS:
        texts = result.quarantined[column].dropna()
        assert texts.map(lambda v: isinstance(v, str)).all(), column
