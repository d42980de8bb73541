"""Claiming landing files for an interval, so each file is ingested exactly once.

A file dropped in ``landing/<source>/`` is moved under the interval that first
picks it up (``landing/_processed/<source>/dt=…/hour=…/``). A rerun of that
interval reads the same files again from there, so reruns reproduce the
partition, and no later interval sees them.

Only files at the top of the folder, with a printable name that does not start
with ``.`` or ``_``, are claimed. Anything else stays where it is and is named in
a warning on every claim pass, so a file is never skipped without a word:

- ``.`` and ``_`` are reserved for the platform's own bookkeeping and for the
  markers other tools leave (``_SUCCESS``, ``.DS_Store``, an upload's ``.part``);
- a file in a sub-folder has no flat name to be claimed, quarantined or
  retracted under, and a contract may read fields from its name: it has to be
  moved up;
- a name with control characters would carry them into every row's ``origin``
  and into logs: it has to be renamed.

Claimed files are kept for a while and then deleted by retention
(:mod:`fieldhouse.maintenance`), which leaves ``_pruned.json`` in the hour's
claim. A rerun of that hour would rewrite its raw partition without the rows
those files held, so it is refused (:class:`ClaimsPruned`) instead.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from fieldhouse.storage.keys import Bucket, Interval, LandingArea, ObjectKey
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

# A file dropped again under a name the hour already claimed is kept as
# "<first 12 hex digits of its ETag>-<name>".
_SECOND_DROP = re.compile(r"^[0-9a-f]{12}-")

# Left in an hour's claim when retention deleted its files.
PRUNED_MARKER = "_pruned.json"


class ClaimsPruned(RuntimeError):
    """The landing files an hour claimed were deleted by retention; a rerun would lose rows."""


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
    prefix = area.claimed_prefix(interval)
    marker = ObjectKey(Bucket.LANDING, prefix + PRUNED_MARKER)
    if store.exists(marker):
        pruned = json.loads(store.get_bytes(marker))
        raise ClaimsPruned(
            f"the landing files {interval.partition} claimed for {area.source} were deleted "
            f"by retention at {pruned.get('pruned_at')} ({len(pruned.get('files', []))} files); "
            "its raw partition holds the only copy of their rows and a rerun would drop them. "
            "Leave this hour as it is, or put the files back under "
            f"{marker.uri.rsplit('/', 1)[0]}/ and delete {PRUNED_MARKER} to rerun it."
        )
    if claim_new:
        _claim_new_files(store, area, interval)
    return sorted(
        (
            ClaimedFile(o.key.key.removeprefix(prefix), o.key)
            for o in store.list(Bucket.LANDING, prefix)
        ),
        key=lambda f: f.name,
    )


def why_not_claimed(name: str) -> str | None:
    """Why a file waiting under a landing folder is not claimed; None if it is.

    ``name`` is the key below the folder (``gw-1.csv``, ``2026/gw-1.csv``).
    """
    if name.startswith((".", "_")):
        return "a name starting with '.' or '_' is reserved for the platform; rename it"
    if "/" in name:
        return "in a sub-folder; only files at the top of the landing folder are read"
    if not name.isprintable():
        return "its name holds control or other unprintable characters; rename it"
    return None


def _claim_new_files(store: ObjectStore, area: LandingArea, interval: Interval) -> None:
    """Move the files waiting in ``area`` into ``interval``'s claim; warn of any left."""
    for obj in store.list(Bucket.LANDING, area.incoming_prefix):
        name = obj.key.key.removeprefix(area.incoming_prefix)
        if not name or name.endswith("/"):
            continue  # a folder marker some consoles create: no file
        reason = why_not_claimed(name)
        if reason is not None:
            # repr: a name's control characters must not act on the log or forge lines in it.
            log.warning("not claimed: %r: %s", obj.key.uri, reason)
            continue
        target = area.claimed(interval, name)
        if store.exists(target):
            # Same name dropped again for the same interval: keep both, never overwrite.
            target = area.claimed(interval, f"{obj.etag.strip(chr(34))[:12]}-{name}")
        store.move(obj.key, target)
        log.info("claimed %s for %s", obj.key.uri, interval.partition)
