"""A throwaway MariaDB server with the server_audit plugin on 127.0.0.1, for integration tests."""

from __future__ import annotations

import os
import re
import subprocess
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
    run_command,
)


@dataclass(frozen=True, slots=True)
class MariaDbInstall:
    """Paths of an installed MariaDB server, its bootstrap tool, its client and its plugin directory."""

    server: Path
    install_db: Path
    client: Path
    plugin_dir: Path


def find_mariadb() -> MariaDbInstall:
    """Locate mariadbd, mariadb-install-db, the mariadb client and the server_audit plugin."""
    sbin = ("/usr/sbin", "/usr/libexec", "/usr/local/sbin")
    server = find_executable(("mariadbd", "mysqld"), "MariaDB server", sbin)
    install_db = find_executable(("mariadb-install-db", "mysql_install_db"), "MariaDB bootstrap tool", sbin)
    client = find_executable(("mariadb", "mysql"), "MariaDB client")
    help_text = run_command([str(server), "--no-defaults", "--verbose", "--help"]).stdout
    match = re.search(r"^plugin-dir\s+(\S+)", help_text, re.MULTILINE)
    if match is None:
        raise ServerNotInstalledError(f"cannot read plugin-dir from `{server} --verbose --help`")
    plugin_dir = Path(match.group(1))
    if not (plugin_dir / "server_audit.so").is_file():
        raise ServerNotInstalledError(
            f"MariaDB server_audit plugin not installed: no {plugin_dir}/server_audit.so"
        )
    return MariaDbInstall(server=server, install_db=install_db, client=client, plugin_dir=plugin_dir)


class MariaDbServer(ServerProcess):
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
        result = run_command(command)
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
        result = run_command(command, stdin=script)
        auth_failed = "ERROR 1045" in result.stderr
        errors = len(re.findall(r"^ERROR \d+", result.stderr, re.MULTILINE))
        return ClientResult(
            result.returncode, result.stdout, result.stderr, auth_failed, 0 if auth_failed else errors
        )
