"""Retraining runs: train a challenger on the lake, register it, promote it or not, score.

Every model goes through the same steps (:func:`retrain`), described for each
by a :class:`ModelJob`:

1. read its feature table at one lake snapshot (recorded on the card);
2. train a challenger, split by time, and register it with its model card;
3. score the champion on the challenger's held-out period and promote the
   challenger only if it wins by more than the margin;
4. score the current feature table with the champion, whichever it is now,
   into the model's scores table: only the rows it does not hold yet
   (:mod:`fieldhouse.ml.scores`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from fieldhouse.config import StorageSettings
from fieldhouse.lake import table_exists
from fieldhouse.ml import anomaly, delivery, registry, risk, tabular
from fieldhouse.ml.scores import feature_hashes, update_scores

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

SENSOR_ANOMALY_MODEL = "sensor_anomaly"
DELIVERY_TIME_MODEL = "delivery_time"
TRANSACTION_RISK_MODEL = "transaction_risk"
SENSOR_ANOMALY_SCORES_TABLE = "lake.main.fct_sensor_anomaly_scores"


@dataclass(frozen=True)
class ModelJob:
    """How one model is read, trained, compared and scored.

    ``train(features, random_state=...)`` returns (model, metrics, evaluation
    fingerprint); ``champion_score(model, features)`` is ``metric`` of a fitted
    model on the held-out period of ``features``; ``scores(model, card,
    features, scored_at)`` is the frame written to ``scores_table``.
    """

    name: str
    feature_table: str
    time_column: str
    metric: str
    higher_is_better: bool
    scores_table: str
    key_columns: tuple[str, ...]  # a scored row's identity in the scores table
    load_features: Callable[[duckdb.DuckDBPyConnection, int | None], pd.DataFrame]
    train: Callable[..., tuple[Any, dict[str, float], str]]
    card_fields: Callable[[Any, dict[str, float], str, int, pd.DataFrame], dict[str, Any]]
    champion_score: Callable[[Any, pd.DataFrame], float]
    scores: Callable[[Any, dict[str, Any], pd.DataFrame, pd.Timestamp], pd.DataFrame]


def _sensor_features(con: duckdb.DuckDBPyConnection, snapshot_id: int | None) -> pd.DataFrame:
    if not table_exists(con, anomaly.FEATURE_TABLE):
        raise tabular.MissingFeatureTable(
            f"{anomaly.FEATURE_TABLE} does not exist yet: no data for its domain"
        )
    return anomaly.load_features(con, snapshot_id)


def _sensor_card_fields(
    detector: Any, metrics: dict[str, float], fingerprint: str, snapshot: int, _: pd.DataFrame
) -> dict[str, Any]:
    return anomaly.model_card_fields(detector, metrics, fingerprint, snapshot)


def _sensor_scores(
    detector: Any, model_card: dict[str, Any], features: pd.DataFrame, scored_at: pd.Timestamp
) -> pd.DataFrame:
    frame = features[list(anomaly.KEY_COLUMNS)].reset_index(drop=True)
    frame["model_version"] = model_card["version"]
    frame["anomaly_score"] = detector.anomaly_score(features)
    frame["is_anomaly"] = detector.predict(features)
    frame["scored_at"] = scored_at
    return frame


JOBS: dict[str, ModelJob] = {
    job.name: job
    for job in (
        ModelJob(
            name=SENSOR_ANOMALY_MODEL,
            feature_table=anomaly.FEATURE_TABLE,
            time_column="event_hour",
            metric="f1",
            higher_is_better=True,
            scores_table=SENSOR_ANOMALY_SCORES_TABLE,
            key_columns=anomaly.KEY_COLUMNS,
            load_features=_sensor_features,
            train=anomaly.train_anomaly_model,
            card_fields=_sensor_card_fields,
            champion_score=anomaly.champion_f1,
            scores=_sensor_scores,
        ),
        ModelJob(
            name=DELIVERY_TIME_MODEL,
            feature_table=delivery.FEATURE_TABLE,
            time_column=delivery.TIME_COLUMN,
            metric=delivery.METRIC,
            higher_is_better=False,
            scores_table=delivery.SCORES_TABLE,
            key_columns=(delivery.KEY,),
            load_features=delivery.load_features,
            train=delivery.train_delivery_model,
            card_fields=delivery.model_card_fields,
            champion_score=delivery.champion_score,
            scores=delivery.scores,
        ),
        ModelJob(
            name=TRANSACTION_RISK_MODEL,
            feature_table=risk.FEATURE_TABLE,
            time_column=risk.TIME_COLUMN,
            metric=risk.METRIC,
            higher_is_better=True,
            scores_table=risk.SCORES_TABLE,
            key_columns=(risk.KEY,),
            load_features=risk.load_features,
            train=risk.train_risk_model,
            card_fields=risk.model_card_fields,
            champion_score=risk.champion_score,
            scores=risk.scores,
        ),
    )
}
MODELS = tuple(JOBS)


def retrain(
    settings: StorageSettings,
    model_name: str,
    *,
    margin: float = 0.01,
    random_state: int = 0,
    score: bool = True,
    window_days: float | None = None,
    run_key: str | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` on the current lake snapshot and promote it if it wins by ``margin``.

    The champion is scored on the challenger's held-out period, so both are
    judged on the same rows even though the period moves as data arrives.
    With ``score``, the champion (new or kept) then scores the same snapshot
    into the model's scores table.

    ``window_days`` trains on the latest days of the table only (default: all
    of it); ``sources`` on the rows of those sources only (default: every
    source; the scores still cover the whole table). ``run_key`` (a DAG run's
    logical date) makes a rerun idempotent: if a version was already registered
    under that key from the same window and the same feature rows, its recorded
    outcome is returned instead of a new version. New data in the lake makes a
    new version, as it should.

    Raises:
        MissingFeatureTable: the model's feature table is not in the lake yet.
        NotEnoughData: too few labelled rows to train and evaluate.
    """
    from fieldhouse.lake import duckdb_connect

    job = JOBS[model_name]
    with duckdb_connect(settings) as con:
        snapshot = anomaly.lake_snapshot_id(con)
        table = job.load_features(con, snapshot)
    features = latest_days(of_sources(table, sources), job.time_column, window_days)
    provenance = {
        "run_key": run_key,
        "window_days": window_days,
        "chosen_sources": sorted(sources) if sources else None,
        "data_fingerprint": data_fingerprint(features),
        "sources": sorted(features["source"].dropna().unique()) if "source" in features else None,
    }
    if run_key is not None:
        earlier = _registered_under(job.name, provenance)
        if earlier is not None:
            log.info("%s: %s already registered %s; not training again", job.name, run_key, earlier)
            return _recorded_outcome(job, earlier, snapshot)
    clock = _Clock()
    challenger, metrics, fingerprint = job.train(features, random_state=random_state)
    clock.lap("train")
    card = registry.register(
        job.name,
        challenger,
        {
            **job.card_fields(challenger, metrics, fingerprint, snapshot, features),
            **provenance,
        },
        training_rows=features,
        dataset_name=job.feature_table,
    )
    clock.lap("register")
    try:
        # A champion refused at load is set aside for the previous good one.
        champion: Any = registry.load_champion(job.name)[0]
    except registry.NoChampion:
        champion = None
    decision = registry.promote_if_better(
        job.name,
        card["version"],
        job.metric,
        higher_is_better=job.higher_is_better,
        margin=margin,
        champion_score=None if champion is None else job.champion_score(champion, features),
    )
    clock.lap("compare_and_promote")
    log.info("%s %s: %s", job.name, card["version"], decision.reason)
    result = {
        "model_name": job.name,
        "version": card["version"],
        "lake_snapshot_id": snapshot,
        "metrics": metrics,
        "promoted": decision.promoted,
        "reason": decision.reason,
        "champion_version": card["version"] if decision.promoted else decision.champion_version,
    }
    if score:
        if decision.promoted:
            champion, champion_card = challenger, card
        else:
            champion_card = registry.card(job.name)
        result["scores"] = _write_champion_scores(settings, job, champion, champion_card, table)
        clock.lap("score")
    result["seconds"] = clock.laps
    log.info("%s: seconds per step %s", job.name, clock.laps)
    return result


