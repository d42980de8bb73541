"""Airflow standalone as a real process, once per test session, driven over REST."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from fieldhouse import localstack


@dataclass
class AirflowClient:
    """The few calls of Airflow's public REST API (v2) the tests need."""

    base_url: str
    password: str
    _token: str = ""

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        if not self._token and path != "/auth/token":
            self._token = self._request(
                "POST", "/auth/token", {"username": "admin", "password": self.password}
            )["access_token"]
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self._token}"} if self._token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from exc

    def get(self, path: str) -> dict:
        return self._request("GET", path)

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = {d["dag_id"] for d in self._request("GET", "/api/v2/dags")["dags"]}
            if dag_ids <= found:
                return
            time.sleep(2)
        errors = self._request("GET", "/api/v2/importErrors")
        raise AssertionError(f"DAGs {dag_ids - found} never appeared; import errors: {errors}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, run_id: str, logical_date: str, conf: dict) -> dict:
        return self._request(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf},
        )

    def runs(self, dag_id: str) -> list[dict]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self._request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        )

    def runs_since(self, dag_id: str, since: datetime) -> list[dict]:
        """Runs of ``dag_id`` queued at or after ``since``."""
        return [
            r
            for r in self.runs(dag_id)
            if r["queued_at"] and datetime.fromisoformat(r["queued_at"]) >= since
        ]

    def wait_for_quiet(
        self, dag_ids: list[str], since: datetime, timeout: float
    ) -> list[tuple[str, dict]]:
        """Every run of ``dag_ids`` queued since ``since``, once none is queued or running."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [(d, r) for d in dag_ids for r in self.runs_since(d, since)]
            busy = [(d, r["dag_run_id"]) for d, r in runs if r["state"] in ("queued", "running")]
            if not busy:
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"still busy after {timeout:.0f}s: {busy}")
            time.sleep(5)

    def pause_when_idle(self, dag_ids: list[str], timeout: float = 600) -> None:
        """Pause ``dag_ids`` once none of their runs is queued or running.

        The scheduler starts no task of a paused DAG, so a run caught mid-way by a
        pause would stay "running" for good. A run that slips in between the last
        look and the pause (an asset event, a new hour) is let finish: the DAGs
        are unpaused again until it has.
        """
        deadline = time.monotonic() + timeout
        while True:
            busy = self._active(dag_ids)
            if not busy:
                for dag_id in dag_ids:
                    self.set_paused(dag_id, True)
                busy = self._active(dag_ids)
                if not busy:
                    return
                for dag_id in dag_ids:
                    self.set_paused(dag_id, False)
            if time.monotonic() > deadline:
                raise AssertionError(f"still busy after {timeout:.0f}s: {busy}")
            time.sleep(3)

    def _active(self, dag_ids: list[str]) -> list[tuple[str, str]]:
        return [
            (d, r["dag_run_id"])
            for d in dag_ids
            for r in self.runs(d)
            if r["state"] in ("queued", "running")
        ]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500"
        )["task_instances"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1
    ) -> str:
        """The end of a task try's log, as text (for failure messages)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
            f"?map_index={map_index}"
        )
        try:
            content = self._request("GET", path).get("content", [])
        except AssertionError as error:
            return f"(no log: {error})"
        lines = [str(c.get("event", c)) if isinstance(c, dict) else str(c) for c in content]
        return "\n".join(lines)[-3000:]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis["task_instances"]}

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(3)
        raise AssertionError(
            f"{dag_id}/{run_id} still {run['state']} after {timeout}s: "
            f"{self.task_states(dag_id, run_id)}"
        )


@pytest.fixture(scope="session")
def airflow(stack_config: localstack.StackConfig, minio_server) -> Iterator[AirflowClient]:
    """Airflow standalone on a free port, with this repository's DAGs, paused at creation."""
    localstack.start_airflow(stack_config, paused_at_creation=True, timeout=300)
    try:
        yield AirflowClient(stack_config.airflow_url, stack_config.secrets["airflow_password"])
    finally:
        stack_config.service("airflow").stop(timeout=30)
