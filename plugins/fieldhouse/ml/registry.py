"""A model registry in object storage: versions with model cards, a champion, decisions.

Layout (keys built by :class:`fieldhouse.storage.keys.ModelRegistryKeys`)::

    models/<model>/versions/<version>/model.joblib   the fitted estimator
    models/<model>/versions/<version>/card.json      what it is and how it scored
    models/<model>/champion.json                     the version in service
    models/<model>/decisions/<version>.json          why a challenger won or lost
    models/<model>/runs/<run key>.json               which version a training run registered

The artifact is written before its card, so a version whose card exists is
complete. The card carries the artifact's sha256, checked before unpickling:
a pickle runs code when loaded, so bytes that are not the ones registered are
never loaded. Versions sort by time (UTC timestamp first, then a short hash).

The champion pointer is a plain overwrite; two promotions of the same model at
once are not guarded against, as one training DAG run per model does them.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldhouse.storage.keys import Bucket, ModelRegistryKeys
from fieldhouse.storage.objects import ObjectStore

# Card fields the caller must give: without them two versions cannot be compared
# or traced back to their data.
REQUIRED_CARD_FIELDS = (
    "metrics",
    "features",
    "training_period",
    "lake_snapshot_id",
    "eval_fingerprint",
)


class RegistryError(RuntimeError):
    """The registry cannot do what was asked."""


class ChecksumMismatch(RegistryError):
    """An artifact's bytes do not hash to the sha256 recorded on its card."""


class EvaluationMismatch(RegistryError):
    """Two versions were evaluated on different data, so their metrics do not compare."""


class NoChampion(RegistryError):
    """The model has no champion yet."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one champion/challenger comparison, as recorded."""

    model_name: str
    challenger_version: str
    champion_version: str | None
    metric: str
    higher_is_better: bool
    margin: float
    challenger_value: float | None
    champion_value: float | None
    promoted: bool
    reason: str
    decided_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def register(
    store: ObjectStore,
    model_name: str,
    estimator: Any,
    card_fields: Mapping[str, Any],
) -> dict[str, Any]:
    """Store ``estimator`` as a new version of ``model_name``; returns its card.

    ``card_fields`` must hold :data:`REQUIRED_CARD_FIELDS`: ``metrics`` (name ->
    number), ``features`` (name -> dtype), ``training_period`` (start/end),
    ``lake_snapshot_id`` (the lake snapshot the data was read at) and
    ``eval_fingerprint`` (of the evaluation data, see :func:`promote_if_better`).
    ``parameters`` defaults to the estimator's ``get_params()``. Other fields are
    kept as given.
    """
    import joblib

    missing = [name for name in REQUIRED_CARD_FIELDS if name not in card_fields]
    if missing:
        raise ValueError(f"model card of {model_name!r} lacks {missing}")
    keys = ModelRegistryKeys(model_name)

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    artifact = buffer.getvalue()
    digest = hashlib.sha256(artifact).hexdigest()
    registered_at = datetime.now(UTC)
    version = f"{registered_at:%Y%m%dT%H%M%S%fZ}-{digest[:8]}"

    card = {
        "parameters": _parameters(estimator),
        **card_fields,
        "model_name": model_name,
        "version": version,
        "registered_at": registered_at.isoformat(),
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "library_versions": _library_versions(),
        "code_revision": code_revision(),
        "artifact": {
            "key": keys.artifact(version).uri,
            "sha256": digest,
            "size_bytes": len(artifact),
        },
    }
    store.put_bytes(keys.artifact(version), artifact)
    store.put_json(keys.card(version), card)
    return store.get_json(keys.card(version))


def card(store: ObjectStore, model_name: str, version: str | None = None) -> dict[str, Any]:
    """The model card of ``version`` (default: the champion)."""
    keys = ModelRegistryKeys(model_name)
    return store.get_json(keys.card(version or champion_version(store, model_name)))


def versions(store: ObjectStore, model_name: str) -> list[str]:
    """Every complete (carded) version, oldest first."""
    keys = ModelRegistryKeys(model_name)
    found = {
        obj.key.key.removeprefix(keys.versions_prefix).split("/")[0]
        for obj in store.list(Bucket.MODELS, keys.versions_prefix)
        if obj.key.key.endswith("/card.json")
    }
    return sorted(found)


def champion_version(store: ObjectStore, model_name: str) -> str:
    """The version in service; raises :class:`NoChampion` if none was promoted."""
    keys = ModelRegistryKeys(model_name)
    if not store.exists(keys.champion):
        raise NoChampion(f"model {model_name!r} has no champion yet")
    return store.get_json(keys.champion)["version"]


def load(store: ObjectStore, model_name: str, version: str | None = None) -> Any:
    """The estimator of ``version`` (default: the champion), checksum verified first.

    Raises:
        ChecksumMismatch: the stored bytes are not the ones registered.
        NoChampion: no version given and none promoted.
    """
    import joblib

    keys = ModelRegistryKeys(model_name)
    version = version or champion_version(store, model_name)
    expected = store.get_json(keys.card(version))["artifact"]["sha256"]
    artifact = store.get_bytes(keys.artifact(version))
    actual = hashlib.sha256(artifact).hexdigest()
    if actual != expected:
        raise ChecksumMismatch(
            f"{keys.artifact(version).uri} has sha256 {actual}, its card records {expected}; "
            "refusing to unpickle it"
        )
    return joblib.load(io.BytesIO(artifact))


