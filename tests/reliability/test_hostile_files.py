"""Hostile landing files: each is its own failure, and its hour is ingested as usual.

Every scenario drops one hostile file beside a harmless one, then runs the
sensors' ingestion of that hour (simulator on) in a process of its own, as an
Airflow task would, and measures that process's peak memory. Whatever the
hostile file does, the hour is written, the harmless file's rows are in raw,
rows in = rows written + rows quarantined, and the hostile file ends where its
kind says: rejected whole (a copy in quarantine, the reason naming it), its bad
rows quarantined with their reason, or left unclaimed with a warning.

``FIELDHOUSE_RELIABILITY_SIZE=full`` builds the files at the sizes that once
stopped ingestion (a gzip file expanding to 10 GiB, a 200 MB line).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from minio.error import S3Error

from fieldhouse.contracts.contract import SIMULATOR_SOURCE
from fieldhouse.storage.keys import SENSOR_LANDING, SENSOR_READINGS, Bucket, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.reliability.record import full_size, record

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))
HEADER = b"event_id,device_id,ts,metric,value\n"
GOOD = HEADER + (
    b"good-1,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5\n"
    b"good-2,env-0001,2026-11-22T13:06:00Z,temperature_c,21.7\n"
)
LINE = b"r-%d,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5\n"
MEMORY_LIMIT_MB = 1024


def _gzip_bomb(path: Path) -> None:
    """A small gzip file that expands to 10 GiB (full size) of one plausible reading."""
    block = (LINE % 0) * 20_000
    target = (10 << 30) if full_size() else (256 << 20)
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(HEADER)
        for _ in range(target // len(block)):
            out.write(block)


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readings.csv", b"0" * ((1 << 30) if full_size() else (64 << 20)))


def _deep_json(path: Path) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    fine = '{"event_id": "deep-ok", "device_id": "env-0001", "ts": "2026-11-22T13:07:00Z", '
    fine += '"metric": "temperature_c", "value": 20.5}'
    path.write_text(f'{{"event_id": "deep-1", "value": {deep}}}\n{fine}\n')


def _long_line(path: Path) -> None:
    size = (200 << 20) if full_size() else (24 << 20)
    with path.open("wb") as out:
        out.write(HEADER)
        out.write(b"long-1,env-0001,2026-11-22T13:05:00Z,temperature_c,")
        chunk = b"9" * (1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
        out.write(b"\n" + LINE % 1)


def _binary(path: Path) -> None:
    path.write_bytes(os.urandom(1 << 20))


def _wide(path: Path) -> None:
    extra = [f"extra_{i}" for i in range(19_995)]
    header = ",".join(["event_id", "device_id", "ts", "metric", "value", *extra])
    rows = [
        ",".join([f"wide-{i}", "env-0001", f"2026-11-22T13:{i:02d}:00Z", "temperature_c", "20"])
        + "," * len(extra)
        for i in range(10)
    ]
    path.write_text("\n".join([header, *rows]) + "\n")


def _text(body: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(body)


@dataclass(frozen=True)
class Hostile:
    scenario: str
    name: str
    make: Callable[[Path], None]
    expect: str  # "rejected", "rows", "unclaimed" or "ingested"
    reason: str = ""  # the file's reason, or a reason its rows must carry


CORPUS = [
    Hostile("gzip bomb (.csv.gz)", "bomb.csv.gz", _gzip_bomb, "rejected", "decompression_bomb"),
    Hostile("zip bomb (.zip)", "bomb.zip", _zip_bomb, "rejected", "unsupported_format"),
    Hostile("JSON line nested 10,000 deep", "deep.jsonl", _deep_json, "rows", "json_too_deep"),
    Hostile("one line of 200 MB", "long-line.csv", _long_line, "rejected", "record_too_long"),
    Hostile("binary bytes named .csv", "binary.csv", _binary, "rejected", "not_utf8"),
    Hostile(
        "duplicate columns",
        "dup-columns.csv",
        _text("event_id,device_id,ts,metric,value,Value\ndc-1,env-0001,x,y,1,2\n"),
        "rejected",
        "duplicate_columns",
    ),
    Hostile("20,000 columns", "wide.csv", _wide, "ingested"),
    Hostile(
        "NaN and Infinity values",
        "nan.jsonl",
        _text(
            "".join(
                f'{{"event_id": "nan-{i}", "device_id": "env-0001", '
                f'"ts": "2026-11-22T13:0{i}:00Z", "metric": "temperature_c", "value": {v}}}\n'
                for i, v in enumerate(["NaN", "Infinity", "-Infinity"])
            )
        ),
        "rows",
        "bad_value",
    ),
    Hostile(
        "control characters in the file name",
        "gw\x1b[31m-3.csv",
        _text(GOOD.decode().replace("good-", "ctl-")),
        "unclaimed",
        "unprintable",
    ),
    Hostile(
        "path traversal in the file name",
        "../../raw/sensors/escape.csv",
        _text(GOOD.decode().replace("good-", "esc-")),
        "unclaimed",
        "sub-folder",
    ),
    Hostile(
        "formula text (=HYPERLINK) in values",
        "formula.csv",
        _text(
            HEADER.decode()
            + "=cmd|calc,env-0001,2026-11-22T13:05:00Z,temperature_c,20\n"
            + 'f-2,"=HYPERLINK(""http://x"")",2026-11-22T13:05:00Z,temperature_c,20\n'
        ),
        "rows",
        "unknown_device",
    ),
    Hostile(
        "dates in 1900 and 9999",
        "dates.csv",
        _text(
            HEADER.decode()
            + "old-1,env-0001,1900-01-01T00:00:00Z,temperature_c,20\n"
            + "new-1,env-0001,9999-12-31T23:59:59Z,temperature_c,20\n"
        ),
        "rows",
        "ancient_timestamp,future_timestamp",
    ),
]

INGEST = """
import json, sys
from fieldhouse.config import StorageSettings
from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.storage.keys import Interval
from fieldhouse.storage.objects import ObjectStore

