"""`audit-alerts attach`: put our subscription filter on the selected audit log groups (or take it off)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.record_output import print_records
from infra.log_selection import DEFAULT_LOG_GROUP_PATTERNS, LogGroupSelection
from infra.subscriptions import LOGS_CLIENT_CONFIG, apply_subscriptions, plan_subscriptions

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

COLUMNS = ("action", "log_group", "reason")
EXIT_FAILED = 1
EXIT_AWS_ERROR = 2


def destination_arn(text: str) -> str:
    """A Lambda function or Kinesis stream ARN."""
    if not text.startswith("arn:") or text.split(":")[2:3] not in (["lambda"], ["kinesis"]):
        raise argparse.ArgumentTypeError(f"not a Lambda function or Kinesis stream ARN: {text!r}")
    return text


def _tag(text: str) -> tuple[str, str]:
    """KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    return key, value


def add_parser(commands: Any) -> None:
    """Register `attach` on the CLI's subcommands."""
    attach = commands.add_parser(
        "attach", help="attach our subscription filter to the audit log groups (idempotent)"
    )
    attach.add_argument(
        "--destination",
        required=True,
        type=destination_arn,
        metavar="ARN",
        help="the Lambda function or Kinesis stream (the stack's SubscriptionFilterDestinationArn output)",
    )
    attach.add_argument("--role-arn", metavar="ARN", help="role CloudWatch Logs assumes (Kinesis only)")
    attach.add_argument(
        "--pattern",
        action="extend",
        nargs="+",
        metavar="GLOB",
        help=f"log-group name glob, repeatable (default: {' '.join(DEFAULT_LOG_GROUP_PATTERNS)})",
    )
    attach.add_argument(
        "--include-prefix", action="extend", nargs="+", default=[], metavar="P", help="only these"
    )
    attach.add_argument(
        "--exclude-prefix", action="extend", nargs="+", default=[], metavar="P", help="never these"
    )
    attach.add_argument(
        "--tag",
        action="extend",
        nargs="+",
        default=[],
        type=_tag,
        metavar="KEY=VALUE",
        help="only groups so tagged",
    )
    attach.add_argument(
        "--all-events", action="store_true", help="forward every event (empty pattern), not the dialect's"
    )
    attach.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    attach.add_argument("--detach", action="store_true", help="remove our filter (only ours)")
    attach.add_argument("--json", action="store_true", help="one JSON object per log group and line")


def selection_from(args: argparse.Namespace) -> LogGroupSelection:
    """The log-group selection the arguments describe."""
    return LogGroupSelection(
        patterns=tuple(args.pattern or DEFAULT_LOG_GROUP_PATTERNS),
        include_prefixes=tuple(args.include_prefix),
        exclude_prefixes=tuple(args.exclude_prefix),
        tags=dict(args.tag),
        all_events=args.all_events,
    )


def logs_client() -> CloudWatchLogsClient:
    """A CloudWatch Logs client from the standard AWS environment (profile, region, AWS_ENDPOINT_URL)."""
    client: CloudWatchLogsClient = boto3.Session().client("logs", config=LOGS_CLIENT_CONFIG)
    return client


def aws_error_line(exc: BotoCoreError | ClientError) -> str:
    """One line for an AWS failure that stops a whole command (no credentials, region, access)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"audit-alerts: error: {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    return f"audit-alerts: error: {exc}"


def run(
    args: argparse.Namespace, out: TextIO, err: TextIO, client: CloudWatchLogsClient | None = None
) -> int:
    """Plan, then apply unless --dry-run; 0 when every change took effect, 1 when one failed."""
    try:
        client = client or logs_client()
        plan = plan_subscriptions(
            client, args.destination, selection_from(args), args.role_arn, detach=args.detach
        )
        results = None if args.dry_run else apply_subscriptions(client, plan)
    except (BotoCoreError, ClientError) as exc:
        print(aws_error_line(exc), file=err)
        return EXIT_AWS_ERROR
    records = [c.as_record() for c in plan] if results is None else [r.as_record() for r in results]
    print_records(records, COLUMNS, out, as_json=args.json)
    failed = 0 if results is None else sum(not r.ok for r in results)
    counts = Counter(record["action"] for record in records)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no log group selected"
    suffix = " (dry run: nothing changed)" if args.dry_run else (f", {failed} failed" if failed else "")
    print(f"{summary}{suffix}", file=err if args.json else out)
    return EXIT_FAILED if failed else 0
