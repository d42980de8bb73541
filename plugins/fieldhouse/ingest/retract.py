"""Retracting a landing file: its rows leave raw/ and quarantine/, and no rerun brings them back.

Every row read from a landing file carries ``origin = landing:<file name>``, and
every hour's manifest lists the claimed files it read. Retracting a file finds
each claimed copy (a name can be claimed by several hours, or in several
areas), and for each hour whose manifest lists it:

1. rewrites that hour's raw and quarantine parts without the file's rows (parts
   it had no rows in are left untouched, byte for byte);
2. updates the manifest: counts recomputed from the parts that remain, the file
   moved from ``files`` (or ``files_rejected``) to ``retracted`` with the rows it
   took out, so the counts still reconcile;
3. removes what the file registered (devices, instruments) under its origin's
   :func:`~fieldhouse.storage.keys.registry_slug`;
4. moves the file to ``landing/_retracted/<area>/``, outside every hour's claim.

A copy still waiting in its drop folder (a registry file, or a file no hour has
claimed yet) is set aside the same way, so no later run ingests or registers it.
The lake is rebuilt from raw by the next transform, so the marts follow.
Retracting again finds only the set-aside copies and changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from fieldhouse.ingest.partitions import ReconciliationError
from fieldhouse.storage.keys import (
    Bucket,
    Dataset,
    Interval,
    LandingArea,
    LandingFile,
    LandingState,
    ObjectKey,
    parse_landing_key,
    registry_slug,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes, to_parquet_bytes

log = logging.getLogger(__name__)


class RetractionError(ValueError):
    """The file cannot be found, or cannot be retracted without touching other files' rows."""


@dataclass(frozen=True)
class RetractedPartition:
    """The rows one claimed copy had in one hour of one raw dataset."""

    file: str  # the claimed copy's URI, as the manifest listed it
    dataset: str  # e.g. "sensors/readings"
    partition: str  # e.g. "dt=2026-11-22/hour=13"
    rows_written: int  # removed from raw/
    rows_quarantined: int  # removed from quarantine/


@dataclass
class Retraction:
    """What one retraction did, and what it found retracted already."""

    query: str
    moved: dict[str, str] = field(default_factory=dict)  # copy's URI -> where it was set aside
    partitions: list[RetractedPartition] = field(default_factory=list)
    registrations: list[str] = field(default_factory=list)  # registry objects removed
    already_retracted: list[str] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return sum(p.rows_written for p in self.partitions)

    @property
    def rows_quarantined(self) -> int:
        return sum(p.rows_quarantined for p in self.partitions)

    @property
    def hours(self) -> list[str]:
        """The hours whose partitions were rewritten."""
        return sorted({p.partition for p in self.partitions})

    @property
    def changed_nothing(self) -> bool:
        return not self.moved

    def summary(self) -> str:
        """A few lines for people: what moved, which hours changed, rows removed."""
        if self.changed_nothing:
            kept = ", ".join(self.already_retracted)
            return f"nothing to retract: {self.query} was retracted already (kept at {kept})"
        lines = [f"retracted {self.query}: {len(self.moved)} file(s)"]
        lines += [f"  {source} -> {target}" for source, target in self.moved.items()]
        lines += [
            f"  {p.dataset} {p.partition}: {p.rows_written} row(s) removed from raw, "
            f"{p.rows_quarantined} from quarantine"
            for p in self.partitions
        ]
        lines += [f"  registrations removed: {uri}" for uri in self.registrations]
        lines.append(
            f"hours touched: {len(self.hours)}; rows removed: {self.rows_written} from raw, "
            f"{self.rows_quarantined} from quarantine"
        )
        return "\n".join(lines)


