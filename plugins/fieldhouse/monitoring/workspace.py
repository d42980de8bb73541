"""Drift checks filed in the Evidently UI's workspace, so drift can be followed over time.

The reports bucket holds one HTML page per check; the Evidently UI (``evidently
ui``, started by :func:`fieldhouse.localstack.start_evidently`) shows the same
snapshots side by side, one project per model, with a dashboard of how the
drift of each question (features, predictions, a sensor metric) moved from run
to run.

The UI is found through the environment, as every pipeline process has it:

* ``FIELDHOUSE_EVIDENTLY_URL``: the UI's base URL. Unset, nothing is filed and
  the drift check carries on: its report and its row in the lake do not need
  the UI.
* ``FIELDHOUSE_EVIDENTLY_SECRET``: the UI's ``EVIDENTLY_SECRET``. Reading needs
  none; every write (project, dashboard, snapshot) is refused without it.

An unreachable or refusing UI raises :class:`WorkspaceError`, naming the URL:
a drift task should fail and be retried rather than leave a hole in the
history unnoticed.

Evidently is imported inside the functions: it takes seconds to import, and DAG
files import the monitoring modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    from evidently.core.report import Snapshot
    from evidently.sdk.models import DashboardPanelPlot
    from evidently.ui.workspace import Project, RemoteWorkspace

log = logging.getLogger(__name__)

URL_VARIABLE = "FIELDHOUSE_EVIDENTLY_URL"
SECRET_VARIABLE = "FIELDHOUSE_EVIDENTLY_SECRET"
TIMEOUT_SECONDS = 30
"""For the requests this module sends itself (Evidently's own client waits without limit)."""
DASHBOARD_TAB = "Drift"
"""Evidently's open-source UI shows at most one tab; every panel goes on this one."""


class WorkspaceError(RuntimeError):
    """The Evidently UI could not be reached, or refused a request."""


@dataclass(frozen=True)
class Connection:
    """Where the Evidently UI is, and the secret its writes need."""

    url: str
    secret: str | None


@dataclass(frozen=True)
class FiledSnapshot:
    """A snapshot in a project, as the UI lists it (without its results)."""

    id: str
    name: str | None
    timestamp: datetime
    tags: list[str]
    metadata: dict[str, Any]


def connection() -> Connection | None:
    """The UI given by the environment, or None when ``FIELDHOUSE_EVIDENTLY_URL`` is unset."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        return None
    return Connection(url=url.rstrip("/"), secret=os.environ.get(SECRET_VARIABLE) or None)


def publish_drift(
    project: str,
    snapshot: Snapshot,
    *,
    question: str,
    run_id: str,
    champion_version: str | None,
    timestamp: datetime | None = None,
) -> str | None:
    """File a drift check's snapshot in ``project``; return its id, or None without a UI.

    ``project`` is one per model (the project is created on first use, with its
    dashboard); ``question`` what was checked ("features", "predictions", or a
    sensor metric), which gets its own panels on first use. The snapshot is filed
    under ``timestamp`` (default: now; a naive time is taken as UTC), so a
    backfill lands at its own point of the time axis, and is tagged with the
    question, the run id and the champion version, which are also its metadata.
    A snapshot filed before for the same question and run (an Airflow retry) is
    replaced, so every run is one point on the dashboard. ``snapshot`` itself is
    left as it was.

    Raises:
        WorkspaceError: the UI is unreachable, is not an Evidently UI, or refused
            a write (without ``FIELDHOUSE_EVIDENTLY_SECRET``, or with a wrong one).
    """
    conn = connection()
    if conn is None:
        log.info(
            "%s is not set: %s drift of run %s not filed in the Evidently UI",
            URL_VARIABLE,
            project,
            run_id,
        )
        return None
    if snapshot is None:
        raise ValueError(f"no Evidently snapshot to file for {project} {question}, run {run_id}")

    workspace = _workspace(conn)
    found = _find_project(workspace, conn, project) or _create_project(workspace, conn, project)
    project_id = str(found.id)
    _add_question_panels(workspace, conn, project, project_id, question)
    earlier = [
        s.id
        for s in _list_snapshots(conn, project_id)
        if s.metadata.get("question") == question and s.metadata.get("run_id") == run_id
    ]
    tagged = _tagged(snapshot, question, run_id, champion_version, timestamp)
    with _calling(conn, f"file a snapshot in project {project!r}"):
        filed = workspace.add_run(project_id, tagged)
    # Filed first, removed after: a failure in between leaves a duplicate, not a gap.
    for snapshot_id in earlier:
        _request(conn, "DELETE", f"/api/projects/{project_id}/{snapshot_id}")
        log.info(
            "Evidently project %s: replaced snapshot %s of run %s", project, snapshot_id, run_id
        )
    log.info(
        "Evidently project %s (%s): filed %s drift of run %s as snapshot %s, %s",
        project,
        project_id,
        question,
        run_id,
        filed.id,
        filed.url,
    )
    return str(filed.id)


def project_id(name: str) -> str | None:
    """The id of the project called ``name`` in the UI's workspace, None if there is none."""
    conn = _required_connection()
    found = _find_project(_workspace(conn), conn, name)
    return None if found is None else str(found.id)


def snapshots(name: str) -> list[FiledSnapshot]:
    """The snapshots filed in project ``name``, oldest first; none if there is no such project."""
    conn = _required_connection()
    found = _find_project(_workspace(conn), conn, name)
    if found is None:
        return []
    return sorted(_list_snapshots(conn, str(found.id)), key=lambda s: (s.timestamp, s.id))


def snapshot_count(name: str) -> int:
    """How many snapshots project ``name`` holds (0 if there is no such project)."""
    return len(snapshots(name))


def panel_titles(name: str) -> list[str]:
    """The titles of the panels on project ``name``'s dashboard, in their order on it."""
    conn = _required_connection()
    workspace = _workspace(conn)
    found = _find_project(workspace, conn, name)
    if found is None:
        raise WorkspaceError(f"Evidently UI at {conn.url} has no project {name!r}")
    with _calling(conn, f"read the dashboard of project {name!r}"):
        dashboard = workspace.get_dashboard(found.id)
    by_id = {panel.id: panel.title for panel in dashboard.panels}
    return [by_id[panel] for tab in dashboard.tabs for panel in tab.panels if panel in by_id]


def _required_connection() -> Connection:
    conn = connection()
    if conn is None:
        raise WorkspaceError(f"{URL_VARIABLE} is not set: no Evidently UI to read from")
    return conn


def _workspace(conn: Connection) -> RemoteWorkspace:
    """Evidently's client for the UI, once the UI answered as one (with a time limit)."""
    from evidently.ui.workspace import RemoteWorkspace

    version = _request(conn, "GET", "/api/version")
    if not isinstance(version, dict) or version.get("application") != "Evidently UI":
        raise WorkspaceError(f"{conn.url} does not answer as an Evidently UI: {version!r}")
    # Verified above, with a timeout Evidently's own check does not have.
    return RemoteWorkspace(conn.url, secret=conn.secret, verify=False)


def _find_project(workspace: RemoteWorkspace, conn: Connection, name: str) -> Project | None:
    """The project called ``name``: the oldest, should a race have created two."""
    with _calling(conn, "list projects"):
        named = [p for p in workspace.list_projects() if p.name == name]
    if len(named) > 1:
        log.warning("Evidently UI at %s has %d projects named %s", conn.url, len(named), name)
    # Project ids are UUIDv7, so the smallest is the first created.
    return min(named, key=lambda p: str(p.id), default=None)


def _create_project(workspace: RemoteWorkspace, conn: Connection, name: str) -> Project:
    description = (
        f"Drift checks of {name}: one snapshot per monitor_drift run and question "
        "(features, predictions, or a sensor metric), tagged with the run id and the "
        "champion version. The dashboard follows the share and number of drifted "
        "columns and each column's drift score over time."
    )
    with _calling(conn, f"create project {name!r}"):
        project = workspace.create_project(name, description=description)
    log.info("Evidently UI at %s: created project %s (%s)", conn.url, name, project.id)
    return project


def _add_question_panels(
    workspace: RemoteWorkspace, conn: Connection, project: str, project_id: str, question: str
) -> None:
    """Add ``question``'s panels to the dashboard, unless it has them (by title) already."""
    from evidently.sdk.models import DashboardTabModel

    with _calling(conn, f"read the dashboard of project {project!r}"):
        dashboard = workspace.get_dashboard(project_id)
    present = {panel.title for panel in dashboard.panels}
    missing = [panel for panel in _question_panels(question) if panel.title not in present]
    if not missing:
        return
    if not dashboard.tabs:
        dashboard.tabs.append(DashboardTabModel(title=DASHBOARD_TAB, panels=[]))
    dashboard.panels.extend(missing)
    dashboard.tabs[0].panels.extend(panel.id for panel in missing)
    # One write of the whole dashboard: Evidently's add_panel reads and writes it per panel.
    with _calling(conn, f"save the dashboard of project {project!r}"):
        workspace.save_dashboard(project_id, dashboard)
    log.info(
        "Evidently project %s: added panels %s",
        project,
        ", ".join(repr(panel.title) for panel in missing),
    )


def _question_panels(question: str) -> list[DashboardPanelPlot]:
    """One question's panels, which plot only the snapshots filed for that question.

    Each question gets panels of its own, filtered by the snapshot's metadata:
    the sensor metrics check the same columns, and the UI would otherwise draw
    their points as one line.
    """
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, line_plot_panel

    only = {"question": question}
    return [
        line_plot_panel(
            title=f"Share of drifted columns: {question}",
            description="The check counts as drifted from its threshold (0.5 by default).",
            size="half",
            values=[
                PanelMetric(
                    legend="share of columns drifted",
                    metric="DriftedColumnsCount",
                    metric_labels={"value_type": "share"},
                    metadata=only,
                )
            ],
        ),
        bar_plot_panel(
            title=f"Drifted columns: {question}",
            description="How many of the checked columns failed their drift test.",
            size="half",
            values=[
                PanelMetric(
                    legend="columns drifted",
                    metric="DriftedColumnsCount",
                    metric_labels={"value_type": "count"},
                    metadata=only,
                )
            ],
        ),
        line_plot_panel(
            title=f"Drift score per column: {question}",
            description=(
                "The statistic of the test Evidently chose per column: a p-value drifts "
                "below its threshold, a distance above it."
            ),
            values=[
                PanelMetric(
                    legend="{{column}} ({{method}})",
                    metric="ValueDrift",
                    metadata=only,
                )
            ],
        ),
    ]


def _tagged(
    snapshot: Snapshot,
    question: str,
    run_id: str,
    champion_version: str | None,
    timestamp: datetime | None,
) -> Snapshot:
    """A copy of ``snapshot`` with its name, time, tags and metadata set for the workspace.

    Evidently's ``Snapshot`` has no setters for time, tags or metadata (they come
    from ``Report.run``), so the copy goes through its serialised model. The
    metadata values are strings: the UI's dashboard filters compare them as such.
    """
    from evidently.core.report import Snapshot

    labels = {"question": question, "run_id": run_id}
    if champion_version is not None:
        labels["champion_version"] = str(champion_version)
    model = snapshot.to_snapshot_model()
    tags = [*model.tags, *(f"{key}={value}" for key, value in labels.items())]
    return Snapshot.load_model(
        model.copy(
            update={
                "name": f"{question}, run {run_id}",
                "timestamp": _utc(timestamp or datetime.now(UTC)),
                "tags": list(dict.fromkeys(tags)),
                "metadata": {**model.metadata, **labels},
            }
        )
    )


def _utc(moment: datetime) -> datetime:
    # One convention per project: the UI sorts points by time, and Python cannot
    # order naive and aware times together.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _list_snapshots(conn: Connection, project_id: str) -> list[FiledSnapshot]:
    # The UI's own route: Evidently's RemoteWorkspace.list_runs is not implemented.
    listed = _request(conn, "GET", f"/api/projects/{project_id}/snapshots")
    return [
        FiledSnapshot(
            id=str(item["id"]),
            name=item.get("name"),
            timestamp=datetime.fromisoformat(item["timestamp"]),
            tags=list(item.get("tags") or []),
            metadata=dict(item.get("metadata") or {}),
        )
        for item in listed
    ]


def _request(conn: Connection, method: str, path: str) -> Any:
    """One request to the UI's API, with the secret and a time limit; its JSON, if any.

    For what Evidently's RemoteWorkspace does not offer in 0.7.23: listing and
    deleting snapshots (its ``list_runs`` and ``delete_run`` raise
    NotImplementedError), and a version check that cannot hang.
    """
    import requests
    from evidently.ui.service.security.token import SECRET_HEADER_NAME

    headers = {SECRET_HEADER_NAME: conn.secret} if conn.secret else {}
    url = urljoin(conn.url, path)
    try:
        response = requests.request(method, url, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise WorkspaceError(f"Evidently UI at {conn.url} is unreachable: {exc}") from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise WorkspaceError(_refusal(conn, f"{method} {path}", f"{response.status_code} {detail}"))
    return response.json() if response.content else None


@contextmanager
def _calling(conn: Connection, action: str) -> Iterator[None]:
    """Turn the errors of Evidently's client into a :class:`WorkspaceError` naming the UI."""
    import requests
    from evidently.errors import EvidentlyError

    try:
        yield
    except requests.RequestException as exc:
        raise WorkspaceError(f"Evidently UI at {conn.url}: could not {action}: {exc}") from exc
    except EvidentlyError as exc:
        raise WorkspaceError(_refusal(conn, action, str(exc))) from exc


def _refusal(conn: Connection, action: str, detail: str) -> str:
    message = f"Evidently UI at {conn.url} refused to {action}: {detail}"
    if "permission" in detail.lower() or detail.startswith(("401", "403")):
        given = "is not set" if conn.secret is None else "does not match the UI's EVIDENTLY_SECRET"
        message += f" (writes need the UI's secret; {SECRET_VARIABLE} {given})"
    return message
