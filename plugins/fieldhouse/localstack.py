"""The embedded stack: MinIO, PostgreSQL, Airflow, MLflow, Evidently, dbt docs as local processes.

``make up`` and the test fixtures both start services through this module, so the
way a newcomer runs the platform is the way the tests run it. Every service keeps
its state under one folder (``FIELDHOUSE_HOME``, default ``.local/``), which is
what makes a second ``make up`` reuse what exists.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from fieldhouse.config import REPO_ROOT, StorageSettings

log = logging.getLogger(__name__)

MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
PIPELINE_USER = "fieldhouse-pipeline"
_ROLE_NAMES = ("landing", "ingest", "transform", "ml")  # fieldhouse.storage.provision.Role
POSTGRES_USER = "fieldhouse"
LAKE_DATABASE = "lake"
AIRFLOW_DATABASE = "airflow"


class StackError(RuntimeError):
    """A local service could not be started or reached."""


def minio_binary() -> Path:
    """The pinned MinIO server, built by ``scripts/ensure-minio.sh`` into the user cache."""
    override = os.environ.get("FIELDHOUSE_MINIO_BIN")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "fieldhouse" / "minio" / MINIO_VERSION / "minio"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only from the first byte on.

    Not written and then locked: in between, anyone on the machine could read it.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # A file that existed keeps its mode through os.open; narrow it before writing.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def debian_program(program: str, package: str, why: str) -> str:
    """The path of ``program``, installed from Debian's ``package`` when missing and allowed.

    Installs only as root with apt-get (tries the package lists as they are
    first, then refreshed); otherwise raises one line saying what to install.
    """
    found = shutil.which(program)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log.info("installing %s from Debian's packages ...", package)
        for argv in (
            ["apt-get", "install", "-y", "-q", package],
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", package],
        ):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode == 0 and argv[1] == "install":
                break
        found = shutil.which(program)
        if found:
            return found
    raise StackError(f"{program} ({why}) is not installed: apt-get install {package}")


def chromium_binary() -> str:
    """The system Chromium the browser tests drive (``FIELDHOUSE_CHROMIUM`` to choose another)."""
    chosen = os.environ.get("FIELDHOUSE_CHROMIUM")
    if chosen:
        if not Path(chosen).exists():
            raise StackError(f"FIELDHOUSE_CHROMIUM={chosen} does not exist")
        return chosen
    return debian_program("chromium", "chromium", "the browser the UI tests drive")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_http(url: str, timeout: float, *, what: str, service: Service | None = None) -> None:
    """Poll ``url`` until it answers below 500, or fail naming the log to read."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    hint = f"; see {service.log_file}" if service else ""
    while time.monotonic() < deadline:
        if service is not None and service.pid() is None:
            raise StackError(f"{what} exited while starting{hint}")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise StackError(f"{what} did not come up at {url} within {timeout:.0f}s ({last}){hint}")


@dataclass
class Service:
    """A detached process with a pid file and a log file."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def start(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def stop(self, timeout: float = 20, sig: signal.Signals = signal.SIGTERM) -> bool:
        """Stop the whole process group; True if something was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Reap the leader when we are its parent (test fixtures): a zombie
            # still counts as a member of its group, and would hold the wait.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True


