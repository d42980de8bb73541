"""Acceptance: the sensor anomaly model on a real machine's temperature and its labelled failures.

The Numenta Anomaly Benchmark's machine-temperature series lands through its
contract, its four labelled windows through theirs (the JSON file written out
as the two-column CSV a user would send), dbt builds the features, and the
model trains, is promoted and scores exactly as ``train_models`` runs it. The
card's figures are then recomputed by pandas from the original files and the
scores table alone: which hours the windows cover, which hours each series
holds out, and precision, recall and window recall of the flagged hours.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldhouse.config import StorageSettings
from fieldhouse.ingest.feeds import ingest_dataset_hour
from fieldhouse.storage.keys import Interval, LandingArea
from tests.zones import empty_zones

pytestmark = [pytest.mark.integration, pytest.mark.acceptance]

NAB = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "nab_machine"
SERIES_FILE = "machine_temperature_system_failure.csv"
WINDOWS_FILE = "combined_windows.json"
HOUR = Interval(datetime(2024, 1, 8, 9, tzinfo=UTC), datetime(2024, 1, 8, 10, tzinfo=UTC))
EVAL_FRACTION = 0.3


@pytest.fixture(scope="module")
def nab() -> Path:
    if not NAB.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the real data sets are not at {NAB}")
        pytest.skip(f"the real data sets are not at {NAB}")
    return NAB


def _windows(folder: Path) -> pd.DataFrame:
    """The labelled windows of the series, as NAB's JSON file gives them."""
    labels = json.loads((folder / WINDOWS_FILE).read_text())
    (windows,) = (v for k, v in labels.items() if k.endswith(SERIES_FILE))
    return pd.DataFrame(windows, columns=["start", "end"])


@pytest.fixture(scope="module")
def trained(nab: Path, minio_server: StorageSettings) -> dict:
    """Land series and windows, build the sensor models, retrain and score as train_models does."""
    from fieldhouse.lake import build_domains, duckdb_connect
    from fieldhouse.ml import registry
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL, retrain, score_with_champion

    store = empty_zones(minio_server)
    store.put_bytes(
        LandingArea("nab_machine").incoming(SERIES_FILE), (nab / SERIES_FILE).read_bytes()
    )
    store.put_bytes(
        LandingArea("nab_machine_labels").incoming("windows.csv"),
        _windows(nab).to_csv(index=False).encode(),
    )
    readings = ingest_dataset_hour(store, "sensors.readings", HOUR)
    windows = ingest_dataset_hour(store, "sensors.anomaly_windows", HOUR)
    build_domains(minio_server, ["sensors"])

    outcome = retrain(minio_server, SENSOR_ANOMALY_MODEL, score=False)
    scores = score_with_champion(minio_server, SENSOR_ANOMALY_MODEL)
    with duckdb_connect(minio_server) as con:
        table = con.execute(
            "select source, device_id, metric, event_hour, is_anomaly, model_version "
            "from lake.main.fct_sensor_anomaly_scores"
        ).df()
    return {
        "readings": readings,
        "windows": windows,
        "outcome": outcome,
        "scores": scores,
        "table": table,
        "card": registry.card(SENSOR_ANOMALY_MODEL),
    }


def test_series_and_windows_land_through_their_contracts(trained, nab: Path) -> None:
    series = pd.read_csv(nab / SERIES_FILE)
    assert trained["readings"].rows_in == len(series)
    assert trained["windows"].rows_written == len(_windows(nab)) == 4
    assert trained["windows"].rows_quarantined == 0


def test_the_model_trains_on_labels_it_was_sent_and_is_promoted(trained) -> None:
    outcome, card = trained["outcome"], trained["card"]
    assert outcome["promoted"], outcome["reason"]
    assert card["version"] == outcome["version"]
    assert card["label_mode"].startswith("labelled"), card["label_mode"]
    assert any("period" in basis for basis in card["threshold_basis"].values())


def test_the_champion_scores_every_hour_of_the_series(trained) -> None:
    table = trained["table"]
    assert trained["scores"]["rows"] == len(table) > 1800  # 79 days of hours
    assert set(table["source"]) == {"nab_machine_temperature"}
    assert set(table["model_version"]) == {trained["card"]["version"]}


def _independent_figures(table: pd.DataFrame, windows: pd.DataFrame) -> dict[str, float]:
    """Precision, recall, F1 and window recall of the held-out hours, from pandas alone."""
    hours = table.sort_values("event_hour").reset_index(drop=True)
    start = pd.to_datetime(hours["event_hour"], utc=True)
    inside = np.zeros(len(hours), dtype=bool)
    window_of = np.full(len(hours), -1)
    for index, (first, last) in enumerate(windows.itertuples(index=False)):
        begins = pd.Timestamp(first, tz="UTC")
        ends = pd.Timestamp(last, tz="UTC")
        hit = ((start + pd.Timedelta(hours=1)) > begins) & (start <= ends)
        inside |= hit.to_numpy()
        window_of[hit.to_numpy()] = index
    held_out = np.arange(len(hours)) >= round(len(hours) * (1 - EVAL_FRACTION))
    flagged = hours["is_anomaly"].to_numpy(dtype=bool)
    truth, alarms = inside[held_out], flagged[held_out]
    true_positives = int((truth & alarms).sum())
    precision = true_positives / alarms.sum()
    recall = true_positives / truth.sum()
    caught = {window_of[i] for i in np.flatnonzero(held_out & inside & flagged)}
    seen = {window_of[i] for i in np.flatnonzero(held_out & inside)}
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "window_recall": len(caught) / len(seen),
        "eval_label_rate": truth.mean(),
    }


def test_card_figures_equal_an_independent_count(trained, nab: Path) -> None:
    metrics = trained["card"]["metrics"]
    expected = _independent_figures(trained["table"], _windows(nab))
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-9), name


def test_the_detector_beats_chance_on_the_real_failures(trained) -> None:
    metrics = trained["card"]["metrics"]
    rate = metrics["eval_label_rate"]
    # Flagging at random at the label rate gets precision = the rate; flagging
    # every hour gets F1 = 2r / (1 + r).
    assert metrics["precision"] > 2 * rate, metrics
    assert metrics["f1"] > 2 * rate / (1 + rate), metrics
    assert metrics["window_recall"] == 1.0, metrics


def test_training_can_be_limited_to_chosen_sources(trained, minio_server) -> None:
    from fieldhouse.ml import registry, tabular
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL, retrain

    with pytest.raises(tabular.NotEnoughData, match="no rows"):
        retrain(minio_server, SENSOR_ANOMALY_MODEL, score=False, sources=["elsewhere"])
    chosen = retrain(
        minio_server, SENSOR_ANOMALY_MODEL, score=False, sources=["nab_machine_temperature"]
    )
    card = registry.card(SENSOR_ANOMALY_MODEL, chosen["version"])
    assert card["chosen_sources"] == card["sources"] == ["nab_machine_temperature"]
    assert chosen["metrics"] == trained["card"]["metrics"]
