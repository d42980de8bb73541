"""The model registry: MLflow runs, registered models, versions and their aliases.

Every training is an MLflow run in an experiment named after the model: its
parameters, its metrics on the held-out period, the training window, the lake
snapshot and the rows it learnt from (a dataset input with their fingerprint).
The fitted estimator is an MLflow model (signature and input example included)
registered as a version of the model of the same name. The aliases say which
version does what:

* ``champion``: the version in service (scores, drift checks);
* ``challenger``: the latest version judged against it.

The promotion decision (the metric, both values on the same held-out rows, the
margin, the reason) is recorded on the version (tags and description) and on
the run (its description and ``decision.json``), so the MLflow UI answers "why
is this the champion?".

Models are stored with skops, not pickle, and read back only after two checks:
the file's sha256 must equal the one recorded on the version when it was
registered (the registry's database, not the bucket the file sits in), and
every type the file names must be on :data:`TRUSTED_TYPES`, a list this code
holds. A file swapped in the bucket is refused before it is read.

The tracking server is ``MLFLOW_TRACKING_URI`` (``make up`` and the test
fixtures set it); it stores artifacts in the ``models`` bucket.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_FILE = "model.skops"

# Card fields the caller must give: without them two versions cannot be compared
# or traced back to their data.
REQUIRED_CARD_FIELDS = (
    "metrics",
    "features",
    "training_period",
    "lake_snapshot_id",
    "eval_fingerprint",
)

# Types a stored model may name beyond those skops trusts by itself: the
# platform's estimators and the scikit-learn parts they are built from. Loading
# refuses a file naming anything else, whatever its own metadata claims.
TRUSTED_TYPES = (
    "fieldhouse.ml.anomaly.SensorAnomalyDetector",
    "fieldhouse.ml.delivery.DeliveryTimeEstimator",
    "fieldhouse.ml.risk.TransactionRiskClassifier",
    "fieldhouse.ml.risk.UnsupervisedRisk",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyPinballLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.pipeline.Pipeline",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.dummy.DummyClassifier",
    "sklearn.utils.validation.check_array",
    # Wraps only functions named here (skops refuses any other callable inside it).
    "functools.partial",
    "numpy.dtype",
    "builtins.slice",
    "collections.OrderedDict",
)


class RegistryError(RuntimeError):
    """The registry cannot do what was asked."""


class ChecksumMismatch(RegistryError):
    """A model file's bytes do not hash to the sha256 recorded on its version."""


class UntrustedModel(RegistryError):
    """A model file names types outside :data:`TRUSTED_TYPES`."""


class UnreadableModel(RegistryError):
    """A model file that passed its checks but cannot be read back (corrupt, or missing)."""


# What makes a version unfit for service, as opposed to a registry that is down.
REFUSALS = (ChecksumMismatch, UntrustedModel, UnreadableModel)


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