@dataclass
class StackConfig:
    """Ports, folders and generated secrets of one embedded stack."""

    home: Path
    minio_port: int = 9000
    minio_console_port: int = 9001
    airflow_port: int = 8080
    docs_port: int = 8081
    postgres_port: int = 5433
    mlflow_port: int = 5000
    evidently_port: int = 8000
    scheduler_health_port: int = 8974
    secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path, **ports: int) -> StackConfig:
        """Read (or create once) the stack's secrets; ports from arguments or env."""
        home.mkdir(parents=True, exist_ok=True)
        secrets_file = home / "secrets.json"
        stored = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
        wanted = {
            "minio_root_user": lambda: "fieldhouse-root",
            "minio_root_password": lambda: secrets.token_urlsafe(18),
            "pipeline_secret": lambda: secrets.token_urlsafe(18),
            # An account per role (issue of least privilege): older stacks get them on start.
            **{f"{role}_secret": lambda: secrets.token_urlsafe(18) for role in _ROLE_NAMES},
            "airflow_password": lambda: secrets.token_urlsafe(9),
            "airflow_jwt_secret": lambda: secrets.token_urlsafe(24),
            "airflow_api_secret": lambda: secrets.token_urlsafe(24),
            # Added with the PostgreSQL lake catalog: older stacks get it on their next start.
            "postgres_password": lambda: secrets.token_urlsafe(18),
            # A Fernet key (32 random bytes, URL-safe base64) for the cluster profile.
            "airflow_fernet_key": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
            # Writes to the Evidently UI's workspace need it; reading the UI does not.
            "evidently_secret": lambda: secrets.token_urlsafe(18),
            # The key of customer-id pseudonyms in the lake (fieldhouse.pseudonym).
            "pseudonym_key": lambda: secrets.token_urlsafe(32),
        }
        missing = {name: make() for name, make in wanted.items() if name not in stored}
        if missing:
            stored.update(missing)
            write_private(secrets_file, json.dumps(stored, indent=2))
        env_port = {
            "minio_port": "FIELDHOUSE_MINIO_PORT",
            "minio_console_port": "FIELDHOUSE_MINIO_CONSOLE_PORT",
            "airflow_port": "FIELDHOUSE_AIRFLOW_PORT",
            "docs_port": "FIELDHOUSE_DOCS_PORT",
            "postgres_port": "FIELDHOUSE_POSTGRES_PORT",
            "mlflow_port": "FIELDHOUSE_MLFLOW_PORT",
            "evidently_port": "FIELDHOUSE_EVIDENTLY_PORT",
            "scheduler_health_port": "FIELDHOUSE_SCHEDULER_HEALTH_PORT",
        }
        chosen = {
            name: ports.get(name)
            or int(os.environ.get(var, cls.__dataclass_fields__[name].default))
            for name, var in env_port.items()
        }
        return cls(home=home, secrets=stored, **chosen)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def root_settings(self) -> StorageSettings:
        return StorageSettings(
            f"127.0.0.1:{self.minio_port}",
            self.secrets["minio_root_user"],
            self.secrets["minio_root_password"],
        )

    @property
    def pipeline_settings(self) -> StorageSettings:
        """The operator account: the command line's and the test suite's, not the tasks'."""
        return StorageSettings(
            f"127.0.0.1:{self.minio_port}", PIPELINE_USER, self.secrets["pipeline_secret"]
        )

    def role_settings(self, role: str) -> StorageSettings:
        """The account of one role (``landing``, ``ingest``, ``transform``, ``ml``)."""
        from fieldhouse.storage.provision import Role

        if Role(role) is Role.OPERATOR:
            return self.pipeline_settings
        return StorageSettings(
            f"127.0.0.1:{self.minio_port}", Role(role).user, self.secrets[f"{role}_secret"]
        )

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def evidently_url(self) -> str:
        return f"http://127.0.0.1:{self.evidently_port}"

    @property
    def docs_url(self) -> str:
        return f"http://127.0.0.1:{self.docs_port}"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    def postgres_dsn(self, database: str) -> str:
        """A libpq connection string to ``database`` on the stack's PostgreSQL.

        Without the password: libpq takes it from ``PGPASSWORD`` (in
        :meth:`pipeline_env`), so error messages that quote the string, as
        DuckDB's do, never show it.
        """
        return f"host=127.0.0.1 port={self.postgres_port} dbname={database} user={POSTGRES_USER}"

    @property
    def lake_catalog(self) -> str:
        return f"postgres:{self.postgres_dsn(LAKE_DATABASE)}"

    def service(self, name: str) -> Service:
        return Service(name, self.run_dir)

    def pipeline_env(self) -> dict[str, str]:
        """What every pipeline process needs: storage as the pipeline account, lake paths."""
        pipeline = self.pipeline_settings
        return {
            "FIELDHOUSE_HOME": str(self.home),
            "FIELDHOUSE_S3_ENDPOINT": pipeline.endpoint,
            "FIELDHOUSE_S3_ACCESS_KEY": pipeline.access_key,
            "FIELDHOUSE_S3_SECRET_KEY": pipeline.secret_key,
            "FIELDHOUSE_S3_SECURE": "false",
            "FIELDHOUSE_LAKE_CATALOG": self.lake_catalog,
            "PGPASSWORD": self.secrets["postgres_password"],
            # dbt writes its artifacts beside the stack, not into the repository.
            "DBT_TARGET_PATH": str(dbt_target_dir(self)),
            "DBT_LOG_PATH": str(self.home / "dbt" / "logs"),
            # The model registry and tracking store (MLflow's own variable).
            "MLFLOW_TRACKING_URI": self.mlflow_url,
            # Where drift checks file their snapshots (the Evidently UI's API).
            "FIELDHOUSE_EVIDENTLY_URL": self.evidently_url,
            "FIELDHOUSE_EVIDENTLY_SECRET": self.secrets["evidently_secret"],
            "FIELDHOUSE_PSEUDONYM_KEY": self.secrets["pseudonym_key"],
        }

    def role_connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables: each task role's account as an Airflow connection."""
        from fieldhouse.config import role_connection_id
        from fieldhouse.storage.provision import TASK_ROLES

        connections = {}
        for role in TASK_ROLES:
            account = self.role_settings(role)
            connection = {
                "conn_type": "aws",
                "login": account.access_key,
                "password": account.secret_key,
                "extra": {"endpoint_url": account.url, "region_name": account.region},
            }
            connections[f"AIRFLOW_CONN_{role_connection_id(role).upper()}"] = json.dumps(connection)
        return connections

    def airflow_env(self) -> dict[str, str]:
        """Airflow's environment: the tasks reach storage through their role's connection.

        The operator account's keys are left out, so a task has no account but
        its role's.
        """
        pipeline = {
            name: value
            for name, value in self.pipeline_env().items()
            if name not in ("FIELDHOUSE_S3_ACCESS_KEY", "FIELDHOUSE_S3_SECRET_KEY")
        }
        users_file = self.airflow_home / "passwords.json"
        database = (
            f"postgresql+psycopg2://{POSTGRES_USER}:{self.secrets['postgres_password']}"
            f"@127.0.0.1:{self.postgres_port}/{AIRFLOW_DATABASE}"
        )
        return {
            **pipeline,
            "AIRFLOW_HOME": str(self.airflow_home),
            # Not standalone's SQLite: under parallel tasks it answers "database is
            # locked", and the API and the tasks' heartbeats fail with it.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(users_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.airflow_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__BASE_URL": self.airflow_url,
            "AIRFLOW__API__SECRET_KEY": self.secrets["airflow_api_secret"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secrets["airflow_jwt_secret"],
            # New DAG files show up within seconds, not minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
                self.scheduler_health_port
            ),
            **self.role_connections(),
            # Read by plugins/fieldhouse_links.py for the UI's navigation links.
            "FIELDHOUSE_DOCS_URL": self.docs_url,
            "FIELDHOUSE_MLFLOW_URL": self.mlflow_url,
            "FIELDHOUSE_EVIDENTLY_UI_URL": self.evidently_url,
            "FIELDHOUSE_MINIO_CONSOLE_URL": f"http://127.0.0.1:{self.minio_console_port}",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH")) if p
            ),
        }


