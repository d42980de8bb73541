"""The model registry on a real MLflow server with artifacts in MinIO.

Versions, the champion and challenger aliases, the decision on each version,
and the checks that keep a swapped model file from being read.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fieldhouse.ml import registry
from fieldhouse.storage.keys import Bucket, ObjectKey
from fieldhouse.storage.objects import ObjectStore
from tests.reliability.record import record

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
    return registry.register(MODEL, _estimator(f1), _card(f1, fingerprint))["version"]


def _model_file(store: ObjectStore, version: str) -> ObjectKey:
    """Where the server put the version's model file in the models bucket."""
    card = registry.card(MODEL, version)
    run_id = card["mlflow_run_id"]
    [found] = [
        obj.key
        for obj in store.list(Bucket.MODELS, "mlflow/")
        if run_id in obj.key.key and obj.key.key.endswith(f"/model/{registry.MODEL_FILE}")
    ]
    return found


def test_register_logs_a_run_and_a_version_with_its_card(store: ObjectStore) -> None:
    import pandas as pd

    rows = pd.DataFrame({"x0": [0.1, -0.4, 2.0], "x1": [1.0, 0.0, -1.0]})
    card = registry.register(
        MODEL, _estimator(), _card(0.7), training_rows=rows, dataset_name="toy_features"
    )
    version = card["version"]

    assert card == registry.card(MODEL, version)
    assert card["metrics"]["f1"] == 0.7
    assert card["lake_snapshot_id"] == 42
    assert card["parameters"]["C"] == 1.0
    assert {"scikit-learn", "pandas", "numpy", "mlflow"} <= set(card["library_versions"])
    assert card["code_revision"]
    assert registry.versions(MODEL) == [version]

    client = registry.client()
    run = client.get_run(card["mlflow_run_id"])
    assert run.data.metrics == {"f1": 0.7, "precision": 0.5}
    assert run.data.params["model.C"] == "1.0"
    assert run.data.tags["lake_snapshot_id"] == "42"
    assert run.data.tags["eval_fingerprint"] == FINGERPRINT
    [dataset] = run.inputs.dataset_inputs
    assert dataset.dataset.name == "toy_features"
    model_version = client.get_model_version(MODEL, version)
    assert model_version.run_id == card["mlflow_run_id"]
    assert model_version.tags["artifact_sha256"] == card["artifact"]["sha256"]

    # The model is an MLflow model with a signature and an input example, in MinIO.
    import mlflow.models

    info = mlflow.models.get_model_info(model_version.source)
    assert [spec.name for spec in info.signature.inputs] == ["x0", "x1"]
    assert _model_file(store, version).key.startswith("mlflow/")

    loaded = registry.load(MODEL, version)
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert list(loaded.predict(x)) == list(_estimator().predict(x))


def test_versions_number_in_registration_order(store: ObjectStore) -> None:
    first, second = _register(store, 0.1), _register(store, 0.2)
    assert int(first) < int(second)
    assert registry.versions(MODEL) == [first, second]


def test_register_refuses_a_card_without_required_fields(store: ObjectStore) -> None:
    card = _card(0.5)
    del card["eval_fingerprint"]
    with pytest.raises(ValueError, match="eval_fingerprint"):
        registry.register(MODEL, _estimator(), card)
    assert registry.versions(MODEL) == []


@pytest.mark.reliability
def test_a_model_file_changed_in_the_bucket_is_not_loaded(store: ObjectStore) -> None:
    version = _register(store, 0.5)
    key = _model_file(store, version)
    body = bytearray(store.get_bytes(key))
    body[-10] ^= 0xFF
    store.put_bytes(key, bytes(body))

    with pytest.raises(registry.ChecksumMismatch, match="refusing to load it") as refused:
        registry.load(MODEL, version)
    record(
        "input",
        "corrupted model file (one byte flipped in the bucket)",
        "refused before loading: its sha256 differs from the registry's",
        rows_lost=None,
        rows_duplicated=None,
        error=str(refused.value),
    )


def test_a_card_changed_in_the_bucket_is_refused(store: ObjectStore) -> None:
    version = _register(store, 0.5)
    run_id = registry.card(MODEL, version)["mlflow_run_id"]
    [key] = [
        obj.key
        for obj in store.list(Bucket.MODELS, "mlflow/")
        if run_id in obj.key.key and obj.key.key.endswith("/card.json")
    ]
    card = store.get_json(key)
    card["metrics"]["f1"] = 0.99
    store.put_json(key, card)

    with pytest.raises(registry.ChecksumMismatch, match="card_sha256"):
        registry.card(MODEL, version)


@pytest.mark.reliability
def test_a_file_naming_untrusted_types_is_refused_even_with_a_matching_digest(
    store: ObjectStore,
) -> None:
    """What a forged model needs besides the bytes: a registry entry saying they are right."""
    import hashlib

    version = _register(store, 0.5)
    key = _model_file(store, version)
    # A skops file whose schema names a type no model of ours is made of.
    original = zipfile.ZipFile(io.BytesIO(store.get_bytes(key)))
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as out:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "schema.json":
                data = data.replace(b"sklearn.linear_model._logistic", b"subprocess").replace(
                    b'"LogisticRegression"', b'"Popen"'
                )
            out.writestr(item, data)
    store.put_bytes(key, forged.getvalue())
    # The registry entry is made to match (as someone with the registry's own
    # rights could); the type check still refuses the file.
    registry.client().set_model_version_tag(
        MODEL, version, "artifact_sha256", hashlib.sha256(forged.getvalue()).hexdigest()
    )

    with pytest.raises(registry.UntrustedModel, match="subprocess") as refused:
        registry.load(MODEL, version)
    record(
        "input",
        "forged model naming subprocess.Popen, its sha256 rewritten to match",
        "refused: a type outside the code's allow-list; nothing ran",
        rows_lost=None,
        rows_duplicated=None,
        error=str(refused.value),
    )


