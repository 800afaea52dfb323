"""`audit-alerts replay` on encrypted activity-stream records: get-records output and Lambda events.

Genuine records (moto KMS data key under the cluster's encryption context, a real Encryption SDK
message) are saved the way a user would save them, then replayed through main() with the caller's
credentials: in-process moto (`mock_aws`), or a moto server on 127.0.0.1 reached with --endpoint-url.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from handlers.cli import main
from tests import das_fixtures as das

PG, AMS = das.POSTGRES_CLUSTER_ID, das.MYSQL_CLUSTER_ID
REGION = das.REGION
PG_FAILED_LOGIN = f"Failed login for admin from 10.0.0.9 on {PG} (28P01)"
PG_DROP = f"DROP TABLE orders by app on {PG}"
AMS_FAILED_LOGIN = f"Failed login for admin from 10.0.0.9 on {AMS} (1045)"
AMS_DROP = f"DROP TABLE shop.orders by app on {AMS}"


@pytest.fixture(autouse=True)
def caller_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region for the caller's default session; no proxy between us and 127.0.0.1."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_REGION", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class KmsTap:
    """Watches the KMS Decrypt calls of every boto3 session replay creates; can throttle chosen keys."""

    decrypted_keys: list[bytes] = field(default_factory=list)
    throttled_keys: set[bytes] = field(default_factory=set)

    def before_decrypt(self, params: dict[str, Any], **_: Any) -> None:
        """Note the call; answer Throttling (as KMS would, after the client's retries) for a throttled key."""
        key = bytes(params["CiphertextBlob"])
        self.decrypted_keys.append(key)
        if key in self.throttled_keys:
            raise das.kms_error("ThrottlingException", 400)


@pytest.fixture
def kms_tap(monkeypatch: pytest.MonkeyPatch) -> KmsTap:
    """A KmsTap hooked into every boto3.Session created during the test."""
    tap = KmsTap()
    real_session = boto3.Session

    def tapped_session(*args: Any, **kwargs: Any) -> boto3.Session:
        """A real session whose clients report their Decrypt calls to the tap."""
        session = real_session(*args, **kwargs)
        session.events.register("before-parameter-build.kms.Decrypt", tap.before_decrypt)
        return session

    monkeypatch.setattr(boto3, "Session", tapped_session)
    return tap


@pytest.fixture
def kms() -> Iterator[Any]:
    """The in-process moto KMS (the mock stays active for the test, so replay's client is intercepted)."""
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def titles(stdout: str) -> list[tuple[str, str]]:
    """(rule, title) of every alert printed by `replay --json`, sorted."""
    return sorted((str(r["rule"]), str(r["title"])) for r in map(json.loads, stdout.splitlines()))


def get_records_output(datas: list[bytes]) -> dict[str, Any]:
    """What `aws kinesis get-records` prints for records holding `datas`."""
    return {
        "Records": [
            {
                "SequenceNumber": das.sequence_number_at(index),
                "ApproximateArrivalTimestamp": das.ARRIVAL_TIMESTAMP + index,
                "Data": base64.b64encode(data).decode("ascii"),
                "PartitionKey": "das-partition-0",
            }
            for index, data in enumerate(datas)
        ],
        "NextShardIterator": "AAAAAAAAAAGf0cOvTsExample",
        "MillisBehindLatest": 0,
    }


def save(path: Path, document: object) -> str:
    """Write a JSON document as the AWS CLI would (indented); return the path as text."""
    path.write_text(json.dumps(document, indent=4), encoding="utf-8")
    return str(path)


def pg_datas(kms: Any, key_id: str, keys: int = 2) -> tuple[list[bytes], list[das.DasDataKey]]:
    """Six PostgreSQL records under `keys` data keys: the full sample record first, then one event each."""
    data_keys = [das.generate_das_data_key(kms, key_id, PG) for _ in range(keys)]
    records = [das.postgres_record(), *(das.postgres_record([e]) for e in das.aurora_postgresql_events())]
    records += [das.postgres_record(das.heartbeat_events())] * 2
    datas = [
        das.das_record_data(record, data_keys[index % keys], algorithm=das.UNSIGNED_SUITE)
        for index, record in enumerate(records)
    ]
    return datas, data_keys


def test_get_records_output_replays_to_alerts_with_one_kms_call_per_data_key(
    kms: Any, kms_tap: KmsTap, tmp_path: Path
) -> None:
    """GIVEN `aws kinesis get-records` output of six genuine records under two data keys
    WHEN replayed with --resource-id THEN the failed-login and drop-table alerts, two KMS calls."""
    datas, data_keys = pg_datas(kms, das.create_das_kms_key(kms))
    path = save(tmp_path / "get-records.json", get_records_output(datas))

    code, out, err = run("replay", "--json", "--resource-id", PG, path)

    assert (code, titles(out)) == (0, [("drop-table", PG_DROP), ("failed-login", PG_FAILED_LOGIN)])
    assert sorted(kms_tap.decrypted_keys) == sorted(key.ciphertext for key in data_keys)
    assert err.splitlines()[:2] == ["events read: 6 (activity_stream 6)", "parse failures: 0"]


def test_lambda_event_names_its_resource_by_stream_arn(kms: Any, kms_tap: KmsTap, tmp_path: Path) -> None:
    """GIVEN a Lambda Kinesis event from two clusters' activity streams (one record signed)
    WHEN replayed without --resource-id THEN each record decrypts under its stream's resource id."""
    key_id = das.create_das_kms_key(kms)
    pg_key, ams_key = das.generate_das_data_key(kms, key_id, PG), das.generate_das_data_key(kms, key_id, AMS)
    event = das.kinesis_event(
        [
            das.kinesis_record(das.das_record_data(das.postgres_record(), pg_key), resource_id=PG, index=0),
            das.kinesis_record(
                das.das_record_data(das.mysql_record(), ams_key, version="1.2", algorithm=das.UNSIGNED_SUITE),
                resource_id=AMS,
                index=1,
            ),
        ]
    )

    code, out, _err = run("replay", "--json", save(tmp_path / "lambda-event.json", event))

    assert code == 0
    assert titles(out) == sorted(
        [
            ("drop-table", AMS_DROP),
            ("drop-table", PG_DROP),
            ("failed-login", AMS_FAILED_LOGIN),
            ("failed-login", PG_FAILED_LOGIN),
        ]
    )
    assert len(kms_tap.decrypted_keys) == 2


def test_missing_resource_id_is_one_line_naming_the_option(kms: Any, kms_tap: KmsTap, tmp_path: Path) -> None:
    """GIVEN get-records output (no stream ARN) WHEN replayed without --resource-id
    THEN exit 2 with one line naming --resource-id, nothing printed, KMS never called."""
    datas, _keys = pg_datas(kms, das.create_das_kms_key(kms), keys=1)
    path = save(tmp_path / "get-records.json", get_records_output(datas))

    code, out, err = run("replay", "--json", path)

    assert (code, out) == (2, "")
    assert err == (
        f"audit-alerts: error: {path}[0]: encrypted activity-stream record without an eventSourceARN "
        "naming its stream; pass --resource-id cluster-… (or db-…): the resource id its data key is "
        "bound to\n"
    )
    assert kms_tap.decrypted_keys == []


def test_undecryptable_records_are_counted_parse_failures(kms: Any, kms_tap: KmsTap, tmp_path: Path) -> None:
    """GIVEN get-records output with a tampered record, a wrong-context record and two records whose
    data key KMS throttles WHEN replayed THEN each is a counted parse failure with its reason (the
    throttled key asked once), kept raw in --rejects, and the good record still alerts."""
    key_id = das.create_das_kms_key(kms)
    good_key, throttled_key = (
        das.generate_das_data_key(kms, key_id, PG),
        das.generate_das_data_key(kms, key_id, PG),
    )
    wrong_key = das.generate_das_data_key(kms, key_id, PG, context_resource_id=das.OTHER_CLUSTER_ID)
    good = das.das_record_data(das.postgres_record(), good_key, algorithm=das.UNSIGNED_SUITE)
    heartbeats = das.postgres_record(das.heartbeat_events())
    datas = [
        good,
        das.flip_events_byte(good, offset=-40),
        das.das_record_data(heartbeats, wrong_key, algorithm=das.UNSIGNED_SUITE),
        das.das_record_data(heartbeats, throttled_key, algorithm=das.UNSIGNED_SUITE),
        das.das_record_data(heartbeats, throttled_key, algorithm=das.UNSIGNED_SUITE),
    ]
    kms_tap.throttled_keys.add(throttled_key.ciphertext)
    path = save(tmp_path / "get-records.json", get_records_output(datas))
    rejects = tmp_path / "rejects.jsonl"

    code, out, err = run("replay", "--json", "--resource-id", PG, "--rejects", str(rejects), path)

    throttled = (
        f"not decrypted: KMS Decrypt of the data key for {PG} failed: ThrottlingException "
        "(HTTP 400; retry later) (retryable: replay again later)"
    )
    assert (code, titles(out)) == (0, [("drop-table", PG_DROP), ("failed-login", PG_FAILED_LOGIN)])
    assert err.splitlines()[1:6] == [
        "parse failures: 4 (activity_stream 4)",
        f"  {path}[1]: not decrypted: Encryption SDK rejected the activity events of {PG} "
        "(InvalidTag: tampered, truncated or not encrypted with this record's key)",
        f"  {path}[2]: not decrypted: KMS Decrypt of the data key for {PG} failed: "
        "InvalidCiphertextException (HTTP 400; wrong encryption context for this resource, or a tampered "
        "data key)",
        f"  {path}[3]: {throttled}",
        f"  {path}[4]: {throttled}",
    ]
    assert kms_tap.decrypted_keys.count(throttled_key.ciphertext) == 1
    kept = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["location"], r["raw"].encode("utf-8")) for r in kept] == [
        (f"{path}[{index}]", datas[index]) for index in range(1, 5)
    ]


