"""When drift starts a retrain: new training data, once per set of rows, not within the cooldown."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse.monitoring.retraining import (
    DRIFTED,
    NO_DRIFT,
    NOT_CHECKED,
    OUT_OF_SCOPE,
    DriftFacts,
    Trigger,
    decide,
    decide_without_drift,
)
from tests.monitoring.probes import transactions, write_tables

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
COOLDOWN = timedelta(hours=6)


def _facts(**changes) -> DriftFacts:
    """A drifted champion trained up to the checked window, on rows ``aaaa``; now ``bbbb``."""
    facts = DriftFacts(
        model_name="delivery_time",
        champion_version="v1",
        champion_fingerprint="aaaa",
        current_fingerprint="bbbb",
        trained_until=NOW - timedelta(days=1),
        window_start=NOW - timedelta(days=7),
    )
    return dataclasses.replace(facts, **changes)


def _trigger(hours_ago: float, fingerprint: str, run_id: str = "earlier") -> Trigger:
    return Trigger(NOW - timedelta(hours=hours_ago), fingerprint, run_id)


def test_new_training_data_triggers_a_retrain() -> None:
    decision = decide(_facts(), [], now=NOW, cooldown=COOLDOWN)

    assert decision.triggered is True
    assert decision.verdict == DRIFTED
    assert decision.drifted is True
    assert "training data changed since champion v1 (fingerprint aaaa -> bbbb)" in decision.reason
    assert (decision.champion_fingerprint, decision.current_fingerprint) == ("aaaa", "bbbb")


def test_the_champions_own_rows_are_not_learnt_again() -> None:
    decision = decide(_facts(current_fingerprint="aaaa"), [], now=NOW, cooldown=COOLDOWN)

    assert decision.triggered is False
    assert decision.verdict == DRIFTED
    assert "training data unchanged since champion v1" in decision.reason


def test_rows_a_retrain_was_triggered_for_are_not_tried_again_after_the_cooldown() -> None:
    # Two days on, the cooldown is long over; the rows are still the ones retrained on.
    earlier = [_trigger(48, "bbbb", "run-1"), _trigger(72, "cccc", "run-0")]

    decision = decide(_facts(), earlier, now=NOW, cooldown=COOLDOWN)

    assert decision.triggered is False
    assert "already triggered" in decision.reason and "run-1" in decision.reason


@pytest.mark.parametrize(
    ("hours_ago", "triggered"),
    [(0.5, False), (5.9, False), (6.0, True), (30, True)],
)
def test_new_rows_wait_for_the_cooldown_of_the_last_trigger(
    hours_ago: float, triggered: bool
) -> None:
    earlier = [_trigger(hours_ago, "cccc", "last"), _trigger(100, "dddd")]

    decision = decide(_facts(), earlier, now=NOW, cooldown=COOLDOWN)

    assert decision.triggered is triggered
    assert ("cooldown" in decision.reason) is not triggered
    if not triggered:
        assert "run last" in decision.reason


def test_a_zero_cooldown_lets_every_change_of_data_through() -> None:
    decision = decide(_facts(), [_trigger(0, "cccc")], now=NOW, cooldown=timedelta(0))

    assert decision.triggered is True


def test_a_card_without_fingerprint_triggers_once_per_set_of_rows() -> None:
    facts = _facts(champion_fingerprint=None)

    first = decide(facts, [], now=NOW, cooldown=COOLDOWN)
    again = decide(facts, [_trigger(24, "bbbb")], now=NOW, cooldown=COOLDOWN)

    assert first.triggered is True and "no data fingerprint" in first.reason
    assert again.triggered is False and "already triggered" in again.reason


def test_a_champion_from_long_before_the_window_is_outside_the_training_scope() -> None:
    # Trained on real history that ended years before today's simulated orders.
    facts = _facts(trained_until=datetime(2018, 9, 1, tzinfo=UTC))

    first = decide(facts, [], now=NOW, cooldown=COOLDOWN)
    again = decide(facts, [_trigger(24, "bbbb")], now=NOW, cooldown=COOLDOWN)

    assert first.verdict == OUT_OF_SCOPE and first.triggered is True
    assert "2018-09-01" in first.reason and "before the checked window starts" in first.reason
    assert again.verdict == OUT_OF_SCOPE and again.triggered is False
    assert "already triggered" in again.reason


@pytest.mark.parametrize(
    ("gap_hours", "verdict"),
    [(-24, DRIFTED), (5, DRIFTED), (6, DRIFTED), (7, OUT_OF_SCOPE)],
)
def test_a_gap_within_the_cooldown_is_the_normal_lag_of_retraining(
    gap_hours: float, verdict: str
) -> None:
    start = NOW - timedelta(days=7)
    facts = _facts(window_start=start, trained_until=start - timedelta(hours=gap_hours))

    assert decide(facts, [], now=NOW, cooldown=COOLDOWN).verdict == verdict


@pytest.mark.parametrize(
    ("current", "verdict"),
    [
        ({"simulator"}, OUT_OF_SCOPE),
        ({"olist", "simulator"}, OUT_OF_SCOPE),
        ({"olist"}, DRIFTED),
        (None, DRIFTED),
    ],
)
def test_rows_from_sources_the_champion_never_saw_are_outside_its_scope(
    current: set[str] | None, verdict: str
) -> None:
    facts = _facts(
        champion_sources=frozenset({"olist"}),
        current_sources=None if current is None else frozenset(current),
    )

    decision = decide(facts, [], now=NOW, cooldown=COOLDOWN)

    assert decision.verdict == verdict
    assert ("['simulator']" in decision.reason) is (verdict == OUT_OF_SCOPE)


def test_a_negative_cooldown_is_refused() -> None:
    with pytest.raises(ValueError, match="cooldown"):
        decide(_facts(), [], now=NOW, cooldown=timedelta(hours=-1))


def test_models_without_drift_or_without_a_check_are_not_retrained() -> None:
    quiet = decide_without_drift(
        {"model_name": "transaction_risk", "drifted": False, "champion_version": "v3"}, NOW
    )
    skipped = decide_without_drift(
        {"model_name": "sensor_anomaly", "drifted": False, "skipped": "no champion"}, NOW
    )

    assert (quiet.triggered, quiet.verdict, quiet.champion_version) == (False, NO_DRIFT, "v3")
    assert (skipped.triggered, skipped.verdict) == (False, NOT_CHECKED)
    assert skipped.reason == "not checked: no champion"


# --- On a real lake: the loop that retrained on the same rows again and again ---

START = pd.Timestamp("2026-10-01", tz="UTC")
LATER = START + pd.Timedelta(days=21)
T0 = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def probe(request):
    """A model of this test's own (spec, job and inputs), so real marts are left alone."""
    from fieldhouse.ml import tabular, training
    from fieldhouse.monitoring.models import TRANSACTION_RISK
    from fieldhouse.monitoring.retraining import ModelInputs

    name = f"retrain_probe_{request.node.name.removeprefix('test_')[:24]}"
    spec = dataclasses.replace(
        TRANSACTION_RISK,
        model_name=name,
        feature_table=f"lake.main.{name}_features",
        scores_table=f"lake.main.{name}_scores",
    )

    def load_features(con, snapshot_id):
        return tabular.load_table(con, spec.feature_table, ("ts", "transaction_id"), snapshot_id)

    job = dataclasses.replace(
        training.JOBS[training.TRANSACTION_RISK_MODEL],
        name=name,
        feature_table=spec.feature_table,
        scores_table=spec.scores_table,
        load_features=load_features,
    )
    inputs = {name: ModelInputs(job, timedelta(days=spec.window_days))}
    return spec, job, inputs


