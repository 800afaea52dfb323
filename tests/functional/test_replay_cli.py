"""`audit-alerts replay` and `rules test` end to end through main(): inputs, outputs, exit codes."""

from __future__ import annotations

import base64
import gzip
import io
import json
from pathlib import Path

import pytest

from handlers.cli import main

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
REAL = Path(__file__).parent.parent.parent / "examples" / "real-servers"

MARIADB = "20240501 10:00:{s:02d},db1,{user},10.0.0.9,{conn},{q},{op},shop,{obj},{rc}"


def _run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(list(argv), out=out, err=err)
    except SystemExit as exc:  # argparse exits for usage errors
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _failures(count: int, user: str = "victim") -> list[str]:
    """MariaDB FAILED_CONNECT lines, one second apart."""
    return [
        MARIADB.format(s=i, user=user, conn=100 + i, q=0, op="FAILED_CONNECT", obj="", rc=1045)
        for i in range(count)
    ]


def _json_records(stdout: str) -> list[dict[str, object]]:
    """Parse JSON lines."""
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_burst_of_25_failures_is_one_alert_with_count_25(tmp_path: Path) -> None:
    # GIVEN 25 failed logins for one user in a MariaDB audit log
    log = tmp_path / "server_audit.log"
    log.write_text("\n".join(_failures(25)) + "\n")
    # WHEN replaying as JSON
    code, out, err = _run("replay", "--json", str(log))
    # THEN one failed-login alert counts 25 and one brute-force alert counts the 21 over the threshold
    records = {r["rule"]: r for r in _json_records(out)}
    assert code == 0
    assert sorted(records) == ["brute-force", "failed-login"]
    assert (records["failed-login"]["count"], records["brute-force"]["count"]) == (25, 21)
    assert records["failed-login"]["first_seen"] == "2024-05-01T10:00:00Z"
    assert records["failed-login"]["last_seen"] == "2024-05-01T10:00:24Z"
    assert records["failed-login"]["channels"] == ["email"]
    assert "findings: 46 (brute-force 21, failed-login 25)" in err


def test_json_records_have_the_contract_keys(tmp_path: Path) -> None:
    # GIVEN a drop-table line
    log = tmp_path / "a.log"
    log.write_text(
        MARIADB.format(s=1, user="app", conn=5, q=9, op="QUERY", obj="'DROP TABLE orders'", rc=0) + "\n"
    )
    # WHEN replaying for findings and for alerts
    (finding,) = _json_records(_run("replay", "--json", "--findings", str(log))[1])
    (alert,) = _json_records(_run("replay", "--json", str(log))[1])
    # THEN both carry the documented keys, alerts also first/last seen and channels
    contract = {"rule", "severity", "source", "cluster", "user", "client_host", "database", "action",
                "statement", "time", "count", "location"}  # fmt: skip
    assert contract <= set(finding)
    assert contract | {"first_seen", "last_seen", "channels"} <= set(alert)
    assert (finding["rule"], finding["statement"], finding["location"]) == (
        "drop-table",
        "DROP TABLE orders",
        f"{log}:1",
    )
    assert finding["time"] == "2024-05-01T10:00:01Z"


def test_location_counts_lines_by_newline_only(tmp_path: Path) -> None:
    # GIVEN statements holding raw VT, FF and U+2028 (real logs do), then a DROP on line 4
    lines = [
        MARIADB.format(s=1, user="app", conn=5, q=1, op="QUERY", obj="'SELECT 1\x0b'", rc=0),
        MARIADB.format(s=1, user="app", conn=5, q=2, op="QUERY", obj="'SELECT 2\x0c'", rc=0),
        MARIADB.format(s=1, user="app", conn=5, q=3, op="QUERY", obj="'SELECT 3\u2028'", rc=0),
        MARIADB.format(s=2, user="app", conn=5, q=4, op="QUERY", obj="'DROP TABLE t'", rc=0),
    ]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # WHEN replaying
    (finding,) = _json_records(_run("replay", "--json", "--findings", str(log))[1])
    # THEN the location is physical line 4
    assert finding["location"] == f"{log}:4"


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    # GIVEN a line cut inside a multi-byte character, then a failed login
    cut = MARIADB.format(s=1, user="app", conn=5, q=1, op="QUERY", obj="'SELECT \\'é", rc=0).encode()[:-1]
    log = tmp_path / "audit.log"
    log.write_bytes(cut + b"\xc3',0\n" + _failures(1)[0].encode() + b"\n")
    # WHEN replaying
    code, out, _ = _run("replay", "--json", "--findings", str(log))
    # THEN it succeeds and still reports the failed login
    assert code == 0
    assert [r["rule"] for r in _json_records(out)] == ["failed-login"]


