"""The lake: DuckDB sessions on MinIO and the DuckLake catalog, and dbt runs over them.

The analytics tables live in a DuckLake: Parquet files under ``s3://lake/`` plus a
catalog in PostgreSQL (a local server in the embedded stack, the shared one in
production), so transforms, training, drift checks and people's queries use the
lake at the same time. Python code opens it with :func:`duckdb_connect` and
writes through :func:`write_lake`; the dbt project reaches the same lake through
``dbt_project/profiles.yml``, which reads the variables that :func:`run_dbt`
exports.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fieldhouse.config import (
    StorageSettings,
    dbt_project_dir,
    lake_catalog_path,
    local_state_dir,
)
from fieldhouse.storage.keys import Bucket

if TYPE_CHECKING:
    import duckdb
    from dbt.cli.main import dbtRunnerResult

    from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

EXTENSIONS = ("httpfs", "ducklake")
# DuckLake loads the catalog database's extension by itself once it is installed.
CATALOG_EXTENSIONS = ("postgres",)
LAKE_ALIAS = "lake"

# When two writers commit at once, DuckLake retries the loser against the new
# snapshot unless their changes truly conflict; these make it patient enough
# for a busy lake (the defaults give up after 10 tries within ~6 s).
DUCKLAKE_RETRY_SETTINGS = {
    "ducklake_max_retry_count": 30,
    "ducklake_retry_wait_ms": 100,
    "ducklake_retry_backoff": 1.5,
}
# A real conflict (two creates of one table, a delete from a file the other
# writer rewrote) reaches us; write_lake then redoes the whole write.
WRITE_ATTEMPTS = 6
_T = TypeVar("_T")
LAKE_DATA_PATH = f"s3://{Bucket.LAKE}/"

# Catalog locations that name a database server rather than a DuckDB file.
_CATALOG_DATABASES = ("postgres:", "mysql:", "sqlite:")

# The schemas of dbt_project.yml (generate_schema_name uses them as they are).
DBT_SCHEMAS = ("staging", "intermediate", "main")
# dbt processes that build domains at once. On 2 cores, 2 or 3 processes built the
# three simulated domains no faster than one dbt build (0.96x, bench/results-lake.md):
# each process pays dbt's start and parse, and DuckDB already uses every core.
DEFAULT_DBT_PROCESSES = 1

# dbt node statuses that mean the command did not do its job.
_FAILED_STATUSES = {"error", "fail", "runtime error"}


class DbtRunError(RuntimeError):
    """A dbt command failed; the message names the nodes that failed and why."""

    def __init__(self, message: str, result: dbtRunnerResult | None) -> None:
        super().__init__(message)
        self.result = result


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``catalog.schema.table`` exists (a mart of a domain without data does not)."""
    catalog, schema, table = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = ? and table_schema = ? and table_name = ?",
            [catalog, schema, table],
        ).fetchone()[0]
    )


def install_duckdb_extensions() -> list[str]:
    """Install httpfs, ducklake and postgres from their PyPI packages, without network access.

    DuckDB would download extensions from its repository on first use, which
    machines without internet cannot do; the ``duckdb-extension-*`` wheels carry
    the binaries for the installed DuckDB version. Returns the names installed
    now (empty when they already were).
    """
    import duckdb

    con = duckdb.connect()
    try:
        # By name or alias: the postgres extension is installed as postgres_scanner.
        # Installing again would rewrite a file other processes may be loading.
        present = {
            known
            for name, aliases, installed in con.execute(
                "select extension_name, aliases, installed from duckdb_extensions()"
            ).fetchall()
            if installed
            for known in (name, *(aliases or ()))
        }
        installed_now = []
        for name in (*EXTENSIONS, *CATALOG_EXTENSIONS):
            if name in present:
                continue
            con.execute(f"INSTALL '{_sql_text(str(_extension_file(name)))}'")
            installed_now.append(name)
            log.info("installed DuckDB extension %s", name)
        return installed_now
    finally:
        con.close()