def test_load_without_version_needs_a_champion(store: ObjectStore) -> None:
    _register(store, 0.5)
    with pytest.raises(registry.NoChampion):
        registry.load(MODEL)


def test_first_version_becomes_champion(store: ObjectStore) -> None:
    version = _register(store, 0.5)
    decision = registry.promote_if_better(MODEL, version, "f1")

    assert decision.promoted and decision.champion_version is None
    assert "no champion" in decision.reason
    assert registry.champion_version(MODEL) == version
    assert registry.load(MODEL).get_params()["C"] == 0.5


def test_better_challenger_is_promoted_and_the_reason_recorded(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(MODEL, champion, "f1")
    challenger = _register(store, 0.7)

    decision = registry.promote_if_better(MODEL, challenger, "f1", margin=0.05)

    assert decision.promoted
    assert registry.champion_version(MODEL) == challenger
    recorded = registry.decision(MODEL, challenger)
    assert recorded == decision.to_json()
    # Where the MLflow UI shows it: the aliases, the version's description, the run's note.
    client = registry.client()
    aliases = client.get_registered_model(MODEL).aliases
    assert aliases == {"champion": challenger, "challenger": challenger}
    described = client.get_model_version(MODEL, challenger).description
    assert described.startswith("promoted to champion: challenger wins")
    run = client.get_run(registry.card(MODEL, challenger)["mlflow_run_id"])
    assert run.data.tags["mlflow.note.content"] == described
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
    registry.promote_if_better(MODEL, champion, "f1")
    challenger = _register(store, challenger_f1)

    decision = registry.promote_if_better(MODEL, challenger, "f1", margin=0.05)

    assert not decision.promoted
    assert reason in decision.reason
    assert registry.champion_version(MODEL) == champion
    recorded = registry.decision(MODEL, challenger)
    assert recorded["promoted"] is False and reason in recorded["reason"]
    aliases = registry.client().get_registered_model(MODEL).aliases
    assert aliases == {"champion": champion, "challenger": challenger}


def test_lower_is_better_metrics_compare_the_other_way(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(MODEL, champion, "f1", higher_is_better=False)
    challenger = _register(store, 0.3)

    decision = registry.promote_if_better(MODEL, challenger, "f1", higher_is_better=False)

    assert decision.promoted
    assert registry.champion_version(MODEL) == challenger


def test_versions_evaluated_on_different_data_are_not_compared(store: ObjectStore) -> None:
    champion = _register(store, 0.5)
    registry.promote_if_better(MODEL, champion, "f1")
    challenger = _register(store, 0.9, fingerprint="b" * 64)

    with pytest.raises(registry.EvaluationMismatch):
        registry.promote_if_better(MODEL, challenger, "f1")

    assert registry.champion_version(MODEL) == champion
    recorded = registry.decision(MODEL, challenger)
    assert recorded["promoted"] is False and "refused" in recorded["reason"]


def _tamper(store: ObjectStore, version: str) -> None:
    key = _model_file(store, version)
    body = bytearray(store.get_bytes(key))
    body[-10] ^= 0xFF
    store.put_bytes(key, bytes(body))


@pytest.mark.reliability
def test_a_refused_champion_gives_way_to_the_previous_good_one(store: ObjectStore) -> None:
    first = _register(store, 0.5)
    registry.promote_if_better(MODEL, first, "f1")
    second = _register(store, 0.7)
    registry.promote_if_better(MODEL, second, "f1")
    _tamper(store, second)

    estimator, card = registry.load_champion(MODEL)

    assert card["version"] == first
    assert estimator.get_params()["C"] == 0.5
    assert registry.champion_version(MODEL) == first
    client = registry.client()
    assert "refusing to load it" in client.get_model_version(MODEL, second).tags["refused"]
    assert second in client.get_model_version(MODEL, first).tags["reinstated"]
    # Refused once, never offered again: a later load goes straight to the good one.
    assert registry.load_champion(MODEL)[1]["version"] == first
    record(
        "input",
        "champion's model file tampered with",
        f"champion v{second} refused, v{first} reinstated, both tagged with why",
        rows_lost=None,
        rows_duplicated=None,
        error=client.get_model_version(MODEL, second).tags["refused"],
    )


def test_with_no_good_version_left_there_is_no_champion(store: ObjectStore) -> None:
    only = _register(store, 0.5)
    registry.promote_if_better(MODEL, only, "f1")
    _tamper(store, only)

    with pytest.raises(registry.NoChampion, match=f"version\\(s\\) {only} were refused"):
        registry.load_champion(MODEL)
    with pytest.raises(registry.NoChampion):
        registry.champion_version(MODEL)
    # The next challenger then takes over as the first champion would.
    fresh = _register(store, 0.6)
    assert registry.promote_if_better(MODEL, fresh, "f1").promoted


def test_a_model_file_that_is_not_a_model_is_unreadable_not_a_crash(store: ObjectStore) -> None:
    import hashlib

    version = _register(store, 0.5)
    key = _model_file(store, version)
    junk = b"not a zip file at all"
    store.put_bytes(key, junk)
    registry.client().set_model_version_tag(
        MODEL, version, "artifact_sha256", hashlib.sha256(junk).hexdigest()
    )

    with pytest.raises(registry.UnreadableModel, match="cannot be read"):
        registry.load(MODEL, version)
