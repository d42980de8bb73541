"""Validation of card and account transactions and of the chargebacks that follow fraud.

A transaction is ``transaction_id, customer_id, ts, amount, currency,
merchant_category, channel, country, device_id``. After the engine's checks on the
fields (missing, ``bad_timestamp``, ``bad_value``, ``unknown_currency``,
``unknown_merchant_category``, ``unknown_channel``, ``unknown_country``), a
transaction is quarantined, first failing rule only, for:

1. ``non_positive_amount``       an amount of zero or less
2. ``future_timestamp``          later than the interval end plus a tolerance
3. ``duplicate_transaction_id``  a transaction already seen among rows passing the above

A chargeback is ``chargeback_id, transaction_id, customer_id, reported_at,
amount, currency, reason_code``: the late label of a fraudulent transaction. It is
quarantined for ``unknown_currency``, ``unknown_reason_code``,
``non_positive_amount``, ``future_timestamp`` and ``duplicate_chargeback_id``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fieldhouse.quality.core import (
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

COUNTRIES: tuple[str, ...] = (
    "US",
    "CA",
    "MX",
    "BR",
    "GB",
    "DE",
    "FR",
    "NL",
    "ES",
    "IT",
    "PL",
    "JP",
    "AU",
    "NG",
    "RU",
    "VN",
)
"""Countries (ISO 3166-1 alpha-2) a transaction may take place in."""

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "CAD", "JPY", "AUD")
CHANNELS: tuple[str, ...] = ("card_present", "online", "atm", "transfer")
MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "fuel",
    "travel",
    "electronics",
    "apparel",
    "entertainment",
    "utilities",
    "cash",
    "jewelry",
    "gift_cards",
)
CHARGEBACK_REASONS: tuple[str, ...] = ("fraud_card_not_present", "fraud_card_present")


def _non_positive_amount(batch: Batch) -> np.ndarray:
    return batch["amount"] <= 0


TRANSACTION_SCHEMA = WireSchema(
    name="finance.transactions",
    fields=(
        Field("transaction_id"),
        Field("customer_id"),
        Field("ts", Kind.TIMESTAMP),
        Field("amount", Kind.DECIMAL),
        Field("currency", allowed=CURRENCIES),
        Field("merchant_category", allowed=MERCHANT_CATEGORIES),
        Field("channel", allowed=CHANNELS),
        Field("country", allowed=COUNTRIES),
        Field("device_id"),
    ),
    rules=(
        Rule("non_positive_amount", _non_positive_amount),
        not_after_interval_end("ts"),
    ),
    key="transaction_id",
)
"""A transaction on the wire."""

CHARGEBACK_SCHEMA = WireSchema(
    name="finance.chargebacks",
    fields=(
        Field("chargeback_id"),
        Field("transaction_id"),
        Field("customer_id"),
        Field("reported_at", Kind.TIMESTAMP),
        Field("amount", Kind.DECIMAL),
        Field("currency", allowed=CURRENCIES),
        Field("reason_code", allowed=CHARGEBACK_REASONS),
    ),
    rules=(
        Rule("non_positive_amount", _non_positive_amount),
        not_after_interval_end("reported_at"),
    ),
    key="chargeback_id",
)
"""A chargeback on the wire: a transaction disputed as fraud, reported days later."""


def validate_transactions(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame of transactions into typed valid rows and quarantined rows."""
    return validate(
        wire,
        TRANSACTION_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance},
    )


def validate_chargebacks(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame of chargebacks into typed valid rows and quarantined rows."""
    return validate(
        wire,
        CHARGEBACK_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance},
    )
