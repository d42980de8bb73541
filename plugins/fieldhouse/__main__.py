"""``python -m fieldhouse up|down|status|build-minio|provision``: the stack's controls."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from fieldhouse import localstack
from fieldhouse.config import local_state_dir

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
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def up() -> None:
    from fieldhouse.lake import install_duckdb_extensions, run_dbt

    config = localstack.StackConfig.load(local_state_dir())
    build_minio()
    install_duckdb_extensions()
    log.info("starting MinIO on 127.0.0.1:%d ...", config.minio_port)
    localstack.start_minio(config)
    pipeline = localstack.provision_minio(config)
    os.environ.update(config.pipeline_env())
    log.info("generating dbt docs ...")
    run_dbt(["docs", "generate"], pipeline)
    log.info(
        "starting Airflow on %s (first start migrates its database: ~1 min) ...", config.airflow_url
    )
    localstack.start_airflow(config)
    localstack.start_docs(config, localstack.dbt_target_dir(config))
    env_file = _write_env_file(config)
    print(f"""
Fieldhouse is up.

  Airflow       {config.airflow_url}
                login: admin / {config.secrets["airflow_password"]}
  dbt docs      http://127.0.0.1:{config.docs_port}
  MinIO console http://127.0.0.1:{config.minio_console_port}
                login: {config.secrets["minio_root_user"]} / {config.secrets["minio_root_password"]}
  MinIO API     http://127.0.0.1:{config.minio_port} (pipelines use the
                '{localstack.PIPELINE_USER}' account, limited to the platform's buckets)

  Logs in {config.run_dir}/; shell settings for dbt/DuckDB: source {env_file}
  Stop with: make down
""")


def down() -> None:
    config = localstack.StackConfig.load(local_state_dir())
    stopped = localstack.stop_all(config)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def provision_from_env() -> None:
    """Buckets and pipeline account on a MinIO given by the environment (production)."""
    from fieldhouse.config import StorageSettings
    from fieldhouse.storage.provision import provision

    pipeline = StorageSettings.from_env()
    root = StorageSettings(
        pipeline.endpoint,
        os.environ["MINIO_ROOT_USER"],
        os.environ["MINIO_ROOT_PASSWORD"],
        secure=pipeline.secure,
        region=pipeline.region,
    )
    provision(root, pipeline)
    print(f"buckets and account {pipeline.access_key!r} ready on {pipeline.url}")


def status() -> None:
    config = localstack.StackConfig.load(local_state_dir())
    for name in ("minio", "airflow", "dbt-docs"):
        pid = config.service(name).pid()
        print(f"{name:9} {'running, pid ' + str(pid) if pid else 'stopped'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldhouse", description=__doc__)
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "build-minio", "install-extensions", "provision"],
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        elif args.command == "status":
            status()
        elif args.command == "build-minio":
            print(build_minio())
        elif args.command == "provision":
            provision_from_env()
        elif args.command == "install-extensions":
            from fieldhouse.lake import install_duckdb_extensions

            install_duckdb_extensions()
    except localstack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