def _land(settings, spec, frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Replace the probe's feature table; the shifted rows score higher, as a drifted model's do."""
    odd = (frame["ts"] >= LATER).to_numpy()
    risk = np.where(odd, rng.beta(3, 10, len(frame)), rng.beta(1, 30, len(frame)))
    write_tables(settings, spec, frame, risk)


def _register_champion(store, settings, job, window_days: float | None, **card) -> str:
    """A champion whose card records the rows a retrain of ``job`` would learn from now."""
    from sklearn.dummy import DummyClassifier

    from fieldhouse.lake import duckdb_connect
    from fieldhouse.ml import registry, training

    # Read and cut as retrain does, so the card is what a retrain would have written.
    with duckdb_connect(settings) as con:
        rows = training.latest_days(job.load_features(con, None), job.time_column, window_days)
    fields = {
        "metrics": {"pr_auc": 0.5},
        "features": {"amount_to_usual_ratio": "float64"},
        "training_period": {"start": START.isoformat(), "end": LATER.isoformat()},
        "lake_snapshot_id": 0,
        "eval_fingerprint": "probe",
        "window_days": window_days,
        "data_fingerprint": training.data_fingerprint(rows),
        **card,
    }
    version = registry.register(job.name, DummyClassifier(), fields)["version"]
    registry.promote_if_better(job.name, version, "pr_auc")
    return version


def _monitor(store, settings, spec, inputs, run_id: str, now: datetime):
    """One monitor_drift run for the probe: a real drift check, then the retraining decision."""
    from fieldhouse.monitoring.models import check_model_drift
    from fieldhouse.monitoring.retraining import plan_retraining

    check = check_model_drift(store, settings, spec, run_id)
    assert check["drifted"] is True, check["reason"]
    [decision] = plan_retraining(
        settings, [check], run_id, cooldown=COOLDOWN, now=now, inputs=inputs
    )
    return decision


def _recorded(settings, model_name: str) -> list[tuple]:
    from fieldhouse.lake import duckdb_connect
    from fieldhouse.monitoring.retraining import DECISIONS_TABLE

    with duckdb_connect(settings) as con:
        return con.execute(
            f"select run_id, drifted, triggered, verdict, reason, champion_version, "
            f"champion_fingerprint, current_fingerprint from {DECISIONS_TABLE} "
            "where model_name = ? order by decided_at",
            [model_name],
        ).fetchall()


@pytest.mark.integration
def test_repeated_drift_on_the_same_rows_triggers_once_then_new_rows_after_the_cooldown(
    probe, store, minio_server
) -> None:
    spec, job, inputs = probe
    rng = np.random.default_rng(11)
    history = transactions(21, START, rng, shifted=False)
    _land(minio_server, spec, history, rng)
    champion = _register_champion(store, minio_server, job, None)
    # A week unlike the champion's arrives, and the checks keep finding it.
    odd_week = pd.concat([history, transactions(7, LATER, rng, shifted=True)], ignore_index=True)
    _land(minio_server, spec, odd_week, rng)

    first = _monitor(store, minio_server, spec, inputs, "run-1", T0)
    repeats = [
        _monitor(store, minio_server, spec, inputs, f"run-{i}", T0 + timedelta(minutes=10 * i))
        for i in (2, 3, 4)
    ]
    # A day of new rows, an hour later: within the cooldown of run-1's trigger.
    more = transactions(1, LATER + pd.Timedelta(days=7), rng, shifted=True)
    _land(minio_server, spec, pd.concat([odd_week, more], ignore_index=True), rng)
    early = _monitor(store, minio_server, spec, inputs, "run-5", T0 + timedelta(hours=1))
    after = _monitor(store, minio_server, spec, inputs, "run-6", T0 + COOLDOWN)

    assert first.triggered is True and first.verdict == DRIFTED
    assert [d.triggered for d in repeats] == [False, False, False]
    assert all("already triggered" in d.reason and "run-1" in d.reason for d in repeats)
    assert early.triggered is False and "cooldown" in early.reason
    assert after.triggered is True
    assert after.current_fingerprint != first.current_fingerprint
    rows = _recorded(minio_server, spec.model_name)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("run-1", True, True),
        ("run-2", True, False),
        ("run-3", True, False),
        ("run-4", True, False),
        ("run-5", True, False),
        ("run-6", True, True),
    ]
    assert all(r[4] for r in rows), "every decision is recorded with its reason"
    assert {r[5] for r in rows} == {champion}
    assert len({r[6] for r in rows}) == 1 and rows[0][6] != rows[0][7]


@pytest.mark.integration
def test_drift_on_the_champions_own_rows_never_triggers(probe, store, minio_server) -> None:
    spec, job, inputs = probe
    rng = np.random.default_rng(12)
    frame = pd.concat(
        [transactions(21, START, rng, shifted=False), transactions(7, LATER, rng, shifted=True)],
        ignore_index=True,
    )
    _land(minio_server, spec, frame, rng)
    # Trained on the latest 14 days, odd week included; the check compares its
    # training period with that week and finds drift every time.
    _register_champion(store, minio_server, job, 14.0)

    decisions = [
        _monitor(store, minio_server, spec, inputs, f"same-{i}", T0 + timedelta(hours=8 * i))
        for i in range(3)
    ]

    assert [d.triggered for d in decisions] == [False, False, False]
    assert all("unchanged since champion" in d.reason for d in decisions)
    rows = _recorded(minio_server, spec.model_name)
    assert [(r[0], r[2]) for r in rows] == [("same-0", False), ("same-1", False), ("same-2", False)]
    assert all(r[6] == r[7] for r in rows)


@pytest.mark.integration
def test_rows_from_a_source_the_champion_never_saw_trigger_once_as_out_of_scope(
    probe, store, minio_server
) -> None:
    spec, job, inputs = probe
    rng = np.random.default_rng(13)
    history = transactions(21, START, rng, shifted=False).assign(source="olist")
    _land(minio_server, spec, history, rng)
    _register_champion(store, minio_server, job, None, sources=["olist"])
    simulated = transactions(7, LATER, rng, shifted=True).assign(source="simulator")
    _land(minio_server, spec, pd.concat([history, simulated], ignore_index=True), rng)

    first = _monitor(store, minio_server, spec, inputs, "scope-1", T0)
    again = _monitor(store, minio_server, spec, inputs, "scope-2", T0 + timedelta(days=1))

    assert (first.verdict, first.triggered) == (OUT_OF_SCOPE, True)
    assert "['simulator']" in first.reason and "['olist']" in first.reason
    assert (again.verdict, again.triggered) == (OUT_OF_SCOPE, False)
    assert [r[3] for r in _recorded(minio_server, spec.model_name)] == [OUT_OF_SCOPE] * 2
