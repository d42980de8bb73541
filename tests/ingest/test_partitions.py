"""Planning and summarizing ingestion runs (no services needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fieldhouse.ingest.partitions import ReconciliationError, plan_hours, summarize


def test_a_run_is_planned_hour_by_hour_and_only_the_newest_claims_files() -> None:
    plan = plan_hours(
        datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 13, tzinfo=UTC)
    )
    assert plan == [
        {"hour_start": "2026-11-22T10:00:00+00:00", "claim_landing": False},
        {"hour_start": "2026-11-22T11:00:00+00:00", "claim_landing": False},
        {"hour_start": "2026-11-22T12:00:00+00:00", "claim_landing": True},
    ]


def _manifest(rows_in: int, written: int, quarantined: int, reasons: dict) -> dict:
    return {
        "interval_start": "2026-11-22T10:00:00+00:00",
        "rows_in": rows_in,
        "rows_written": written,
        "rows_quarantined": quarantined,
        "reasons": reasons,
        "files_rejected": {},
        "reconciles": rows_in == written + quarantined,
    }


def test_summary_adds_up_counts_and_reasons() -> None:
    summary = summarize(
        [_manifest(10, 8, 2, {"bad_value": 2}), _manifest(5, 4, 1, {"bad_value": 1})]
    )
    assert (summary["rows_in"], summary["rows_written"], summary["rows_quarantined"]) == (15, 12, 3)
    assert summary["reasons"] == {"bad_value": 3}


def test_summary_refuses_an_hour_that_does_not_reconcile() -> None:
    with pytest.raises(ReconciliationError, match="do not reconcile"):
        summarize([_manifest(10, 8, 1, {"bad_value": 1})])