# --- MinIO -------------------------------------------------------------------------


def minio_drives(config: StackConfig, drives: int) -> list[Path]:
    """The folders MinIO keeps its data in: one, or ``drives`` for erasure coding."""
    if drives == 1:
        return [config.home / "minio" / "data"]
    return [config.home / "minio" / f"drive{i}" for i in range(1, drives + 1)]


def start_minio(config: StackConfig, drives: int = 1) -> StorageSettings:
    """Start MinIO on loopback (or reuse the running one); returns root settings.

    With ``drives`` > 1, MinIO erasure-codes every object over that many folders
    (at least 4), so one lost drive loses nothing and is healed when it returns.
    """
    service = config.service("minio")
    if service.pid() is None:
        binary = minio_binary()
        if not binary.exists():
            raise StackError(f"MinIO binary missing at {binary}; run scripts/ensure-minio.sh")
        if port_open(config.minio_port):
            raise StackError(
                f"port {config.minio_port} is taken by another program; set FIELDHOUSE_MINIO_PORT"
            )
        folders = minio_drives(config, drives)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MINIO_ROOT_USER": config.secrets["minio_root_user"],
            "MINIO_ROOT_PASSWORD": config.secrets["minio_root_password"],
            "MINIO_BROWSER": "on",
            "MINIO_UPDATE": "off",
        }
        if drives == 1:
            data = str(folders[0])
        else:
            # MinIO's own range notation; it refuses several drives on the root
            # disk unless told this is not a production machine.
            data = str(config.home / "minio" / f"drive{{1...{drives}}}")
            env["MINIO_CI_CD"] = "on"
        service.start(
            [
                str(binary),
                "server",
                data,
                "--address",
                f"127.0.0.1:{config.minio_port}",
                "--console-address",
                f"127.0.0.1:{config.minio_console_port}",
                "--quiet",
            ],
            env,
        )
    wait_for_http(
        f"http://127.0.0.1:{config.minio_port}/minio/health/ready",
        60,
        what="MinIO",
        service=service,
    )
    return config.root_settings


