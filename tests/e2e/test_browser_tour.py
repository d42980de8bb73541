"""The tour a new user takes, in a real browser: Airflow, dbt docs, MLflow, the Evidently UI.

Debian's Chromium, driven by Playwright, does what a person does: signs in to
Airflow, triggers ``ingest_sensors`` from its trigger form with a Param changed,
watches that run and the ``transform_lake`` run it causes turn green, reads a
column's description in the dbt docs, finds each trained model's ``champion``
alias and the reason for it in MLflow, and a project with drift snapshots in
the Evidently UI. Every step saves a screenshot under ``test-output/browser-tour/``.

What the browser shows is checked against what the services say through their
APIs (the run's conf, the manifest's description, the registry's decision, the
workspace's snapshot count), so the pages are read, not just opened.

Training data comes first: two days of the simulated fleet are ingested in
process; the browser adds one more hour through the UI.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from fieldhouse import localstack
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.storage.keys import Interval

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser-tour"
FLEET_SIZE = 9  # what the trigger form's fleet_size is changed to (the default is 50)
RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def page(stack_config) -> Iterator:
    """One Chromium page for the whole tour (the system's browser, not a download)."""
    from playwright.sync_api import sync_playwright

    executable = localstack.chromium_binary()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.set_default_timeout(30_000)
            yield tab
        finally:
            browser.close()


def _shot(page, step: str) -> None:
    page.screenshot(path=str(SHOTS / f"{step}.png"), full_page=True)


def _watch_until_green(page, url: str, run_id: str, step: str) -> None:
    """Open a run's page and wait until its header says Success (reloading now and then)."""
    page.goto(url)
    deadline = time.monotonic() + RUN_TIMEOUT
    header = page.locator("h2", has_text=run_id).locator("xpath=..")
    header.wait_for()
    while time.monotonic() < deadline:
        if header.get_by_text("Success", exact=True).is_visible():
            _shot(page, step)
            return
        assert not header.get_by_text("Failed", exact=True).is_visible(), f"{run_id} failed"
        page.wait_for_timeout(10_000)
        page.reload()
        header.wait_for()
    _shot(page, f"{step}-timeout")
    raise AssertionError(f"{run_id} did not turn green within {RUN_TIMEOUT}s")


def _transform_runs_caused_by(airflow, run_id: str) -> list[str]:
    """The transform_lake runs created by the asset events of ingest_sensors' ``run_id``."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        query = urlencode({"source_dag_id": "ingest_sensors", "source_run_id": run_id})
        events = airflow.get(f"/api/v2/assets/events?{query}")["asset_events"]
        runs = sorted(
            {
                run["run_id"]
                for event in events
                for run in event["created_dagruns"]
                if run["dag_id"] == "transform_lake"
            }
        )
        if runs:
            return runs
        time.sleep(3)
    raise AssertionError(f"no transform_lake run was created by the events of {run_id}")


def _run_by_api(airflow, dag_id: str, run_id: str, conf: dict) -> None:
    """Trigger a run, wait for it, then pause the DAG once nothing of it runs."""
    airflow.set_paused(dag_id, False)
    airflow.trigger(dag_id, run_id, datetime.now(UTC).isoformat(), conf)
    run = airflow.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    airflow.pause_when_idle([dag_id], timeout=RUN_TIMEOUT)
    assert run["state"] == "success", airflow.task_states(dag_id, run_id)


def test_a_new_user_s_tour_of_the_platform(airflow, store, stack_config, page) -> None:
    from fieldhouse.ml import registry
    from fieldhouse.monitoring import workspace

    airflow.wait_for_dags({"ingest_sensors", "transform_lake", "train_models", "monitor_drift"})
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    history = Interval(now - timedelta(hours=36), now - timedelta(hours=1))
    ingest_source(store, SENSORS, history, SensorRunOptions(fleet_size=FLEET_SIZE, seed=5))

    # 1. Sign in.
    page.goto(stack_config.airflow_url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(stack_config.secrets["airflow_password"])
    _shot(page, "01-sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack_config.airflow_url}/")
    _shot(page, "02-home")

    # 2. Trigger ingest_sensors from its form, with fleet_size changed.
    for dag_id in ("ingest_sensors", "transform_lake"):
        airflow.set_paused(dag_id, False)
    page.goto(f"{stack_config.airflow_url}/dags/ingest_sensors")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.get_by_label("fleet_size").fill(str(FLEET_SIZE))
    _shot(page, "03-trigger-form")
    form.get_by_role("button", name="Trigger").click()
    page.wait_for_url(re.compile(r".*/dags/ingest_sensors/runs/manual__.+"))
    run_id = page.url.rsplit("/runs/", 1)[1]
    run = airflow.get(f"/api/v2/dags/ingest_sensors/dagRuns/{run_id}")
    assert run["conf"]["fleet_size"] == FLEET_SIZE, run["conf"]

    # 3. Watch it, and the transform it causes, turn green.
    _watch_until_green(page, page.url, run_id, "04-ingest-green")
    for transform_run in _transform_runs_caused_by(airflow, run_id):
        url = f"{stack_config.airflow_url}/dags/transform_lake/runs/{transform_run}"
        _watch_until_green(page, url, transform_run, "05-transform-green")
    airflow.pause_when_idle(["ingest_sensors", "transform_lake"], timeout=RUN_TIMEOUT)

    # 4. dbt docs: a column's description of the hourly readings mart.
    target = localstack.dbt_target_dir(stack_config)
    manifest = json.loads((target / "manifest.json").read_text())
    model = manifest["nodes"]["model.fieldhouse.fct_sensor_readings_hourly"]
    described = model["columns"]["reading_count"]["description"]
    localstack.start_docs(stack_config, target)
    try:
        page.goto(f"{stack_config.docs_url}/#!/model/model.fieldhouse.fct_sensor_readings_hourly")
        page.get_by_text(described, exact=True).first.wait_for()
        _shot(page, "06-dbt-docs-column")
    finally:
        stack_config.service("dbt-docs").stop()

    # 5. MLflow: each model trained by train_models, its champion and why.
    _run_by_api(airflow, "train_models", "tour-train", {})
    states = airflow.task_states("train_models", "tour-train")
    trained = [
        name
        for name in ("sensor_anomaly", "delivery_time", "transaction_risk")
        if states[f"{name}.retrain_and_promote[-1]"] == "success"
    ]
    assert "sensor_anomaly" in trained, states
    for name in trained:
        champion = registry.champion_version(name)
        reason = registry.decision(name, champion)["reason"]
        page.goto(f"{stack_config.mlflow_url}/#/models/{name}/versions/{champion}")
        page.get_by_text("@ champion").first.wait_for()
        page.get_by_text(reason).first.wait_for()
        _shot(page, f"07-mlflow-{name}-champion")

    # 6. Evidently: two drift checks, a project with their snapshots.
    for run in ("tour-drift-1", "tour-drift-2"):
        _run_by_api(airflow, "monitor_drift", run, {})
    project = workspace.project_id("sensor_anomaly")
    assert project is not None
    filed = workspace.snapshot_count("sensor_anomaly")
    assert filed >= 2
    page.goto(f"{stack_config.evidently_url}/projects/{project}/reports")
    page.get_by_text(re.compile(rf"of {filed}$")).first.wait_for()
    page.get_by_text("run tour-drift-2").first.wait_for()
    _shot(page, "08-evidently-snapshots")
    page.goto(f"{stack_config.evidently_url}/projects/{project}")
    page.get_by_text(re.compile(r"^Share of drifted columns")).first.wait_for()
    _shot(page, "09-evidently-dashboard")