def test_no_region_for_kms_is_one_line(kms: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GIVEN no region anywhere (environment or config file) WHEN encrypted records are replayed
    THEN exit 2 with one line saying how to set one."""
    datas, _keys = pg_datas(kms, das.create_das_kms_key(kms), keys=1)
    path = save(tmp_path / "get-records.json", get_records_output(datas))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    code, out, err = run("replay", "--resource-id", PG, path)

    assert (code, out) == (2, "")
    assert err == (
        "audit-alerts: error: cannot create a KMS client to decrypt activity-stream records: "
        "You must specify a region. (set AWS_REGION or AWS_DEFAULT_REGION, or configure a profile)\n"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--resource-id", "my-cluster", "not a resource id (cluster-… or db-…): 'my-cluster'"),
        ("--endpoint-url", "localhost:4566", "not an http(s) URL: 'localhost:4566'"),
    ],
)
def test_bad_decryption_options_are_usage_errors(option: str, value: str, message: str) -> None:
    """GIVEN a malformed --resource-id or --endpoint-url WHEN parsed THEN exit 2 with one line."""
    code, out, err = run("replay", option, value, "x.json")

    assert (code, out) == (2, "")
    assert err == f"audit-alerts replay: error: argument {option}: {message}\n"


@pytest.fixture
def moto_server() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1 (a local KMS emulator); its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_endpoint_url_decrypts_through_a_local_kms_emulator(moto_server: str, tmp_path: Path) -> None:
    """GIVEN a key and genuine records made against a moto server on 127.0.0.1
    WHEN replayed with --endpoint-url pointing at it THEN the records decrypt there and alert."""
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_server)
    datas, _keys = pg_datas(kms, das.create_das_kms_key(kms), keys=1)
    path = save(tmp_path / "get-records.json", get_records_output(datas))

    code, out, _err = run("replay", "--json", "--endpoint-url", moto_server, "--resource-id", PG, path)

    assert (code, titles(out)) == (0, [("drop-table", PG_DROP), ("failed-login", PG_FAILED_LOGIN)])