def provision_minio(config: StackConfig) -> StorageSettings:
    """Create the buckets and an account per role (idempotent); returns the operator's."""
    from fieldhouse.storage.provision import Role, provision

    provision(config.root_settings, {role: config.role_settings(role) for role in Role})
    return config.pipeline_settings


# --- PostgreSQL --------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """PostgreSQL's server programs (``FIELDHOUSE_POSTGRES_BIN``, else the newest Debian one)."""
    override = os.environ.get("FIELDHOUSE_POSTGRES_BIN")
    if override:
        return Path(override)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise StackError(
            "PostgreSQL (the lake catalog's server) is not installed: "
            "apt-get install postgresql (Debian), or set FIELDHOUSE_POSTGRES_BIN "
            "to the folder holding initdb and postgres"
        )
    return found[-1].parent


def _postgres_account() -> list[str]:
    """The command prefix that runs PostgreSQL as a normal account.

    PostgreSQL refuses to run as root; as root, we run it as the ``postgres``
    account the Debian package creates (or ``FIELDHOUSE_POSTGRES_OS_USER``).
    """
    if os.geteuid() != 0:
        return []
    import pwd

    name = os.environ.get("FIELDHOUSE_POSTGRES_OS_USER", "postgres")
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise StackError(
            f"PostgreSQL will not run as root and there is no {name!r} account to run it as; "
            "create one (useradd --system postgres) or set FIELDHOUSE_POSTGRES_OS_USER"
        ) from None
    return [
        "setpriv",
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--clear-groups",
    ]


def _hand_to_account(folder: Path, prefix: list[str]) -> None:
    """Let the account in ``prefix`` own ``folder`` and reach it from the root down."""
    if not prefix:
        return
    uid = int(prefix[1].split("=")[1])
    gid = int(prefix[2].split("=")[1])
    os.chown(folder, uid, gid)
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001 and parent.stat().st_uid == os.geteuid():
            # Traverse only (no listing), so the server can reach its data folder.
            parent.chmod(mode | 0o001)


def start_postgres(config: StackConfig, databases: tuple[str, ...] = (LAKE_DATABASE,)) -> str:
    """Start PostgreSQL on loopback (or reuse the running one) and create ``databases``.

    It holds the DuckLake catalog, which (unlike a DuckDB file) many processes can
    read and write at once. Returns the lake catalog's location.
    """
    service = config.service("postgres")
    bin_dir = postgres_bin_dir()
    prefix = _postgres_account()
    data = config.postgres_dir / "data"
    if service.pid() is None:
        if port_open(config.postgres_port):
            raise StackError(
                f"port {config.postgres_port} is taken by another program; "
                "set FIELDHOUSE_POSTGRES_PORT"
            )
        if not (data / "PG_VERSION").exists():
            _init_postgres(config, bin_dir, prefix, data)
        config.run_dir.mkdir(parents=True, exist_ok=True)
        service.start(
            [
                *prefix,
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(config.postgres_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                # Airflow's scheduler, API server, task processes and dbt threads
                # each hold connections.
                "-c",
                "max_connections=200",
            ],
            {**os.environ, "LC_ALL": "C.UTF-8"},
        )
    _wait_for_postgres(config, bin_dir, service)
    for database in databases:
        _create_database(config, bin_dir, database)
    return config.lake_catalog


def _init_postgres(config: StackConfig, bin_dir: Path, prefix: list[str], data: Path) -> None:
    config.postgres_dir.mkdir(parents=True, exist_ok=True)
    _hand_to_account(config.postgres_dir, prefix)
    password_file = config.postgres_dir / "initdb-password"
    write_private(password_file, config.secrets["postgres_password"] + "\n")
    _hand_to_account(password_file, prefix)
    try:
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                POSTGRES_USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
    except subprocess.CalledProcessError as exc:
        raise StackError(f"initdb failed for {data}: {exc.stderr.strip()}") from exc
    finally:
        password_file.unlink(missing_ok=True)
    log.info("created a PostgreSQL cluster in %s", data)


def _client_env(config: StackConfig) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": config.secrets["postgres_password"], "LC_ALL": "C.UTF-8"}


def _client_args(config: StackConfig) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(config.postgres_port), "-U", POSTGRES_USER]


