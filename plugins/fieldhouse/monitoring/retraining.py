"""Whether a drifted model is retrained: only on new training data, at most once per cooldown.

Drift alone is not a reason to retrain. A retrain learns from the feature rows
in the lake; if those are the rows the champion learnt from, or rows a retrain
was already triggered for, it can only register the same challenger again and
keep the same champion, and a drift check after the next transform would ask
for it once more, without end. So a drifted model is retrained only when

1. its training data changed since the champion's: the fingerprint of the rows a
   retrain would learn from now (:func:`fieldhouse.ml.training.data_fingerprint`
   over the feature table, cut to the champion's ``window_days`` as the retrain
   cuts it) differs from the ``data_fingerprint`` on the champion's card;
2. no retrain of the model was triggered before on these same rows (the
   champion was kept then, or the retrain is still to run); and
3. its last triggered retrain is older than the cooldown, so a table that grows
   with every transform does not start a retrain with every transform.

Drift of a champion that learnt from other data than the checked inputs gets a
verdict of its own, :data:`OUT_OF_SCOPE`, as retraining answers it only if the
new rows change what the model learns: the champion's data (up to the end of
its evaluation period, else of its training period) ends more than the cooldown
before the checked window starts (a retrain in the normal rhythm keeps that gap
below the cooldown), or the checked rows come from sources (their ``source``
column) that the card's ``sources`` do not list. The rules above still apply,
so such drift starts at most one retrain per change of the training data.

Every decision, trigger or suppression, is logged and appended with its reason
to :data:`DECISIONS_TABLE`; the cooldown and rule 2 read the model's earlier
triggers from there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from fieldhouse.config import StorageSettings

if TYPE_CHECKING:
    import duckdb

    from fieldhouse.ml.training import ModelJob

log = logging.getLogger(__name__)

DECISIONS_TABLE = "lake.main.retraining_decisions"
"""One row per model and monitor_drift run: drifted or not, retrain triggered or not, and why."""
DEFAULT_COOLDOWN = timedelta(hours=6)

NO_DRIFT = "no_drift"
NOT_CHECKED = "not_checked"
DRIFTED = "drifted"
OUT_OF_SCOPE = "inputs_outside_training_scope"

# The sensor check looks at each metric's latest 24 hours
# (fieldhouse.monitoring.sensors.check_sensor_feature_drift's window_hours).
SENSOR_CHECK_WINDOW = timedelta(hours=24)

_COLUMNS = (
    "model_name varchar, run_id varchar, decided_at timestamptz, drifted boolean, "
    "triggered boolean, verdict varchar, reason varchar, champion_version varchar, "
    "champion_fingerprint varchar, current_fingerprint varchar"
)


@dataclass(frozen=True)
class Trigger:
    """An earlier triggered retrain of a model, as recorded."""

    decided_at: datetime
    current_fingerprint: str | None
    run_id: str


@dataclass(frozen=True)
class DriftFacts:
    """What the decision on a drifted model rests on.

    ``trained_until`` is the end of the newest rows the champion was fitted or
    evaluated on; ``window_start`` the start of the checked inputs. The sources
    are ``None`` where unknown (no ``sources`` on the card, no ``source`` column).
    """

    model_name: str
    champion_version: str
    champion_fingerprint: str | None
    current_fingerprint: str
    trained_until: datetime
    window_start: datetime
    champion_sources: frozenset[str] | None = None
    current_sources: frozenset[str] | None = None


@dataclass(frozen=True)
class RetrainingDecision:
    """Whether one model is retrained after a drift check, and why."""

    model_name: str
    decided_at: datetime
    drifted: bool
    triggered: bool
    verdict: str
    reason: str
    champion_version: str | None = None
    champion_fingerprint: str | None = None
    current_fingerprint: str | None = None

    def row(self, run_id: str) -> dict[str, Any]:
        """The decision as a row of :data:`DECISIONS_TABLE`."""
        return {"run_id": run_id, **vars(self)}


@dataclass(frozen=True)
class ModelInputs:
    """Where a model's training rows come from and how far back its drift check looks."""

    job: ModelJob
    check_window: timedelta


