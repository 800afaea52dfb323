"""Start and stop real MariaDB (server_audit) and PostgreSQL (pgaudit) servers on 127.0.0.1 for tests."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0
CLIENT_TIMEOUT_SECONDS = 60.0
_PORT_ATTEMPTS = 3  # a probed free port can be taken before the server binds it: retry with another
_LOG_TAIL_LINES = 60
_PORT_IN_USE = re.compile(r"Address already in use|Do you already have another (?:mysqld|mariadbd|server)")

# Why not `all`: READ audits every SELECT (application reads, psql/driver catalog queries), FUNCTION every
# function call, MISC e.g. VACUUM/CHECKPOINT/DISCARD — volume no rule reads. DDL (DROP/CREATE/ALTER), ROLE
# (GRANT, CREATE/ALTER ROLE), WRITE (INSERT/UPDATE/DELETE/TRUNCATE) and MISC_SET (SET log_statement …) are
# what the rules alert on.
PGAUDIT_LOG_CLASSES = "ddl,role,write,misc_set"
RDS_LOG_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"  # the RDS/Aurora default, which cannot be changed there


class ServerError(Exception):
    """Base class of everything that goes wrong while running a test database server."""


class ServerNotInstalledError(ServerError):
    """A server binary, client or audit plugin is not installed; the message names what is missing."""


class ServerStartError(ServerError):
    """A server did not come up in time; the message carries the tail of the server's own log."""


@dataclass(frozen=True, slots=True)
class ClientResult:
    """What one client invocation (one connection) returned."""

    returncode: int
    stdout: str
    stderr: str
    auth_failed: bool  # the server refused the login
    statement_errors: int  # statements the server rejected after a successful login


@dataclass(frozen=True, slots=True)
class MariaDbInstall:
    """Paths of an installed MariaDB server, its bootstrap tool, its client and its plugin directory."""

    server: Path
    install_db: Path
    client: Path
    plugin_dir: Path


@dataclass(frozen=True, slots=True)
class PostgresInstall:
    """Paths of an installed PostgreSQL server whose lib dir holds pgaudit, and of psql."""

    bindir: Path
    client: Path


def _which(names: Sequence[str], what: str, extra_dirs: Sequence[str] = ()) -> Path:
    """Return the first of `names` on PATH or in `extra_dirs` (sbin is off PATH for non-root), else raise."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs])
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return Path(found)
    raise ServerNotInstalledError(f"{what} not installed: none of {', '.join(names)} found")


def find_mariadb() -> MariaDbInstall:
    """Locate mariadbd, mariadb-install-db, the mariadb client and the server_audit plugin."""
    sbin = ("/usr/sbin", "/usr/libexec", "/usr/local/sbin")
    server = _which(("mariadbd", "mysqld"), "MariaDB server", sbin)
    install_db = _which(("mariadb-install-db", "mysql_install_db"), "MariaDB bootstrap tool", sbin)
    client = _which(("mariadb", "mysql"), "MariaDB client")
    help_text = _run([str(server), "--no-defaults", "--verbose", "--help"]).stdout
    match = re.search(r"^plugin-dir\s+(\S+)", help_text, re.MULTILINE)
    if match is None:
        raise ServerNotInstalledError(f"cannot read plugin-dir from `{server} --verbose --help`")
    plugin_dir = Path(match.group(1))
    if not (plugin_dir / "server_audit.so").is_file():
        raise ServerNotInstalledError(
            f"MariaDB server_audit plugin not installed: no {plugin_dir}/server_audit.so"
        )
    return MariaDbInstall(server=server, install_db=install_db, client=client, plugin_dir=plugin_dir)


def _major_version(bindir: Path) -> int:
    """Sort key: the major version in a Debian or RHEL bin dir (`…/15/bin`, `/usr/pgsql-15/bin`), else 0."""
    match = re.search(r"(\d+)", bindir.parent.name)
    return int(match.group(1)) if match else 0


def find_postgres() -> PostgresInstall:
    """Locate the newest PostgreSQL server whose lib dir holds pgaudit.so, and psql."""
    bindirs = {p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")}
    bindirs |= {p.parent for p in Path("/usr").glob("pgsql-*/bin/postgres")}
    if not bindirs:
        raise ServerNotInstalledError(
            "PostgreSQL server not installed: no /usr/lib/postgresql/*/bin/postgres"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServerNotInstalledError(
                "no `postgres` OS user to run PostgreSQL as (it refuses root)"
            ) from exc
    for bindir in sorted(bindirs, key=_major_version, reverse=True):
        if (bindir.parent / "lib" / "pgaudit.so").is_file() and (bindir / "initdb").is_file():
            client = bindir / "psql" if (bindir / "psql").is_file() else _which(("psql",), "psql")
            return PostgresInstall(bindir=bindir, client=client)
    searched = ", ".join(str(b.parent / "lib") for b in sorted(bindirs))
    raise ServerNotInstalledError(f"pgaudit not installed: no pgaudit.so in {searched}")


def _run(
    command: Sequence[str], *, stdin: str | None = None, user: str | None = None, password: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run a command (as OS `user` if given) with the clean environment, capturing text output."""
    env = client_environment()
    if password:
        env["PGPASSWORD"] = password  # read by psql only; kept out of the command line
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        check=False,
        timeout=CLIENT_TIMEOUT_SECONDS,
        user=user,
        group=_primary_group(user),
        extra_groups=[] if user else None,
        cwd="/" if user else None,
    )