def retract_landing_file(store: ObjectStore, name_or_key: str) -> Retraction:
    """Retract every copy of a landing file: its rows, its registrations, its claims.

    ``name_or_key`` is a file name (every area and hour), a landing key
    (``landing/<area>/<name>``: that area, every hour; or a ``_processed/`` key:
    that one copy) or an ``s3://landing/...`` URI. Raises :class:`RetractionError`
    when nothing, not even a retracted copy, matches.
    """
    query = _Query.parse(name_or_key)
    found = _find(store, query)
    retraction = Retraction(name_or_key)
    retraction.already_retracted = [
        f.key.uri for f, _ in found if f.state is LandingState.RETRACTED
    ]
    live = [(f, etag) for f, etag in found if f.state is not LandingState.RETRACTED]
    if not found:
        raise RetractionError(f"no landing file matches {name_or_key!r}; looked in {query.places}")
    if not live:
        log.info(
            "nothing to retract: %s was retracted already (%s)",
            name_or_key,
            ", ".join(retraction.already_retracted),
        )
        return retraction
    if len(live) > 1:
        log.info(
            "%s matches %d files; retracting all: %s",
            name_or_key,
            len(live),
            ", ".join(f.key.uri for f, _ in live),
        )
    # Plan every copy before changing anything, so an ambiguous file changes nothing.
    plans = [(f, etag, _datasets_listing(store, f, live)) for f, etag in live]
    for landing_file, etag, datasets in plans:
        origin = _origin(landing_file)
        for dataset in datasets:
            retraction.partitions.append(_retract_from_partition(store, dataset, landing_file))
        retraction.registrations += _remove_registrations(store, origin)
        target = _set_aside(store, landing_file, etag)
        retraction.moved[landing_file.key.uri] = target.uri
    log.info(
        "retracted %s: %d file(s), %d hour(s), %d rows removed from raw, %d from quarantine",
        name_or_key,
        len(retraction.moved),
        len(retraction.hours),
        retraction.rows_written,
        retraction.rows_quarantined,
    )
    return retraction


# --- finding the copies ----------------------------------------------------------------


@dataclass(frozen=True)
class _Query:
    """Which landing files a retraction names."""

    text: str
    name: str
    area: LandingArea | None = None
    key: str | None = None  # one exact claimed (or retracted) key

    @classmethod
    def parse(cls, text: str) -> _Query:
        key = text.strip()
        for prefix in (f"s3://{Bucket.LANDING}/", f"{Bucket.LANDING}/"):
            if key.startswith(prefix):
                key = key.removeprefix(prefix)
                break
        else:
            if key.startswith("s3://"):
                raise RetractionError(f"{text!r} is not in the {Bucket.LANDING} bucket")
        if not key:
            raise RetractionError("name a landing file to retract")
        if "/" not in key:
            return cls(text, key)
        parsed = parse_landing_key(key)
        if parsed is None:
            raise RetractionError(
                f"{text!r} is not a landing file; give a file name, landing/<area>/<name> "
                "or landing/_processed/<area>/dt=…/hour=…/<name>"
            )
        if parsed.state is LandingState.WAITING:
            return cls(text, parsed.name, parsed.area)
        return cls(text, parsed.name, parsed.area, parsed.key.key)

    @property
    def prefixes(self) -> list[str]:
        """Where in the landing bucket to list (everything, for a bare name)."""
        if self.area is None:
            return [""]
        if self.key is None:
            return [
                self.area.incoming_prefix,
                self.area.claims_prefix,
                self.area.retracted_prefix,
            ]
        return [self.key, self.area.retracted_prefix]

    @property
    def places(self) -> str:
        landing = f"s3://{Bucket.LANDING}/"
        if self.area is None:
            return f"{landing} (every area's drop folder, _processed/ and _retracted/)"
        return ", ".join(landing + prefix for prefix in self.prefixes)

    def matches(self, found: LandingFile) -> bool:
        if self.area is not None and found.area != self.area:
            return False
        if self.key is not None and found.state is not LandingState.RETRACTED:
            return found.key.key == self.key
        if self.key is not None and self.key.startswith(self.area.retracted_prefix):
            return found.key.key == self.key
        return _same_file(self.name, found.name)


def _same_file(name: str, candidate: str) -> bool:
    # A name claimed twice by one hour (or set aside twice) is kept as "<etag>-<name>".
    copy = re.fullmatch(rf"[0-9a-f]{{12}}-{re.escape(name)}", candidate)
    return candidate == name or copy is not None


def _find(store: ObjectStore, query: _Query) -> list[tuple[LandingFile, str]]:
    """Every landing file the query names, with its ETag, in key order."""
    found: dict[str, tuple[LandingFile, str]] = {}
    for prefix in query.prefixes:
        for obj in store.list(Bucket.LANDING, prefix):
            parsed = parse_landing_key(obj.key.key)
            if parsed is not None and query.matches(parsed):
                found[obj.key.key] = (parsed, obj.etag.strip('"'))
    return [found[key] for key in sorted(found)]


def _origin(landing_file: LandingFile) -> str:
    from fieldhouse.sources.landing import ORIGIN_PREFIX

    return f"{ORIGIN_PREFIX}{landing_file.name}"


def _datasets() -> list[Dataset]:
    """Every raw dataset whose manifests can list a landing file."""
    from fieldhouse.ingest.datasets import DATASETS

    return [d.dataset for d in DATASETS.values()]


