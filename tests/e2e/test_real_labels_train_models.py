"""End to end: a real machine's series and its labelled failures, through the DAGs people run.

The NAB machine-temperature file and its anomaly windows are dropped in their
landing folders; ``ingest_sensors`` (simulators off for the run), ``transform_lake``
and ``train_models`` (sensor_anomaly only) are triggered in a real Airflow, one
after the other. The model must learn from the labels the user sent, and the
champion's scores must cover every hour of the series.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldhouse.storage.keys import LandingArea

pytestmark = pytest.mark.e2e

NAB = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "nab_machine"
SERIES = "machine_temperature_system_failure.csv"
LOGICAL_DATE = "2026-11-23T10:00:00Z"
SOURCE = "nab_machine_temperature"


def _windows_csv() -> bytes:
    labels = json.loads((NAB / "combined_windows.json").read_text())
    (windows,) = (v for k, v in labels.items() if k.endswith(SERIES))
    return ("start,end\n" + "".join(f"{a},{b}\n" for a, b in windows)).encode()


def _run(airflow, dag_id: str, run_id: str, conf: dict, timeout: float = 600) -> dict:
    airflow.set_paused(dag_id, False)
    airflow.trigger(dag_id, run_id, LOGICAL_DATE, conf)
    run = airflow.wait_for_run(dag_id, run_id, timeout=timeout)
    # The scheduled run the unpause started finishes too, before the DAG is paused.
    airflow.pause_when_idle([dag_id], timeout=timeout)
    assert run["state"] == "success", airflow.task_states(dag_id, run_id)
    return run


def test_labels_sent_by_a_user_train_promote_and_score_in_airflow(airflow, store) -> None:
    if not NAB.is_dir():
        pytest.skip(f"the real data sets are not at {NAB}")
    store.put_bytes(LandingArea("nab_machine").incoming(SERIES), (NAB / SERIES).read_bytes())
    store.put_bytes(LandingArea("nab_machine_labels").incoming("windows.csv"), _windows_csv())
    airflow.wait_for_dags({"ingest_sensors", "transform_lake", "train_models"})

    # Unpausing a DAG also starts its latest scheduled run (a simulated hour, a
    # daily retrain): the series is chosen by source, and the checks below hold
    # whichever run registered the champion.
    _run(airflow, "ingest_sensors", "e2e-nab-ingest", {"simulate": False})
    _run(airflow, "transform_lake", "e2e-nab-transform", {})
    conf = {"models": ["sensor_anomaly"], "sources": [SOURCE]}
    _run(airflow, "train_models", "e2e-nab-train", conf)

    states = airflow.task_states("train_models", "e2e-nab-train")
    assert states["sensor_anomaly.retrain_and_promote[-1]"] == "success", states
    assert states["sensor_anomaly.write_scores[-1]"] == "success", states
    assert states["delivery_time.retrain_and_promote[-1]"] == "skipped", states
    outcome = airflow.get(
        "/api/v2/dags/train_models/dagRuns/e2e-nab-train/taskInstances/"
        "sensor_anomaly.retrain_and_promote/xcomEntries/return_value"
    )["value"]
    assert outcome["metrics"]["window_recall"] == 1.0, outcome["metrics"]
    assert outcome["reason"], outcome

    from fieldhouse.lake import duckdb_connect
    from fieldhouse.ml import registry

    trained = registry.card("sensor_anomaly", outcome["version"])
    assert trained["label_mode"].startswith("labelled"), trained["label_mode"]
    assert trained["sources"] == [SOURCE]
    champion = registry.card("sensor_anomaly")
    with duckdb_connect(store.settings) as con:
        scored, versions = con.execute(
            "select count(*), list(distinct model_version) "
            "from lake.main.fct_sensor_anomaly_scores where source = ?",
            [SOURCE],
        ).fetchone()
        hours = con.execute(
            "select count(*) from lake.main.ml_sensor_anomaly_features where source = ?",
            [SOURCE],
        ).fetchone()[0]
    assert scored == hours > 1800
    assert versions == [champion["version"]]
