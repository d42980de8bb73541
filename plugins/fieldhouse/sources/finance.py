"""A simulated card issuer: customers' transactions, a little fraud, and chargebacks later.

Each customer has stable habits, drawn once from ``(seed, customer)``: a home
country and its currency, a usual device, a typical amount, how often they spend
and through which channels (``card_present``, ``online``, ``atm``, ``transfer``)
and merchant categories. Now and then a customer travels and pays abroad with
their own device.

Fraud is a small share of incidents, each on one customer within one hour:

* ``burst``     several high online amounts in minutes, at risky merchants, from
                the customer's own country and device (a stolen card number);
* ``takeover``  a few high online payments or transfers from a country and a
                device the customer never used.

Honest customers do odd things too, so fraud is not given away by one feature:
now and then they buy something big (:data:`BIG_PURCHASE_SHARE`), pay from
their second device (:data:`SECOND_DEVICE_SHARE`) or from a brand-new one
(:data:`NEW_DEVICE_SHARE`), or travel to a country fraud often comes from.

Every fraudulent transaction is disputed: a chargeback is reported
:data:`CHARGEBACK_DAYS` after it. Fraud draws are seeded from ``(seed, hour)``
apart from ordinary spending, so :func:`simulate_chargebacks` replays only the
fraud of the :data:`LOOKBACK_DAYS` before an interval and keeps the chargebacks
reported inside it: each is emitted exactly once over consecutive intervals.

Like the other simulators, both feeds carry a small share of malformed records and
of duplicates. Labels give each transaction's truth (``is_fraud``, ``pattern``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldhouse.quality.finance import CHARGEBACK_SCHEMA, TRANSACTION_SCHEMA
from fieldhouse.sources.simulation import (
    SimulatedBatch,
    bounds,
    hour_after,
    iso_text,
    platform_columns,
    stable_hash,
    utc_series,
    with_duplicates,
)
from fieldhouse.storage.keys import Interval

ORIGIN = "finance_simulator"
HOUR = 3_600
DAY = 86_400
CHARGEBACK_DAYS = (2.0, 20.0)  # uniform delay from the transaction to its chargeback
LOOKBACK_DAYS = 21
"""Fraud this many days before an interval may still be charged back in it."""

HOME_CURRENCIES: dict[str, str] = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "JP": "JPY",
    "AU": "AUD",
}
"""Countries customers live in and the currency of their account."""

TRAVEL_COUNTRIES = ("US", "GB", "FR", "ES", "IT", "MX", "JP", "BR", "PL")
RISKY_COUNTRIES = ("NG", "RU", "VN", "BR", "PL")
EVERYDAY_CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "travel",
    "electronics",
    "apparel",
    "entertainment",
    "utilities",
)
RISKY_CATEGORIES = ("electronics", "jewelry", "gift_cards")
CHANNELS = ("card_present", "online", "atm", "transfer")
BIG_PURCHASE_SHARE = 0.005
"""Honest transactions 3 to 12 times the customer's usual amount (a television, a flight)."""
SECOND_DEVICE_SHARE = 0.03
"""Honest online payments and transfers from the customer's second device (a tablet)."""
NEW_DEVICE_SHARE = 0.002
"""Honest online payments and transfers from a device never seen before (a new phone)."""
UNKNOWN_CHANNEL = "carrier_pigeon"
UNKNOWN_REASON = "changed_mind"
_HOME_SHARE = np.array([40, 8, 12, 10, 8, 4, 6, 5, 4, 3], dtype=float)
_CURRENCY_SCALE = {"USD": 1.0, "CAD": 1.35, "GBP": 0.8, "EUR": 0.92, "JPY": 150.0, "AUD": 1.5}
_TX_MALFORMATIONS = 4  # bad amount, zero amount, unknown channel, bad timestamp
_CB_MALFORMATIONS = 2  # unknown reason code, bad amount


@dataclass(frozen=True)
class FinanceFaults:
    """How often each fault happens: incidents per hour, the rest per record."""

    fraud_incident: float = 0.1
    travel: float = 0.02
    duplicate: float = 0.005
    malformed: float = 0.005

    @classmethod
    def none(cls) -> FinanceFaults:
        return cls(duplicate=0.0, malformed=0.0)


DEFAULT_FAULTS = FinanceFaults()


