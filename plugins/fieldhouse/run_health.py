"""How the DAG runs of the last hours went, read from Airflow's REST API.

``python -m fieldhouse status`` prints it under the services: runs per DAG by
state, and every task that failed or needed a retry, with where to find its log.
It answers "has anything gone wrong since I started the stack?" without opening
the UI.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Task states that mean a task did not do its job (or has not yet, after a failure).
PROBLEM_STATES = {"failed", "up_for_retry", "upstream_failed"}


@dataclass
class RunHealth:
    """What the DAG runs queued since ``since`` came to."""

    since: datetime
    runs: dict[str, Counter] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def failed_runs(self) -> int:
        return sum(states["failed"] for states in self.runs.values())

    def lines(self) -> list[str]:
        hours = (datetime.now(UTC) - self.since) / timedelta(hours=1)
        out = [f"DAG runs active in the last {hours:.0f} h:"]
        if not self.runs:
            out.append("  none")
        for dag_id, states in sorted(self.runs.items()):
            counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            out.append(f"  {dag_id:16} {counts}")
        out.append(
            f"tasks that failed or were retried: {len(self.problems)}"
            + ("" if self.problems else " (none)")
        )
        out += [f"  {problem}" for problem in self.problems]
        return out


class AirflowApi:
    """A token, then calls of Airflow's public REST API (v2)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        token = self._call("POST", "/auth/token", {"username": username, "password": password})
        self._token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "_token", None):
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path: str, **query: str | int) -> dict:
        return self._call("GET", path + ("?" + urllib.parse.urlencode(query) if query else ""))

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", path, body)


def run_health(api: AirflowApi, since: datetime) -> RunHealth:
    """DAG runs active since ``since`` (updated then), and their failed or retried tasks."""
    health = RunHealth(since=since)
    stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    runs = api.get("/api/v2/dags/~/dagRuns", updated_at_gte=stamp, limit=1000)["dag_runs"]
    for run in sorted(runs, key=lambda r: (r["dag_id"], r["run_after"] or "")):
        dag_id = run["dag_id"]
        health.runs.setdefault(dag_id, Counter())[run["state"]] += 1
        tasks = api.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances", limit=1000
        )["task_instances"]
        for ti in tasks:
            if ti["state"] in PROBLEM_STATES or (ti.get("try_number") or 0) > 1:
                index = f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""
                health.problems.append(
                    f"{dag_id} / {run['dag_run_id']} / {ti['task_id']}{index}: "
                    f"{ti['state']} after {ti.get('try_number')} tries"
                )
    return health


def health_lines(base_url: str, username: str, password: str, hours: float = 24) -> list[str]:
    """The report as lines, or one line saying why Airflow could not be asked."""
    try:
        api = AirflowApi(base_url, username, password)
        since = datetime.now(UTC) - timedelta(hours=hours)
        return run_health(api, since).lines()
    except (OSError, urllib.error.URLError, KeyError, ValueError) as error:
        return [f"DAG runs: Airflow at {base_url} did not answer ({error})"]