def client() -> MlflowClient:
    """A client of the tracking server in ``MLFLOW_TRACKING_URI``."""
    from mlflow import MlflowClient

    from fieldhouse.config import ConfigError

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise ConfigError(
            "MLFLOW_TRACKING_URI is not set: the model registry is MLflow's tracking "
            "server. Start the stack with `make up` (it exports it), or set it yourself."
        )
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def register(
    model_name: str,
    estimator: Any,
    card_fields: Mapping[str, Any],
    *,
    training_rows: pd.DataFrame | None = None,
    dataset_name: str | None = None,
) -> dict[str, Any]:
    """Log a training run of ``estimator`` and register it as a new version; returns its card.

    ``card_fields`` must hold :data:`REQUIRED_CARD_FIELDS`: ``metrics`` (name ->
    number or null), ``features`` (name -> dtype), ``training_period``
    (start/end), ``lake_snapshot_id`` and ``eval_fingerprint`` (of the held-out
    rows, see :func:`promote_if_better`). ``parameters`` defaults to the
    estimator's ``get_params()``. Other fields are kept as given, and a
    ``run_key`` among them tags the version (see :func:`run_version`).

    ``training_rows`` (the feature table rows the run read) become the run's
    dataset input, named ``dataset_name``; their first rows are the model's
    input example.
    """
    missing = [name for name in REQUIRED_CARD_FIELDS if name not in card_fields]
    if missing:
        raise ValueError(f"model card of {model_name!r} lacks {missing}")
    mlflow_client = client()
    experiment_id = _experiment(mlflow_client, model_name)
    _registered_model(mlflow_client, model_name)
    registered_at = datetime.now(UTC)
    card: dict[str, Any] = {
        "parameters": _parameters(estimator),
        **card_fields,
        "model_name": model_name,
        "registered_at": registered_at.isoformat(),
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "library_versions": _library_versions(),
        "code_revision": code_revision(),
    }
    run = mlflow_client.create_run(
        experiment_id,
        run_name=f"{model_name} {registered_at:%Y-%m-%d %H:%M:%S}",
        tags=_run_tags(card),
    )
    run_id = run.info.run_id
    try:
        _log_training(mlflow_client, run_id, card, training_rows, dataset_name)
        with tempfile.TemporaryDirectory(prefix="fieldhouse-model-") as folder:
            model_dir = Path(folder) / "model"
            features = list(card_fields["features"])
            example = None if training_rows is None else training_rows[features].head(5)
            digest = _save_model(estimator, model_dir, example)
            mlflow_client.log_artifacts(run_id, str(model_dir), "model")
        card["artifact"] = {
            "path": f"{run.info.artifact_uri}/model/{MODEL_FILE}",
            "sha256": digest,
            "format": "skops",
        }
        version = mlflow_client.create_model_version(
            model_name,
            source=f"{run.info.artifact_uri}/model",
            run_id=run_id,
            tags={
                "artifact_sha256": digest,
                "run_key": str(card_fields.get("run_key") or ""),
                "data_fingerprint": str(card_fields.get("data_fingerprint") or ""),
            },
            description=f"{card['estimator']} trained on {_period(card)}",
        ).version
        card["version"] = str(version)
        card["mlflow_run_id"] = run_id
        mlflow_client.log_dict(run_id, card, "card.json")
        mlflow_client.set_model_version_tag(
            model_name, str(version), "card_sha256", _json_digest(card)
        )
        mlflow_client.set_terminated(run_id)
    except BaseException:
        mlflow_client.set_terminated(run_id, status="FAILED")
        raise
    log.info("%s: registered version %s (run %s)", model_name, version, run_id)
    return card


def card(model_name: str, version: str | None = None) -> dict[str, Any]:
    """The model card of ``version`` (default: the champion), checked against its version."""
    mlflow_client = client()
    model_version = _version(mlflow_client, model_name, version)
    with tempfile.TemporaryDirectory(prefix="fieldhouse-card-") as folder:
        uri = _run_artifact(mlflow_client, model_version.run_id, "card.json")
        found = json.loads(_download(mlflow_client, uri, folder).read_text())
    expected = model_version.tags.get("card_sha256")
    if expected != _json_digest(found):
        raise ChecksumMismatch(
            f"the card of {model_name} version {model_version.version} is not the one "
            "registered (its digest differs from the version's card_sha256)"
        )
    return found


