"""The demo's Slack receiver, over real HTTP: accepts what Slack accepts, refuses Block Kit breaches."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from handlers.demo_slack import WEBHOOK_PATH, SlackReceiver, block_kit_problems
from notifiers.slack_render import render_slack_message
from tests.functional.slack_server import representative_alert


def _plain(text: str) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text}


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[SlackReceiver]:
    """A receiver serving on a free loopback port."""
    receiver = SlackReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def _post(url: str, payload: object) -> tuple[int, str]:
    """POST JSON; the status and body Slack answered (no proxy: the receiver is local)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_projects_own_messages_are_acceptable() -> None:
    """GIVEN a message the Slack renderer made WHEN checked THEN Slack's limits hold."""
    assert block_kit_problems(render_slack_message(representative_alert())) == []


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ([{"type": "section", "fields": [_plain(str(n)) for n in range(11)]}], "11 fields"),
        ([{"type": "header", "text": _plain("h" * 151)}], "header text has 151 characters"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}], "section text has 3001"),
        ([{"type": "divider"}] * 51, "51 blocks"),
        ([{"type": "section"}], "neither text nor fields"),
    ],
    ids=["fields", "header", "section-text", "blocks", "empty-section"],
)
def test_payloads_past_block_kit_limits_are_refused(blocks: list[dict[str, Any]], problem: str) -> None:
    """GIVEN a payload past one of Slack's limits WHEN checked THEN the problem is named."""
    problems = block_kit_problems({"text": "fallback", "blocks": blocks})
    assert any(problem in text for text in problems), problems


def test_limits_themselves_are_allowed() -> None:
    """GIVEN exactly 10 fields, a 150-character header, 3000 characters of text, 50 blocks THEN accepted."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain("h" * 150)},
        {"type": "section", "fields": [_plain(str(n)) for n in range(10)]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}},
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    assert block_kit_problems({"text": "t", "blocks": blocks}) == []


def test_receiver_answers_like_slack_and_keeps_only_what_it_accepted(receiver: SlackReceiver) -> None:
    """GIVEN the receiver WHEN a good, a bad and a misaddressed message arrive THEN 200, 400, 404."""
    good = render_slack_message(representative_alert())
    assert _post(receiver.webhook_url, good) == (200, "ok")
    status, body = _post(receiver.webhook_url, {"blocks": [{"type": "header", "text": _plain("x" * 200)}]})
    assert status == 400
    assert body.startswith("invalid_blocks")
    assert _post(receiver.webhook_url.replace(WEBHOOK_PATH, "/services/other"), good)[0] == 404
    assert receiver.taken_since(0) == [good]
    assert receiver.taken_since(1) == []
    assert len(receiver.refused) == 1


def test_receiver_refuses_what_is_not_json(receiver: SlackReceiver) -> None:
    """GIVEN a body that is not JSON WHEN posted THEN 400 invalid_payload."""
    request = urllib.request.Request(receiver.webhook_url, data=b"{not json", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as raised:
        opener.open(request, timeout=5)
    assert raised.value.code == 400
    assert receiver.taken_since(0) == []
