"""Synthetic risk-feature rows and a registered champion, for drift checks in tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier

from fieldhouse.ml import registry
from fieldhouse.monitoring.models import ModelDriftSpec
from fieldhouse.storage.objects import ObjectStore


def transactions(
    days: int, start: pd.Timestamp, rng: np.random.Generator, *, shifted: bool
) -> pd.DataFrame:
    """``days`` of risk features; ``shifted`` ones have amounts far above customers'
    usual and bursts of activity, as when a merchant integration starts double-charging."""
    n = days * 400
    ts = start + pd.to_timedelta(np.sort(rng.uniform(0, days * 86_400, n)), unit="s")
    ratio = rng.lognormal(0.0, 0.4, n) * (3.0 if shifted else 1.0)
    burst = 4 if shifted else 0
    return pd.DataFrame(
        {
            "transaction_id": [f"T{start:%m%d}-{i:06d}" for i in range(n)],
            "ts": ts,
            "amount_to_usual_ratio": ratio,
            "log_amount": np.log(30 * ratio),
            "tx_count_1h": rng.poisson(0.3, n) + burst,
            "tx_count_24h": rng.poisson(2.0, n) + burst,
            "is_foreign": rng.random(n) < 0.03,
            "is_new_country": rng.random(n) < 0.01,
            "is_new_device": rng.random(n) < 0.01,
            "hour_of_day": ts.hour,
        }
    )


def register_champion(
    store: ObjectStore, spec: ModelDriftSpec, start: pd.Timestamp, end: pd.Timestamp
) -> str:
    """A champion of ``spec``'s model trained on [start, end); returns its version."""
    card = registry.register(
        spec.model_name,
        DummyClassifier(),
        {
            "metrics": {"pr_auc": 0.5},
            "features": {c: "float64" for c in spec.features},
            "training_period": {"start": start.isoformat(), "end": end.isoformat()},
            "lake_snapshot_id": 0,
            "eval_fingerprint": "probe",
        },
    )
    registry.promote_if_better(spec.model_name, card["version"], "pr_auc")
    return card["version"]


def write_tables(settings, spec: ModelDriftSpec, features: pd.DataFrame, risk) -> None:
    """Replace ``spec``'s feature and score tables in the lake."""
    from fieldhouse.lake import duckdb_connect

    scores = pd.DataFrame({"transaction_id": features["transaction_id"], "risk_score": risk})
    with duckdb_connect(settings) as con:
        con.register("features", features)
        con.register("scores", scores)
        con.execute(f"create or replace table {spec.feature_table} as from features")
        con.execute(f"create or replace table {spec.scores_table} as from scores")