@functools.lru_cache(maxsize=16)
def customer_profiles(seed: int, customers: int) -> pd.DataFrame:
    """Each customer's stable habits (the reference data of the finance source)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash("customers")]))
    homes = np.array(tuple(HOME_CURRENCIES), dtype=object)
    home = homes[rng.choice(len(homes), customers, p=_HOME_SHARE / _HOME_SHARE.sum())]
    currency = np.array([HOME_CURRENCIES[h] for h in home], dtype=object)
    scale = np.array([_CURRENCY_SCALE[c] for c in currency])
    ids = np.arange(customers)
    return pd.DataFrame(
        {
            "customer_id": np.array([f"CUST-{i:05d}" for i in ids], dtype=object),
            "home_country": home,
            "currency": currency,
            "device_id": np.array(
                [f"DEV-{stable_hash(f'{seed}-{i}') % 10**10:010d}" for i in ids], dtype=object
            ),
            "typical_amount": np.round(rng.lognormal(3.4, 0.6, customers) * scale, 2),
            "per_hour": rng.uniform(0.02, 0.15, customers),
            "channel_mix": list(rng.dirichlet([6.0, 3.0, 1.0, 0.5], customers)),
            "category_mix": list(rng.dirichlet(np.ones(len(EVERYDAY_CATEGORIES)), customers)),
        }
    )


def second_device(seed: int, customer_id: str) -> str:
    """The customer's second device, the same in every hour."""
    return f"DEV-{stable_hash(f'{seed}-{customer_id}-second') % 10**10:010d}"