class _Clock:
    """Seconds per step of a run, for its log and its result."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = self._now()
        self.laps[step] = round(now - self._last, 3)
        self._last = now


def of_sources(table: pd.DataFrame, sources: list[str] | None) -> pd.DataFrame:
    """The rows of ``table`` from ``sources`` (all rows when none are given)."""
    if not sources:
        return table
    if "source" not in table:
        raise ValueError("this feature table has no source column to choose sources by")
    return table[table["source"].isin(sources)]


def latest_days(table: pd.DataFrame, column: str, window_days: float | None) -> pd.DataFrame:
    """The rows of the last ``window_days`` of each source (all rows when None).

    Per source: a history that ended years ago keeps its latest days, rather
    than losing them all to another source's rows of today.
    """
    if window_days is None:
        return table
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    moments = pd.to_datetime(table[column], utc=True)
    latest = (
        moments.groupby(table["source"]).transform("max") if "source" in table else moments.max()
    )
    return table[moments > latest - pd.Timedelta(days=window_days)]


def data_fingerprint(features: pd.DataFrame) -> str:
    """A digest of the rows a model learns from.

    Not the lake snapshot: writing scores makes a new snapshot without
    touching the features.
    """
    import hashlib

    rows = feature_hashes(features)
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def _registered_under(model_name: str, provenance: dict[str, Any]) -> str | None:
    """The version this run registered before from the same window and data, if any."""
    version = registry.run_version(model_name, provenance["run_key"])
    if version is None:
        return None
    card = registry.card(model_name, version)
    same = all(card.get(n) == v for n, v in provenance.items())
    # A version registered but never judged (the run died in between) is trained again.
    return version if same and registry.decision(model_name, version) is not None else None


def _recorded_outcome(job: ModelJob, version: str, snapshot: int) -> dict[str, Any]:
    card = registry.card(job.name, version)
    decision = registry.decision(job.name, version) or {}
    return {
        "model_name": job.name,
        "version": version,
        "lake_snapshot_id": snapshot,
        "metrics": card["metrics"],
        "promoted": decision["promoted"],
        "reason": decision["reason"],
        "champion_version": version if decision["promoted"] else decision["champion_version"],
        "rerun": True,
    }


def score_with_champion(settings: StorageSettings, model_name: str) -> dict[str, Any]:
    """Score the current feature table of ``model_name`` with its champion, into the lake.

    Raises:
        NoChampion: nothing was promoted yet.
        MissingFeatureTable: the model's feature table is not in the lake yet.
    """
    from fieldhouse.lake import duckdb_connect

    job = JOBS[model_name]
    champion, champion_card = registry.load_champion(job.name)
    with duckdb_connect(settings) as con:
        features = job.load_features(con, None)
    return _write_champion_scores(settings, job, champion, champion_card, features)


def _write_champion_scores(
    settings: StorageSettings,
    job: ModelJob,
    champion: Any,
    champion_card: dict[str, Any],
    features: pd.DataFrame,
) -> dict[str, Any]:
    scored_at = pd.Timestamp.now(tz="UTC")
    result = update_scores(
        settings,
        job.scores_table,
        job.key_columns,
        champion_card["version"],
        features,
        lambda rows: job.scores(champion, champion_card, rows, scored_at),
    )
    return {"table": job.scores_table, "model_version": champion_card["version"], **result}
