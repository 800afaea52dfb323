"""`audit-alerts demo --keep` and interruptions: up until Ctrl-C, and every stop frees the ports."""

from __future__ import annotations

import signal

import pytest

from handlers.demo_run import KEEP_PROMPT
from tests.functional.demo_process import announced_ports, is_listening, run_demo_until


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_keep_leaves_the_emulator_up_until_stopped(stop: signal.Signals) -> None:
    """GIVEN --keep WHEN the demo has played THEN the emulator answers until Ctrl-C / SIGTERM only."""
    listening_while_kept: list[bool] = []

    def probe(seen: str) -> None:
        """While the demo waits for Ctrl-C: are its ports answering?"""
        listening_while_kept.extend(is_listening(port) for port in announced_ports(seen))

    run, before_stop = run_demo_until(KEEP_PROMPT, stop, "--keep", before_stop=probe)
    ports = announced_ports(before_stop)
    assert len(ports) == 2
    assert listening_while_kept == [True, True]
    # THEN it printed ready-to-paste commands against its endpoint
    assert "aws --endpoint-url http://127.0.0.1:" in run.stdout
    assert "logs describe-subscription-filters" in run.stdout
    # THEN the stop ended it cleanly and freed both ports
    assert run.returncode == 130
    assert "audit-alerts: interrupted" in run.stderr
    assert "Traceback" not in run.stderr
    assert not any(is_listening(port) for port in ports)


def test_sigterm_in_the_middle_of_the_scenario_stops_cleanly() -> None:
    """GIVEN a running demo WHEN SIGTERM arrives during the scenario THEN it stops and frees its ports."""
    run, before_stop = run_demo_until("[2/5]", signal.SIGTERM)
    ports = announced_ports(before_stop)
    assert len(ports) == 2
    assert run.returncode == 130
    assert "Traceback" not in run.stderr
    assert not any(is_listening(port) for port in ports)
