"""The `audit-alerts` command line: demo, replay logs, test rule files, attach filters, check posture."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn, TextIO

from detections.user_rules import RulesFileError
from handlers.attach_command import add_parser as add_attach_parser
from handlers.attach_command import run as run_attach
from handlers.demo import add_demo_parser, run_demo
from handlers.posture_command import add_parser as add_posture_parser
from handlers.posture_command import run as run_posture
from handlers.replay import ReplayOptions, run_replay
from handlers.replay_inputs import InputError
from handlers.rules_command import run_rules_test
from parsers.das_envelope import EnvelopeError, encryption_context
from parsers.event import Source

EXIT_USAGE = 2
FORMATS = ("auto", Source.AURORA_MYSQL.value, Source.MYSQL_AUDIT.value, Source.POSTGRES.value)


class UsageError(Exception):
    """A bad command line; the message is the one line shown to the user."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        """Raise the one-line message for main() to print."""
        raise UsageError(f"{self.prog}: error: {message}")


def _positive_minutes(text: str) -> float:
    """A suppression window in minutes (> 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _resource_id(text: str) -> str:
    """An activity stream's resource id: cluster-… (Aurora) or db-… (RDS instance)."""
    try:
        encryption_context(text)
    except EnvelopeError:
        raise argparse.ArgumentTypeError(f"not a resource id (cluster-… or db-…): {text!r}") from None
    return text


def _endpoint_url(text: str) -> str:
    """An http(s) URL."""
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="audit-alerts", description="Turn Aurora / RDS database audit logs into alerts.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    replay = commands.add_parser("replay", help="run the detection pipeline over log files")
    replay.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log files, CloudWatch/DAS JSON (Lambda events, get-records output), or directories",
    )
    replay.add_argument("--format", choices=FORMATS, default="auto", help="force the dialect of text logs")
    replay.add_argument("--rules", metavar="FILE", help="a YAML file of user rules and tuning")
    replay.add_argument(
        "--json", action="store_true", help="print one JSON object per line (summary to stderr)"
    )
    replay.add_argument(
        "--findings", action="store_true", help="every (event, rule) match before noise control"
    )
    replay.add_argument(
        "--suppression-minutes",
        type=_positive_minutes,
        metavar="MIN",
        help="noise-control window (default 5, or the rules file's setting)",
    )
    replay.add_argument(
        "--rejects", metavar="FILE", help="write unparsable records (raw) to FILE as JSON lines"
    )
    replay.add_argument(
        "--resource-id",
        type=_resource_id,
        metavar="ID",
        help="resource id (cluster-… or db-…) of encrypted activity-stream records whose file names no "
        "stream, e.g. `aws kinesis get-records` output",
    )
    replay.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        metavar="URL",
        help="KMS endpoint for decrypting activity-stream records (default: AWS; e.g. a local emulator)",
    )
    progress = replay.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="report progress on stderr (default: only for inputs over 20 MB)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    replay.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each unparsable record (location and reason) on stderr",
    )
    rules = commands.add_parser("rules", help="work with rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    test = rules_commands.add_parser("test", help="run the inline test cases of a rules file")
    test.add_argument("file", metavar="FILE")
    add_demo_parser(commands)
    add_attach_parser(commands)
    add_posture_parser(commands)
    return parser


@contextmanager
def _logging_to(err: TextIO, *, verbose: bool) -> Iterator[None]:
    """Send log records to `err` while a command runs: errors only, or warnings too with --verbose."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("audit-alerts: %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING if verbose else logging.ERROR)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(min(previous or logging.WARNING, handler.level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Dispatch a parsed command line."""
    if args.command == "replay":
        options = ReplayOptions(
            paths=args.paths,
            forced_format=None if args.format == "auto" else Source(args.format),
            rules_file=args.rules,
            suppression_minutes=args.suppression_minutes,
            findings_only=args.findings,
            as_json=args.json,
            rejects_file=args.rejects,
            progress=args.progress,
            kms_endpoint_url=args.endpoint_url,
            resource_id=args.resource_id,
        )
        return run_replay(options, out, err)
    if args.command == "demo":
        return run_demo(args, out, err)
    if args.command == "attach":
        return run_attach(args, out, err)
    if args.command == "posture":
        return run_posture(args, out, err)
    return run_rules_test(args.file, out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the process exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(exc, file=err)
        return EXIT_USAGE
    try:
        with _logging_to(err, verbose=getattr(args, "verbose", False)):
            return _run(args, out, err)
    except (InputError, RulesFileError) as exc:
        print(f"audit-alerts: error: {exc}", file=err)
        return EXIT_USAGE
    except OSError as exc:
        print(f"audit-alerts: error: {exc.filename or ''}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audit-alerts: interrupted", file=err)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