def _primary_group(user: str | None) -> int | None:
    """The primary gid of OS `user`, or None when running as ourselves."""
    return pwd.getpwnam(user).pw_gid if user else None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def client_environment() -> dict[str, str]:
    """The environment for servers and clients: ours minus PG*/MYSQL*/locale settings; UTF-8 and UTC."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "MYSQL", "MARIADB", "LC_")) and key not in ("LANG", "TZ")
    }
    env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "PGCLIENTENCODING": "UTF8"})
    return env


def log_tail(*paths: Path) -> str:
    """The last lines of each file, for error messages."""
    parts = []
    for path in paths:
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-_LOG_TAIL_LINES:]
            parts.append(f"--- {path} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        else:
            parts.append(f"--- {path} (missing) ---")
    return "\n".join(parts)


def _stop(process: subprocess.Popen[bytes] | None, stop_signal: int) -> None:
    """Ask a server to stop with `stop_signal`, wait, and kill it if it does not."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)


def _wait_until(is_ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Poll `is_ready` until it holds (True) or the process exits (False); TimeoutError after the limit."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if is_ready():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    raise TimeoutError


class _Server:
    """Shared lifecycle: bootstrap once, start on a free port (retrying a taken port), stop on exit."""

    name = ""
    stop_signal = signal.SIGTERM

    def __init__(self, base_dir: Path) -> None:
        """Remember where the server keeps its files; nothing starts before `__enter__`."""
        self.base_dir = base_dir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._made_dirs: list[Path] = []

    def __enter__(self) -> Self:
        """Bootstrap the data directory and start the server; stop it again if startup fails."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._bootstrap()
            self._start_on_free_port()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server (even when a test failed) and keep its logs in `base_dir`."""
        _stop(self.process, self.stop_signal)
        self._collect_logs()
        for made in self._made_dirs:
            shutil.rmtree(made, ignore_errors=True)

    def _start_on_free_port(self) -> None:
        """Start the server; a port taken meanwhile means another try, any other failure is fatal."""
        for _attempt in range(_PORT_ATTEMPTS):
            self.port = free_port()
            self.process = self._spawn()
            try:
                if _wait_until(self._is_ready, self.process):
                    return
            except TimeoutError:
                _stop(self.process, signal.SIGKILL)
                raise ServerStartError(
                    f"{self.name} not ready after {STARTUP_TIMEOUT_SECONDS:.0f} s\n{self._logs()}"
                ) from None
            if not _PORT_IN_USE.search(self._logs()):
                break
        raise ServerStartError(f"{self.name} exited during startup\n{self._logs()}")

    def _bootstrap(self) -> None:
        """Create the data directory."""
        raise NotImplementedError

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start the server process on `self.port`."""
        raise NotImplementedError

    def _is_ready(self) -> bool:
        """Whether the server accepts connections, without connecting (a probe would be audited)."""
        raise NotImplementedError

    def _logs(self) -> str:
        """The tail of the server's own logs."""
        return log_tail(*self._log_files())

    def _log_files(self) -> tuple[Path, ...]:
        """The server's own logs, most useful last."""
        raise NotImplementedError

    def _collect_logs(self) -> None:
        """Copy logs that live outside `base_dir` into it after the server stopped."""


class MariaDbServer(_Server):
    """A throwaway mariadbd with server_audit (CONNECT,QUERY,TABLE) logging to `base_dir/server_audit.log`."""

    name = "mariadbd"

    def __init__(self, base_dir: Path, install: MariaDbInstall | None = None) -> None:
        """Locate MariaDB now so a missing install fails before anything is created."""
        super().__init__(base_dir)
        self.install = install or find_mariadb()
        self.data_dir = base_dir / "data"
        self.audit_log_path = base_dir / "server_audit.log"
        self.error_log_path = base_dir / "mariadbd.err"
        self.socket_path = base_dir / "mysqld.sock"

    def _server_options(self) -> list[str]:
        """Options shared by the bootstrap and the real server (small memory, no host name lookups)."""
        options = [f"--datadir={self.data_dir}", "--skip-name-resolve", "--innodb-buffer-pool-size=16M"]
        return [*options, "--user=root"] if os.geteuid() == 0 else options

    def _bootstrap(self) -> None:
        """Create the system tables; root@localhost gets no password and is reached over the socket."""
        command = [str(self.install.install_db), "--no-defaults", *self._server_options()]
        command += ["--auth-root-authentication-method=normal", "--skip-test-db"]
        result = _run(command)
        if result.returncode != 0:
            raise ServerStartError(
                f"mariadb-install-db failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start mariadbd with the audit plugin, listening on 127.0.0.1 only."""
        self.error_log_path.unlink(missing_ok=True)
        command = [str(self.install.server), "--no-defaults", *self._server_options()]
        command += [
            f"--plugin-dir={self.install.plugin_dir}",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.base_dir / 'mariadbd.pid'}",
            f"--log-error={self.error_log_path}",
            "--plugin-load-add=server_audit",
            "--server-audit-logging=ON",
            "--server-audit-events=CONNECT,QUERY,TABLE",
            f"--server-audit-file-path={self.audit_log_path}",
            "--character-set-server=utf8mb4",
        ]
        with (self.base_dir / "mariadbd.out").open("ab") as output:
            return subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=client_environment(),
                start_new_session=True,
            )

    def _is_ready(self) -> bool:
        """mariadbd writes `ready for connections.` once both the socket and the port listen."""
        return self.error_log_path.is_file() and "ready for connections" in self.error_log_path.read_text(
            errors="replace"
        )

    def _log_files(self) -> tuple[Path, ...]:
        """Captured stdout/stderr and the error log."""
        return (self.base_dir / "mariadbd.out", self.error_log_path)

    def run_statements(
        self, statements: Sequence[str], user: str | None, password: str = "", database: str = ""
    ) -> ClientResult:
        """Run `statements` in one connection: as `user` over TCP 127.0.0.1, or root over the socket."""
        command = [str(self.install.client), "--no-defaults", "--default-character-set=utf8mb4", "--batch"]
        # --comments: the client strips comments by default; --force: go on after a failing statement.
        command += ["--comments", "--force", "--skip-column-names", "--connect-timeout=10"]
        if user is None:
            command += ["--protocol=SOCKET", f"--socket={self.socket_path}", "--user=root"]
        else:
            command += ["--protocol=TCP", "--host=127.0.0.1", f"--port={self.port}", f"--user={user}"]
            command.append(f"--password={password}")
        if database:
            command.append(f"--database={database}")
        # One statement per delimiter so bodies with `;` (stored procedures) reach the server whole.
        if any("//" in statement for statement in statements):
            raise ValueError("MariaDB statements must not contain the client delimiter //")
        script = "DELIMITER //\n" + "".join(f"{statement}//\n" for statement in statements)
        result = _run(command, stdin=script)
        auth_failed = "ERROR 1045" in result.stderr
        errors = len(re.findall(r"^ERROR \d+", result.stderr, re.MULTILINE))
        return ClientResult(
            result.returncode, result.stdout, result.stderr, auth_failed, 0 if auth_failed else errors
        )


