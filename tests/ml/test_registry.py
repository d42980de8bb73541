"""The model registry on a real MinIO: versions, checksums, champion and challenger."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fieldhouse.ml import registry
from fieldhouse.storage.keys import ModelRegistryKeys
from fieldhouse.storage.objects import ObjectStore

pytestmark = pytest.mark.integration

MODEL = "toy_classifier"
FINGERPRINT = "a" * 64


def _estimator(c: float = 1.0) -> LogisticRegression:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 2))
    return LogisticRegression(C=c).fit(x, x[:, 0] > 0)


def _card(f1: float, fingerprint: str = FINGERPRINT) -> dict:
    return {
        "metrics": {"f1": f1, "precision": 0.5},
        "features": {"x0": "float64", "x1": "float64"},
        "training_period": {"start": "2026-11-21T00:00:00+00:00", "end": "2026-11-22T00:00:00"},
        "lake_snapshot_id": 42,
        "eval_fingerprint": fingerprint,
    }


def _register(store: ObjectStore, f1: float, fingerprint: str = FINGERPRINT) -> str:
    return registry.register(store, MODEL, _estimator(f1), _card(f1, fingerprint))["version"]


def test_register_writes_artifact_and_card(store: ObjectStore) -> None:
    card = registry.register(store, MODEL, _estimator(), _card(0.7))
    keys = ModelRegistryKeys(MODEL)
    version = card["version"]

    artifact = store.get_bytes(keys.artifact(version))
    assert card["artifact"]["sha256"] == hashlib.sha256(artifact).hexdigest()
    assert card["artifact"]["size_bytes"] == len(artifact)
    assert card == store.get_json(keys.card(version))
    assert card["metrics"]["f1"] == 0.7
    assert card["lake_snapshot_id"] == 42
    assert card["features"] == {"x0": "float64", "x1": "float64"}
    assert card["parameters"]["C"] == 1.0
    assert set(card["library_versions"]) == {"scikit-learn", "pandas", "numpy"}
    assert card["code_revision"]
    assert registry.versions(store, MODEL) == [version]

    loaded = registry.load(store, MODEL, version)
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert list(loaded.predict(x)) == list(_estimator().predict(x))


def test_versions_sort_by_registration_time(store: ObjectStore) -> None:
    first, second = _register(store, 0.1), _register(store, 0.2)
    assert first < second
    assert registry.versions(store, MODEL) == [first, second]


def test_register_refuses_a_card_without_required_fields(store: ObjectStore) -> None:
    card = _card(0.5)
    del card["eval_fingerprint"]
    with pytest.raises(ValueError, match="eval_fingerprint"):
        registry.register(store, MODEL, _estimator(), card)
    assert registry.versions(store, MODEL) == []


def test_tampered_artifact_is_not_unpickled(store: ObjectStore) -> None:
    version = _register(store, 0.5)
    key = ModelRegistryKeys(MODEL).artifact(version)
    body = bytearray(store.get_bytes(key))
    body[-10] ^= 0xFF
    store.put_bytes(key, bytes(body))

    with pytest.raises(registry.ChecksumMismatch, match="refusing to unpickle"):
        registry.load(store, MODEL, version)


def test_load_without_version_needs_a_champion(store: ObjectStore) -> None:
    _register(store, 0.5)
    with pytest.raises(registry.NoChampion):
        registry.load(store, MODEL)


def test_first_version_becomes_champion(store: ObjectStore) -> None:
    version = _register(store, 0.5)
    decision = registry.promote_if_better(store, MODEL, version, "f1")

    assert decision.promoted and decision.champion_version is None
    assert "no champion" in decision.reason
    assert registry.champion_version(store, MODEL) == version
    assert registry.load(store, MODEL).get_params()["C"] == 0.5


def test_better_challenger_is_promoted_and_the_reason_recorded(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(store, MODEL, champion, "f1")
    challenger = _register(store, 0.7)

    decision = registry.promote_if_better(store, MODEL, challenger, "f1", margin=0.05)

    assert decision.promoted
    assert registry.champion_version(store, MODEL) == challenger
    recorded = store.get_json(ModelRegistryKeys(MODEL).decision(challenger))
    assert recorded == decision.to_json()
    assert recorded["champion_version"] == champion
    assert recorded["challenger_value"] == 0.7 and recorded["champion_value"] == 0.5
    assert "challenger wins" in recorded["reason"]


@pytest.mark.parametrize(
    ("challenger_f1", "reason"),
    [(0.4, "not better"), (0.52, "within margin")],
)
def test_champion_is_kept_when_the_challenger_is_worse_or_within_margin(
    store: ObjectStore, challenger_f1: float, reason: str
) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(store, MODEL, champion, "f1")
    challenger = _register(store, challenger_f1)

    decision = registry.promote_if_better(store, MODEL, challenger, "f1", margin=0.05)

    assert not decision.promoted
    assert reason in decision.reason
    assert registry.champion_version(store, MODEL) == champion
    recorded = store.get_json(ModelRegistryKeys(MODEL).decision(challenger))
    assert recorded["promoted"] is False and reason in recorded["reason"]


def test_lower_is_better_metrics_compare_the_other_way(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(store, MODEL, champion, "f1", higher_is_better=False)
    challenger = _register(store, 0.3)

    decision = registry.promote_if_better(store, MODEL, challenger, "f1", higher_is_better=False)

    assert decision.promoted
    assert registry.champion_version(store, MODEL) == challenger


def test_versions_evaluated_on_different_data_are_not_compared(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(store, MODEL, champion, "f1")
    challenger = _register(store, 0.9, fingerprint="b" * 64)

    with pytest.raises(registry.EvaluationMismatch):
        registry.promote_if_better(store, MODEL, challenger, "f1")

    assert registry.champion_version(store, MODEL) == champion
    recorded = store.get_json(ModelRegistryKeys(MODEL).decision(challenger))
    assert recorded["promoted"] is False and "refused" in recorded["reason"]