def decide(
    facts: DriftFacts,
    triggers: Sequence[Trigger],
    *,
    now: datetime,
    cooldown: timedelta = DEFAULT_COOLDOWN,
) -> RetrainingDecision:
    """Retrain a drifted model or not, given its earlier ``triggers`` (any order).

    The rules are in this module's docstring; the first that holds a retrain
    back is the reason given.
    """
    if cooldown < timedelta(0):
        raise ValueError(f"cooldown must not be negative, got {cooldown}")
    scope = _outside_scope(facts, cooldown)
    verdict = OUT_OF_SCOPE if scope else DRIFTED
    held_back = _held_back(facts, triggers, now, cooldown)
    reason = "; ".join([*scope, held_back or _data_changed(facts)])
    return RetrainingDecision(
        model_name=facts.model_name,
        decided_at=now,
        drifted=True,
        triggered=held_back is None,
        verdict=verdict,
        reason=reason,
        champion_version=facts.champion_version,
        champion_fingerprint=facts.champion_fingerprint,
        current_fingerprint=facts.current_fingerprint,
    )


def _outside_scope(facts: DriftFacts, cooldown: timedelta) -> list[str]:
    """Why the checked inputs lie outside what the champion learnt from (empty: they do not)."""
    found = []
    gap = facts.window_start - facts.trained_until
    if gap > cooldown:
        found.append(
            f"{OUT_OF_SCOPE}: the champion's data ends {facts.trained_until:%Y-%m-%d %H:%M}, "
            f"{_duration(gap)} before the checked window starts "
            f"({facts.window_start:%Y-%m-%d %H:%M})"
        )
    if facts.champion_sources is not None and facts.current_sources is not None:
        unknown = facts.current_sources - facts.champion_sources
        if unknown:
            found.append(
                f"{OUT_OF_SCOPE}: the checked rows come from {sorted(unknown)}, "
                f"the champion learnt from {sorted(facts.champion_sources)}"
            )
    return found


def _held_back(
    facts: DriftFacts, triggers: Sequence[Trigger], now: datetime, cooldown: timedelta
) -> str | None:
    """The reason not to retrain now, or ``None`` to retrain."""
    if facts.current_fingerprint == facts.champion_fingerprint:
        return (
            f"suppressed: training data unchanged since champion {facts.champion_version} "
            f"(fingerprint {facts.current_fingerprint}); a retrain would learn from the same rows"
        )
    same_rows = [t for t in triggers if t.current_fingerprint == facts.current_fingerprint]
    if same_rows:
        earlier = max(same_rows, key=lambda t: t.decided_at)
        return (
            f"suppressed: a retrain on these rows (fingerprint {facts.current_fingerprint}) "
            f"was already triggered at {earlier.decided_at:%Y-%m-%d %H:%M} UTC "
            f"(run {earlier.run_id}); waiting for new training data"
        )
    if triggers:
        last = max(triggers, key=lambda t: t.decided_at)
        since = now - last.decided_at
        if since < cooldown:
            return (
                f"suppressed: cooldown, the last retrain was triggered {_duration(since)} ago "
                f"(run {last.run_id}); the cooldown is {_duration(cooldown)}"
            )
    return None


def _data_changed(facts: DriftFacts) -> str:
    if facts.champion_fingerprint is None:
        return (
            f"triggered: champion {facts.champion_version}'s card has no data fingerprint, "
            f"so new training data ({facts.current_fingerprint}) cannot be ruled out"
        )
    return (
        f"triggered: training data changed since champion {facts.champion_version} "
        f"(fingerprint {facts.champion_fingerprint} -> {facts.current_fingerprint})"
    )


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def decide_without_drift(check: Mapping[str, Any], now: datetime) -> RetrainingDecision:
    """The decision on a model whose check found no drift, or did not run (``skipped``)."""
    skipped = check.get("skipped")
    return RetrainingDecision(
        model_name=check["model_name"],
        decided_at=now,
        drifted=False,
        triggered=False,
        verdict=NOT_CHECKED if skipped else NO_DRIFT,
        reason=f"not checked: {skipped}" if skipped else "no drift",
        champion_version=check.get("champion_version"),
    )


def model_inputs() -> dict[str, ModelInputs]:
    """Every model's training job and drift-check window."""
    from fieldhouse.ml.training import JOBS
    from fieldhouse.monitoring.models import SPECS

    return {
        name: ModelInputs(
            job,
            timedelta(days=SPECS[name].window_days) if name in SPECS else SENSOR_CHECK_WINDOW,
        )
        for name, job in JOBS.items()
    }