def _datasets_listing(
    store: ObjectStore, landing_file: LandingFile, retracting: list[tuple[LandingFile, str]]
) -> list[Dataset]:
    """The datasets whose manifest of the copy's hour lists it, whichever its area feeds."""
    if landing_file.state is not LandingState.CLAIMED or landing_file.hour is None:
        return []
    uri = landing_file.key.uri
    listing = []
    for dataset in _datasets():
        key = dataset.manifest(landing_file.hour)
        if not store.exists(key):
            continue
        manifest = store.get_json(key)
        if uri in _listed_files(manifest):
            _refuse_shared_origin(landing_file, dataset, manifest, retracting)
            listing.append(dataset)
    if not listing:
        log.info("%s: no manifest of %s lists it", uri, landing_file.hour.partition)
    return listing


def _listed_files(manifest: dict) -> set[str]:
    # "retracted" too: an interrupted retraction is finished by running it again.
    return {
        *manifest.get("files", []),
        *manifest.get("files_rejected", {}),
        *manifest.get("retracted", {}),
    }


def _refuse_shared_origin(
    landing_file: LandingFile,
    dataset: Dataset,
    manifest: dict,
    retracting: list[tuple[LandingFile, str]],
) -> None:
    """Files of the same name from two areas in one partition have the same origin."""
    leaving = {f.key.uri for f, _ in retracting}
    read = {*manifest.get("files", []), *manifest.get("files_rejected", {})}
    others = sorted(
        uri for uri in read if uri.rsplit("/", 1)[-1] == landing_file.name and uri not in leaving
    )
    if others:
        raise RetractionError(
            f"{landing_file.key.uri} and {', '.join(others)} share the origin "
            f"{_origin(landing_file)} in {dataset.path} {landing_file.hour.partition}: their "
            f"rows cannot be told apart; retract them together by name ({landing_file.name})"
        )


# --- rewriting one partition -----------------------------------------------------------


@dataclass
class _Part:
    """One Parquet part of a partition, with the retracted file's rows taken out."""

    key: ObjectKey
    rows: pd.DataFrame  # the rows that stay
    removed: int


def _read_parts(store: ObjectStore, bucket: Bucket, prefix: str, origin: str) -> list[_Part]:
    parts = []
    # (length, key): part-10 after part-9, as the writer numbered them.
    for obj in sorted(store.list(bucket, prefix), key=lambda o: (len(o.key.key), o.key.key)):
        frame = from_parquet_bytes(store.get_bytes(obj.key))
        leaving = (frame["origin"] == origin).to_numpy(dtype=bool)
        if leaving.any():
            frame = frame.loc[~leaving].reset_index(drop=True)
        parts.append(_Part(obj.key, frame, int(leaving.sum())))
    return parts


def _surviving(parts: list[_Part], *, keep_one: bool) -> list[_Part]:
    """Parts that keep rows, or that lost none; raw keeps one part even when empty."""
    kept = [p for p in parts if len(p.rows) or not p.removed]
    return kept if kept or not keep_one or not parts else parts[:1]


def _retract_from_partition(
    store: ObjectStore, dataset: Dataset, landing_file: LandingFile
) -> RetractedPartition:
    """Take one copy's rows out of one hour of ``dataset`` and record it in the manifest."""
    hour: Interval = landing_file.hour
    uri, origin = landing_file.key.uri, _origin(landing_file)
    # Read now, not when planning: an earlier copy of this run may have rewritten it.
    manifest = store.get_json(dataset.manifest(hour))
    raw_parts = _read_parts(store, Bucket.RAW, dataset.prefix(hour), origin)
    quarantine_parts = _read_parts(store, Bucket.QUARANTINE, dataset.prefix(hour), origin)
    raw = _surviving(raw_parts, keep_one=True)
    quarantine = _surviving(quarantine_parts, keep_one=False)

    updated = _updated_manifest(manifest, uri, raw, quarantine)
    written_out = manifest["rows_written"] - updated["rows_written"]
    quarantined_out = manifest["rows_quarantined"] - updated["rows_quarantined"]
    removed_now = (sum(p.removed for p in raw_parts), sum(p.removed for p in quarantine_parts))
    if written_out < removed_now[0] or quarantined_out < removed_now[1]:
        raise ReconciliationError(
            f"{dataset.path} {hour.partition}: its manifest counts fewer rows than its parts "
            "hold; rerun the hour's ingestion, then retract again; nothing was changed"
        )
    if (written_out, quarantined_out) != removed_now:
        log.warning(
            "%s %s: %d rows the manifest counted were gone already (an earlier retraction "
            "was interrupted); recorded as retracted",
            dataset.path,
            hour.partition,
            written_out + quarantined_out - sum(removed_now),
        )

    _write_parts(store, raw_parts, raw)
    _write_parts(store, quarantine_parts, quarantine)
    if uri in manifest.get("files_rejected", {}):
        _remove_rejected_copy(store, landing_file)
    store.put_json(dataset.manifest(hour), updated)
    log.info(
        "%s %s: removed %d raw and %d quarantined rows of %s; manifest now %d in = "
        "%d written + %d quarantined",
        dataset.path,
        hour.partition,
        removed_now[0],
        removed_now[1],
        origin,
        updated["rows_in"],
        updated["rows_written"],
        updated["rows_quarantined"],
    )
    return RetractedPartition(uri, dataset.path, hour.partition, written_out, quarantined_out)