def versions(model_name: str) -> list[str]:
    """Every version of ``model_name``, oldest first (none when it was never registered)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client().search_model_versions(f"name = '{_quoted(model_name)}'")
    except MlflowException:
        return []
    return [str(v) for v in sorted(int(found_version.version) for found_version in found)]


def champion_version(model_name: str) -> str:
    """The version in service; raises :class:`NoChampion` if none was promoted."""
    return str(_version(client(), model_name, None).version)


def load(model_name: str, version: str | None = None) -> Any:
    """The estimator of ``version`` (default: the champion), checked before it is read.

    Raises:
        ChecksumMismatch: the stored file is not the one registered.
        UntrustedModel: the file names types this code does not trust.
        NoChampion: no version given and none promoted.
    """
    import skops.io

    mlflow_client = client()
    model_version = _version(mlflow_client, model_name, version)
    expected = model_version.tags.get("artifact_sha256")
    with tempfile.TemporaryDirectory(prefix="fieldhouse-model-") as folder:
        path = _download(mlflow_client, f"{model_version.source}/{MODEL_FILE}", folder)
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        where = f"{model_name} version {model_version.version} ({model_version.source})"
        if actual != expected:
            raise ChecksumMismatch(
                f"{where}: {MODEL_FILE} has sha256 {actual}, the registry recorded "
                f"{expected}; refusing to load it"
            )
        try:
            named = set(skops.io.get_untrusted_types(file=path))
        except Exception as exc:  # skops raises what zipfile and json raise on a bad file
            raise UnreadableModel(f"{where}: {MODEL_FILE} cannot be read: {exc}") from exc
        untrusted = sorted(named - set(TRUSTED_TYPES))
        if untrusted:
            raise UntrustedModel(f"{where}: the file names untrusted types {untrusted}")
        try:
            return skops.io.load(path, trusted=list(TRUSTED_TYPES))
        except Exception as exc:
            raise UnreadableModel(f"{where}: {MODEL_FILE} cannot be read: {exc}") from exc


def load_champion(model_name: str) -> tuple[Any, dict[str, Any]]:
    """The champion's estimator and card; a champion that fails its checks is set aside.

    When the champion is refused (its file or card changed in the bucket, a
    file naming untrusted types, one that cannot be read), that version gets
    the tag ``refused`` with the reason, and the ``champion`` alias moves back
    to the newest earlier version that was promoted and still passes, noted
    on that version. A registry that cannot be reached is not a refusal: its
    error is raised as it is.

    Raises:
        NoChampion: there is no champion, or no promoted version passes.
    """
    mlflow_client = client()
    version = champion_version(model_name)
    refused: list[str] = []
    for candidate in [version, *_earlier_champions(mlflow_client, model_name, version)]:
        try:
            found_card = card(model_name, candidate)
            estimator = load(model_name, candidate)
        except REFUSALS as exc:
            log.error("%s version %s refused: %s", model_name, candidate, exc)
            mlflow_client.set_model_version_tag(model_name, candidate, "refused", str(exc)[:4000])
            refused.append(candidate)
            continue
        if refused:
            reason = (
                f"champion again: version(s) {', '.join(refused)} refused at load "
                "(see their `refused` tag)"
            )
            log.warning("%s: %s; version %s is champion", model_name, reason, candidate)
            mlflow_client.set_registered_model_alias(model_name, CHAMPION, candidate)
            mlflow_client.set_model_version_tag(model_name, candidate, "reinstated", reason)
        return estimator, found_card
    mlflow_client.delete_registered_model_alias(model_name, CHAMPION)
    raise NoChampion(
        f"model {model_name!r} has no champion: version(s) {', '.join(refused)} were refused "
        "at load and no earlier champion passes"
    )


def _earlier_champions(mlflow_client: MlflowClient, model_name: str, version: str) -> list[str]:
    """Versions before ``version`` that were once promoted and not refused, newest first."""
    found = mlflow_client.search_model_versions(
        f"name = '{_quoted(model_name)}' and tags.`decision.promoted` = 'true'"
    )
    return [
        str(v.version)
        for v in sorted(found, key=lambda v: int(v.version), reverse=True)
        if int(v.version) < int(version) and "refused" not in v.tags
    ]


def run_version(model_name: str, run_key: str) -> str | None:
    """The latest version registered by the training run ``run_key``, if any."""
    from mlflow.exceptions import MlflowException

    try:
        found = client().search_model_versions(
            f"name = '{_quoted(model_name)}' and tags.run_key = '{_quoted(run_key)}'"
        )
    except MlflowException:
        return None
    return str(max(int(v.version) for v in found)) if found else None


def decision(model_name: str, version: str) -> dict[str, Any] | None:
    """The promotion decision recorded on ``version``, if it was judged."""
    recorded = client().get_model_version(model_name, version).tags.get("decision")
    return json.loads(recorded) if recorded else None


def promote_if_better(
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
    ``eval_fingerprint``. The decision and its reason are recorded either way;
    the ``champion`` alias moves only on a win (or when there is no champion
    yet). The ``challenger`` alias points at the version judged.

    A challenger whose card records ``metric`` as null (no labelled rows to
    measure it on) becomes champion only when there is none; so does nothing
    replace a champion when ``champion_score`` is NaN (nothing to compare on).

    Raises:
        EvaluationMismatch: the fingerprints differ (the refusal is recorded too).
        ValueError: a card's ``metric`` is not a number.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    mlflow_client = client()
    challenger = card(model_name, challenger_version)
    # A model trained without labels to judge it on (an unsupervised fit on
    # unlabelled series) records its metric as null and says so on its card.
    unjudged = challenger.get("metrics", {}).get(metric) is None
    challenger_value = None if unjudged else _metric(challenger, metric)
    try:
        incumbent_version: str | None = champion_version(model_name)
    except NoChampion:
        incumbent_version = None

    def decide(promoted: bool, reason: str, champion_value: float | None = None) -> Decision:
        outcome = Decision(
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
        _record(mlflow_client, challenger, outcome)
        return outcome

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

    incumbent = card(model_name, incumbent_version)
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


def forget_all_models() -> int:
    """Delete every registered model (their runs stay); for tests and a fresh start."""
    mlflow_client = client()
    names = [model.name for model in mlflow_client.search_registered_models()]
    for name in names:
        mlflow_client.delete_registered_model(name)
    return len(names)


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


# --- MLflow entities ---------------------------------------------------------------


def _experiment(mlflow_client: MlflowClient, model_name: str) -> str:
    """The experiment of ``model_name``'s training runs, created on first use."""
    from mlflow.exceptions import MlflowException

    found = mlflow_client.get_experiment_by_name(model_name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(
            model_name, tags={"mlflow.note.content": f"Training runs of {model_name}."}
        )
    except MlflowException:
        # Another process created it in between.
        found = mlflow_client.get_experiment_by_name(model_name)
        if found is None:
            raise
        return found.experiment_id


def _registered_model(mlflow_client: MlflowClient, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(model_name)
        return
    except MlflowException:
        pass
    try:
        mlflow_client.create_registered_model(
            model_name,
            description=(
                f"{model_name}: the version with alias `champion` is in service; "
                "`challenger` is the latest one judged against it. Each version's "
                "`decision` tag and description say why it won or lost."
            ),
        )
    except MlflowException:
        mlflow_client.get_registered_model(model_name)  # created by another process


def _version(mlflow_client: MlflowClient, model_name: str, version: str | None) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    if version is not None:
        return mlflow_client.get_model_version(model_name, str(version))
    try:
        return mlflow_client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as exc:
        raise NoChampion(f"model {model_name!r} has no champion yet") from exc


def _log_training(
    mlflow_client: MlflowClient,
    run_id: str,
    model_card: dict[str, Any],
    training_rows: pd.DataFrame | None,
    dataset_name: str | None,
) -> None:
    from mlflow.entities import DatasetInput, InputTag, Metric, Param

    now = int(datetime.now(UTC).timestamp() * 1000)
    metrics = [
        Metric(name, float(value), now, 0)
        for name, value in model_card["metrics"].items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    ]
    params = {f"model.{name}": value for name, value in model_card["parameters"].items()}
    for name in ("window_days", "training_days", "chosen_sources", "sources", "label_mode"):
        if name in model_card:
            params[name] = model_card[name]
    mlflow_client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(name, _text(value)[:6000]) for name, value in params.items()],
    )
    if training_rows is not None:
        import mlflow.data

        dataset = mlflow.data.from_pandas(
            training_rows,
            name=dataset_name or "features",
            digest=str(model_card.get("data_fingerprint") or "")[:36] or None,
        )
        mlflow_client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(
                    dataset._to_mlflow_entity(),
                    tags=[InputTag("mlflow.data.context", "training")],
                )
            ],
        )


