"""The demo's Slack: a local incoming-webhook receiver that refuses what real Slack would refuse.

It listens on 127.0.0.1 (a free port), accepts JSON POSTs on its webhook path, checks the Block Kit
limits Slack enforces (FORMATS 6.2: ≤ 50 blocks, header ≤ 150 characters, section text ≤ 3000, ≤ 10
fields per section) and answers like Slack: `200 ok`, or `400 invalid_blocks` with the reason.
Accepted messages are kept in arrival order for the demo to show.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BLOCKS = 50
HEADER_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
MAX_FIELDS = 10
FIELD_LIMIT = 2000
WEBHOOK_PATH = "/services/TDEMO0000/BDEMO0000/demo-webhook-not-a-secret"
_MAX_BODY_BYTES = 1024 * 1024


def block_kit_problems(payload: object) -> list[str]:
    """What makes a webhook payload unacceptable to Slack (empty: Slack would post it)."""
    if not isinstance(payload, Mapping):
        return ["payload is not a JSON object"]
    problems: list[str] = []
    blocks = payload.get("blocks", [])
    if not isinstance(payload.get("text", ""), str):
        problems.append("text is not a string")
    if not isinstance(blocks, list):
        return [*problems, "blocks is not a list"]
    if not blocks and not payload.get("text"):
        problems.append("no text and no blocks")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (at most {MAX_BLOCKS})")
    for index, block in enumerate(blocks):
        problems.extend(f"block {index}: {problem}" for problem in _block_problems(block))
    return problems


def _block_problems(block: object) -> list[str]:
    """The limit violations of one block."""
    if not isinstance(block, Mapping):
        return ["not an object"]
    kind = block.get("type")
    problems: list[str] = []
    if kind == "header":
        text = _text_of(block.get("text"))
        if len(text) > HEADER_LIMIT:
            problems.append(f"header text has {len(text)} characters (at most {HEADER_LIMIT})")
    elif kind == "section":
        text = _text_of(block.get("text"))
        if len(text) > SECTION_TEXT_LIMIT:
            problems.append(f"section text has {len(text)} characters (at most {SECTION_TEXT_LIMIT})")
        fields = block.get("fields", [])
        if not isinstance(fields, list):
            problems.append("fields is not a list")
        else:
            if len(fields) > MAX_FIELDS:
                problems.append(f"section has {len(fields)} fields (at most {MAX_FIELDS})")
            problems.extend(
                f"field {number} has more than {FIELD_LIMIT} characters"
                for number, field in enumerate(fields)
                if len(_text_of(field)) > FIELD_LIMIT
            )
        if not text and not fields:
            problems.append("section has neither text nor fields")
    elif kind not in {"context", "divider", "actions", "image", "rich_text"}:
        problems.append(f"unknown block type {kind!r}")
    return problems


def _text_of(obj: object) -> str:
    """The `text` of a text object ('' when absent)."""
    if isinstance(obj, Mapping):
        text = obj.get("text", "")
        return text if isinstance(text, str) else ""
    return ""


class SlackReceiver:
    """An HTTP server on 127.0.0.1 playing Slack's incoming webhook; keeps what it accepted."""

    def __init__(self) -> None:
        """Bind a free loopback port (not serving yet)."""
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[list[str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def webhook_url(self) -> str:
        """The incoming-webhook URL to put in the Slack secret."""
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-slack", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def taken_since(self, index: int) -> list[dict[str, Any]]:
        """The accepted messages from position `index` on."""
        with self._lock:
            return list(self.accepted[index:])

    def _receive(self, path: str, body: bytes) -> tuple[int, str]:
        """Check one POST; the HTTP status and body Slack would answer."""
        if path != WEBHOOK_PATH:
            return 404, "no_service"
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, "invalid_payload"
        problems = block_kit_problems(payload)
        with self._lock:
            if problems:
                self.refused.append(problems)
                return 400, "invalid_blocks: " + "; ".join(problems)
            self.accepted.append(payload)
        return 200, "ok"


def _handler_class(receiver: SlackReceiver) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `receiver`."""

    class _Handler(BaseHTTPRequestHandler):
        """Answers POSTs as Slack's webhook does; quiet (no access log on stderr)."""

        def do_POST(self) -> None:
            """Read the JSON body and answer."""
            length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY_BYTES)
            status, text = receiver._receive(self.path, self.rfile.read(length))
            body = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the demo's output clean."""

    return _Handler