def test_rotated_files_in_a_directory_are_read_oldest_first(tmp_path: Path) -> None:
    # GIVEN failures split over server_audit.log.2 (oldest), .1 and the live file, and a success last
    (tmp_path / "server_audit.log.2").write_text("\n".join(_failures(2)) + "\n")
    (tmp_path / "server_audit.log.1").write_text("\n".join(_failures(5)[2:]) + "\n")
    ok = MARIADB.format(s=30, user="victim", conn=200, q=0, op="CONNECT", obj="", rc=0)
    (tmp_path / "server_audit.log").write_text(ok + "\n")
    # WHEN replaying the directory
    records = _json_records(_run("replay", "--json", "--findings", str(tmp_path))[1])
    # THEN the login after five failures is detected
    assert [r["rule"] for r in records if r["rule"] == "login-after-failures"] == ["login-after-failures"]


def test_gzip_files_are_read(tmp_path: Path) -> None:
    # GIVEN a gzipped audit log
    log = tmp_path / "server_audit.log.gz"
    log.write_bytes(gzip.compress(("\n".join(_failures(1)) + "\n").encode()))
    # WHEN replaying
    records = _json_records(_run("replay", "--json", str(log))[1])
    # THEN it is parsed
    assert [r["rule"] for r in records] == ["failed-login"]


def test_cloudwatch_lambda_events_are_replayed(tmp_path: Path) -> None:
    # GIVEN a genuine {"awslogs": …} event carrying Aurora MySQL audit lines
    line = "1728498527380921,prod-db-instance-1,user_1,172.31.49.222,147189,0,FAILED_CONNECT,,,1045"
    payload = {
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/rds/cluster/prod-db/audit",
        "logStream": "prod-db-instance-1", "subscriptionFilters": ["audit"],
        "logEvents": [{"id": "1", "timestamp": 1728498527380, "message": line}],
    }  # fmt: skip
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"awslogs": {"data": data}}))
    # WHEN replaying it
    (alert,) = _json_records(_run("replay", "--json", str(event))[1])
    # THEN the cluster comes from the log group and the source from the dialect
    assert (alert["rule"], alert["cluster"], alert["source"]) == ("failed-login", "prod-db", "aurora_mysql")


def test_decrypted_activity_stream_json_is_replayed(tmp_path: Path) -> None:
    # GIVEN a decrypted DAS record with an Aurora PostgreSQL DROP TABLE
    record = json.loads((SAMPLES / "das-aurora-postgresql-create-table.json").read_text())
    item = record["databaseActivityEvents"]["databaseActivityEventList"][0]
    item["commandText"] = "DROP TABLE orders"
    item["dbUserName"] = "app"  # the sample's rdsadmin is an internal user, skipped by statement rules
    path = tmp_path / "das.json"
    path.write_text(json.dumps(record))
    # WHEN replaying it
    records = _json_records(_run("replay", "--json", str(path))[1])
    # THEN the drop is reported from the activity stream
    assert [(r["rule"], r["source"]) for r in records] == [("drop-table", "activity_stream")]


