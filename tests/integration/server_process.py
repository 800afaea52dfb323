"""What every throwaway test database server shares: errors, client results, commands, ports, readiness."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
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


def find_executable(names: Sequence[str], what: str, extra_dirs: Sequence[str] = ()) -> Path:
    """Return the first of `names` on PATH or in `extra_dirs` (sbin is off PATH for non-root), else raise."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs])
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return Path(found)
    raise ServerNotInstalledError(f"{what} not installed: none of {', '.join(names)} found")


def run_command(
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
        group=primary_group(user),
        extra_groups=[] if user else None,
        cwd="/" if user else None,
    )


def primary_group(user: str | None) -> int | None:
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


class ServerProcess(ABC):
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

    @abstractmethod
    def _bootstrap(self) -> None:
        """Create the data directory."""
        ...

    @abstractmethod
    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start the server process on `self.port`."""
        ...

    @abstractmethod
    def _is_ready(self) -> bool:
        """Whether the server accepts connections, without connecting (a probe would be audited)."""
        ...

    def _logs(self) -> str:
        """The tail of the server's own logs."""
        return log_tail(*self._log_files())

    @abstractmethod
    def _log_files(self) -> tuple[Path, ...]:
        """The server's own logs, most useful last."""
        ...

    def _collect_logs(self) -> None:  # noqa: B027 - optional hook; most servers log inside base_dir
        """Copy logs that live outside `base_dir` into it after the server stopped."""
