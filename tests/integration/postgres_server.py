"""A throwaway PostgreSQL server with pgaudit and RDS-style logging on 127.0.0.1, for integration tests."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .server_process import (
    ClientResult,
    ServerNotInstalledError,
    ServerProcess,
    ServerStartError,
    client_environment,
    find_executable,
    primary_group,
    run_command,
)

# Why not `all`: READ audits every SELECT (application reads, psql/driver catalog queries), FUNCTION every
# function call, MISC e.g. VACUUM/CHECKPOINT/DISCARD — volume no rule reads. DDL (DROP/CREATE/ALTER), ROLE
# (GRANT, CREATE/ALTER ROLE), WRITE (INSERT/UPDATE/DELETE/TRUNCATE) and MISC_SET (SET log_statement …) are
# what the rules alert on.
PGAUDIT_LOG_CLASSES = "ddl,role,write,misc_set"
RDS_LOG_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"  # the RDS/Aurora default, which cannot be changed there


@dataclass(frozen=True, slots=True)
class PostgresInstall:
    """Paths of an installed PostgreSQL server whose lib dir holds pgaudit, and of psql."""

    bindir: Path
    client: Path


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
            client = bindir / "psql" if (bindir / "psql").is_file() else find_executable(("psql",), "psql")
            return PostgresInstall(bindir=bindir, client=client)
    searched = ", ".join(str(b.parent / "lib") for b in sorted(bindirs))
    raise ServerNotInstalledError(f"pgaudit not installed: no pgaudit.so in {searched}")


class PostgresServer(ServerProcess):
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
        result = run_command(command, user=self.os_user)
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
                group=primary_group(self.os_user),
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
        result = run_command(command, password=password)
        auth_failed = "authentication failed" in result.stderr
        errors = len(re.findall(r"^(?:psql:\S*: )?ERROR:", result.stderr, re.MULTILINE))
        return ClientResult(result.returncode, result.stdout, result.stderr, auth_failed, errors)
