"""Import one file through a contract: drop it in the contract's landing folder, run the hour.

This is what ``python -m fieldhouse import`` does. The file takes the same way as a
file any other system drops: :func:`fieldhouse.ingest.feeds.ingest_dataset_hour`
claims it for the hour, reads and normalises it by the contract, validates the
rows and writes the hour's raw and quarantine partitions and manifest. The
contract may be one of ``contracts/feeds/`` (by name) or a draft YAML file anywhere
(by path), which is how a proposal from ``contract infer`` is tried on real data.

The hour is rewritten from the files every feed of the dataset claimed for it
(this contract's included), as an ingestion run without the simulator would; the
scheduled run of that hour, if it comes later, adds the simulator's rows again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fieldhouse.contracts.contract import (
    Contract,
    ContractError,
    contracts_dir,
    load_contract,
    load_contracts,
)
from fieldhouse.contracts.infer import PLACEHOLDER
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.storage.keys import Bucket, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore


def resolve_contract(name_or_path: str | Path) -> Contract:
    """A contract by name from ``contracts/feeds/``, or from a YAML file given by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ContractError(f"{path}: no such contract file")
        return load_contract(path)
    contracts = load_contracts()
    if text not in contracts:
        raise ContractError(
            f"no contract named {text!r}; known: {', '.join(sorted(contracts))} "
            "(or give the path of a contract file)"
        )
    return contracts[text]


def contract_problems(contract: Contract) -> list[str]:
    """What would stop a loaded contract from ingesting: its dataset, fields and TODOs left."""
    from fieldhouse.contracts.catalog import load_catalog
    from fieldhouse.ingest.datasets import DATASETS

    if contract.dataset not in DATASETS:
        return [f"dataset {contract.dataset!r} is not one of {sorted(DATASETS)}"]
    schema = DATASETS[contract.dataset].schema
    problems = []
    unknown = sorted(set(contract.fields) - set(schema.field_names))
    if unknown:
        problems.append(f"fields {unknown} are not fields of {contract.dataset}")
    melted = {"metric", "value"} if contract.layout == "wide" else set()
    required = [f.name for f in schema.fields if f.required]
    missing = [name for name in required if name not in contract.fields and name not in melted]
    if missing:
        problems.append(f"required fields {missing} of {contract.dataset} have no source")
    todo = _placeholders(contract)
    if todo:
        problems.append(f"{PLACEHOLDER} left in {', '.join(todo)}: finish the draft")
    try:
        load_catalog().merged(contract.catalog)
    except (ValueError, KeyError, TypeError) as error:
        problems.append(f"catalog: {error}")
    return problems


def _placeholders(contract: Contract) -> list[str]:
    where = [
        f"fields.{name}"
        for name, source in contract.fields.items()
        if PLACEHOLDER in (source.column, source.constant)
    ]
    where += [f"melt.{m.column}" for m in contract.melt if m.metric == PLACEHOLDER]
    if contract.description.startswith(PLACEHOLDER):
        where.append("description")
    return where


def check_contracts(paths: list[Path] | None = None) -> tuple[list[Contract], list[str]]:
    """Load and check contract files, by default all of ``contracts/feeds/``.

    Returns the contracts that passed and one message per problem found.
    """
    everything = not paths
    paths = paths or sorted((contracts_dir() / "feeds").glob("*.yaml"))
    good, errors = [], []
    for path in paths:
        try:
            contract = load_contract(path)
        except (ContractError, OSError) as error:
            errors.append(str(error))
            continue
        problems = contract_problems(contract)
        errors += [f"{path}: {problem}" for problem in problems]
        if not problems:
            good.append(contract)
    if everything and not errors:
        try:
            load_contracts()  # names and landing folders unique across the folder
        except ContractError as error:
            errors.append(str(error))
    return good, errors


def import_file(
    store: ObjectStore,
    contract_name_or_path: str | Path | Contract,
    file_path: Path,
    *,
    hour: Interval | None = None,
) -> Manifest:
    """Upload ``file_path`` to ``landing/<contract.landing>/`` and ingest its hour.

    ``hour`` defaults to the current hour. Any other file waiting in the same
    landing folder is claimed by the same hour, as an ingestion run would.
    """
    from fieldhouse.contracts.contract import contracts_for
    from fieldhouse.ingest.feeds import ingest_dataset_hour

    contract = (
        contract_name_or_path
        if isinstance(contract_name_or_path, Contract)
        else resolve_contract(contract_name_or_path)
    )
    file_path = Path(file_path)
    interval = hour or Interval.hour_of(datetime.now(UTC))
    key = LandingArea(contract.landing).incoming(file_path.name)
    store.put_bytes(key, file_path.read_bytes())
    return ingest_dataset_hour(
        store,
        contract.dataset,
        interval,
        simulated=None,
        include_landing=True,
        claim_landing=True,
        contracts=[
            *(c for c in contracts_for(contract.dataset) if c.name != contract.name),
            contract,
        ],
    )


def rejection(manifest: Manifest, file_name: str) -> str | None:
    """Why the file named ``file_name`` was rejected whole, or None if it was read."""
    for uri, reason in manifest.files_rejected.items():
        claimed = uri.rsplit("/", 1)[-1]
        # A name dropped twice in one hour is claimed with its etag in front.
        if claimed == file_name or claimed.endswith(f"-{file_name}"):
            return reason
    return None


def format_summary(manifest: Manifest, contract: Contract) -> str:
    """A few lines for a person: rows in, accepted, quarantined by reason, files, places."""
    from fieldhouse.ingest.datasets import raw_dataset

    interval = Interval.parse(manifest.interval_start, manifest.interval_end)
    area = LandingArea(contract.landing)
    lines = [
        f"{contract.name} -> {contract.dataset}, hour {interval.partition}",
        f"files read:     {len(manifest.files)}",
        *(f"  {uri}" for uri in manifest.files),
        f"rows in:        {manifest.rows_in}",
        f"accepted:       {manifest.rows_written}",
        f"quarantined:    {manifest.rows_quarantined}",
        *(f"  {reason}: {count}" for reason, count in manifest.reasons.items()),
        f"files rejected: {len(manifest.files_rejected)}",
    ]
    for uri, reason in manifest.files_rejected.items():
        kept = area.rejected(interval, uri.rsplit("/", 1)[-1])
        lines.append(f"  {uri}: {reason} (kept at {kept.uri})")
    quarantine = [o for o in manifest.objects if o.startswith(f"s3://{Bucket.QUARANTINE}/")]
    raw = [o for o in manifest.objects if o.startswith(f"s3://{Bucket.RAW}/")]
    lines += [
        f"raw partition:  {', '.join(raw) or 'none'}",
        f"quarantine:     {', '.join(quarantine) or 'none'}",
        f"manifest:       {raw_dataset(contract.dataset).dataset.manifest(interval).uri}",
    ]
    return "\n".join(lines)