def simulate_transactions(
    interval: Interval,
    seed: int,
    *,
    customers: int = 500,
    faults: FinanceFaults = DEFAULT_FAULTS,
) -> SimulatedBatch:
    """The transactions made in ``interval``, and labels of which were fraud."""
    start, end = bounds(interval)
    hours = [_hour(h, seed, customers, faults) for h in range(start // HOUR, hour_after(end))]
    frame = pd.concat(hours, ignore_index=True)
    frame = frame[(frame["second"] >= start) & (frame["second"] < end)]
    frame = frame.sort_values(["second", "transaction_id"], kind="stable", ignore_index=True)
    return SimulatedBatch(_transaction_wire(frame), _transaction_labels(frame))


def simulate_chargebacks(
    interval: Interval,
    seed: int,
    *,
    customers: int = 500,
    faults: FinanceFaults = DEFAULT_FAULTS,
) -> SimulatedBatch:
    """The chargebacks reported in ``interval``, of fraud up to :data:`LOOKBACK_DAYS` before."""
    start, end = bounds(interval)
    first = (start - LOOKBACK_DAYS * DAY) // HOUR
    incidents = [_fraud(h, seed, customers, faults) for h in range(first, hour_after(end))]
    incidents = [frame for frame in incidents if len(frame)] or incidents[:1]
    fraud = pd.concat(incidents, ignore_index=True)
    fraud = fraud[(fraud["reported"] >= start) & (fraud["reported"] < end)]
    fraud = fraud.sort_values(["reported", "transaction_id"], kind="stable", ignore_index=True)
    return SimulatedBatch(_chargeback_wire(fraud), _chargeback_labels(fraud))


# --- one hour of spending --------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _hour(hour: int, seed: int, customers: int, faults: FinanceFaults) -> pd.DataFrame:
    """Every transaction of one hour, ordinary and fraudulent, with its faults drawn."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash("spend"), hour]))
    profiles = customer_profiles(seed, customers)
    # Quiet at night (UTC), busiest mid-afternoon.
    awake = 0.3 + 0.9 * max(0.0, float(np.sin(np.pi * ((hour % 24) - 6) / 18)))
    counts = rng.poisson(profiles["per_hour"].to_numpy() * awake)
    who = np.repeat(np.arange(customers), counts)
    n = len(who)
    chosen = profiles.iloc[who]
    channel = np.array(
        [CHANNELS[rng.choice(len(CHANNELS), p=mix)] for mix in chosen["channel_mix"]],
        dtype=object,
    )
    category = np.array(
        [
            EVERYDAY_CATEGORIES[rng.choice(len(EVERYDAY_CATEGORIES), p=mix)]
            for mix in chosen["category_mix"]
        ],
        dtype=object,
    )
    category[channel == "atm"] = "cash"
    country = chosen["home_country"].to_numpy(dtype=object).copy()
    travelling = (rng.random(n) < faults.travel) & (channel != "transfer")
    country[travelling] = np.array(TRAVEL_COUNTRIES, dtype=object)[
        rng.integers(0, len(TRAVEL_COUNTRIES), int(travelling.sum()))
    ]
    amount = chosen["typical_amount"].to_numpy() * rng.lognormal(0, 0.5, n)
    big = (rng.random(n) < BIG_PURCHASE_SHARE) & (channel != "atm")
    amount[big] *= rng.uniform(3.0, 12.0, int(big.sum()))
    category[big] = np.array(("electronics", "travel"), dtype=object)[
        rng.integers(0, 2, int(big.sum()))
    ]
    amount = np.round(amount, 2)
    device = chosen["device_id"].to_numpy(dtype=object).copy()
    remote = np.isin(channel, ("online", "transfer"))
    draw = rng.random(n)
    second = remote & (draw < SECOND_DEVICE_SHARE)
    new = remote & (draw >= SECOND_DEVICE_SHARE) & (draw < SECOND_DEVICE_SHARE + NEW_DEVICE_SHARE)
    device[second] = [second_device(seed, c) for c in chosen["customer_id"].to_numpy()[second]]
    device[new] = [
        f"DEV-N{stable_hash(f'{seed}-{hour}-{i}') % 10**9:09d}" for i in np.flatnonzero(new)
    ]
    ordinary = pd.DataFrame(
        {
            "transaction_id": np.array([f"TX-{hour}-{i:05d}" for i in range(n)], dtype=object),
            "customer_id": chosen["customer_id"].to_numpy(dtype=object),
            "second": hour * HOUR + rng.integers(0, HOUR, n),
            "amount": np.maximum(amount, 0.01),
            "currency": chosen["currency"].to_numpy(dtype=object),
            "merchant_category": category,
            "channel": channel,
            "country": country,
            "device_id": device,
            "is_fraud": False,
            "pattern": None,
        }
    )
    fraud = _fraud(hour, seed, customers, faults)[list(ordinary.columns)]
    frame = pd.concat([ordinary, fraud], ignore_index=True) if len(fraud) else ordinary
    u = rng.random((3, len(frame)))
    frame["duplicate"] = u[0] < faults.duplicate
    frame["malformed"] = np.where(
        u[1] < faults.malformed, (u[2] * _TX_MALFORMATIONS).astype(np.int64), -1
    )
    return frame


@functools.lru_cache(maxsize=16384)
def _fraud(hour: int, seed: int, customers: int, faults: FinanceFaults) -> pd.DataFrame:
    """The fraud incident of one hour, if any, and when each transaction is charged back."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash("fraud"), hour]))
    columns = [
        "transaction_id",
        "customer_id",
        "second",
        "amount",
        "currency",
        "merchant_category",
        "channel",
        "country",
        "device_id",
        "is_fraud",
        "pattern",
        "reported",
        "reason_code",
        "cb_duplicate",
        "cb_malformed",
    ]
    if rng.random() >= faults.fraud_incident:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    victim = customer_profiles(seed, customers).iloc[int(rng.integers(0, customers))]
    takeover = bool(rng.random() < 0.5)
    n = int(rng.integers(2, 6) if takeover else rng.integers(3, 8))
    second = (
        hour * HOUR + int(rng.integers(0, HOUR - 30 * 60)) + np.cumsum(rng.integers(20, 300, n))
    )
    amount = np.round(victim["typical_amount"] * rng.uniform(1.5, 12.0, n), 2)
    if takeover:
        # Mostly from where fraud often comes from, sometimes from a common destination.
        abroad = RISKY_COUNTRIES if rng.random() < 0.6 else TRAVEL_COUNTRIES
        abroad = tuple(c for c in abroad if c != victim["home_country"])
        country = abroad[int(rng.integers(0, len(abroad)))]
        device = f"DEV-X{stable_hash(f'{seed}-{hour}') % 10**9:09d}"
        channel = np.array(["online", "transfer"], dtype=object)[rng.integers(0, 2, n)]
    else:
        country, device = victim["home_country"], victim["device_id"]
        channel = np.full(n, "online", dtype=object)
    category = np.array(RISKY_CATEGORIES, dtype=object)[rng.integers(0, len(RISKY_CATEGORIES), n)]
    category[channel == "transfer"] = "utilities"
    reported = second + np.round(rng.uniform(*CHARGEBACK_DAYS, n) * DAY).astype(np.int64)
    u = rng.random((3, n))
    return pd.DataFrame(
        {
            "transaction_id": np.array([f"TX-{hour}-F{i:03d}" for i in range(n)], dtype=object),
            "customer_id": victim["customer_id"],
            "second": second,
            "amount": amount,
            "currency": victim["currency"],
            "merchant_category": category,
            "channel": channel,
            "country": country,
            "device_id": device,
            "is_fraud": True,
            "pattern": "takeover" if takeover else "burst",
            "reported": reported,
            "reason_code": np.where(
                channel == "card_present", "fraud_card_present", "fraud_card_not_present"
            ).astype(object),
            "cb_duplicate": u[0] < faults.duplicate,
            "cb_malformed": np.where(
                u[1] < faults.malformed, (u[2] * _CB_MALFORMATIONS).astype(np.int64), -1
            ),
        }
    )[columns]


# --- rendering -------------------------------------------------------------------------


def _amount_text(values: pd.Series) -> np.ndarray:
    return np.array([f"{float(a):.2f}" for a in values], dtype=object)


def _transaction_wire(frame: pd.DataFrame) -> pd.DataFrame:
    """Render transactions as text, with duplicates and malformations."""
    if frame.empty:
        return TRANSACTION_SCHEMA.empty_wire_frame()
    frame = with_duplicates(frame, "duplicate")
    malformed = frame["malformed"].to_numpy()
    amount = _amount_text(frame["amount"])
    amount[malformed == 0] = [a.replace(".", ",") for a in amount[malformed == 0]]
    amount[malformed == 1] = "0.00"
    channel = frame["channel"].to_numpy(dtype=object).copy()
    channel[malformed == 2] = UNKNOWN_CHANNEL
    ts = iso_text(frame["second"].to_numpy())
    ts[malformed == 3] = [t[:-1] for t in ts[malformed == 3]]  # no offset
    return pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy(dtype=object),
            "customer_id": frame["customer_id"].to_numpy(dtype=object),
            "ts": ts,
            "amount": amount,
            "currency": frame["currency"].to_numpy(dtype=object),
            "merchant_category": frame["merchant_category"].to_numpy(dtype=object),
            "channel": channel,
            "country": frame["country"].to_numpy(dtype=object),
            "device_id": frame["device_id"].to_numpy(dtype=object),
            **platform_columns(len(frame), ORIGIN),
        }
    )[list(TRANSACTION_SCHEMA.wire_columns)]


