"""`audit-alerts demo` on the command line: its options, and the run (imported only when it is asked for)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO


def add_demo_parser(commands: Any) -> None:
    """Register `audit-alerts demo` on the CLI's subcommands."""
    demo = commands.add_parser(
        "demo", help="run the whole pipeline on a local AWS emulator and show the alerts as they arrive"
    )
    demo.add_argument("--json", action="store_true", help="print each delivered alert as one JSON line")
    demo.add_argument(
        "--keep",
        action="store_true",
        help="leave the emulator running (Ctrl-C stops it) and print how to look",
    )


def run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the demo for parsed arguments; the exit code."""
    # Imported here: moto, boto3 and the Encryption SDK would slow every other command's start.
    from handlers.demo_run import run_demo as run  # noqa: PLC0415

    return run(as_json=args.json, keep=args.keep, out=out, err=err)