hour = Interval.parse(sys.argv[1])
store = ObjectStore(StorageSettings.from_env())
options = SensorRunOptions(fleet_size=10, seed=1)
[manifest] = ingest_source(store, SENSORS, hour, options)["readings"]
# VmHWM is this program's own high-water mark; ru_maxrss would also count the memory
# of the test process it was forked from.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"manifest": manifest.as_dict(), "peak_mb": peak}))
"""


def _ingest_in_a_process() -> tuple[dict, float, str]:
    plugins = str(Path(__file__).resolve().parents[2] / "plugins")
    done = subprocess.run(
        [sys.executable, "-c", INGEST, HOUR.start.isoformat()],
        env={**os.environ, "PYTHONPATH": plugins},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["manifest"], result["peak_mb"], done.stderr


@pytest.mark.parametrize("hostile", CORPUS, ids=[h.name for h in CORPUS])
def test_a_hostile_file_is_its_own_failure(hostile: Hostile, store: ObjectStore, tmp_path) -> None:
    local = tmp_path / "hostile"
    hostile.make(local)
    key = SENSOR_LANDING.incoming(hostile.name)
    try:
        store.client.fput_object(key.bucket, key.key, str(local))
    except (S3Error, ValueError) as refused:
        # The S3 client refuses '.'/'..' segments before sending; MinIO refuses them too.
        record(
            "input",
            hostile.scenario,
            "refused at upload, never stored",
            rows_lost=None,
            rows_duplicated=None,
            error=getattr(refused, "code", None) or str(refused),
        )
        assert hostile.expect == "unclaimed"
        return
    store.put_bytes(SENSOR_LANDING.incoming("good.csv"), GOOD)

    manifest, peak_mb, log = _ingest_in_a_process()

    raw = pd.concat(
        from_parquet_bytes(store.get_bytes(o.key))
        for o in store.list(Bucket.RAW, SENSOR_READINGS.prefix(HOUR))
    )
    ids = raw["event_id"]
    # The hour itself: simulated rows and the harmless file, counted in and out.
    assert manifest["reconciles"], manifest
    assert {"good-1", "good-2"} <= set(ids)
    assert (raw["origin"] == "landing:good.csv").sum() == 2
    assert (raw["source"] == SIMULATOR_SOURCE).any()
    duplicated = len(ids) - ids.nunique()
    lost = len({"good-1", "good-2"} - set(ids)) + (
        manifest["rows_in"] - manifest["rows_written"] - manifest["rows_quarantined"]
    )
    rejected = {uri.rsplit("/", 1)[-1]: why for uri, why in manifest["files_rejected"].items()}
    if hostile.expect == "rejected":
        why = rejected[hostile.name.rsplit("/", 1)[-1]]
        assert why.startswith(hostile.reason), why
        copies = {o.key.key.rsplit("/", 1)[-1] for o in store.list(Bucket.QUARANTINE, "sensors/")}
        assert hostile.name in copies, copies
        outcome, error = "file quarantined whole; the hour's other data ingested", why
    elif hostile.expect == "rows":
        wanted = hostile.reason.split(",")
        reasons = manifest["reasons"]
        assert all(any(w in reason for reason in reasons) for w in wanted), reasons
        assert not rejected, rejected
        outcome = "bad rows quarantined with their reason; the rest ingested"
        error = ", ".join(
            f"{r}: {n}" for r, n in sorted(reasons.items()) if any(w in r for w in wanted)
        )
    elif hostile.expect == "unclaimed":
        assert not rejected, rejected
        waiting = [o.key.key for o in store.list(Bucket.LANDING, SENSOR_LANDING.incoming_prefix)]
        assert waiting, "the file should stay where it was dropped"
        [warning] = [line for line in log.splitlines() if "not claimed:" in line]
        assert hostile.reason in warning, warning
        assert "\x1b" not in warning  # escaped: it cannot act on a terminal
        outcome, error = (
            "not claimed, left in landing, named in a warning",
            warning.split("not claimed: ", 1)[1],
        )
    else:
        assert not rejected, rejected
        assert ids.str.startswith(hostile.name.split(".")[0]).any()
        outcome, error = "ingested", "-"
    record(
        "input",
        hostile.scenario,
        outcome,
        rows_lost=lost,
        rows_duplicated=duplicated,
        peak_mb=peak_mb,
        error=error,
    )
    assert lost == duplicated == 0
    assert peak_mb < MEMORY_LIMIT_MB, f"{peak_mb:.0f} MiB"
