"""The contract commands as a user runs them: ``python -m fieldhouse contract ...``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo_root / "plugins")}
    return subprocess.run(
        [sys.executable, "-m", "fieldhouse", *args],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contract_check_passes_on_the_shipped_contracts(repo_root: Path) -> None:
    result = _run(repo_root, "contract", "check")
    assert result.returncode == 0, result.stderr
    checked = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok")]
    assert len(checked) == len(list((repo_root / "contracts" / "feeds").glob("*.yaml")))
    assert {"daily_stock_bars", "scms_shipments", "sensor_readings"} <= set(checked)


def test_a_proposal_fails_the_check_until_its_todos_are_done(
    repo_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "boiler.csv"
    data.write_text("time,flow\n2026-11-22 13:00:00,1.5\n2026-11-22 13:05:00,1.7\n")
    draft = tmp_path / "boiler.yaml"
    inferred = _run(repo_root, "contract", "infer", str(data), "--out", str(draft))
    assert inferred.returncode == 0, inferred.stderr
    assert "ts:" in draft.read_text()

    checked = _run(repo_root, "contract", "check", str(draft))
    assert checked.returncode == 1
    assert "TODO left in fields.device_id" in checked.stderr
