"""What the demo shows: each email as read from the mailbox, each Slack message as it renders, the summary.

Emails come from the SQS queue subscribed to the topic (SNS JSON envelopes: subject, message, message
attributes — read generically, so new attributes such as `count` show up as they are added); Slack
messages from the local receiver. Each delivered alert is also one flat record (channel, rule,
source, user, count, subject or text) for `--json`: rule from the `rule` attribute or the rendered
`Rule:` field, the rest from the rendered fields, so the messages themselves carry nothing extra.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_LABELLED = re.compile(r"^(?P<label>[A-Za-z][A-Za-z /()]*?):\s+(?P<value>.*)$")
_LEADING_NUMBER = re.compile(r"\s*(\d+)\b")
_TIMES_MET = re.compile(r"\bmet (\d+) times\b")
_SLACK_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
RULE = "─" * 78


@dataclass(frozen=True, slots=True)
class Email:
    """One message as the mailbox received it from SNS."""

    subject: str
    body: str
    attributes: Mapping[str, str]


def drain_mailbox(sqs: SQSClient, queue_url: str) -> list[Email]:
    """Receive and delete every message waiting in the mailbox queue, oldest first."""
    emails: list[Email] = []
    while True:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        if not messages:
            return emails
        for message in messages:
            envelope = json.loads(message["Body"])
            attributes = {
                str(name): str(value.get("Value", ""))
                for name, value in envelope.get("MessageAttributes", {}).items()
                if isinstance(value, Mapping)
            }
            emails.append(Email(envelope.get("Subject", ""), envelope.get("Message", ""), attributes))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _labelled_lines(lines: Iterable[str]) -> dict[str, str]:
    """'Label: value' lines as a dict (first occurrence of each label wins)."""
    found: dict[str, str] = {}
    for line in lines:
        match = _LABELLED.match(line.strip())
        if match and match["label"] not in found:
            found[match["label"]] = match["value"].strip()
    return found


def count_of(text: str) -> int:
    """A rendered count as a number: '8 failed logins …', '2 (3 more since …)', 'threshold met 4 times …'.

    'threshold met once …' and anything unrecognised count 1 (an alert stands for at least one match).
    """
    match = _LEADING_NUMBER.match(text) or _TIMES_MET.search(text)
    return int(match.group(1)) if match else 1


def email_record(email: Email) -> dict[str, Any]:
    """The --json record of an email."""
    fields = _labelled_lines(email.body.splitlines())
    rule = email.attributes.get("rule") or _rule_from_severity(fields.get("Severity", ""))
    count_text = email.attributes.get("count") or fields.get("Count", "")
    return {
        "channel": "email",
        "rule": rule,
        "source": fields.get("Source", "").split(" ", 1)[0],
        "user": fields.get("User", ""),
        "count": count_of(count_text),
        "severity": email.attributes.get("severity", ""),
        "subject": email.subject,
    }


def _rule_from_severity(text: str) -> str:
    """'HIGH (rule brute-force)' → 'brute-force'."""
    match = re.search(r"\(rule ([^)]+)\)", text)
    return match.group(1) if match else ""


def _slack_texts(payload: Mapping[str, Any]) -> list[str]:
    """Every text of a Slack message's blocks, in order (fields and context elements one by one)."""
    texts: list[str] = []
    for block in payload.get("blocks", []):
        if isinstance(block.get("text"), Mapping):
            texts.append(str(block["text"].get("text", "")))
        texts.extend(
            str(item.get("text", "")) for item in block.get("fields", []) + block.get("elements", [])
        )
    return texts


def slack_record(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The --json record of a Slack message, read from its rendered fields."""
    fields = _labelled_lines(_slack_texts(payload))
    return {
        "channel": "slack",
        "rule": fields.get("Rule", ""),
        "source": fields.get("Source", "").split(" ", 1)[0],
        "user": fields.get("User", ""),
        "count": count_of(fields.get("Count", "")),
        "severity": fields.get("Severity", "").lower(),
        "text": str(payload.get("text", "")),
    }


def render_email(email: Email) -> str:
    """An email as its reader sees it: subject, the SNS message attributes, the body."""
    attributes = ", ".join(f"{name}={value}" for name, value in sorted(email.attributes.items()))
    body = "\n".join(f"    {line}" if line else "" for line in email.body.splitlines())
    return f"EMAIL  Subject: {email.subject}\n       Attributes: {attributes}\n\n{body}\n"


def _mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn as it reads: links as their label, escapes undone."""
    text = _SLACK_LINK.sub(r"\2", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_slack(payload: Mapping[str, Any]) -> str:
    """A Slack message as it renders: header, the fields two to a line, code, context, in a box."""
    lines: list[str] = []
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            lines.append(f"*{_mrkdwn_to_text(str(block['text'].get('text', '')))}*")
        elif kind == "section":
            fields = [_mrkdwn_to_text(str(item.get("text", ""))) for item in block.get("fields", [])]
            lines.extend(
                f"{fields[index]:<38} {fields[index + 1] if index + 1 < len(fields) else ''}".rstrip()
                for index in range(0, len(fields), 2)
            )
            if isinstance(block.get("text"), Mapping):
                text = _mrkdwn_to_text(str(block["text"].get("text", "")))
                lines.extend(f"  {line}" for line in text.replace("```", "").strip("\n").splitlines())
        elif kind == "context":
            parts = [_mrkdwn_to_text(str(item.get("text", ""))) for item in block.get("elements", [])]
            lines.append(" · ".join(parts))
    boxed = "\n".join(f"  │ {line}" for line in lines)
    blocks = len(payload.get("blocks", []))
    return f"SLACK  (Block Kit, {blocks} blocks)\n  ┌{RULE[:60]}\n{boxed}\n  └{RULE[:60]}\n"


@dataclass(frozen=True, slots=True)
class SummaryCounts:
    """What the summary table reports besides the alerts themselves."""

    kms_calls: Mapping[str, int]
    state_items: Mapping[str, int]
    invocations: Mapping[str, int]


def render_summary(records: Sequence[Mapping[str, Any]], counts: SummaryCounts) -> str:
    """Alerts per rule and channel, then KMS calls, state-table items and handler invocations."""
    per_rule: dict[str, Counter[str]] = {}
    for record in records:
        per_rule.setdefault(str(record["rule"]), Counter())[str(record["channel"])] += 1
    lines = ["Alerts delivered", f"  {'rule':<24} {'email':>6} {'slack':>6}"]
    for rule in sorted(per_rule):
        lines.append(f"  {rule:<24} {per_rule[rule]['email']:>6} {per_rule[rule]['slack']:>6}")
    total = Counter(str(record["channel"]) for record in records)
    lines.append(f"  {'total':<24} {total['email']:>6} {total['slack']:>6}")
    lines.append("KMS calls")
    lines.extend(f"  {name:<31} {number:>6}" for name, number in sorted(counts.kms_calls.items()))
    lines.append("State table items (by kind)")
    lines.extend(f"  {name:<31} {number:>6}" for name, number in sorted(counts.state_items.items()))
    lines.append("Handler invocations")
    lines.extend(f"  {name:<31} {number:>6}" for name, number in sorted(counts.invocations.items()))
    return "\n".join(lines) + "\n"