def _run_tags(model_card: dict[str, Any]) -> dict[str, str]:
    period = model_card["training_period"]
    tags = {
        "lake_snapshot_id": model_card["lake_snapshot_id"],
        "eval_fingerprint": model_card["eval_fingerprint"],
        "data_fingerprint": model_card.get("data_fingerprint"),
        "run_key": model_card.get("run_key"),
        "training_period.start": period.get("start") if isinstance(period, Mapping) else None,
        "training_period.end": period.get("end") if isinstance(period, Mapping) else None,
        "mlflow.source.git.commit": model_card["code_revision"],
    }
    return {name: _text(value) for name, value in tags.items() if value is not None}


def _save_model(estimator: Any, model_dir: Path, example: pd.DataFrame | None) -> str:
    """Write ``estimator`` as an MLflow model (skops); returns the model file's sha256."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        estimator,
        str(model_dir),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        skops_trusted_types=list(TRUSTED_TYPES),
        signature=None if example is None else infer_signature(example),
        input_example=example,
        # Named, not inferred: inference loads the model in a subprocess (seconds).
        # The estimator classes themselves are this repository's, at code_revision.
        pip_requirements=[
            f"{name}=={version}" for name, version in _library_versions(skops=True).items()
        ],
    )
    return hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()


def _record(mlflow_client: MlflowClient, challenger: dict[str, Any], outcome: Decision) -> None:
    """Write ``outcome`` onto the version and its run; move the aliases."""
    name, version = outcome.model_name, outcome.challenger_version
    tags = {
        "decision": json.dumps(outcome.to_json()),
        "decision.promoted": str(outcome.promoted).lower(),
        "decision.reason": outcome.reason,
        "decision.metric": outcome.metric,
        "decision.champion_before": outcome.champion_version or "none",
    }
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, value)
    verdict = "promoted to champion" if outcome.promoted else "not promoted"
    mlflow_client.update_model_version(name, version, description=f"{verdict}: {outcome.reason}")
    run_id = challenger.get("mlflow_run_id")
    if run_id:
        mlflow_client.set_tag(run_id, "mlflow.note.content", f"{verdict}: {outcome.reason}")
        mlflow_client.set_tag(run_id, "promoted", str(outcome.promoted).lower())
        mlflow_client.log_dict(run_id, outcome.to_json(), "decision.json")
    if outcome.champion_version != version:
        mlflow_client.set_registered_model_alias(name, CHALLENGER, version)
    if outcome.promoted:
        mlflow_client.set_registered_model_alias(name, CHAMPION, version)


def _run_artifact(mlflow_client: MlflowClient, run_id: str, path: str) -> str:
    run = mlflow_client.get_run(run_id)
    return f"{run.info.artifact_uri}/{path}"


def _download(mlflow_client: MlflowClient, uri: str, folder: str) -> Path:
    import mlflow.artifacts

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=folder, tracking_uri=mlflow_client.tracking_uri
        )
    )


# --- small helpers -----------------------------------------------------------------


def _json_digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _period(model_card: Mapping[str, Any]) -> str:
    period = model_card.get("training_period") or {}
    return f"{period.get('start')} .. {period.get('end')}"


def _library_versions(skops: bool = False) -> dict[str, str]:
    from importlib.metadata import version

    names = ["scikit-learn", "pandas", "numpy", "mlflow", *(["skops"] if skops else [])]
    return {name: version(name) for name in names}


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
