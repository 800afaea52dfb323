"""Replay never stops for bad input: unusable documents and files are counted, kept, and the rest runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

from handlers.cli import main

FAILED = "20240501 10:00:01,db1,victim,10.0.0.9,101,0,FAILED_CONNECT,,,1045"


def _run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_a_file_that_is_not_valid_json_is_one_counted_failure_and_the_others_still_run(
    tmp_path: Path,
) -> None:
    # GIVEN a broken JSON file (as some published AWS samples are) next to a good audit log
    (tmp_path / "broken.json").write_text('{"type": "DatabaseActivityMonitoringRecord",\n  oops: 1\n}\n')
    (tmp_path / "server_audit.log").write_text(FAILED + "\n")
    rejects = tmp_path / "rejects.jsonl"
    # WHEN replaying the directory
    code, out, err = _run("replay", "--json", "--rejects", str(rejects), str(tmp_path))
    # THEN the run succeeds, the failed login is reported, and the broken file is kept whole
    assert code == 0
    assert [json.loads(line)["rule"] for line in out.splitlines()] == ["failed-login"]
    assert "parse failures: 1 (json 1)" in err
    (kept,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert kept["location"] == str(tmp_path / "broken.json")
    assert kept["reason"].startswith(
        "not valid JSON (Expecting property name enclosed in double quotes at line 2"
    )
    assert kept["raw"] == (tmp_path / "broken.json").read_text()


def test_one_bad_json_line_among_good_ones_is_counted_alone(tmp_path: Path) -> None:
    # GIVEN JSON lines: a good decoded subscription payload, a broken line, then a good one again
    payload = {
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/rds/instance/db1/audit",
        "logStream": "db1", "subscriptionFilters": [],
        "logEvents": [{"id": "1", "timestamp": 0, "message": FAILED}],
    }  # fmt: skip
    second = {**payload, "logEvents": [{"id": "2", "timestamp": 0, "message": FAILED}]}  # another event
    lines = [json.dumps(payload), "{not json", json.dumps(second)]
    path = tmp_path / "payloads.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # WHEN replaying for findings
    code, out, err = _run("replay", "--json", "--findings", str(path))
    # THEN both good payloads are read and the bad line is one failure at its line
    assert code == 0
    assert len(out.splitlines()) == 2
    assert "parse failures: 1 (json 1)" in err
    assert f"{path}:2: not valid JSON" in err


def test_a_corrupt_cloudwatch_payload_is_counted_and_kept(tmp_path: Path) -> None:
    # GIVEN a Lambda event whose awslogs.data is not base64 (the AWS doc sample is cut with "...")
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"awslogs": {"data": "H4sIAAAAAAAAAHWPwQqCQBCGX..."}}))
    rejects = tmp_path / "rejects.jsonl"
    # WHEN replaying it
    code, _, err = _run("replay", "--json", "--rejects", str(rejects), str(path))
    # THEN it is one failure whose raw document can be recovered
    assert code == 0
    assert "parse failures: 1 (json 1)" in err
    (kept,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert json.loads(kept["raw"]) == {"awslogs": {"data": "H4sIAAAAAAAAAHWPwQqCQBCGX..."}}
    assert "base64" in kept["reason"]


def test_each_unparsable_record_is_logged_only_with_verbose(tmp_path: Path) -> None:
    # GIVEN a log with a garbage line
    log = tmp_path / "audit.log"
    log.write_text(FAILED + "\n20240501 10:00:02,db1,bad,line\n")
    # WHEN replaying with and without --verbose
    _, _, quiet = _run("replay", "--json", str(log))
    _, _, verbose = _run("replay", "--json", "--verbose", str(log))
    # THEN only --verbose logs the record's location and reason (never its text)
    line = f"audit-alerts: WARNING: unparsable mysql_audit record at {log}:2:"
    assert line not in quiet
    assert line in verbose
    assert "bad,line" not in verbose.split("parse failures")[0]
