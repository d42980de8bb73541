"""Claiming landing files: what is claimed, and that nothing is skipped without a word."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from fieldhouse.ingest.claims import claim_landing_files, why_not_claimed
from fieldhouse.storage.keys import Bucket, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))
AREA = LandingArea("sensors")


@pytest.mark.parametrize("name", ["gw-1.csv", "room 7 (copy).csv", "capteur-été.jsonl"])
def test_a_printable_name_at_the_top_is_claimed(name):
    assert why_not_claimed(name) is None


@pytest.mark.parametrize(
    ("name", "because"),
    [
        ("_SUCCESS", "reserved"),
        (".DS_Store", "reserved"),
        ("_tmp/gw-1.csv", "reserved"),
        ("2026/11/gw-1.csv", "sub-folder"),
        ("gw\x1b[2J-1.csv", "unprintable"),
        ("gw-1.csv\nWARNING forged line", "unprintable"),
        ("gw\x00.csv", "unprintable"),
        ("gw-1\u202egsj.csv", "unprintable"),  # right-to-left override: shows as gw-1jsg.csv
    ],
)
def test_other_names_are_not_claimed_and_say_why(name, because):
    assert because in why_not_claimed(name)


@pytest.mark.integration
def test_a_claim_pass_warns_of_each_file_it_leaves(
    store: ObjectStore, caplog: pytest.LogCaptureFixture
):
    left = ["_SUCCESS", ".upload.part", "2026/gw-2.csv", "gw\x1b[31m-3.csv", "gw-4\n.csv"]
    for name in ["gw-1.csv", *left]:
        store.put_bytes(AREA.incoming(name), b"event_id,device_id,ts,metric,value\n")

    with caplog.at_level(logging.WARNING, logger="fieldhouse.ingest.claims"):
        claimed = claim_landing_files(store, AREA, HOUR)

    assert [c.name for c in claimed] == ["gw-1.csv"]
    waiting = {o.key.key for o in store.list(Bucket.LANDING, AREA.incoming_prefix)}
    assert waiting == {AREA.incoming(name).key for name in left}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(left)
    for name in left:
        [line] = [w for w in warnings if repr(AREA.incoming(name).uri) in w]
        assert line.startswith("not claimed: ")
    assert all(w.isprintable() for w in warnings)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fieldhouse.ingest.claims"):
        claim_landing_files(store, AREA, HOUR, claim_new=False)
    assert caplog.records == []  # a rerun of an older hour claims nothing, so says nothing
