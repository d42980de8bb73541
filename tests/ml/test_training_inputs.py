"""What models learn from: a feature empty in every training row skips them; days per source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fieldhouse.ml import risk, tabular


def _transactions(rows: int = 400) -> pd.DataFrame:
    """Mature transactions over 40 days with a chargeback every 20th, every feature filled."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            risk.KEY: [f"t-{i}" for i in range(rows)],
            risk.TIME_COLUMN: pd.date_range("2026-01-01", periods=rows, freq="2h", tz="UTC"),
            "merchant_category": rng.choice(["grocery", "travel"], rows),
            "channel": rng.choice(["pos", "online"], rows),
            "country": rng.choice(["US", "DE"], rows),
            **{name: rng.random(rows) for name in risk.NUMERIC},
            risk.LABEL: np.arange(rows) % 20 == 0,
            "label_complete": True,
        }
    )
    return frame


def test_a_feature_null_in_every_training_row_is_named() -> None:
    features = _transactions()
    features["seconds_since_prev_tx"] = np.nan

    with pytest.raises(tabular.NotEnoughData, match="seconds_since_prev_tx is null in all"):
        risk.train_risk_model(features, random_state=0)


def test_require_values_passes_columns_with_any_value() -> None:
    frame = pd.DataFrame({"a": [np.nan, 1.0], "b": [None, "x"]})
    tabular.require_values(frame, ["a", "b"], "training")  # raises nothing

    with pytest.raises(tabular.NotEnoughData, match="b is null in all 1 training rows"):
        tabular.require_values(frame.iloc[:1].assign(a=2.0), ["a", "b"], "training")


def test_training_days_end_at_each_sources_own_latest_row() -> None:
    from fieldhouse.ml.training import latest_days

    table = pd.DataFrame(
        {
            "source": ["old", "old", "old", "new", "new"],
            "ts": pd.to_datetime(
                ["2015-01-01", "2015-01-09", "2015-01-10", "2026-11-01", "2026-11-30"], utc=True
            ),
        }
    )
    kept = latest_days(table, "ts", window_days=5)

    assert kept["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2015-01-09", "2015-01-10", "2026-11-30"]
