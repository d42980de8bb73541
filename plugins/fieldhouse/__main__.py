"""``python -m fieldhouse up|down|status|build-minio|provision``: the stack's controls.

``python -m fieldhouse contract infer|check`` and ``python -m fieldhouse import`` propose,
check and try feed contracts (see contracts/README.md).

``python -m fieldhouse retract <file>`` takes a landing file's rows back out of raw/
and quarantine/ and sets the file aside, so no rerun ingests it again.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from fieldhouse import localstack
from fieldhouse.config import StorageSettings, local_state_dir

log = logging.getLogger("fieldhouse")


def build_minio() -> Path:
    """Build the pinned MinIO server once into the user cache (needs Go >= 1.24)."""
    binary = localstack.minio_binary()
    if binary.exists():
        return binary
    log.info("building MinIO %s (first time only, a few minutes) ...", localstack.MINIO_VERSION)
    env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"}
    subprocess.run(
        ["go", "install", "-trimpath", f"github.com/minio/minio@{localstack.MINIO_VERSION}"],
        env=env,
        check=True,
    )
    return binary


def _write_env_file(config: localstack.StackConfig) -> Path:
    """Shell exports for using dbt or DuckDB against the running stack by hand."""
    path = config.home / "env"
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(config.pipeline_env().items())]
    lines.append(
        f"export DBT_PROFILES_DIR={shlex.quote(str(localstack.REPO_ROOT / 'dbt_project'))}"
    )
    localstack.write_private(path, "\n".join(lines) + "\n")
    return path


def up() -> None:
    from fieldhouse.lake import install_duckdb_extensions, run_dbt

    config = localstack.StackConfig.load(local_state_dir())
    build_minio()
    install_duckdb_extensions()
    log.info("starting PostgreSQL (the lake catalog) on 127.0.0.1:%d ...", config.postgres_port)
    localstack.start_postgres(config)
    log.info("starting MinIO on 127.0.0.1:%d ...", config.minio_port)
    localstack.start_minio(config)
    pipeline = localstack.provision_minio(config)
    os.environ.update(config.pipeline_env())
    _migrate_file_catalog(config, pipeline)
    log.info(
        "starting MLflow on %s and the Evidently UI on %s ...",
        config.mlflow_url,
        config.evidently_url,
    )
    localstack.start_mlflow(config)
    localstack.start_evidently(config)
    log.info("generating dbt docs ...")
    run_dbt(["docs", "generate"], pipeline)
    log.info(
        "starting Airflow on %s (first start migrates its database: ~1 min) ...", config.airflow_url
    )
    localstack.start_airflow(config)
    localstack.start_docs(config, localstack.dbt_target_dir(config))
    _require_healthy(config)
    _print_urls(config, "Fieldhouse is up.")


def _require_healthy(config: localstack.StackConfig) -> None:
    """Stop `make up` with the names of the services that do not answer as they should."""
    from fieldhouse.stack_health import stack_health

    broken = [check for check in stack_health(config) if not check.healthy]
    if broken:
        raise localstack.StackError(
            "not healthy after start: "
            + "; ".join(f"{check.service}: {check.detail}" for check in broken)
            + f" (logs in {config.run_dir}/)"
        )


def up_cluster() -> None:
    """The cluster profile: docker-compose.yaml's topology as local processes."""
    from fieldhouse import cluster
    from fieldhouse.lake import run_dbt

    config = cluster.ClusterConfig.load(local_state_dir() / "cluster")
    build_minio()
    log.info("starting the cluster profile (first start migrates Airflow's database) ...")
    cluster.start_cluster(config)
    os.environ.update(config.pipeline_env())
    log.info("generating dbt docs ...")
    run_dbt(["docs", "generate"], config.pipeline_settings)
    localstack.start_docs(config, localstack.dbt_target_dir(config))
    _print_urls(
        config,
        f"Fieldhouse is up, cluster profile: CeleryExecutor with {cluster.WORKERS} workers "
        f"(Redis on 127.0.0.1:{config.redis_port}),\nMinIO erasure-coded over "
        f"{cluster.minio_drive_count()} drives in {config.home / 'minio'}.",
    )


def _print_urls(config: localstack.StackConfig, headline: str) -> None:
    env_file = _write_env_file(config)
    landing = config.role_settings("landing")
    print(f"""
{headline}

  Airflow       {config.airflow_url}
                login: admin / {config.secrets["airflow_password"]}
  MLflow        {config.mlflow_url}
                models, versions, champion/challenger and why
  Evidently UI  {config.evidently_url}
                drift of each model's features and predictions over time
  dbt docs      {config.docs_url}
  MinIO console http://127.0.0.1:{config.minio_console_port}
                login: {config.secrets["minio_root_user"]} / {config.secrets["minio_root_password"]}
  MinIO API     http://127.0.0.1:{config.minio_port}; drop files under landing/ as
                {landing.access_key} / {landing.secret_key} (put only); tasks
                use an account per role, the command line '{localstack.PIPELINE_USER}'
  Lake catalog  PostgreSQL on 127.0.0.1:{config.postgres_port} (database 'lake')

  Logs in {config.run_dir}/; shell settings for dbt/DuckDB: source {env_file}
  Stop with: make down
""")


