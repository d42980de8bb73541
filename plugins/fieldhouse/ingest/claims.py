"""Claiming landing files for an interval, so each file is ingested exactly once.

A file dropped in ``landing/<source>/`` is moved under the interval that first
picks it up (``landing/_processed/<source>/dt=…/hour=…/``). A rerun of that
interval reads the same files again from there, so reruns reproduce the
partition, and no later interval sees them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from fieldhouse.storage.keys import Bucket, Interval, LandingArea, ObjectKey
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

# A file dropped again under a name the hour already claimed is kept as
# "<first 12 hex digits of its ETag>-<name>".
_SECOND_DROP = re.compile(r"^[0-9a-f]{12}-")


@dataclass(frozen=True)
class ClaimedFile:
    name: str
    key: ObjectKey

    @property
    def dropped_as(self) -> str:
        """The name the file was dropped with, without the prefix a second drop gets."""
        return _SECOND_DROP.sub("", self.name)


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
