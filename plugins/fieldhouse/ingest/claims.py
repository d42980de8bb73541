"""Claiming landing files for an interval, so each file is ingested exactly once.

A file dropped in ``landing/<source>/`` is moved under the interval that first
picks it up (``landing/_processed/<source>/dt=…/hour=…/``). A rerun of that
interval reads the same files again from there, so reruns reproduce the
partition, and no later interval sees them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fieldhouse.storage.keys import Bucket, Interval, LandingArea, ObjectKey
from fieldhouse.storage.objects import ObjectStore

if TYPE_CHECKING:
    import pandas as pd

    from fieldhouse.quality.core import WireSchema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedFile:
    name: str
    key: ObjectKey


def claim_landing_files(
    store: ObjectStore, area: LandingArea, interval: Interval, *, claim_new: bool = True
) -> list[ClaimedFile]:
    """Move new files into ``interval``'s claim, then list everything claimed by it.

    With ``claim_new=False`` only files claimed earlier are listed (a rerun of an
    hour that is not the newest of its run).
    """
    incoming = store.list(Bucket.LANDING, area.incoming_prefix, recursive=False)
    for obj in incoming if claim_new else []:
        name = obj.key.key.removeprefix(area.incoming_prefix)
        if not name or name.startswith((".", "_")):
            continue
        target = area.claimed(interval, name)
        if store.exists(target):
            # Same name dropped again for the same interval: keep both, never overwrite.
            target = area.claimed(interval, f"{obj.etag.strip(chr(34))[:12]}-{name}")
        store.move(obj.key, target)
        log.info("claimed %s for %s", obj.key.uri, interval.partition)
    prefix = area.claimed_prefix(interval)
    return sorted(
        (
            ClaimedFile(o.key.key.removeprefix(prefix), o.key)
            for o in store.list(Bucket.LANDING, prefix)
        ),
        key=lambda f: f.name,
    )


@dataclass
class LandingRead:
    """The rows of every readable file an interval claimed, and the files it rejected."""

    wires: list[pd.DataFrame] = field(default_factory=list)  # one wire frame per readable file
    files: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


def read_claimed_files(
    store: ObjectStore,
    area: LandingArea,
    interval: Interval,
    schema: WireSchema,
    *,
    claim_new: bool = True,
) -> LandingRead:
    """Claim new files for ``interval`` (see :func:`claim_landing_files`) and parse them all.

    A file that cannot be read at all is copied, byte for byte, to quarantine and
    reported in ``rejected`` with its reason; its claim stays, so reruns agree.
    """
    from fieldhouse.sources.landing import LandingFormatError, parse_landing_file

    read = LandingRead()
    for claimed in claim_landing_files(store, area, interval, claim_new=claim_new):
        try:
            body = store.get_bytes(claimed.key)
            read.wires.append(parse_landing_file(claimed.name, body, schema))
            read.files.append(claimed.key.uri)
        except LandingFormatError as exc:
            target = area.rejected(interval, claimed.name)
            store.copy(claimed.key, target)
            read.rejected[claimed.key.uri] = str(exc)
            log.warning("rejected %s: %s (kept at %s)", claimed.key.uri, exc, target.uri)
    return read