class PostgresServer(_Server):
    """A throwaway PostgreSQL with pgaudit, RDS-style logging to `log/postgresql.log`, scram on 127.0.0.1."""

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: disconnect clients, flush, exit

    def __init__(self, base_dir: Path, install: PostgresInstall | None = None) -> None:
        """Locate PostgreSQL now; as root the cluster runs as the `postgres` OS user (it refuses root)."""
        super().__init__(base_dir)
        self.install = install or find_postgres()
        self.os_user = "postgres" if os.geteuid() == 0 else None
        self.runtime_dir = base_dir / "postgres"
        self.log_path = base_dir / "postgresql.log"  # the copy made at exit; the live file is in the data dir

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.runtime_dir / "data"

    @property
    def live_log_path(self) -> Path:
        """The file the logging collector writes while the server runs."""
        return self.data_dir / "log" / "postgresql.log"

    def _bootstrap(self) -> None:
        """initdb as the server's OS user in a directory it owns (pytest's root tmp dirs are mode 0700)."""
        if self.os_user is not None:
            self.runtime_dir = Path(tempfile.mkdtemp(prefix="pgaudit-it-"))
            self._made_dirs.append(self.runtime_dir)
            owner = pwd.getpwnam(self.os_user)
            os.chown(self.runtime_dir, owner.pw_uid, owner.pw_gid)
        else:
            self.runtime_dir.mkdir(exist_ok=True)
        command = [str(self.install.bindir / "initdb"), f"--pgdata={self.data_dir}", "--username=postgres"]
        command += ["--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale"]
        command.append("--no-sync")
        result = _run(command, user=self.os_user)
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        # Only the superuser over the unix socket without a password; every TCP login needs scram.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n", encoding="utf-8"
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start postgres directly (no pg_ctl) so this process owns it and can always stop it."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.runtime_dir),
            "shared_preload_libraries": "pgaudit",
            "pgaudit.log": PGAUDIT_LOG_CLASSES,
            "log_connections": "on",
            "log_disconnections": "on",
            "log_line_prefix": RDS_LOG_LINE_PREFIX,
            "log_destination": "stderr",
            "logging_collector": "on",
            "log_directory": "log",
            "log_filename": "postgresql.log",
            "log_rotation_age": "0",
            "log_rotation_size": "0",
            "log_timezone": "UTC",
            "timezone": "UTC",
            "lc_messages": "C",
            "password_encryption": "scram-sha-256",
            "ssl": "off",
            "fsync": "off",  # a throwaway cluster: durability only costs time
            "max_connections": "20",
            "shared_buffers": "16MB",
        }
        command = [str(self.install.bindir / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with (self.runtime_dir / "startup.log").open("ab") as output:
            return subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=client_environment(),
                cwd=self.runtime_dir,
                start_new_session=True,
                user=self.os_user,
                group=_primary_group(self.os_user),
                extra_groups=[] if self.os_user else None,
            )

    def _is_ready(self) -> bool:
        """postmaster.pid's 8th line says `ready` once connections are accepted (what pg_ctl -w reads)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _log_files(self) -> tuple[Path, ...]:
        """Output from before the logging collector started, and the server log."""
        return (self.runtime_dir / "startup.log", self.live_log_path)

    def _collect_logs(self) -> None:
        """Copy the server log next to the other test files before the data directory goes away."""
        if self.live_log_path.is_file():
            shutil.copyfile(self.live_log_path, self.log_path)

    def run_statements(
        self, statements: Sequence[str], user: str | None, password: str = "", database: str = ""
    ) -> ClientResult:
        """Run `statements` in one connection: as `user` over TCP 127.0.0.1, or postgres over the socket."""
        host = str(self.runtime_dir) if user is None else "127.0.0.1"
        conninfo = f"host={host} port={self.port} user={user or 'postgres'} dbname={database or 'postgres'}"
        conninfo += " sslmode=disable connect_timeout=10"
        # Each -c goes to the server verbatim as one simple query (multi-statement strings stay one query).
        command = [str(self.install.client), "--no-psqlrc", "--quiet", "--no-password", "--tuples-only"]
        command += ["--set=ON_ERROR_STOP=0", f"--dbname={conninfo}"]
        for statement in statements:
            command += ["--command", statement]
        result = _run(command, password=password)
        auth_failed = "authentication failed" in result.stderr
        errors = len(re.findall(r"^(?:psql:\S*: )?ERROR:", result.stderr, re.MULTILINE))
        return ClientResult(result.returncode, result.stdout, result.stderr, auth_failed, errors)