def _migrate_file_catalog(config: localstack.StackConfig, pipeline) -> None:
    """Move a lake from the single-process DuckDB catalog file of earlier versions."""
    from fieldhouse.lake import migrate_file_catalog

    old = config.home / "lake" / "catalog.ducklake"
    if not old.exists():
        return
    log.info("moving the lake from %s into PostgreSQL ...", old)
    copied = migrate_file_catalog(pipeline, old)
    log.info("lake moved: %d tables; the old catalog is kept as %s.migrated", copied, old)


def down() -> None:
    """Stop what `make up` started, in either profile."""
    from fieldhouse import cluster

    stopped = localstack.stop_all(localstack.StackConfig.load(local_state_dir()))
    cluster_home = local_state_dir() / "cluster"
    if cluster_home.exists():
        stopped += cluster.stop_cluster(cluster.ClusterConfig.load(cluster_home))
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def provision_from_env() -> None:
    """Buckets and an account per role on a MinIO given by the environment (production).

    The operator account comes from ``FIELDHOUSE_S3_*``, each role's secret from
    ``FIELDHOUSE_<ROLE>_SECRET`` (e.g. ``FIELDHOUSE_INGEST_SECRET``).
    """
    from fieldhouse.config import StorageSettings
    from fieldhouse.storage.provision import Role, provision

    pipeline = StorageSettings.from_env()

    def account(user: str, secret: str) -> StorageSettings:
        return StorageSettings(pipeline.endpoint, user, secret, pipeline.secure, pipeline.region)

    root = account(os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"])
    accounts = {Role.OPERATOR: pipeline}
    for role in Role:
        if role is not Role.OPERATOR:
            variable = f"FIELDHOUSE_{role.value.upper()}_SECRET"
            if variable not in os.environ:
                raise SystemExit(f"{variable} is not set: the {role.user!r} account needs it")
            accounts[role] = account(role.user, os.environ[variable])
    provision(root, accounts)
    names = ", ".join(a.access_key for a in accounts.values())
    print(f"buckets and accounts {names} ready on {pipeline.url}")


def create_pools() -> None:
    """Airflow's pools that the DAGs name (run where Airflow's metadata database is set)."""
    from airflow.models.pool import Pool

    from fieldhouse.config import (
        LAKE_WRITERS_DESCRIPTION,
        LAKE_WRITERS_POOL,
        LAKE_WRITERS_SLOTS,
    )

    Pool.create_or_update_pool(
        LAKE_WRITERS_POOL, LAKE_WRITERS_SLOTS, LAKE_WRITERS_DESCRIPTION, include_deferred=False
    )
    print(f"pool {LAKE_WRITERS_POOL}: {LAKE_WRITERS_SLOTS} slots")


def status() -> bool:
    """Print each service's health and the recent DAG runs; True if every service is healthy."""
    from fieldhouse.stack_health import stack_health

    config = localstack.StackConfig.load(local_state_dir())
    checks = stack_health(config)
    for check in checks:
        pid = config.service(check.service).pid()
        print(f"{check.line()}{'' if pid else ' (no process)'}")
    if config.service("airflow").pid():
        from fieldhouse.run_health import health_lines

        password = config.secrets["airflow_password"]
        print("\n".join(health_lines(config.airflow_url, "admin", password)))
    return all(check.healthy for check in checks)


# --- feed contracts: contract infer|check, import --------------------------------------


def contracts_main(argv: list[str]) -> int:
    """``contract infer|check`` and ``import``: propose, check and try feed contracts."""
    from fieldhouse.config import ConfigError
    from fieldhouse.contracts.contract import ContractError

    args = _contracts_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.command == "import":
            return import_command(args.contract, args.file, args.hour)
        if args.action == "infer":
            return infer_command(args.file, args.dataset, args.out)
        return check_command(args.files)
    except (ContractError, ConfigError, KeyError, ValueError, OSError) as exc:
        # KeyError's text is the repr of its message; show the message itself.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 1


def _contracts_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fieldhouse", description=contracts_main.__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    contract = commands.add_parser("contract", help="propose or check feed contracts")
    actions = contract.add_subparsers(dest="action", required=True)
    infer = actions.add_parser("infer", help="propose a contract from a sample of a file")
    infer.add_argument("file", type=Path, help="a CSV, JSON-lines or Parquet file (or .gz)")
    infer.add_argument("--dataset", help="the raw dataset its rows land in (default: a guess)")
    infer.add_argument("--out", type=Path, help="write the YAML here instead of printing it")
    check = actions.add_parser("check", help="load and check contracts")
    check.add_argument(
        "files", nargs="*", type=Path, help="contract files (default: all of contracts/feeds)"
    )
    load = commands.add_parser("import", help="ingest one file through a contract")
    load.add_argument("contract", help="a contract name, or the path of a contract file")
    load.add_argument("file", type=Path, help="the file to import")
    load.add_argument("--hour", help="the ingest hour, e.g. 2026-11-22T13:00 (UTC; default: now)")
    return parser


def infer_command(file: Path, dataset: str | None, out: Path | None) -> int:
    from fieldhouse.contracts.infer import infer_contract

    proposal = infer_contract(file, dataset=dataset)
    if out is None:
        print(proposal, end="")
    else:
        out.write_text(proposal, encoding="utf-8")
        print(f"proposed contract written to {out}; review the TODOs, then check it")
    return 0


def check_command(files: list[Path]) -> int:
    from fieldhouse.contracts.importer import check_contracts

    good, errors = check_contracts(files)
    for contract in good:
        print(f"ok     {contract.name} -> {contract.dataset} ({contract.path})")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def import_command(contract_ref: str, file: Path, hour: str | None) -> int:
    from fieldhouse.config import StorageSettings
    from fieldhouse.contracts import importer
    from fieldhouse.storage.keys import Interval
    from fieldhouse.storage.objects import ObjectStore

    contract = importer.resolve_contract(contract_ref)
    problems = importer.contract_problems(contract)
    if problems:
        for problem in problems:
            print(f"error: {contract.path or contract.name}: {problem}", file=sys.stderr)
        return 1
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file")
    interval = Interval.hour_of(Interval.parse(hour).start) if hour else None
    store = ObjectStore(StorageSettings.from_env())
    manifest = importer.import_file(store, contract, file, hour=interval)
    print(importer.format_summary(manifest, contract))
    reason = importer.rejection(manifest, file.name)
    if reason is not None:
        print(f"error: {file.name} was rejected whole: {reason}", file=sys.stderr)
        return 1
    return 0


# --- retract: take a landing file back out ----------------------------------------------


def retract_main(argv: list[str]) -> int:
    """``retract <file>``: remove a landing file's rows from raw/ and quarantine/."""
    from fieldhouse.config import ConfigError
    from fieldhouse.ingest.partitions import ReconciliationError
    from fieldhouse.ingest.retract import RetractionError, retract_landing_file
    from fieldhouse.storage.objects import ObjectStore

    parser = argparse.ArgumentParser(
        prog="python -m fieldhouse retract", description=retract_main.__doc__
    )
    parser.add_argument(
        "file",
        help="a file name (every area and hour), landing/<area>/<name>, "
        "a landing/_processed/... key or an s3://landing/... URI",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        retraction = retract_landing_file(ObjectStore(_pipeline_settings()), args.file)
    except (RetractionError, ReconciliationError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(retraction.summary())
    if not retraction.changed_nothing:
        print(
            "The lake is rebuilt from raw: the marts drop these rows on the next "
            "`transform_lake` build."
        )
    return 0


def _pipeline_settings() -> StorageSettings:
    """The pipeline account: from the environment, else from the local stack of `make up`."""
    home = local_state_dir()
    if "FIELDHOUSE_S3_ENDPOINT" not in os.environ and (home / "secrets.json").exists():
        return localstack.StackConfig.load(home).pipeline_settings
    return StorageSettings.from_env()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldhouse", description=__doc__)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["contract"], ["import"]):
        return contracts_main(argv)
    if argv[:1] == ["retract"]:
        return retract_main(argv[1:])
    parser.add_argument(
        "command",
        choices=[
            "up",
            "down",
            "status",
            "build-minio",
            "install-extensions",
            "provision",
            "create-pools",
            "ensure-chromium",
        ],
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.command == "up":
            profile = os.environ.get("FIELDHOUSE_PROFILE") or "embedded"
            if profile not in ("embedded", "cluster"):
                raise localstack.StackError(f"PROFILE is embedded or cluster, not {profile!r}")
            if profile == "cluster":
                up_cluster()
            else:
                up()
        elif args.command == "down":
            down()
        elif args.command == "status":
            if not status():
                return 1
        elif args.command == "build-minio":
            print(build_minio())
        elif args.command == "provision":
            provision_from_env()
        elif args.command == "create-pools":
            create_pools()
        elif args.command == "ensure-chromium":
            print(localstack.chromium_binary())
        elif args.command == "install-extensions":
            from fieldhouse.lake import install_duckdb_extensions

            install_duckdb_extensions()
    except localstack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
