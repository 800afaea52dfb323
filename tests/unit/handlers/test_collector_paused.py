"""The cyclic collector is paused for one payload's parse and detection, and restored as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from handlers.invocation import collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    """Whatever a test does, the collector runs again after it."""
    yield
    gc.enable()


def test_the_collector_is_paused_inside_and_running_after() -> None:
    # GIVEN a running collector
    gc.enable()
    # WHEN a payload is processed
    with collector_paused():
        inside = gc.isenabled()
    # THEN it was paused meanwhile and runs again
    assert (inside, gc.isenabled()) == (False, True)


def test_the_collector_runs_again_when_the_payload_fails() -> None:
    # GIVEN a running collector
    gc.enable()
    # WHEN processing a payload raises (a state store error, say)
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("state store unavailable")
    # THEN the collector runs again
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_embedding_program_stays_off() -> None:
    # GIVEN a program that runs without the cyclic collector
    gc.disable()
    # WHEN a payload is processed
    with collector_paused():
        inside = gc.isenabled()
    # THEN it stays off throughout: not turned on behind the program's back
    assert (inside, gc.isenabled()) == (False, False)
