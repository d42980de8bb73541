"""Drift checks filed in a real Evidently UI: one project per model, a point per run."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse import localstack
from fieldhouse.monitoring import workspace
from fieldhouse.monitoring.drift import DriftResult, check_drift

COLUMNS = ["amount", "items", "hour"]
MONDAY = datetime(2026, 11, 2, 6, tzinfo=UTC)


def _frame(rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame({column: rng.normal(10 + shift, 2, 400) for column in COLUMNS})


@pytest.fixture(scope="module")
def checks() -> dict[str, DriftResult]:
    """A quiet window and one with every column moved by two standard deviations."""
    rng = np.random.default_rng(11)
    reference = _frame(rng, 0)
    return {
        "quiet": check_drift(reference, _frame(rng, 0), COLUMNS),
        "shifted": check_drift(reference, _frame(rng, 4), COLUMNS),
    }


@pytest.fixture
def ui(evidently_ui: str, stack_config: localstack.StackConfig, monkeypatch) -> str:
    """The session's Evidently UI, given to this test's process as to a pipeline task."""
    monkeypatch.setenv(workspace.URL_VARIABLE, evidently_ui)
    monkeypatch.setenv(workspace.SECRET_VARIABLE, stack_config.secrets["evidently_secret"])
    return evidently_ui


def _name(what: str) -> str:
    # The workspace lives as long as the session: every test files under names of its own.
    return f"probe_{what}_{uuid.uuid4().hex[:8]}"


def _projects_named(url: str, name: str) -> int:
    from evidently.ui.workspace import RemoteWorkspace

    return sum(p.name == name for p in RemoteWorkspace(url).list_projects())


def _plotted(url: str, name: str, title: str) -> dict[str, list[float | None]]:
    """What the UI plots for a panel, series by series, as its dashboard page asks for it."""
    import requests
    from evidently.ui.workspace import RemoteWorkspace

    project = workspace.project_id(name)
    dashboard = RemoteWorkspace(url).get_dashboard(project)
    (panel,) = [p for p in dashboard.panels if p.title == title]
    body = {
        "series_filter": [
            {
                "tags": value.tags,
                "metadata": value.metadata,
                "metric": value.metric,
                "metric_labels": value.metric_labels,
            }
            for value in panel.values
        ]
    }
    response = requests.post(
        f"{url}/api/v2/snapshots/{project}/data_series_batch", json=body, timeout=30
    )
    response.raise_for_status()
    return {
        series["params"].get("column", series["params"].get("value_type")): series["values"]
        for series in response.json()["series"]
    }


@pytest.mark.integration
def test_two_checks_file_two_snapshots_in_one_project_with_its_dashboard(ui, checks) -> None:
    name = _name("risk")

    # A backfill files the later week first: each snapshot keeps its own time.
    shifted_id = workspace.publish_drift(
        name,
        checks["shifted"].snapshot,
        question="features",
        run_id="manual__week2",
        champion_version="3",
        timestamp=MONDAY + timedelta(days=7),
    )
    quiet_id = workspace.publish_drift(
        name,
        checks["quiet"].snapshot,
        question="features",
        run_id="manual__week1",
        champion_version="3",
        timestamp=MONDAY,
    )

    assert shifted_id and quiet_id and shifted_id != quiet_id
    assert _projects_named(ui, name) == 1
    assert workspace.project_id(name) is not None
    assert workspace.snapshot_count(name) == 2
    first, second = workspace.snapshots(name)
    assert (first.id, second.id) == (quiet_id, shifted_id)
    assert (first.timestamp, second.timestamp) == (MONDAY, MONDAY + timedelta(days=7))
    assert first.metadata == {
        "question": "features",
        "run_id": "manual__week1",
        "champion_version": "3",
    }
    assert set(first.tags) == {"question=features", "run_id=manual__week1", "champion_version=3"}
    assert first.name == "features, run manual__week1"

    assert workspace.panel_titles(name) == [
        "Share of drifted columns: features",
        "Drifted columns: features",
        "Drift score per column: features",
    ]
    # The panels plot the two runs in time order, whatever order they were filed in.
    assert checks["quiet"].share_drifted == 0.0 and checks["shifted"].share_drifted == 1.0
    assert _plotted(ui, name, "Share of drifted columns: features") == {"share": [0.0, 1.0]}
    assert _plotted(ui, name, "Drifted columns: features") == {"count": [0.0, 3.0]}
    scores = _plotted(ui, name, "Drift score per column: features")
    assert sorted(scores) == sorted(COLUMNS)
    assert all(len(values) == 2 for values in scores.values())

    # The caller's snapshots are left as Evidently made them.
    assert checks["quiet"].snapshot.to_snapshot_model().tags == []


@pytest.mark.integration
def test_a_retried_run_replaces_its_snapshot_and_a_new_question_gets_panels(ui, checks) -> None:
    name = _name("delivery")
    publish = dict(run_id="scheduled__2026-11-02", champion_version="1")

    first = workspace.publish_drift(name, checks["quiet"].snapshot, question="features", **publish)
    retried = workspace.publish_drift(
        name, checks["shifted"].snapshot, question="features", **publish
    )
    predictions = workspace.publish_drift(
        name, checks["quiet"].snapshot, question="predictions", **publish
    )

    assert len({first, retried, predictions}) == 3
    assert _projects_named(ui, name) == 1
    assert sorted(s.id for s in workspace.snapshots(name)) == sorted([retried, predictions])
    assert _plotted(ui, name, "Share of drifted columns: features") == {"share": [1.0]}
    assert _plotted(ui, name, "Share of drifted columns: predictions") == {"share": [0.0]}
    assert len(workspace.panel_titles(name)) == 6


@pytest.mark.integration
@pytest.mark.parametrize("secret", [None, "not-the-secret"], ids=["unset", "wrong"])
def test_a_write_without_the_secret_is_refused(ui, checks, monkeypatch, secret) -> None:
    name = _name("sensors")
    workspace.publish_drift(
        name, checks["quiet"].snapshot, question="temperature", run_id="r1", champion_version="2"
    )
    if secret is None:
        monkeypatch.delenv(workspace.SECRET_VARIABLE)
    else:
        monkeypatch.setenv(workspace.SECRET_VARIABLE, secret)

    # Neither a snapshot in an existing project nor a new project.
    with pytest.raises(workspace.WorkspaceError, match="refused") as refused:
        workspace.publish_drift(
            name,
            checks["shifted"].snapshot,
            question="temperature",
            run_id="r2",
            champion_version="2",
        )
    with pytest.raises(workspace.WorkspaceError, match="refused"):
        workspace.publish_drift(
            _name("never"),
            checks["quiet"].snapshot,
            question="features",
            run_id="r1",
            champion_version=None,
        )

    message = str(refused.value)
    assert ui in message
    assert workspace.SECRET_VARIABLE in message
    assert ("is not set" if secret is None else "does not match") in message
    # Reading needs no secret.
    assert workspace.snapshot_count(name) == 1


def test_without_a_url_nothing_is_filed(checks, monkeypatch, caplog) -> None:
    monkeypatch.delenv(workspace.URL_VARIABLE, raising=False)
    caplog.set_level(logging.INFO, logger=workspace.__name__)

    filed = workspace.publish_drift(
        "delivery_time",
        checks["shifted"].snapshot,
        question="features",
        run_id="r1",
        champion_version="1",
    )

    assert filed is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{workspace.URL_VARIABLE} is not set: delivery_time drift of run r1 "
        "not filed in the Evidently UI"
    ]


def test_an_unreachable_ui_is_an_error_naming_its_url(checks, monkeypatch) -> None:
    url = f"http://127.0.0.1:{localstack.free_port()}"
    monkeypatch.setenv(workspace.URL_VARIABLE, url)
    monkeypatch.setenv(workspace.SECRET_VARIABLE, "any")

    with pytest.raises(workspace.WorkspaceError, match=f"Evidently UI at {url} is unreachable"):
        workspace.publish_drift(
            "delivery_time",
            checks["quiet"].snapshot,
            question="features",
            run_id="r1",
            champion_version="1",
        )