def record_run(store: ObjectStore, model_name: str, run_key: str, version: str) -> None:
    """Note that the training run ``run_key`` registered ``version`` (its latest, on reruns)."""
    store.put_json(
        ModelRegistryKeys(model_name).run(run_key),
        {"run_key": run_key, "version": version, "recorded_at": datetime.now(UTC).isoformat()},
    )


def run_version(store: ObjectStore, model_name: str, run_key: str) -> str | None:
    """The version the training run ``run_key`` registered last, if it registered one."""
    key = ModelRegistryKeys(model_name).run(run_key)
    return store.get_json(key)["version"] if store.exists(key) else None


def promote_if_better(
    store: ObjectStore,
    model_name: str,
    challenger_version: str,
    metric: str,
    higher_is_better: bool = True,
    margin: float = 0.0,
    champion_score: float | None = None,
) -> Decision:
    """Make the challenger champion if it beats the champion on ``metric`` by > ``margin``.

    Metrics from different evaluation data say nothing about which model is
    better, so either pass ``champion_score``, the champion's ``metric`` on the
    challenger's own evaluation data (what a retraining run does, as new data
    moves the evaluation period), or both cards must record the same
    ``eval_fingerprint``. The decision and
    its reason are recorded either way; ``champion.json`` changes only on a win
    (or when there is no champion yet).

    A challenger whose card records ``metric`` as null (no labelled rows to
    measure it on) becomes champion only when there is none; so does nothing
    replace a champion when ``champion_score`` is NaN (nothing to compare on).

    Raises:
        EvaluationMismatch: the fingerprints differ (the refusal is recorded too).
        ValueError: a card's ``metric`` is not a number.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    keys = ModelRegistryKeys(model_name)
    challenger = store.get_json(keys.card(challenger_version))
    # A model trained without labels to judge it on (an unsupervised fit on
    # unlabelled series) records its metric as null and says so on its card.
    unjudged = challenger.get("metrics", {}).get(metric) is None
    challenger_value = None if unjudged else _metric(challenger, metric)
    try:
        incumbent_version: str | None = champion_version(store, model_name)
    except NoChampion:
        incumbent_version = None

    def decide(promoted: bool, reason: str, champion_value: float | None = None) -> Decision:
        decision = Decision(
            model_name=model_name,
            challenger_version=challenger_version,
            champion_version=incumbent_version,
            metric=metric,
            higher_is_better=higher_is_better,
            margin=margin,
            challenger_value=challenger_value,
            champion_value=champion_value,
            promoted=promoted,
            reason=reason,
            decided_at=datetime.now(UTC).isoformat(),
        )
        store.put_json(keys.decision(challenger_version), decision.to_json())
        if promoted:
            store.put_json(
                keys.champion,
                {
                    "version": challenger_version,
                    "promoted_at": decision.decided_at,
                    "metric": metric,
                    "value": challenger_value,
                    "decision": keys.decision(challenger_version).uri,
                },
            )
        return decision

    if incumbent_version is None:
        shown = "not measured (no labelled hours)" if unjudged else f"{challenger_value:.4f}"
        return decide(True, f"no champion yet; {metric} {shown}")
    if incumbent_version == challenger_version:
        return decide(False, "the challenger is already the champion")
    if unjudged or (champion_score is not None and not math.isfinite(champion_score)):
        return decide(
            False,
            f"champion kept: no labelled rows in the evaluation period to compare "
            f"the two on {metric}",
        )

    incumbent = store.get_json(keys.card(incumbent_version))
    if champion_score is not None:
        champion_value = float(champion_score)
        basis = "champion re-scored on the challenger's evaluation data"
    elif incumbent["eval_fingerprint"] != challenger["eval_fingerprint"]:
        decide(
            False,
            f"refused: evaluation data differ (champion {incumbent['eval_fingerprint']}, "
            f"challenger {challenger['eval_fingerprint']})",
        )
        raise EvaluationMismatch(
            f"{model_name} {challenger_version} was evaluated on other data than champion "
            f"{incumbent_version}; evaluate both on the same period before comparing"
        )
    else:
        champion_value = _metric(incumbent, metric)
        basis = "same evaluation data"
    gain = challenger_value - champion_value
    if not higher_is_better:
        gain = -gain
    direction = "higher" if higher_is_better else "lower"
    comparison = (
        f"{metric} {challenger_value:.4f} vs champion {champion_value:.4f} "
        f"({direction} is better, gain {gain:+.4f}, margin {margin:.4f}; {basis})"
    )
    if gain > margin:
        return decide(True, f"challenger wins: {comparison}", champion_value)
    if gain > 0:
        return decide(False, f"champion kept, gain within margin: {comparison}", champion_value)
    return decide(False, f"champion kept, challenger not better: {comparison}", champion_value)


def code_revision() -> str:
    """The git commit of this code, else ``FIELDHOUSE_REVISION``, else ``"unknown"``."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("FIELDHOUSE_REVISION", "unknown")
    return result.stdout.strip() or os.environ.get("FIELDHOUSE_REVISION", "unknown")


def _library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


def _parameters(estimator: Any) -> dict[str, Any]:
    """JSON-safe ``get_params(deep=False)``; reprs for values JSON cannot hold."""
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return {}
    return {
        name: value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        for name, value in get_params(deep=False).items()
    }


def _metric(model_card: Mapping[str, Any], metric: str) -> float:
    try:
        value = float(model_card["metrics"][metric])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"card of version {model_card.get('version')} has no numeric metric {metric!r}"
        ) from exc
    if not math.isfinite(value):
        raise ValueError(f"card of version {model_card.get('version')} has {metric}={value}")
    return value
