"""Run the integration audit scenario on real MariaDB and PostgreSQL servers and keep the logs they wrote.

Usage: python scripts/capture_server_logs.py OUTDIR
Writes OUTDIR/mariadb/server_audit.log, OUTDIR/postgresql/postgresql.log and OUTDIR/README.txt.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.integration.mariadb_server import MariaDbServer  # noqa: E402
from tests.integration.postgres_server import PGAUDIT_LOG_CLASSES, RDS_LOG_LINE_PREFIX, PostgresServer  # noqa: E402
from tests.integration.scenario import (  # noqa: E402
    MARIADB_SCENARIO,
    POSTGRES_SCENARIO,
    ScenarioError,
    run_scenario,
)
from tests.integration.server_process import ServerError  # noqa: E402


def first_line_of(command: list[str]) -> str:
    """The first line a version command prints."""
    output = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603
    return (output.stdout.strip().splitlines() or ["unknown"])[0]


def capture_mariadb(out_dir: Path, work_dir: Path) -> str:
    """Run the MariaDB scenario, copy its audit log to out_dir/mariadb; return its README paragraph."""
    with MariaDbServer(work_dir / "mariadb") as server:
        run_scenario(server, MARIADB_SCENARIO)
    target = out_dir / "mariadb" / "server_audit.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.audit_log_path, target)
    plugin = re.search(
        r"Audit Plugin version (\S+) STARTED", server.error_log_path.read_text(errors="replace")
    )
    version = re.sub(r"^\S*/", "", first_line_of([str(server.install.server), "--version"]))
    return (
        f"- mariadb/server_audit.log: {version}, server_audit {plugin.group(1) if plugin else 'unknown'}:\n"
        "  plugin_load_add=server_audit, server_audit_logging=ON, server_audit_events=CONNECT,QUERY,TABLE,\n"
        "  server_audit_query_log_limit=1024 (default), skip-name-resolve, bind-address=127.0.0.1,\n"
        "  server time zone UTC.\n"
    )


def capture_postgres(out_dir: Path, work_dir: Path) -> str:
    """Run the PostgreSQL scenario, copy its log to out_dir/postgresql; return its README paragraph."""
    with PostgresServer(work_dir / "postgresql") as server:
        run_scenario(server, POSTGRES_SCENARIO)
    target = out_dir / "postgresql" / "postgresql.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.log_path, target)
    bindir = server.install.bindir
    control = Path(first_line_of([str(bindir / "pg_config"), "--sharedir"])) / "extension" / "pgaudit.control"
    pgaudit = (
        re.search(r"default_version\s*=\s*'([^']+)'", control.read_text()) if control.is_file() else None
    )
    version = first_line_of([str(bindir / "postgres"), "--version"])
    return (
        f"- postgresql/postgresql.log: {version}, pgaudit {pgaudit.group(1) if pgaudit else 'unknown'}:\n"
        f"  shared_preload_libraries=pgaudit + CREATE EXTENSION, pgaudit.log='{PGAUDIT_LOG_CLASSES}',\n"
        f"  log_connections=on, log_disconnections=on, log_line_prefix='{RDS_LOG_LINE_PREFIX}'\n"
        "  (the RDS default), log_destination=stderr, logging_collector=on, log_timezone=UTC,\n"
        "  lc_messages=C, password_encryption=scram-sha-256, pg_hba: host 127.0.0.1/32 scram-sha-256,\n"
        "  local (unix socket) trust.\n"
    )


def readme(descriptions: list[str]) -> str:
    """README.txt text: how the logs were produced, server versions and settings."""
    return (
        "Audit logs written by real database servers for the scripted scenario in\n"
        "tests/integration/scenario.py (users, statements, expected detections), produced with\n"
        "    python scripts/capture_server_logs.py examples/real-servers\n"
        f"on {platform.system()} {platform.machine()}, each server fresh, listening on 127.0.0.1 only:\n"
        + "".join(descriptions)
        + "Clients: the mariadb and psql command-line clients over TCP 127.0.0.1 (scenario users) or the\n"
        "unix socket (superuser setup sessions, shown as localhost / [local]). The S3cr3t-… passwords are\n"
        "test values; the PostgreSQL log shows two of them in clear (a failed CREATE ROLE echoed by\n"
        "STATEMENT:, and log_statement='all'), which is why our output redacts on its own.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Capture both servers' logs into OUTDIR; exit 2 with the reason when a server is missing or fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "outdir", type=Path, help="directory to write mariadb/, postgresql/ and README.txt into"
    )
    out_dir: Path = parser.parse_args(argv).outdir
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="capture-") as work:
            descriptions = [capture_mariadb(out_dir, Path(work)), capture_postgres(out_dir, Path(work))]
    except (ServerError, ScenarioError) as exc:
        print(f"capture failed: {exc}", file=sys.stderr)
        return 2
    (out_dir / "README.txt").write_text(readme(descriptions), encoding="utf-8")
    print(
        f"wrote {out_dir}/mariadb/server_audit.log, {out_dir}/postgresql/postgresql.log, {out_dir}/README.txt"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