def test_parse_failures_are_counted_and_set_aside(tmp_path: Path) -> None:
    # GIVEN a log with one garbage line among good ones
    log = tmp_path / "audit.log"
    log.write_text(_failures(1)[0] + "\n20240501 10:00:02,db1,bad,line\n" + _failures(1)[0] + "\n")
    rejects = tmp_path / "rejects.jsonl"
    # WHEN replaying with --rejects
    code, _, err = _run("replay", "--json", "--rejects", str(rejects), str(log))
    # THEN the run succeeds, counts the failure and keeps its raw text
    assert code == 0
    assert "parse failures: 1 (mysql_audit 1)" in err
    (kept,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (kept["location"], kept["raw"]) == (f"{log}:2", "20240501 10:00:02,db1,bad,line")


def test_an_unrecognised_file_is_a_counted_failure(tmp_path: Path) -> None:
    # GIVEN a text file in no known format
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\nworld\n")
    # WHEN replaying it
    code, out, _ = _run("replay", str(notes))
    # THEN the run succeeds and says the format was not recognised
    assert code == 0
    assert "parse failures: 1 (unknown 1)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["replay", "/no/such/file.log"],
            "audit-alerts: error: /no/such/file.log: no such file or directory\n",
        ),
        (
            ["replay", "--format", "oracle", "x"],
            "audit-alerts replay: error: argument --format: invalid choice",
        ),
        (["replay", "--suppression-minutes", "0", "x"], "must be greater than 0: '0'"),
        (["replay"], "the following arguments are required: PATH"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], message: str) -> None:
    # GIVEN / WHEN a bad command line
    code, out, err = _run(*argv)
    # THEN exit 2 with a single line on stderr saying what is wrong
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_an_invalid_rules_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    # GIVEN a rules file with an unknown key
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nbuiltin:\n  brute-force: {treshold: 3}\n")
    log = tmp_path / "a.log"
    log.write_text(_failures(1)[0] + "\n")
    # WHEN replaying with it
    code, _, err = _run("replay", "--rules", str(rules), str(log))
    # THEN one clear line names the file and the key
    assert code == 2
    assert err.startswith(f"audit-alerts: error: {rules}: builtin.brute-force")
    assert "treshold" in err
    assert err.count("\n") == 1


def test_rules_tune_thresholds_and_suppression(tmp_path: Path) -> None:
    # GIVEN 4 failures and a rules file lowering brute-force to 3 and disabling failed-login
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nbuiltin:\n  brute-force: {threshold: 3}\n  failed-login: {enabled: false}\n"
    )
    log = tmp_path / "a.log"
    log.write_text("\n".join(_failures(4)) + "\n")
    # WHEN replaying with it
    records = _json_records(_run("replay", "--json", "--rules", str(rules), str(log))[1])
    # THEN brute-force fires on the 3rd and 4th failure, folded into one alert
    assert [(r["rule"], r["count"]) for r in records] == [("brute-force", 2)]


def test_rules_test_runs_inline_cases(tmp_path: Path) -> None:
    # GIVEN a rules file with a passing and a failing inline case
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - id: payroll-read\n    description: payroll read\n    severity: high\n"
        "    channels: [slack]\n    match: {statement: {regex: '(?i)payroll'}}\n    tests:\n"
        "      - {name: fires, events: [{statement: select * from payroll}], expect: 1}\n"
        "      - {name: wrong on purpose, events: [{statement: select 1}], expect: 1}\n"
    )
    # WHEN running `rules test`
    code, out, _ = _run("rules", "test", str(rules))
    # THEN each case is reported and the exit code says one failed
    assert code == 1
    assert "PASS payroll-read: fires" in out
    assert "FAIL payroll-read: wrong on purpose" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_the_table_output_shows_alerts_and_summary() -> None:
    # GIVEN the bundled real-server examples
    # WHEN replaying them as a table
    code, out, _ = _run("replay", str(REAL))
    # THEN alerts of the scenario are listed with a summary and no parse failures
    assert code == 0
    assert "login-after-failures" in out
    assert "DROP DATABASE scratch_db by admin_user on vm" in out
    assert "parse failures: 0" in out


def test_replay_alerts_count_every_match_so_no_digest_is_owed() -> None:
    # GIVEN the real-server logs (bursts, repeated drops, password changes)
    inputs = [str(REAL / "mariadb" / "server_audit.log"), str(REAL / "postgresql" / "postgresql.log")]
    # WHEN replaying them as alerts and as findings
    _, alerts_out, _ = _run("replay", "--json", *inputs)
    _, findings_out, _ = _run("replay", "--json", "--findings", *inputs)
    # THEN per rule, the alerts' counts add up to the findings: nothing is folded away for a digest
    counted: dict[str, int] = {}
    for record in _json_records(alerts_out):
        counted[str(record["rule"])] = counted.get(str(record["rule"]), 0) + int(str(record["count"]))
    found: dict[str, int] = {}
    for record in _json_records(findings_out):
        found[str(record["rule"])] = found.get(str(record["rule"]), 0) + 1
    assert counted == found
    assert sum(found.values()) > 100
