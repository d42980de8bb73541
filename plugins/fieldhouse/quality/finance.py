"""Validation of card and account transactions and of the chargebacks that follow fraud.

A transaction is ``transaction_id, customer_id, ts, amount, currency,
merchant_category, channel, country, device_id``. After the engine's checks on the
fields (missing, ``bad_timestamp``, ``bad_value``, ``unknown_currency``,
``unknown_merchant_category``, ``unknown_channel``, ``unknown_country``,
``ancient_timestamp`` for a time before 1970), a transaction is quarantined, first
failing rule only, for:

1. ``non_positive_amount``       an amount of zero or less
2. ``future_timestamp``          later than the interval end plus a tolerance
3. ``conflicting_transaction_id`` / ``duplicate_transaction_id``  a transaction sent
   again, with other values or the same

A chargeback is ``chargeback_id, transaction_id, customer_id, reported_at,
amount, currency, reason_code``: the late label of a fraudulent transaction. It is
quarantined for ``unknown_currency``, ``unknown_reason_code``,
``ancient_timestamp``, ``non_positive_amount``, ``future_timestamp`` and a repeated
``chargeback_id``.

Currencies (ISO 4217), countries (ISO 3166-1), merchant categories, channels and
chargeback reasons come from the catalog (``context["catalog"]``, by default the
files').
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fieldhouse.quality.core import (
    Batch,
    Field,
    Kind,
    Rule,
    ValidationResult,
    WireSchema,
    from_catalog,
    not_after_interval_end,
    validate,
)
from fieldhouse.storage.keys import Interval

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog


def _non_positive_amount(batch: Batch) -> np.ndarray:
    return batch["amount"] <= 0


TRANSACTION_SCHEMA = WireSchema(
    name="finance.transactions",
    fields=(
        Field("transaction_id"),
        Field("customer_id"),
        Field("ts", Kind.TIMESTAMP),
        Field("amount", Kind.DECIMAL),
        Field("currency", allowed=from_catalog("currencies")),
        Field("merchant_category", allowed=from_catalog("merchant_categories")),
        Field("channel", allowed=from_catalog("channels")),
        Field("country", allowed=from_catalog("countries")),
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
        Field("currency", allowed=from_catalog("currencies")),
        Field("reason_code", allowed=from_catalog("chargeback_reasons")),
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
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame of transactions into typed valid rows and quarantined rows."""
    return validate(
        wire,
        TRANSACTION_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance, "catalog": catalog},
    )


def validate_chargebacks(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame of chargebacks into typed valid rows and quarantined rows."""
    return validate(
        wire,
        CHARGEBACK_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance, "catalog": catalog},
    )