def _wait_for_postgres(config: StackConfig, bin_dir: Path, service: Service) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.pid() is None:
            raise StackError(f"PostgreSQL exited while starting; see {service.log_file}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), *_client_args(config), "-d", "postgres", "-q"],
            env=_client_env(config),
        )
        if ready.returncode == 0:
            return
        time.sleep(0.3)
    raise StackError(f"PostgreSQL did not come up within 60s; see {service.log_file}")


def _create_database(config: StackConfig, bin_dir: Path, database: str) -> None:
    result = subprocess.run(
        [str(bin_dir / "createdb"), *_client_args(config), database],
        env=_client_env(config),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise StackError(f"could not create database {database!r}: {result.stderr.strip()}")


# --- Airflow -----------------------------------------------------------------------


def start_airflow(
    config: StackConfig, *, paused_at_creation: bool = False, timeout: float = 240
) -> None:
    """Run ``airflow standalone`` with this repository's DAGs and plugins.

    Its metadata database is ``airflow`` on the stack's PostgreSQL, which must
    be running (:func:`start_postgres`).
    """
    _create_database(config, postgres_bin_dir(), AIRFLOW_DATABASE)
    service = config.service("airflow")
    config.airflow_home.mkdir(parents=True, exist_ok=True)
    passwords = config.airflow_home / "passwords.json"
    write_private(passwords, json.dumps({"admin": config.secrets["airflow_password"]}))
    if service.pid() is not None:
        _restart_if_broken(config, service)
    if service.pid() is None:
        if port_open(config.airflow_port):
            raise StackError(
                f"port {config.airflow_port} is taken by another program; "
                "set FIELDHOUSE_AIRFLOW_PORT"
            )
        bin_dir = Path(sys.executable).parent
        env = {
            **os.environ,
            **config.airflow_env(),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused_at_creation),
            # standalone starts its components as `airflow ...` from PATH.
            "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        }
        # Standalone, without the log servers that would listen on every interface.
        service.start([sys.executable, "-m", "fieldhouse.airflow_standalone"], env, cwd=REPO_ROOT)
    wait_for_http(
        f"{config.airflow_url}/api/v2/monitor/health", timeout, what="Airflow", service=service
    )
    from fieldhouse.stack_health import wait_for_airflow

    # The API answering is not enough: the scheduler and the others must beat too.
    health = wait_for_airflow(config, timeout)
    if not health.healthy:
        raise StackError(f"Airflow is not healthy: {health.detail}; see {service.log_file}")
    # The DAGs' lake writers share a pool; a task naming a missing pool never runs.
    created = subprocess.run(
        [sys.executable, "-m", "fieldhouse", "create-pools"],
        env={**os.environ, **config.airflow_env()},
        capture_output=True,
        text=True,
    )
    if created.returncode != 0:
        raise StackError(f"could not create Airflow's pools: {created.stderr.strip()[-2000:]}")


def _restart_if_broken(config: StackConfig, service: Service) -> None:
    """Stop a running Airflow one of whose components is dead, so it starts afresh.

    ``airflow standalone`` lives on when its scheduler is killed, answering the
    API while nothing runs; stopping its process group also ends the workers
    the dead scheduler left behind.
    """
    from fieldhouse.stack_health import airflow_health

    health = airflow_health(config)
    if health.healthy or "did not answer" in health.detail:
        # Starting up, or its API is down too: the wait below tells which.
        return
    log.warning("Airflow runs but is not healthy (%s); restarting it", health.detail)
    service.stop(timeout=30)


# --- dbt docs ----------------------------------------------------------------------


def dbt_target_dir(config: StackConfig) -> Path:
    return config.home / "dbt" / "target"


def start_docs(config: StackConfig, target_dir: Path) -> None:
    """Serve the generated dbt docs (they are regenerated after every transform run)."""
    service = config.service("dbt-docs")
    if service.pid() is None:
        if port_open(config.docs_port):
            raise StackError(f"port {config.docs_port} is taken; set FIELDHOUSE_DOCS_PORT")
        # A static server, not `dbt docs serve`: that one needs a profile and opens
        # a browser; the files are all dbt's own output either way.
        service.start(
            [
                sys.executable,
                "-m",
                "http.server",
                str(config.docs_port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(target_dir),
            ],
            dict(os.environ),
        )
    wait_for_http(f"http://127.0.0.1:{config.docs_port}/", 30, what="dbt docs", service=service)


# --- MLflow and the Evidently UI ---------------------------------------------------

MLFLOW_ARTIFACTS = "s3://models/mlflow"


def mlflow_server_env(settings: StorageSettings) -> dict[str, str]:
    """What MLflow's server needs to keep artifacts in MinIO, as the ML account."""
    return {
        "AWS_ACCESS_KEY_ID": settings.access_key,
        "AWS_SECRET_ACCESS_KEY": settings.secret_key,
        "AWS_DEFAULT_REGION": settings.region,
        "MLFLOW_S3_ENDPOINT_URL": settings.url,
        # MinIO speaks plain HTTP on loopback and has no notion of S3's checksums.
        "MLFLOW_S3_IGNORE_TLS": "true",
    }


def start_mlflow(config: StackConfig, backend_store: str | None = None) -> None:
    """Serve MLflow's tracking server, model registry and UI on loopback.

    Runs and versions live in ``backend_store`` (default: SQLite under the
    stack's home; the cluster profile passes its PostgreSQL); artifacts in
    the ``models`` bucket, which the server writes for its clients, so a task
    needs only the server's URL.
    """
    service = config.service("mlflow")
    if service.pid() is None:
        if port_open(config.mlflow_port):
            raise StackError(f"port {config.mlflow_port} is taken; set FIELDHOUSE_MLFLOW_PORT")
        folder = config.home / "mlflow"
        folder.mkdir(parents=True, exist_ok=True)
        backend = backend_store or f"sqlite:///{folder / 'mlflow.db'}"
        bin_dir = Path(sys.executable).parent
        service.start(
            [
                str(bin_dir / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(config.mlflow_port),
                "--workers",
                "1",
                "--backend-store-uri",
                backend,
                "--artifacts-destination",
                MLFLOW_ARTIFACTS,
                "--serve-artifacts",
            ],
            {
                **os.environ,
                **mlflow_server_env(config.role_settings("ml")),
                # For a PostgreSQL backend store, whose URI carries no password.
                "PGPASSWORD": config.secrets["postgres_password"],
            },
            cwd=folder,
        )
    wait_for_http(f"{config.mlflow_url}/health", 120, what="MLflow", service=service)


def evidently_workspace(config: StackConfig) -> Path:
    return config.home / "evidently"


def start_evidently(config: StackConfig) -> None:
    """Serve the Evidently UI over the stack's workspace (drift snapshots per model)."""
    service = config.service("evidently")
    if service.pid() is None:
        if port_open(config.evidently_port):
            raise StackError(
                f"port {config.evidently_port} is taken; set FIELDHOUSE_EVIDENTLY_PORT"
            )
        workspace = evidently_workspace(config)
        workspace.mkdir(parents=True, exist_ok=True)
        bin_dir = Path(sys.executable).parent
        service.start(
            [
                str(bin_dir / "evidently"),
                "ui",
                "--host",
                "127.0.0.1",
                "--port",
                str(config.evidently_port),
                "--workspace",
                str(workspace),
            ],
            # In the environment, not on the command line where `ps` shows it.
            {**os.environ, "EVIDENTLY_SECRET": config.secrets["evidently_secret"]},
            cwd=workspace,
        )
    wait_for_http(f"{config.evidently_url}/", 120, what="Evidently UI", service=service)


def stop_all(config: StackConfig) -> list[str]:
    stopped = []
    for name in ("dbt-docs", "evidently", "mlflow", "airflow", "minio", "postgres"):
        # SIGINT is PostgreSQL's fast shutdown: it ends open sessions, then stops.
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        if config.service(name).stop(sig=sig):
            stopped.append(name)
    return stopped
