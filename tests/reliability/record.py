"""What each reliability scenario did, for the table ``make reliability`` writes.

Tests call :func:`record` with the outcome they asserted. With
``FIELDHOUSE_RELIABILITY_RESULTS`` set (``make reliability`` sets it), each
record is a JSON line appended to that file; otherwise nothing is written.
``FIELDHOUSE_RELIABILITY_SIZE=full`` runs the scenarios at the sizes of the
issue that found them; ``small`` (the default, in ``make test``) keeps them quick.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def full_size() -> bool:
    return os.environ.get("FIELDHOUSE_RELIABILITY_SIZE", "small") == "full"


def record(
    kind: str,
    scenario: str,
    outcome: str,
    *,
    rows_lost: int | None,
    rows_duplicated: int | None,
    peak_mb: float | None = None,
    error: str = "",
) -> None:
    """Note one scenario's result (``kind`` is ``fault`` or ``input``).

    Rows lost and duplicated are None where no rows were in flight.
    """
    target = os.environ.get("FIELDHOUSE_RELIABILITY_RESULTS")
    if not target:
        return
    line = {
        "kind": kind,
        "scenario": scenario,
        "outcome": outcome,
        "rows_lost": rows_lost,
        "rows_duplicated": rows_duplicated,
        "peak_mb": None if peak_mb is None else round(peak_mb),
        "error": error,
        "size": "full" if full_size() else "small",
    }
    with Path(target).open("a") as out:
        out.write(json.dumps(line) + "\n")