def _transaction_labels(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy(dtype=object),
            "customer_id": frame["customer_id"].to_numpy(dtype=object),
            "ts": utc_series(frame["second"].to_numpy()),
            "is_fraud": frame["is_fraud"].to_numpy(dtype=bool),
            "pattern": frame["pattern"].to_numpy(dtype=object),
        }
    )


def _chargeback_wire(fraud: pd.DataFrame) -> pd.DataFrame:
    """Render chargebacks as text, with duplicates and malformations."""
    if fraud.empty:
        return CHARGEBACK_SCHEMA.empty_wire_frame()
    frame = with_duplicates(fraud, "cb_duplicate")
    malformed = frame["cb_malformed"].to_numpy()
    reason = frame["reason_code"].to_numpy(dtype=object).copy()
    reason[malformed == 0] = UNKNOWN_REASON
    amount = _amount_text(frame["amount"])
    amount[malformed == 1] = [a.replace(".", ",") for a in amount[malformed == 1]]
    transaction = frame["transaction_id"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "chargeback_id": "CB-" + transaction,
            "transaction_id": transaction,
            "customer_id": frame["customer_id"].to_numpy(dtype=object),
            "reported_at": iso_text(frame["reported"].to_numpy()),
            "amount": amount,
            "currency": frame["currency"].to_numpy(dtype=object),
            "reason_code": reason,
            **platform_columns(len(frame), ORIGIN),
        }
    )[list(CHARGEBACK_SCHEMA.wire_columns)]


def _chargeback_labels(fraud: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chargeback_id": "CB-" + fraud["transaction_id"].to_numpy(dtype=object),
            "transaction_id": fraud["transaction_id"].to_numpy(dtype=object),
            "transaction_ts": utc_series(fraud["second"].to_numpy()),
            "reported_at": utc_series(fraud["reported"].to_numpy()),
            "pattern": fraud["pattern"].to_numpy(dtype=object),
        }
    )
