"""End to end: a drifted model makes monitor_drift trigger train_models for that model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fieldhouse.monitoring.models import TRANSACTION_RISK
from tests.monitoring.probes import register_champion, transactions, write_tables

pytestmark = pytest.mark.e2e

START = pd.Timestamp("2026-10-01", tz="UTC")
LATER = START + pd.Timedelta(days=21)


def test_drift_triggers_retraining_of_the_drifted_model_with_the_reason(
    airflow, store, minio_server
) -> None:
    # A risk champion trained on three ordinary weeks, then a week unlike them.
    rng = np.random.default_rng(8)
    training = transactions(21, START, rng, shifted=False)
    shifted = transactions(7, LATER, rng, shifted=True)
    register_champion(store, TRANSACTION_RISK, START, LATER)
    frame = pd.concat([training, shifted], ignore_index=True)
    risk = np.concatenate([rng.beta(1, 30, len(training)), rng.beta(3, 10, len(shifted))])
    write_tables(minio_server, TRANSACTION_RISK, frame, risk)

    airflow.wait_for_dags({"monitor_drift", "train_models"})
    # train_models stays paused: the triggered run is queued, and its conf is what we check.
    airflow.set_paused("monitor_drift", False)
    airflow.trigger("monitor_drift", "e2e-drift", "2026-11-22T15:00:00Z", {})
    run = airflow.wait_for_run("monitor_drift", "e2e-drift", timeout=300)
    airflow.set_paused("monitor_drift", True)

    states = airflow.task_states("monitor_drift", "e2e-drift")
    assert run["state"] == "success", states
    assert states["trigger_retraining[-1]"] == "success", states
    runs = airflow.runs("train_models")
    triggered = [r for r in runs if r["triggered_by"] == "operator"]
    assert len(triggered) == 1, runs
    [triggered] = triggered
    # Only the drifted model; the sensor and delivery models have no champion here.
    assert triggered["conf"]["models"] == ["transaction_risk"]
    assert "transaction_risk features" in triggered["conf"]["reason"]
    assert "amount_to_usual_ratio" in triggered["conf"]["reason"]
