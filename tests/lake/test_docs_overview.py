"""The dbt docs' front page points at every mart, so people know where to start."""

from __future__ import annotations

import re
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def test_the_overview_names_every_mart() -> None:
    overview = (DBT_PROJECT / "models" / "overview.md").read_text()
    assert overview.lstrip().startswith("{% docs __overview__ %}")
    named = set(re.findall(r"`((?:fct|dim|ml)_[a-z_]+)`", overview))
    marts = {path.stem for path in (DBT_PROJECT / "models" / "marts").rglob("*.sql")}
    assert marts, "no marts found"
    assert marts <= named, f"marts missing from the docs overview: {sorted(marts - named)}"
    assert named <= marts, f"the overview names models that do not exist: {sorted(named - marts)}"
