"""Run `audit-alerts demo` as a user does — a separate process — and read what it printed and left behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_SECONDS = 120  # the demo takes seconds; this only stops a hung run from hanging the suite
_PORTS = re.compile(r"http://127\.0\.0\.1:(\d+)|127\.0\.0\.1:(\d+)")


@dataclass(frozen=True, slots=True)
class DemoRun:
    """A finished demo process: exit code and everything it printed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together (what a terminal shows)."""
        return self.stdout + self.stderr


def demo_command(*args: str) -> list[str]:
    """The command line of `audit-alerts demo ARGS` with this tree's code."""
    return [sys.executable, "-m", "handlers.cli", "demo", *args]


def demo_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a user's shell, this tree first on the path, no AWS account configured."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "ALERTS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run_demo(*args: str, extra_env: dict[str, str] | None = None) -> DemoRun:
    """Run the demo to completion (`extra_env` added to the user's environment)."""
    done = subprocess.run(
        demo_command(*args),
        cwd=ROOT,
        env=demo_environment(extra_env),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
        check=False,
    )
    return DemoRun(done.returncode, done.stdout, done.stderr)


def run_demo_until(
    marker: str, stop: signal.Signals, *args: str, before_stop: Callable[[str], None] = lambda _seen: None
) -> tuple[DemoRun, str]:
    """Start the demo, send `stop` once a stdout line contains `marker`; the run and the output before it.

    `before_stop` is called with the output so far, while the demo still runs.
    """
    process = subprocess.Popen(
        demo_command(*args),
        cwd=ROOT,
        env=demo_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                break
        before_stop("".join(seen))
        process.send_signal(stop)
        rest, stderr = process.communicate(timeout=DEMO_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return DemoRun(process.returncode, "".join(seen) + rest, stderr), "".join(seen)


def announced_ports(output: str) -> set[int]:
    """Every loopback port the demo's output names (the emulator's and the Slack receiver's)."""
    return {int(first or second) for first, second in _PORTS.findall(output)}


def is_listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0
