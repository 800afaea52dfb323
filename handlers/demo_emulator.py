"""The demo's local world: moto's ThreadedMotoServer and the Slack receiver on 127.0.0.1, stopped on exit.

Both run in this process on free loopback ports. They stop when the block ends — normally, on an
error, on Ctrl-C (KeyboardInterrupt) and on SIGTERM (turned into KeyboardInterrupt while the demo
runs) — and the ports are free again afterwards.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from handlers.demo_slack import SlackReceiver

_QUIET_LOGGERS = ("werkzeug", "moto", "botocore.credentials")


class EmulatorUnavailableError(RuntimeError):
    """moto's server is not installed (the message says how to install it)."""


@dataclass(frozen=True, slots=True)
class Emulator:
    """The running emulator endpoint and the Slack receiver."""

    endpoint: str
    slack: SlackReceiver


def _moto_server_class() -> Any:
    """moto's ThreadedMotoServer, or a one-line error saying how to get it."""
    try:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only the demo needs moto
    except ImportError as exc:
        raise EmulatorUnavailableError(
            "the demo needs moto's server: pip install 'aurora-audit-alerts[demo]' (or run ./scripts/demo)"
        ) from exc
    return ThreadedMotoServer


def _reset(endpoint: str) -> None:
    """Forget every resource the in-process moto backends hold (a clean account per run)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback server
        json.loads(response.read() or b"{}")


@contextmanager
def running_emulator() -> Iterator[Emulator]:
    """Start moto and the Slack receiver on free 127.0.0.1 ports; stop both however the block ends."""
    server_class = _moto_server_class()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    moto = server_class(ip_address="127.0.0.1", port=0, verbose=False)
    slack = SlackReceiver()
    started = False
    try:
        moto.start()
        started = True
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        _reset(endpoint)
        slack.start()
        yield Emulator(endpoint, slack)
    finally:
        slack.stop()
        if started:
            moto.stop()


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises KeyboardInterrupt (so cleanup runs as on Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        """Stop the demo as Ctrl-C would."""
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
