"""`audit-alerts posture`: is auditing on for every Aurora cluster and RDS instance; --fix turns it on."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.attach_command import aws_error_line, destination_arn
from handlers.record_output import print_records
from infra.posture import CheckResult, Resource, Status, check_posture
from infra.posture_fixes import FixTargets, apply_fix
from infra.subscriptions import LOGS_CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rds import RDSClient

COLUMNS = ("resource", "check", "status", "reason")
CHECKS = ("log_export", "audit_settings", "activity_stream", "subscription_filter")
EXIT_FAILED = 1
EXIT_AWS_ERROR = 2


def add_parser(commands: Any) -> None:
    """Register `posture` on the CLI's subcommands."""
    posture = commands.add_parser("posture", help="check that auditing is on and reaches the pipeline")
    posture.add_argument(
        "--region", action="extend", nargs="+", metavar="R", help="region to check, repeatable"
    )
    posture.add_argument("--json", action="store_true", help="one JSON object per check and line")
    posture.add_argument(
        "--skip", action="extend", nargs="+", default=[], choices=CHECKS, help="leave a check out"
    )
    posture.add_argument("--fix", action="store_true", help="show the changes that fix failures, then apply")
    posture.add_argument("--yes", action="store_true", help="apply --fix without asking")
    posture.add_argument("--kms-key-id", metavar="KEY", help="KMS key to start activity streams with (--fix)")
    posture.add_argument(
        "--destination", type=destination_arn, metavar="ARN", help="subscription destination for --fix"
    )
    posture.add_argument("--role-arn", metavar="ARN", help="role for a Kinesis destination (--fix)")


def _clients(region: str | None) -> tuple[RDSClient, CloudWatchLogsClient]:
    """RDS and CloudWatch Logs clients for a region, from the standard AWS environment."""
    session = boto3.Session()
    rds: RDSClient = session.client("rds", region_name=region, config=LOGS_CLIENT_CONFIG)
    logs: CloudWatchLogsClient = session.client("logs", region_name=region, config=LOGS_CLIENT_CONFIG)
    return rds, logs


def _confirm(count: int, err: TextIO) -> bool:
    """Ask on the terminal whether to apply; a non-interactive run never says yes by itself."""
    if not sys.stdin.isatty():
        print("audit-alerts: not applied: no terminal to ask on (use --yes)", file=err)
        return False
    print(f"Apply {count} change(s)? [y/N] ", end="", file=err, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


Found = tuple[str | None, Resource, CheckResult]


def _check(args: argparse.Namespace) -> list[Found]:
    """Every check of every region asked for."""
    found: list[Found] = []
    for region in args.region or [None]:
        rds, logs = _clients(region)
        for resource, result in check_posture(
            rds, logs, destination_arn=args.destination, kms_key_id=args.kms_key_id
        ):
            if result.check not in args.skip:
                found.append((region, resource, result))
    return found


def _fix(args: argparse.Namespace, found: list[Found], out: TextIO, err: TextIO) -> bool:
    """Show the plan, ask unless --yes, apply; True when every failure got a fix that worked."""
    failures = [(region, resource, r) for region, resource, r in found if r.status is Status.FAIL]
    fixable = [(region, resource, r.fix) for region, resource, r in failures if r.fix is not None]
    stream = err if args.json else out
    print("Plan:" if fixable else "Nothing to fix automatically.", file=stream)
    for _region, resource, fix in fixable:
        print(f"  {resource.name}: {fix.description}", file=stream)
    for _region, resource, result in failures:
        if result.fix is None:
            print(f"  {resource.name}: cannot fix {result.check} automatically: {result.reason}", file=stream)
    if not fixable or not (args.yes or _confirm(len(fixable), err)):
        return False
    targets = FixTargets(args.destination, args.role_arn)
    all_ok = len(fixable) == len(failures)
    for region, resource, fix in fixable:
        rds, logs = _clients(region)
        outcome = apply_fix(rds, logs, resource, fix, targets)
        mark = "fixed" if outcome.ok else f"failed ({outcome.error})"
        print(f"{mark}: {resource.name}: {fix.description}", file=stream)
        all_ok = all_ok and outcome.ok
    return all_ok


def _named(found: list[Found], several: bool) -> list[dict[str, str]]:
    """Report records, the resource prefixed with its region when several regions were asked for."""
    records = []
    for region, _resource, result in found:
        record = result.as_record()
        if several and region:
            record["resource"] = f"{region}/{record['resource']}"
        records.append(record)
    return records


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check (and with --fix repair) posture; 1 when a check failed and was not fixed."""
    try:
        found = _check(args)
        print_records(_named(found, len(args.region or []) > 1), COLUMNS, out, as_json=args.json)
        if not found:
            print("No Aurora cluster or RDS instance of an audited engine found.", file=err)
        failed = any(result.status is Status.FAIL for _r, _res, result in found)
        if failed and args.fix:
            return 0 if _fix(args, found, out, err) else EXIT_FAILED
    except (BotoCoreError, ClientError) as exc:
        print(aws_error_line(exc), file=err)
        return EXIT_AWS_ERROR
    return EXIT_FAILED if failed else 0