def _extension_file(name: str) -> Path:
    """The ``.duckdb_extension`` binary that the ``duckdb-extension-<name>`` wheel ships."""
    import duckdb

    package = f"duckdb_extension_{name}"
    version = duckdb.__version__
    spec = importlib_util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"DuckDB extension {name!r} is not installed and cannot be downloaded here; "
            f"pip install duckdb-extension-{name}=={version}"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    candidate = root / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not candidate.is_file():
        found = sorted(p.relative_to(root) for p in root.rglob("*.duckdb_extension"))
        raise RuntimeError(
            f"{package} has no build for DuckDB {version} (found {found or 'none'}); "
            f"pip install duckdb-extension-{name}=={version}"
        )
    return candidate


def duckdb_connect(
    settings: StorageSettings, attach_lake: bool = True
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session that reads MinIO and, by default, has the lake attached.

    The lake is attached as ``lake`` (``lake.main.fct_sensor_readings_hourly``,
    ...). Any number of processes may have it attached at once; each reads the
    latest committed snapshot. Close the connection when done.

    With ``FIELDHOUSE_PSEUDONYM_KEY`` set, the session has ``pseudonym()`` too,
    so the staging views (which call it) can be read; the marts never need it.
    """
    import duckdb

    from fieldhouse import pseudonym

    install_duckdb_extensions()
    con = duckdb.connect()
    try:
        for name in EXTENSIONS:
            con.load_extension(name)
        for name, value in DUCKLAKE_RETRY_SETTINGS.items():
            con.execute(f"SET {name} = {value}")
        con.execute(_s3_secret_sql(settings))
        if os.environ.get(pseudonym.KEY_VARIABLE):
            pseudonym.register(con)
        if attach_lake:
            _attach_lake(con)
    except Exception:
        con.close()
        raise
    return con


def _attach_lake(con: duckdb.DuckDBPyConnection, attempts: int = 5) -> None:
    """Attach the lake; on a new catalog, the first attach creates DuckLake's tables.

    Two processes attaching a new catalog at once both try to create them, and
    one fails with "already exists"; attaching again then finds them.
    """
    import duckdb

    sql = (
        f"ATTACH IF NOT EXISTS '{_sql_text(_ducklake_uri())}' AS {LAKE_ALIAS} "
        f"(DATA_PATH '{_sql_text(LAKE_DATA_PATH)}')"
    )
    for attempt in range(1, attempts + 1):
        try:
            con.execute(sql)
            return
        except duckdb.Error as error:
            text = str(error)
            if "Failed to initialize DuckLake" not in text or attempt == attempts:
                raise
            log.info("lake catalog being created by another process; attaching again")
            time.sleep(0.2 * attempt)


def is_commit_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a lake commit that lost to another writer (worth redoing)."""
    import duckdb

    text = str(error).lower()
    return isinstance(error, duckdb.TransactionException) or (
        isinstance(error, duckdb.Error)
        and ("conflict" in text or "failed to commit ducklake transaction" in text)
    )


def write_lake(
    settings: StorageSettings,
    write: Callable[[duckdb.DuckDBPyConnection], _T],
    *,
    what: str,
    attempts: int = WRITE_ATTEMPTS,
    first_wait: float = 0.5,
) -> _T:
    """Run ``write(con)`` on a fresh lake session; redo it when its commit conflicts.

    Other writers (a dbt build, a training run, a drift check) may commit between
    our read and our commit. DuckLake retries what does not truly conflict; what
    does is redone here, on a new session that sees the other writer's snapshot,
    after a random wait that doubles each time (``first_wait``, 2x, 4x, ...).
    ``write`` must be safe to run again: replace or create-if-missing, and
    statements that run as one transaction.
    """
    for attempt in range(1, attempts + 1):
        try:
            with duckdb_connect(settings) as con:
                return write(con)
        except Exception as error:
            if not is_commit_conflict(error) or attempt == attempts:
                raise
            wait = first_wait * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.warning(
                "%s: lake commit conflict (attempt %d of %d), retrying in %.1fs: %s",
                what,
                attempt,
                attempts,
                wait,
                _one_line(str(error), 200),
            )
            time.sleep(wait)
    raise AssertionError("unreachable")


def _s3_secret_sql(settings: StorageSettings) -> str:
    # MinIO serves buckets under the path (http://host:port/bucket/key), not as
    # virtual hosts, and speaks plain HTTP on loopback.
    options = {
        "KEY_ID": settings.access_key,
        "SECRET": settings.secret_key,
        "ENDPOINT": settings.endpoint,
        "REGION": settings.region,
        "URL_STYLE": "path",
    }
    body = ", ".join(f"{key} '{_sql_text(value)}'" for key, value in options.items())
    use_ssl = "true" if settings.secure else "false"
    return f"CREATE OR REPLACE SECRET fieldhouse_s3 (TYPE s3, {body}, USE_SSL {use_ssl})"


def _ducklake_uri() -> str:
    """``ducklake:<catalog>``, creating the directory of an embedded catalog file.

    ``FIELDHOUSE_LAKE_CATALOG`` is either a DuckDB file path or, in production,
    ``postgres:<libpq connection string>``; both follow the ``ducklake:`` prefix.
    """
    catalog = lake_catalog_path()
    if _is_catalog_file(catalog):
        Path(catalog).parent.mkdir(parents=True, exist_ok=True)
    return f"ducklake:{catalog}"


def _is_catalog_file(catalog: str) -> bool:
    return not catalog.startswith(_CATALOG_DATABASES)


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def dbt_env(settings: StorageSettings) -> dict[str, str]:
    """The environment variables ``dbt_project/profiles.yml`` reads."""
    home = local_state_dir().resolve()
    catalog = lake_catalog_path()
    if _is_catalog_file(catalog):
        catalog = str(Path(catalog).resolve())
    return {
        "FIELDHOUSE_HOME": str(home),
        "FIELDHOUSE_S3_ENDPOINT": settings.endpoint,
        "FIELDHOUSE_S3_ACCESS_KEY": settings.access_key,
        "FIELDHOUSE_S3_SECRET_KEY": settings.secret_key,
        "FIELDHOUSE_S3_SECURE": "true" if settings.secure else "false",
        "FIELDHOUSE_S3_REGION": settings.region,
        "FIELDHOUSE_LAKE_CATALOG": catalog,
        "FIELDHOUSE_LAKE_DATA_PATH": LAKE_DATA_PATH,
    }


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then put back what was there."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(args: list[str], settings: StorageSettings, *, check: bool = True) -> dbtRunnerResult:
    """Run one dbt command in this process against the lake.

    ``args`` is what follows ``dbt`` on a command line, e.g. ``["build"]``. The
    project directory comes from :func:`fieldhouse.config.dbt_project_dir` and the
    profile from ``DBT_PROFILES_DIR`` (default: the project directory).

    Raises:
        DbtRunError: the command failed and ``check`` is true; the message names
            every failed node. With ``check=False`` the result is returned as is.
    """
    from dbt.cli.main import dbtRunner

    install_duckdb_extensions()
    project = dbt_project_dir()
    env = dbt_env(settings)
    # DuckDB does not create the directory of a database file it is asked to open.
    (Path(env["FIELDHOUSE_HOME"]) / "dbt").mkdir(parents=True, exist_ok=True)
    _ducklake_uri()
    argv = list(args)
    if not _has_option(argv, "--project-dir"):
        argv += ["--project-dir", str(project)]
    if not _has_option(argv, "--profiles-dir"):
        argv += ["--profiles-dir", os.environ.get("DBT_PROFILES_DIR", str(project))]

    log.info("dbt %s", " ".join(args))
    with _environment(env):
        try:
            result = dbtRunner().invoke(argv)
        finally:
            _close_dbt_duckdb()
    if check and not result.success:
        raise DbtRunError(_failure_message(args, result), result)
    return result


def _has_option(argv: list[str], option: str) -> bool:
    return any(arg == option or arg.startswith(f"{option}=") for arg in argv)


def _close_dbt_duckdb() -> None:
    # dbt-duckdb keeps its DuckDB instance open for the life of the process
    # (keep_open), and with it the lake catalog file attached. A later
    # duckdb_connect() in the same process, e.g. the next task step reading a
    # mart, would then fail with "Unique file handle conflict".
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with contextlib.suppress(Exception):
        DuckDBConnectionManager.env().close()
    DuckDBConnectionManager.close_all_connections()


def _failure_message(args: list[str], result: dbtRunnerResult) -> str:
    command = " ".join(["dbt", *args])
    failed = [
        _failed_node(r.node.unique_id, r.status, r.message)
        for r in _node_results(result)
        if str(r.status).lower() in _FAILED_STATUSES
    ]
    if failed:
        return _failed_nodes_message(command, failed)
    if result.exception is not None:
        return f"{command} failed: {result.exception}"
    return f"{command} failed (no node reported an error; see the dbt log)"


def _failed_node(unique_id: str, status: Any, message: str | None) -> str:
    return f"  {unique_id}: {status}: {_one_line(message)}"


def _failed_nodes_message(command: str, failed: list[str]) -> str:
    return f"{command} failed on {len(failed)} node(s):\n" + "\n".join(failed)


def _node_results(result: dbtRunnerResult) -> list[Any]:
    return list(getattr(result.result, "results", None) or [])


def _one_line(message: str | None, limit: int = 400) -> str:
    text = " ".join((message or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def build_and_document(settings: StorageSettings) -> dbtRunnerResult:
    """``dbt build`` (models and their tests), then ``dbt docs generate``."""
    build = run_dbt(["build"], settings)
    run_dbt(["docs", "generate"], settings)
    return build


def expire_snapshots(
    settings: StorageSettings,
    keep: timedelta = timedelta(days=7),
    *,
    grace: timedelta = timedelta(hours=1),
) -> dict[str, int]:
    """Drop lake snapshots older than ``keep`` and delete the files only they used.

    Every build adds snapshots and DuckLake never deletes data by itself; this is
    the retention policy. Time travel reaches back ``keep``. Files are deleted
    once they have been unreferenced for ``grace``, so a query still scanning
    them is not cut off.
    """

    def expire(con: duckdb.DuckDBPyConnection) -> tuple[int, int, list]:
        count = f"select count(*) from ducklake_snapshots('{LAKE_ALIAS}')"
        before = con.execute(count).fetchone()[0]
        con.execute(
            f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', older_than => now() - ?::INTERVAL)",
            [keep],
        )
        removed = con.execute(
            f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', older_than => now() - ?::INTERVAL)",
            [grace],
        ).fetchall()
        return before, con.execute(count).fetchone()[0], removed

    before, after, removed = write_lake(settings, expire, what="snapshot expiry")
    log.info("lake snapshots: %d -> %d; %d old files deleted", before, after, len(removed))
    return {"snapshots_before": before, "snapshots_after": after, "files_deleted": len(removed)}


def migrate_file_catalog(settings: StorageSettings, old_catalog: Path) -> int:
    """Copy a lake kept in a DuckDB catalog file into the configured catalog.

    Earlier versions kept the catalog in one DuckDB file, which one process at a
    time could open. Every table is copied (current rows; the old snapshots stay
    behind), then the file is renamed ``<name>.migrated``. A catalog that already
    holds tables is left alone, and so is the file. Returns the tables copied.
    """
    with duckdb_connect(settings) as con:
        tables = con.execute(
            "select count(*) from duckdb_tables() where database_name = ?", [LAKE_ALIAS]
        ).fetchone()[0]
        if tables:
            log.warning(
                "the lake catalog already holds %d tables; %s was not copied into it",
                tables,
                old_catalog,
            )
            return 0
        con.execute(
            f"ATTACH '{_sql_text(f'ducklake:{old_catalog}')}' AS old_lake "
            f"(DATA_PATH '{_sql_text(LAKE_DATA_PATH)}')"
        )
        con.execute(f"COPY FROM DATABASE old_lake TO {LAKE_ALIAS}")
        copied = con.execute(
            "select count(*) from duckdb_tables() where database_name = ?", [LAKE_ALIAS]
        ).fetchone()[0]
        con.execute("DETACH old_lake")
    old_catalog.rename(old_catalog.with_name(old_catalog.name + ".migrated"))
    return int(copied)


def domains_with_data(store) -> list[str]:
    """The dbt tags (source domains) whose raw data exists in ``store``.

    A domain that was never ingested has no Parquet to read, and DuckDB fails on
    a glob that matches nothing; a transform run builds only the others.
    """
    from fieldhouse.storage.keys import DOMAIN_DATASETS

    return [
        domain
        for domain, dataset in DOMAIN_DATASETS.items()
        if store.has_objects(Bucket.RAW, f"{dataset.path}/")
    ]


def dbt_processes() -> int:
    """How many dbt processes build the domains at once (``FIELDHOUSE_DBT_PROCESSES``)."""
    value = os.environ.get("FIELDHOUSE_DBT_PROCESSES", str(DEFAULT_DBT_PROCESSES))
    try:
        processes = int(value)
    except ValueError:
        raise ValueError(
            f"FIELDHOUSE_DBT_PROCESSES must be a whole number, not {value!r}"
        ) from None
    return max(processes, 1)


def build_domains(
    settings: StorageSettings,
    domains: list[str],
    vars: Mapping[str, Any] | None = None,
    *,
    full_refresh: bool = False,
    processes: int | None = None,
) -> dict[str, str] | None:
    """``dbt build`` of the models and tests tagged with ``domains``; None if there are none.

    ``vars`` are passed as dbt's ``--vars`` (e.g. ``{"as_of": "2015-06-30"}``).
    ``full_refresh`` rebuilds the incremental models whole (``--full-refresh``).
    With the var ``incremental`` (a planned build, :func:`build_lake`), the
    unit tests and the tests on raw sources, which re-read every partition,
    are left to full builds.
    The domains share no models, so with ``processes`` above one (default:
    :func:`dbt_processes`) each domain is built by a dbt process of its own,
    that many at once. Processes, not dbt threads: dbt-duckdb's threads are
    cursors of one DuckDB instance, and DuckLake's commits of concurrent
    transactions within one instance race (bench/results-lake.md); separate
    processes commit through the catalog database like any other writers.

    Returns each built node's status by unique id (``model.fieldhouse.<name>``).

    Raises:
        DbtRunError: a node failed; the message names every failed node.
    """
    if not domains:
        log.info("no raw data in any domain yet: nothing to build")
        return None
    extra = ["--full-refresh"] if full_refresh else []
    if vars:
        # Unit tests state their expected rows under the project's vars, which a
        # chosen as_of or sources would change; they run in every default build.
        extra += ["--vars", json.dumps(dict(vars)), "--exclude-resource-type", "unit_test"]
    if vars and vars.get("incremental"):
        extra += ["--exclude", "source:*"]
    processes = dbt_processes() if processes is None else max(processes, 1)
    if processes == 1 or len(domains) == 1:
        selection = [f"tag:{domain}" for domain in domains]
        log.info("building %s", ", ".join(selection))
        result = run_dbt(["build", "--select", *selection, *extra], settings)
        return {r.node.unique_id: str(r.status) for r in _node_results(result)}
    return _build_apart(settings, domains, extra, processes)


def build_lake(
    settings: StorageSettings,
    store: ObjectStore,
    domains: list[str],
    vars: Mapping[str, Any] | None = None,
    *,
    full_refresh: bool = False,
    processes: int | None = None,
) -> dict[str, str] | None:
    """Build ``domains`` from what changed in raw since the last build, or whole.

    Plans the build (:mod:`fieldhouse.watermarks`): the raw partitions new or
    rewritten since the last successful build are reloaded and the event hours
    they touch recomputed; everything is rebuilt when ``full_refresh`` is asked
    for, on the first build, and when ``vars`` (as_of, sources) leave rows out
    (then the build after it is a full one too). The watermarks are recorded
    only when dbt succeeded. Returns what :func:`build_domains` returns.
    """
    from fieldhouse import watermarks

    if not domains:
        log.info("no raw data in any domain yet: nothing to build")
        return None
    plan = watermarks.plan_build(
        settings, store, domains, full_refresh=full_refresh, restricted=bool(vars)
    )
    log.info("build plan: %s", plan.summary())
    watermarks.stage_plan(settings, plan)
    statuses = build_domains(
        settings,
        domains,
        {**plan.vars, **(vars or {})},
        full_refresh=plan.full_refresh,
        processes=processes,
    )
    watermarks.record_build(settings, plan)
    return statuses


def _build_apart(
    settings: StorageSettings, domains: list[str], extra: list[str], processes: int
) -> dict[str, str]:
    """One ``dbt build --select tag:<domain>`` process per domain, ``processes`` at once."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    install_duckdb_extensions()
    _create_dbt_schemas(settings)
    home = local_state_dir().resolve()
    project = dbt_project_dir()
    profiles = os.environ.get("DBT_PROFILES_DIR", str(project))
    log.info("building %s, %d dbt processes at once", ", ".join(domains), processes)

    def build(domain: str) -> tuple[int, Path]:
        work = home / "dbt" / f"build-{domain}"
        work.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **dbt_env(settings),
            # Each process has its own session database, artifacts and log.
            "FIELDHOUSE_DBT_SESSION": str(work / "session.duckdb"),
            "DBT_TARGET_PATH": str(work / "target"),
            "DBT_LOG_PATH": str(work / "logs"),
        }
        argv = [
            sys.executable,
            "-c",
            "from dbt.cli.main import cli; cli()",
            "build",
            "--select",
            f"tag:{domain}",
            *extra,
            "--project-dir",
            str(project),
            "--profiles-dir",
            profiles,
        ]
        started = time.monotonic()
        child = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in child.stdout:
            log.info("[%s] %s", domain, line.rstrip())
        code = child.wait()
        log.info("[%s] dbt exited %d after %.1fs", domain, code, time.monotonic() - started)
        return code, work / "target" / "run_results.json"

    statuses: dict[str, str] = {}
    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=processes) as pool:
        for domain, (code, results_file) in zip(domains, pool.map(build, domains), strict=True):
            results = _run_results(results_file)
            statuses.update({r["unique_id"]: r["status"] for r in results})
            failures = [r for r in results if str(r["status"]).lower() in _FAILED_STATUSES]
            failed += [
                _failed_node(r["unique_id"], r["status"], r.get("message")) for r in failures
            ]
            if code != 0 and not failures:
                failed.append(f"  tag:{domain}: dbt exited {code} (see the [{domain}] log lines)")
    if failed:
        command = "dbt build --select " + " ".join(f"tag:{d}" for d in domains)
        raise DbtRunError(_failed_nodes_message(command, failed), None)
    return statuses


def _run_results(path: Path) -> list[dict[str, Any]]:
    """The node results of a dbt command's run_results.json (none if it wrote none)."""
    try:
        return list(json.loads(path.read_text()).get("results", []))
    except (OSError, ValueError):
        return []


def _create_dbt_schemas(settings: StorageSettings) -> None:
    """Create the schemas dbt builds into before several dbt processes start at once.

    Each process would otherwise create a missing schema in its own transaction,
    and all but one of those creates would conflict on a new lake.
    """

    def create(con: duckdb.DuckDBPyConnection) -> None:
        for schema in DBT_SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE_ALIAS}.{schema}")

    write_lake(settings, create, what="create dbt schemas")