def plan_retraining(
    settings: StorageSettings,
    checks: Sequence[Mapping[str, Any]],
    run_id: str,
    *,
    cooldown: timedelta = DEFAULT_COOLDOWN,
    now: datetime | None = None,
    inputs: Mapping[str, ModelInputs] | None = None,
) -> list[RetrainingDecision]:
    """Decide for each drift check's model whether to retrain it; record and log each decision.

    ``checks`` are the drift checks' results (``model_name``, ``drifted``, and
    ``skipped`` for a check that did not run). ``now`` defaults to the current
    time; ``inputs`` to :func:`model_inputs`.
    """
    from fieldhouse.lake import duckdb_connect, write_lake

    now = now or datetime.now(UTC)
    if inputs is None and any(check["drifted"] for check in checks):
        inputs = model_inputs()
    decisions = []
    with duckdb_connect(settings) as con:
        for check in checks:
            if check["drifted"]:
                facts = gather_facts(con, inputs[check["model_name"]], now)
                decision = decide(
                    facts, _triggers(con, facts.model_name), now=now, cooldown=cooldown
                )
            else:
                decision = decide_without_drift(check, now)
            decisions.append(decision)
            log.info(
                "%s: %s, %s",
                decision.model_name,
                "retrain" if decision.triggered else "no retrain",
                decision.reason,
            )
    rows = [d.row(run_id) for d in decisions]
    write_lake(settings, lambda con: _record(con, rows), what="retraining decisions")
    return decisions


def gather_facts(
    con: duckdb.DuckDBPyConnection,
    inputs: ModelInputs,
    now: datetime,
) -> DriftFacts:
    """The champion's card and the rows a retrain of ``inputs.job`` would learn from now.

    Raises:
        NoChampion: the model has no champion.
        MissingFeatureTable: its feature table is not in the lake.
    """
    from fieldhouse.ml import registry, training

    job = inputs.job
    card = registry.card(job.name)
    table = job.load_features(con, None)
    # Cut as retrain cuts it, so the two fingerprints are of comparable rows.
    features = training.latest_days(table, job.time_column, card.get("window_days"))
    moments = pd.to_datetime(table[job.time_column], utc=True)
    latest = moments.max() if len(moments) else pd.Timestamp(now)
    window_start = latest - inputs.check_window
    checked = table[moments > window_start]
    period = card.get("evaluation_period") or card["training_period"]
    sources = card.get("sources")
    return DriftFacts(
        model_name=job.name,
        champion_version=card["version"],
        champion_fingerprint=card.get("data_fingerprint"),
        current_fingerprint=training.data_fingerprint(features),
        trained_until=_utc(pd.Timestamp(period["end"]).to_pydatetime()),
        window_start=_utc(window_start.to_pydatetime()),
        champion_sources=None if sources is None else frozenset(sources),
        current_sources=(
            frozenset(checked["source"].dropna().astype(str)) if "source" in checked else None
        ),
    )


def _triggers(con: duckdb.DuckDBPyConnection, model_name: str) -> list[Trigger]:
    """The model's earlier triggered retrains, from :data:`DECISIONS_TABLE`."""
    from fieldhouse.lake import table_exists

    if not table_exists(con, DECISIONS_TABLE):
        return []
    rows = con.execute(
        f"select decided_at, current_fingerprint, run_id from {DECISIONS_TABLE} "
        "where model_name = ? and triggered",
        [model_name],
    ).fetchall()
    return [Trigger(_utc(at), fingerprint, run_id) for at, fingerprint, run_id in rows]


def _utc(moment: datetime) -> datetime:
    # DuckDB hands timestamptz back in the session's time zone; a time without
    # one (a hand-written card) is taken as UTC, as everything in the lake is.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _record(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Append decisions to :data:`DECISIONS_TABLE` (created on first use)."""
    if not rows:
        return
    # Typed up front: a first batch whose fingerprints are all missing would
    # otherwise give those columns a type that later text cannot go into.
    con.execute(f"create table if not exists {DECISIONS_TABLE} ({_COLUMNS})")
    con.register("new_decisions", pd.DataFrame(rows))
    con.execute(f"insert into {DECISIONS_TABLE} by name from new_decisions")
