"""The validation engine on a small schema of its own: order, one reason, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse.quality.core import (
    EARLIEST_TIMESTAMP,
    Batch,
    Field,
    Kind,
    Rule,
    ValidationResult,
    WireSchema,
    not_after_interval_end,
    validate,
)
from fieldhouse.storage.keys import Interval

INTERVAL = Interval.parse("2026-11-22T13:00:00+00:00")
INGESTED_AT = datetime(2026, 11, 22, 14, 2, tzinfo=UTC)


def _high_below_open(batch: Batch) -> np.ndarray:
    return batch["high"] < batch["open"]


def _odd_quantity(batch: Batch) -> np.ndarray:
    return batch["qty"] % 2 == 1


SCHEMA = WireSchema(
    name="test.trades",
    fields=(
        Field("trade_id"),
        Field("desk", allowed=lambda context: context["desks"], unknown_reason="unknown_desk"),
        Field("at", Kind.TIMESTAMP, output="trade_ts"),
        Field("side", allowed=("buy", "sell")),
        Field("open", Kind.DECIMAL, low=0.0),
        Field("high", Kind.DECIMAL, low=0.0),
        Field("qty", Kind.INTEGER, required=False, high=1_000),
    ),
    rules=(
        Rule("high_below_open", _high_below_open),
        Rule("odd_quantity", _odd_quantity),
        not_after_interval_end("at"),
    ),
    key="trade_id",
)
GOOD = {
    "trade_id": "t-1",
    "desk": "rates",
    "at": "2026-11-22T13:30:00Z",
    "side": "buy",
    "open": "10.5",
    "high": "11",
    "qty": "4",
    "origin": "test",
}


def _wire(*rows: dict, schema: WireSchema = SCHEMA) -> pd.DataFrame:
    return pd.DataFrame(
        {
            column: pd.Series([row.get(column) for row in rows], dtype=object)
            for column in schema.wire_columns
        }
    )


def _row(**changes) -> dict:
    return {**GOOD, **changes}


def _validate(wire: pd.DataFrame, schema: WireSchema = SCHEMA, **context) -> ValidationResult:
    result = validate(
        wire,
        schema,
        INTERVAL,
        ingested_at=INGESTED_AT,
        context={"desks": ["rates", "fx"], **context},
    )
    assert result.reconciles
    return result


def _reasons(*rows: dict, schema: WireSchema = SCHEMA) -> list[str]:
    return list(_validate(_wire(*rows, schema=schema), schema).quarantined["reason"])


def test_schema_columns_follow_the_wire_convention():
    assert SCHEMA.wire_columns == (
        "trade_id",
        "desk",
        "at",
        "side",
        "open",
        "high",
        "qty",
        "origin",
        "parse_error",
        "raw_record",
    )
    assert SCHEMA.valid_columns[-2:] == ("origin", "ingested_at")
    assert "trade_ts" in SCHEMA.valid_columns
    assert SCHEMA.quarantine_columns == (*SCHEMA.wire_columns, "reason", "ingested_at")
    assert list(SCHEMA.empty_wire_frame().columns) == list(SCHEMA.wire_columns)


def test_a_good_row_is_typed_by_its_field_kinds():
    result = _validate(_wire(GOOD, _row(trade_id="t-2", qty=None)))
    assert result.quarantined.empty
    assert dict(result.valid.dtypes.astype(str)) == {
        "trade_id": "object",
        "desk": "object",
        "trade_ts": "datetime64[us, UTC]",
        "side": "object",
        "open": "float64",
        "high": "float64",
        "qty": "Int64",
        "origin": "object",
        "ingested_at": "datetime64[us, UTC]",
    }
    assert list(result.valid["qty"]) == [4, pd.NA]
    assert result.valid["trade_ts"].iloc[0] == pd.Timestamp("2026-11-22T13:30:00Z")


def test_reasons_are_listed_in_evaluation_order():
    assert SCHEMA.reasons() == (
        "parse_error",
        "missing_field:trade_id",
        "missing_field:desk",
        "missing_field:at",
        "missing_field:side",
        "missing_field:open",
        "missing_field:high",
        "bad_timestamp",
        "bad_value",
        "unknown_desk",
        "unknown_side",
        "ancient_timestamp",
        "out_of_range",
        "high_below_open",
        "odd_quantity",
        "future_timestamp",
        "conflicting_trade_id",
        "duplicate_trade_id",
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"parse_error": "malformed_csv", "raw_record": "a,b"}, "malformed_csv"),
        ({"trade_id": ""}, "missing_field:trade_id"),
        ({"high": None}, "missing_field:high"),
        ({"at": "2026-11-22 13:30"}, "bad_timestamp"),
        ({"open": "ten"}, "bad_value"),
        ({"qty": "4.0"}, "bad_value"),
        ({"qty": "1e3"}, "bad_value"),
        ({"qty": "1234567890123456789"}, "bad_value"),
        ({"desk": "equities"}, "unknown_desk"),
        ({"side": "hold"}, "unknown_side"),
        ({"open": "-0.5"}, "out_of_range"),
        ({"qty": "1002"}, "out_of_range"),
        ({"high": "10"}, "high_below_open"),
        ({"qty": "3"}, "odd_quantity"),
        ({"at": "2026-11-22T14:05:00.001Z"}, "future_timestamp"),
    ],
)
def test_each_declared_check_and_rule_has_its_reason(changes, reason):
    assert _reasons(_row(**changes)) == [reason]


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("9999-01-01T00:00:00Z", "future_timestamp"),
        ("2262-04-12T00:00:00Z", "future_timestamp"),
        ("9999-12-31T23:00:00-05:00", "future_timestamp"),  # year 10000 in UTC
        ("1900-01-01T00:00:00Z", "ancient_timestamp"),
        ("1500-06-01T12:00:00.5+02:00", "ancient_timestamp"),
        ("1969-12-31T23:59:59Z", "ancient_timestamp"),
        ("1970-01-01T00:30:00+01:00", "ancient_timestamp"),  # 23:30 the day before in UTC
        ("12026-01-01T00:00:00Z", "bad_timestamp"),
        ("0000-01-01T00:00:00Z", "bad_timestamp"),
        ("9999-02-30T00:00:00Z", "bad_timestamp"),
        ("1900-01-01", "bad_timestamp"),
    ],
)
def test_a_well_formed_time_beyond_what_pandas_holds_is_judged_not_refused(at, reason):
    assert _reasons(_row(at=at)) == [reason]


def test_the_earliest_timestamp_itself_is_accepted():
    result = _validate(_wire(_row(at="1970-01-01T00:00:00Z")))
    assert result.quarantined.empty
    assert result.valid["trade_ts"].iloc[0] == pd.Timestamp(EARLIEST_TIMESTAMP)


def test_time_bounds_take_their_place_in_the_order():
    rows = [
        _row(trade_id="a", desk="nobody", at="1900-01-01T00:00:00Z"),
        _row(trade_id="b", at="1900-01-01T00:00:00Z", open="-1"),
        _row(trade_id="c", at="1900-01-01T00:00:00Z", high="10"),
        _row(trade_id="d", at="9999-01-01T00:00:00Z", high="10"),
    ]
    assert _reasons(*rows) == [
        "unknown_desk",
        "ancient_timestamp",
        "ancient_timestamp",
        "high_below_open",
    ]


def test_every_time_field_is_bounded_not_only_the_event_time():
    settled = WireSchema(
        name="test.settled",
        fields=(*SCHEMA.fields, Field("settles_at", Kind.TIMESTAMP, required=False)),
        rules=SCHEMA.rules,
        key=SCHEMA.key,
    )
    rows = [
        _row(trade_id="a", settles_at="9999-12-31T00:00:00Z"),
        _row(trade_id="b", settles_at="1900-01-01T00:00:00Z"),
        _row(trade_id="c", settles_at="2030-01-01T00:00:00Z"),  # a settlement date may be ahead
    ]
    result = _validate(_wire(*rows, schema=settled), settled)
    assert list(result.quarantined["reason"]) == ["future_timestamp", "ancient_timestamp"]
    assert list(result.valid["trade_id"]) == ["c"]


def test_an_optional_field_may_be_empty_but_not_wrong():
    result = _validate(_wire(_row(qty=""), _row(trade_id="t-2", qty=" +8 ")))
    assert result.quarantined.empty
    assert list(result.valid["qty"]) == [pd.NA, 8]


def test_one_reason_per_row_the_first_failing_rule():
    rows = [
        _row(trade_id="a", parse_error="malformed_json", desk=None, open="x"),
        _row(trade_id="b", desk=None, at="never", open="x"),
        _row(trade_id="c", at="never", open="x", side="hold"),
        _row(trade_id="d", open="x", desk="nobody"),
        _row(trade_id="e", desk="nobody", side="hold", open="-1"),
        _row(trade_id="f", side="hold", open="-1"),
        _row(trade_id="g", open="-1", high="-2"),
        _row(trade_id="h", high="1", qty="3", at="2030-01-01T00:00:00Z"),
        _row(trade_id="i", qty="3", at="2030-01-01T00:00:00Z"),
        _row(trade_id="j", at="2030-01-01T00:00:00Z"),
    ]
    result = _validate(_wire(*rows))
    assert list(result.quarantined["reason"]) == [
        "malformed_json",
        "missing_field:desk",
        "bad_timestamp",
        "bad_value",
        "unknown_desk",
        "unknown_side",
        "out_of_range",
        "high_below_open",
        "odd_quantity",
        "future_timestamp",
    ]
    assert sum(result.reasons.values()) == len(rows)
    assert list(result.reasons) == list(result.quarantined["reason"])


def test_the_order_of_the_rule_list_decides_between_custom_rules():
    both = _row(high="10", qty="3")
    assert _reasons(both) == ["high_below_open"]
    swapped = WireSchema(
        name=SCHEMA.name,
        fields=SCHEMA.fields,
        rules=tuple(reversed(SCHEMA.rules)),
        key=SCHEMA.key,
    )
    assert _reasons(both, schema=swapped) == ["odd_quantity"]


def test_duplicates_keep_the_first_passing_row_in_input_order():
    rows = [
        _row(open="1", high="0.5"),  # t-1, fails a rule: does not claim the key
        _row(open="2", high="3"),  # t-1, the first passing copy
        _row(trade_id="t-2"),
        _row(open="2.0", high="3"),  # t-1 again, the same values
        _row(trade_id="t-2"),
    ]
    result = _validate(_wire(*rows))
    assert list(zip(result.valid["trade_id"], result.valid["open"], strict=True)) == [
        ("t-1", 2.0),
        ("t-2", 10.5),
    ]
    assert list(result.quarantined["reason"]) == [
        "high_below_open",
        "duplicate_trade_id",
        "duplicate_trade_id",
    ]
    assert list(result.quarantined["open"]) == ["1", "2.0", "10.5"]


def test_a_key_sent_with_other_values_quarantines_every_version():
    rows = [_row(open="2", high="3"), _row(trade_id="t-2"), _row(open="4", high="5")]
    result = _validate(_wire(*rows))
    assert list(result.valid["trade_id"]) == ["t-2"]
    assert list(result.quarantined["reason"]) == ["conflicting_trade_id"] * 2
    assert list(result.quarantined["open"]) == ["2", "4"]


def test_a_schema_without_key_keeps_repeats():
    keyless = WireSchema(name="test.keyless", fields=SCHEMA.fields, rules=SCHEMA.rules)
    result = _validate(_wire(GOOD, GOOD, schema=keyless), keyless)
    assert len(result.valid) == 2


def test_a_custom_rule_can_use_context_and_lookups():
    limits = {"rates": 11.0, "fx": 100.0}

    def over_desk_limit(batch: Batch) -> np.ndarray:
        return batch["high"] > batch.lookup_number("desk", batch.context["limits"])

    schema = WireSchema(
        name="test.limits",
        fields=SCHEMA.fields,
        rules=(Rule("over_desk_limit", over_desk_limit),),
        key="trade_id",
    )
    rows = [
        _row(trade_id="a", high="11"),
        _row(trade_id="b", high="11.5"),
        _row(trade_id="c", desk="fx", high="11.5"),
    ]
    result = _validate(_wire(*rows, schema=schema), schema, limits=limits)
    assert list(result.valid["trade_id"]) == ["a", "c"]
    assert list(result.quarantined["reason"]) == ["over_desk_limit"]


def test_future_tolerance_comes_from_the_context_when_given():
    at_end = _row(at="2026-11-22T14:00:00Z")
    assert _reasons(at_end) == []
    strict = _validate(_wire(at_end), future_tolerance=timedelta(0))
    assert strict.quarantined.empty
    later = _validate(_wire(_row(at="2026-11-22T14:00:01Z")), future_tolerance=timedelta(0))
    assert list(later.quarantined["reason"]) == ["future_timestamp"]


def test_invalid_schemas_are_refused():
    with pytest.raises(ValueError, match="bounds"):
        Field("name", low=0)
    with pytest.raises(ValueError, match="key"):
        WireSchema(name="x", fields=(Field("a"),), key="b")
    with pytest.raises(ValueError, match="unique"):
        WireSchema(name="x", fields=(Field("a"), Field("a")))
    with pytest.raises(ValueError, match="platform"):
        WireSchema(name="x", fields=(Field("origin"),))


def test_ingested_at_must_be_aware():
    with pytest.raises(ValueError, match="timezone"):
        validate(_wire(GOOD), SCHEMA, INTERVAL, ingested_at=datetime(2026, 11, 22))


_GARBAGE = [
    None,
    "",
    " ",
    "x",
    "NaN",
    "-inf",
    "1e400",
    "0",
    "-1",
    "3",
    "4",
    "10.5",
    "11",
    "+2",
    "1001",
    "99999999999999999999",
    "\x00",
    "rates",
    "fx",
    "buy",
    "sell",
    "t-1",
    "t-2",
    "2026-11-22T13:30:00Z",
    "2026-11-22T13:30:00",
    "2026-11-22T15:00:00+01:00",
    "2031-01-01T00:00:00Z",
    "9999-01-01T00:00:00Z",
    "1900-01-01T00:00:00Z",
    np.nan,
    7,
    2.5,
    False,
]


@pytest.mark.parametrize("seed", range(20))
def test_random_garbage_always_reconciles(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    wire = pd.DataFrame(
        {
            column: pd.Series(
                [_GARBAGE[i] for i in rng.integers(len(_GARBAGE), size=n)], dtype=object
            )
            for column in SCHEMA.wire_columns
            if rng.random() > 0.1
        }
    )
    result = _validate(wire)
    assert result.rows_in == n
    assert len(result.valid) + len(result.quarantined) == n
    assert sum(result.reasons.values()) == len(result.quarantined)
    assert result.quarantined["reason"].map(lambda r: isinstance(r, str) and r != "").all()
    parse_error = result.quarantined["parse_error"].fillna("") != ""
    assert (result.quarantined["reason"] == result.quarantined["parse_error"])[parse_error].all()
    assert set(result.quarantined["reason"][~parse_error]) <= set(SCHEMA.reasons())
    assert result.valid["trade_id"].is_unique
    assert (result.valid["high"] >= result.valid["open"]).all()
    assert np.isfinite(result.valid[["open", "high"]].to_numpy()).all()
    assert list(result.valid.columns) == list(SCHEMA.valid_columns)
    assert list(result.quarantined.columns) == list(SCHEMA.quarantine_columns)


def test_a_date_without_time_is_not_a_timestamp_with_offset() -> None:
    from fieldhouse.quality.core import _HAS_OFFSET

    assert _HAS_OFFSET.search("2026-11-18") is None
    assert _HAS_OFFSET.search("2026-11-18T13:05Z")
    assert _HAS_OFFSET.search("2026-11-18T13:05:00.250+01:00")
    assert _HAS_OFFSET.search("2026-11-18 13:05:00-0500")
    assert _HAS_OFFSET.search("2026-11-18T13:05:00") is None