def _updated_manifest(manifest: dict, uri: str, raw: list[_Part], quarantine: list[_Part]) -> dict:
    """The manifest with the counts and reasons of the parts that stay, the file retracted."""
    rows_written = sum(len(p.rows) for p in raw)
    rows_quarantined = sum(len(p.rows) for p in quarantine)
    reasons: Counter[str] = Counter()
    for part in quarantine:
        reasons.update(part.rows["reason"].astype(str))
    # Counts come from the parts that stay: what the manifest counted beyond them left.
    written_out = manifest["rows_written"] - rows_written
    quarantined_out = manifest["rows_quarantined"] - rows_quarantined
    rows_in = manifest["rows_in"] - written_out - quarantined_out
    if rows_in != rows_written + rows_quarantined or sum(reasons.values()) != rows_quarantined:
        raise ReconciliationError(
            f"{manifest['dataset']} {manifest['interval_start']}: counts would not reconcile "
            f"after retracting {uri}; nothing was changed"
        )
    earlier = manifest.get("retracted", {}).get(uri, {"rows_written": 0, "rows_quarantined": 0})
    return {
        **manifest,
        "rows_in": rows_in,
        "rows_written": rows_written,
        "rows_quarantined": rows_quarantined,
        "reasons": dict(sorted(reasons.items())),
        "objects": [p.key.uri for p in [*raw, *quarantine]],
        "files": [f for f in manifest.get("files", []) if f != uri],
        "files_rejected": {
            f: why for f, why in manifest.get("files_rejected", {}).items() if f != uri
        },
        "retracted": {
            **manifest.get("retracted", {}),
            uri: {
                "rows_written": earlier["rows_written"] + written_out,
                "rows_quarantined": earlier["rows_quarantined"] + quarantined_out,
            },
        },
        "reconciles": True,
    }


def _write_parts(store: ObjectStore, parts: list[_Part], surviving: list[_Part]) -> None:
    """Rewrite the parts that lost rows, delete those left empty, leave the others alone."""
    kept = {p.key for p in surviving}
    for part in parts:
        if part.key in kept and part.removed:
            store.put_bytes(part.key, to_parquet_bytes(part.rows))
    for part in parts:
        if part.key not in kept:
            store.delete(part.key)
            log.info("deleted %s: every row in it was retracted", part.key.uri)


def _remove_rejected_copy(store: ObjectStore, landing_file: LandingFile) -> None:
    """A file rejected whole was kept in quarantine byte for byte: that copy goes too."""
    copy = landing_file.area.rejected(landing_file.hour, landing_file.name)
    if store.exists(copy):
        store.delete(copy)
        log.info("deleted %s, the quarantined copy of a file rejected whole", copy.uri)


# --- registrations and the file itself ---------------------------------------------------


def _remove_registrations(store: ObjectStore, origin: str) -> list[str]:
    """Delete what ``origin`` registered (devices, instruments, customers); returns the URIs."""
    from fieldhouse.ingest.registries import REGISTRIES

    slug = registry_slug(origin)
    removed = []
    for registry in REGISTRIES.values():
        for obj in store.list(Bucket.RAW, registry.reference.writer_prefix(slug)):
            store.delete(obj.key)
            removed.append(obj.key.uri)
            log.info("removed registrations of %s: %s", origin, obj.key.uri)
    return removed


def _set_aside(store: ObjectStore, landing_file: LandingFile, etag: str) -> ObjectKey:
    """Move the file under ``_retracted/``: no hour's claim, no drop folder lists it."""
    target = landing_file.area.retracted(landing_file.name)
    existing = {o.key: o.etag.strip('"') for o in store.list(Bucket.LANDING, target.key)}
    if target in existing and existing[target] != etag:
        # Another file of that name was retracted before: keep both, as claims do.
        target = landing_file.area.retracted(f"{etag[:12]}-{landing_file.name}")
    store.move(landing_file.key, target)
    log.info("moved %s to %s", landing_file.key.uri, target.uri)
    return target
