"""The finance simulator: stable customers, labelled fraud, chargebacks exactly once."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from fieldhouse.quality.finance import (
    CHARGEBACK_SCHEMA,
    TRANSACTION_SCHEMA,
    validate_chargebacks,
    validate_transactions,
)
from fieldhouse.sources.finance import (
    CHARGEBACK_DAYS,
    LOOKBACK_DAYS,
    FinanceFaults,
    customer_profiles,
    second_device,
    simulate_chargebacks,
    simulate_transactions,
)
from fieldhouse.storage.keys import Interval

SEED = 3
CUSTOMERS = 500
DAY = Interval.parse("2026-11-02T00:00:00+00:00", "2026-11-03T00:00:00+00:00")
WEEK = Interval.parse("2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00")
CLEAN = FinanceFaults.none()


@pytest.fixture(scope="module")
def clean_week():
    return simulate_transactions(WEEK, SEED, faults=CLEAN)


def test_customers_have_stable_habits():
    profiles = customer_profiles(SEED, CUSTOMERS)
    assert len(profiles) == CUSTOMERS
    assert profiles["customer_id"].is_unique
    assert profiles["device_id"].is_unique
    pd.testing.assert_frame_equal(
        profiles.drop(columns=["channel_mix", "category_mix"]),
        customer_profiles.__wrapped__(SEED, CUSTOMERS).drop(
            columns=["channel_mix", "category_mix"]
        ),
    )


def test_a_clean_week_is_entirely_valid(clean_week):
    assert list(clean_week.readings.columns) == list(TRANSACTION_SCHEMA.wire_columns)
    result = validate_transactions(clean_week.readings, WEEK, ingested_at=WEEK.end)
    assert result.reconciles
    assert result.quarantined.empty
    assert len(result.valid) > 5_000
    assert set(result.valid["channel"]) == {"card_present", "online", "atm", "transfer"}
    assert (result.valid.loc[result.valid["channel"] == "atm", "merchant_category"] == "cash").all()


def test_same_inputs_same_transactions_and_an_hour_is_a_slice_of_the_day():
    day = simulate_transactions(DAY, SEED)
    pd.testing.assert_frame_equal(day.readings, simulate_transactions(DAY, SEED).readings)
    assert not day.readings["amount"].equals(
        simulate_transactions(DAY, SEED + 1).readings["amount"]
    )
    hours = [simulate_transactions(h, SEED) for h in DAY.hours()]
    pd.testing.assert_frame_equal(
        pd.concat([h.readings for h in hours], ignore_index=True), day.readings
    )
    pd.testing.assert_frame_equal(
        pd.concat([h.labels for h in hours], ignore_index=True), day.labels
    )


def test_fraud_labels_match_the_injected_patterns(clean_week):
    profiles = customer_profiles(SEED, CUSTOMERS).set_index("customer_id")
    frame = clean_week.readings.merge(clean_week.labels, on="transaction_id", how="left")
    assert len(frame) == len(clean_week.readings)
    home = frame["customer_id_x"].map(profiles["home_country"])
    device = frame["customer_id_x"].map(profiles["device_id"])
    typical = frame["customer_id_x"].map(profiles["typical_amount"])
    amount = frame["amount"].astype(float)

    honest = ~frame["is_fraud"]
    # Honest customers mostly pay from their registered device; some from their
    # second device or a new one, never the way a takeover does it.
    registered = frame["device_id"] == device
    second = frame["device_id"] == frame["customer_id_x"].map(lambda c: second_device(SEED, c))
    new = frame["device_id"].str.startswith("DEV-N")
    assert (registered | second | new)[honest].all()
    assert 0.9 < registered[honest].mean() < 1.0 and second[honest].any()
    assert frame.loc[honest & ~registered, "channel"].isin(["online", "transfer"]).all()
    assert frame.loc[honest, "pattern"].isna().all()
    burst = frame["pattern"] == "burst"
    takeover = frame["pattern"] == "takeover"
    assert burst.any() and takeover.any()
    assert (burst | takeover).equals(frame["is_fraud"])
    assert 0.001 < frame["is_fraud"].mean() < 0.03
    assert (frame.loc[burst, "device_id"] == device[burst]).all()
    assert (frame.loc[burst, "country"] == home[burst]).all()
    assert (frame.loc[burst, "channel"] == "online").all()
    assert (frame.loc[takeover, "device_id"] != device[takeover]).all()
    assert (frame.loc[takeover, "country"] != home[takeover]).all()
    assert (amount[frame["is_fraud"]] >= 1.5 * typical[frame["is_fraud"]] - 0.01).all()
    # Big honest purchases overlap the fraud amounts.
    assert (amount[honest] > 3 * typical[honest]).any()
    # A burst is several transactions of one customer within an hour.
    per_incident = frame[burst].groupby("customer_id_x")["transaction_id"].count()
    assert (per_incident >= 3).all()


def test_every_fraudulent_transaction_is_charged_back_once_days_later(clean_week):
    fraud = clean_week.labels[clean_week.labels["is_fraud"]]
    assert len(fraud) > 0
    later = Interval(WEEK.start, WEEK.end + timedelta(days=LOOKBACK_DAYS))
    chargebacks = simulate_chargebacks(later, SEED, faults=CLEAN)
    assert list(chargebacks.readings.columns) == list(CHARGEBACK_SCHEMA.wire_columns)
    result = validate_chargebacks(chargebacks.readings, later, ingested_at=later.end)
    assert result.reconciles and result.quarantined.empty
    ours = chargebacks.labels[chargebacks.labels["transaction_id"].isin(fraud["transaction_id"])]
    assert sorted(ours["transaction_id"]) == sorted(fraud["transaction_id"])
    assert ours["chargeback_id"].is_unique
    delay = (ours["reported_at"] - ours["transaction_ts"]).dt.total_seconds() / 86_400
    assert delay.between(*CHARGEBACK_DAYS).all()
    patterns = ours.set_index("transaction_id")["pattern"]
    assert (patterns == fraud.set_index("transaction_id").loc[patterns.index, "pattern"]).all()


def test_consecutive_intervals_report_each_chargeback_exactly_once():
    days = [
        Interval(DAY.start + timedelta(days=d), DAY.start + timedelta(days=d + 1)) for d in range(3)
    ]
    whole = simulate_chargebacks(Interval(days[0].start, days[-1].end), SEED)
    parts = [simulate_chargebacks(day, SEED) for day in days]
    pd.testing.assert_frame_equal(
        pd.concat([p.readings for p in parts], ignore_index=True), whole.readings
    )
    assert whole.labels["chargeback_id"].is_unique
    assert len(whole.labels) > 0
    hours = [simulate_chargebacks(h, SEED) for h in DAY.hours()]
    pd.testing.assert_frame_equal(
        pd.concat([h.labels for h in hours], ignore_index=True), parts[0].labels
    )


def test_faults_are_rare_and_each_has_its_reason():
    batch = simulate_transactions(WEEK, SEED, faults=FinanceFaults(duplicate=0.01, malformed=0.02))
    result = validate_transactions(batch.readings, WEEK, ingested_at=WEEK.end)
    assert result.reconciles
    assert set(result.reasons) == {
        "bad_timestamp",
        "bad_value",
        "unknown_channel",
        "non_positive_amount",
        "duplicate_transaction_id",
    }
    assert len(result.quarantined) < 0.06 * len(batch.readings)
    seen = set(result.valid["transaction_id"]) | set(result.quarantined["transaction_id"])
    assert seen == set(batch.labels["transaction_id"])
    month = Interval(WEEK.start, WEEK.start + timedelta(days=30))
    chargebacks = simulate_chargebacks(month, SEED, faults=FinanceFaults(malformed=0.3))
    checked = validate_chargebacks(chargebacks.readings, month, ingested_at=month.end)
    assert checked.reconciles
    assert {"bad_value", "unknown_reason_code"} <= set(checked.reasons)
