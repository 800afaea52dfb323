"""handlers.activity_stream.lambda_handler under faults: poison records quarantined, retryable ones retried.

Failure semantics (issue): KMS throttling / 5xx / network and retryable delivery failures put the record
in batchItemFailures, and a retry sends nothing twice; a record that can never be processed is written
raw, with its reason and sequence number, to the quarantine queue and acknowledged; if that write fails
the record is retried instead.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from handlers.quarantine import PART_DATA_CHARS
from tests import das_fixtures as das
from tests.functional.das_env import (  # noqa: F401 - fixtures are used by name
    HOOK_PATH,
    REGION,
    DasWorld,
    Quarantined,
    Summaries,
    das_slack_server_fixture,
    das_world_fixture,
    fail_operation,
    summaries_fixture,
)

PG, AMS = das.POSTGRES_CLUSTER_ID, das.MYSQL_CLUSTER_ID
PG_FAILED_LOGIN = f"[MEDIUM] Failed login for admin from 10.0.0.9 on {PG} (28P01)"
AMS_FAILED_LOGIN = f"[MEDIUM] Failed login for admin from 10.0.0.9 on {AMS} (1045)"
PG_DROP = f"HIGH: DROP TABLE orders by app on {PG}"
AMS_DROP = f"HIGH: DROP TABLE shop.orders by app on {AMS}"
ESDK = f"Encryption SDK rejected the activity events of {PG}"


def seq(index: int) -> str:
    """The sequence number das_fixtures gives the record at `index`."""
    return das.sequence_number_at(index)


def delivered(world: DasWorld) -> tuple[list[str], list[str]]:
    """E-mail subjects and Slack headlines delivered so far, each sorted."""
    slack = [str(message["text"]).split("\n", 1)[0] for message in world.slack_messages()]
    return sorted(email.subject for email in world.emails()), sorted(slack)


# Everything the genuine neighbours of a poison record raise, in delivered() order.
BOTH_CLUSTERS = (sorted([AMS_FAILED_LOGIN, PG_FAILED_LOGIN]), sorted([AMS_DROP, PG_DROP]))


def good_neighbours(world: DasWorld, poison: dict[str, Any]) -> list[dict[str, Any]]:
    """A batch: a genuine Aurora MySQL record, the poison record (index 1), a genuine PostgreSQL record."""
    return [
        das.kinesis_record(
            world.record_data(das.mysql_record(), AMS, version="1.2"), resource_id=AMS, index=0
        ),
        poison,
        das.kinesis_record(world.record_data(das.postgres_record(), PG), resource_id=PG, index=2),
    ]


def pg_record(data: bytes) -> dict[str, Any]:
    """The poison data as record 1 of the PostgreSQL cluster's stream."""
    return das.kinesis_record(data, resource_id=PG, index=1)


def good_pg(world: DasWorld, **kwargs: Any) -> bytes:
    """Genuine PostgreSQL record data under the cluster's own data key."""
    return world.record_data(das.postgres_record(), PG, **kwargs)


def wrong_context(world: DasWorld) -> bytes:
    """A record whose data key is bound to another cluster's encryption context."""
    key = das.generate_das_data_key(world.kms, world.key_id, PG, context_resource_id=das.OTHER_CLUSTER_ID)
    return das.das_record_data(das.postgres_record(), key, algorithm=das.UNSIGNED_SUITE)


def kinesis_data_text(text: str) -> dict[str, Any]:
    """Record 1 of the PostgreSQL stream with `text` as its kinesis.data, as is."""
    record = pg_record(b"")
    record["kinesis"]["data"] = text
    return record


def truncated_kinesis_data(world: DasWorld) -> str:
    """The base64 text of a genuine record, its last character cut off."""
    return base64.b64encode(good_pg(world)).decode("ascii")[:-1]


PoisonBuilder = Callable[[DasWorld], dict[str, Any]]
# case → (the poison record, the exact reason ({n}: the length of the cut base64 field),
#         the raw bytes the quarantine must hold (None: the record's data))
POISON: dict[str, tuple[PoisonBuilder, str, bytes | None]] = {
    "wrong-encryption-context": (
        lambda w: pg_record(wrong_context(w)),
        f"KMS Decrypt of the data key for {PG} failed: InvalidCiphertextException "
        "(HTTP 400; wrong encryption context for this resource, or a tampered data key)",
        None,
    ),
    "tampered-ciphertext": (
        lambda w: pg_record(das.flip_events_byte(good_pg(w), offset=-40)),
        f"{ESDK} (InvalidTag: tampered, truncated or not encrypted with this record's key)",
        None,
    ),
    "tampered-signed-ciphertext": (
        lambda w: pg_record(das.flip_events_byte(good_pg(w, algorithm=das.SIGNED_SUITE), offset=-20)),
        f"{ESDK} (InvalidSignature: tampered, truncated or not encrypted with this record's key)",
        None,
    ),
    "truncated-base64-in-envelope": (
        lambda w: pg_record(das.truncate_base64(good_pg(w))),
        "envelope databaseActivityEvents is not valid base64 (length {n} is not a multiple of 4: truncated?)",
        None,
    ),
    "corrupt-gzip": (
        lambda w: pg_record(
            das.encrypted_plaintext_data(das.gzip_json(das.postgres_record())[:-12], w.data_key(PG))
        ),
        "decrypted activity events end inside the gzip stream",
        None,
    ),
    # Not base64: the quarantine keeps the text as received (a lenient decoder would drop the "!").
    "kinesis-data-not-base64": (
        lambda _w: kinesis_data_text("eyJ0eXBlIjoi!RGF0YWJhc2U="),
        f"Kinesis record data is not valid base64 (sequence number {seq(1)})",
        b"eyJ0eXBlIjoi!RGF0YWJhc2U=",
    ),
    "kinesis-data-truncated-base64": (
        lambda w: kinesis_data_text(truncated_kinesis_data(w)),
        f"Kinesis record data is not valid base64 (sequence number {seq(1)})",
        None,
    ),
    "corrupt-kpl-aggregate": (
        lambda w: pg_record(das.corrupt_kpl_checksum(das.kpl_aggregate([good_pg(w), good_pg(w)]))),
        f"KPL aggregate MD5 checksum does not match (corrupt or truncated) (sequence number {seq(1)})",
        None,
    ),
}


@pytest.mark.parametrize(("build", "reason", "raw"), POISON.values(), ids=POISON.keys())
def test_poison_record_is_quarantined_raw_and_acknowledged(
    das_world: DasWorld, build: PoisonBuilder, reason: str, raw: bytes | None
) -> None:
    """GIVEN a batch with one record that can never be processed WHEN the handler runs
    THEN that record is in the quarantine queue with its raw data, reason and sequence number,
    no record is reported for retry, and the rest of the batch is alerted on."""
    poison = build(das_world)
    text = poison["kinesis"]["data"]
    # Data that is not base64 is kept as the text received; any other as the decoded bytes.
    data = raw or (text.encode("ascii") if len(text) % 4 else base64.b64decode(text))
    envelope_b64 = len(json.loads(data)["databaseActivityEvents"]) if "{n}" in reason else 0

    failures = das_world.invoke(good_neighbours(das_world, poison))

    assert failures == []
    assert das_world.quarantined() == [
        Quarantined(
            reason.format(n=envelope_b64), data, das.stream_arn(PG), seq(1), None, "das-partition-0", 1
        )
    ]
    assert delivered(das_world) == BOTH_CLUSTERS


def test_poison_user_record_of_a_kpl_aggregate_is_quarantined_alone(das_world: DasWorld) -> None:
    """GIVEN a KPL aggregate of a genuine and a tampered record WHEN the handler runs
    THEN only the tampered user record is quarantined (with its sub-sequence number and partition key)."""
    tampered = das.flip_events_byte(good_pg(das_world), offset=-40)
    aggregate = das.kpl_aggregate([good_pg(das_world), tampered])

    failures = das_world.invoke([das.kinesis_record(aggregate, resource_id=PG, index=4)])

    assert failures == []
    reason = f"{ESDK} (InvalidTag: tampered, truncated or not encrypted with this record's key)"
    assert das_world.quarantined() == [
        Quarantined(reason, tampered, das.stream_arn(PG), seq(4), 1, "pk-1", 1)
    ]
    assert delivered(das_world) == ([PG_FAILED_LOGIN], [PG_DROP])


def test_large_poison_record_is_split_into_parts_that_reassemble_to_its_bytes(das_world: DasWorld) -> None:
    """GIVEN a 600 KB poison record (SQS takes 256 KiB per message) WHEN quarantined
    THEN it is written in parts whose data joins back to the exact record bytes."""
    key = das.generate_das_data_key(
        das_world.kms, das_world.key_id, PG, context_resource_id=das.OTHER_CLUSTER_ID
    )
    encrypted = das.encrypt_events(das.gzip_json(das.postgres_record()), key, algorithm=das.UNSIGNED_SUITE)
    data = das.envelope_bytes(encrypted, key.ciphertext, extra_fields={"padding": "x" * 600_000})

    failures = das_world.invoke([pg_record(data)])

    [quarantined] = das_world.quarantined()
    assert failures == []
    assert quarantined.data == data
    assert quarantined.parts == math.ceil(len(base64.b64encode(data)) / PART_DATA_CHARS) == 5


ACCEPTED = {
    "unknown-envelope-version-2.0": lambda w: das.with_version(good_pg(w), "2.0"),
    "unknown-envelope-fields": lambda w: das.with_unknown_envelope_fields(good_pg(w)),
    "unknown-event-fields": lambda w: w.record_data(
        das.postgres_record(das.with_unknown_event_fields(das.aurora_postgresql_events())), PG
    ),
}


@pytest.mark.parametrize("build", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_unknown_versions_and_fields_are_accepted(
    das_world: DasWorld, build: Callable[[DasWorld], bytes]
) -> None:
    """GIVEN a record with an undocumented envelope version or unknown fields (AWS: expect change)
    WHEN the handler runs THEN it is processed like any other: alerts out, nothing quarantined."""
    failures = das_world.invoke([pg_record(build(das_world))])

    assert failures == []
    assert das_world.quarantined() == []
    assert delivered(das_world) == ([PG_FAILED_LOGIN], [PG_DROP])


@pytest.mark.parametrize(
    "queue_url",
    [f"https://sqs.{REGION}.amazonaws.com/{das.ACCOUNT}/no-such-queue", None],
    ids=["nonexistent-queue", "not-configured"],
)
def test_poison_record_is_retried_when_it_cannot_be_quarantined(
    das_world: DasWorld, summaries: Summaries, queue_url: str | None
) -> None:
    """GIVEN a quarantine queue that cannot be written (or none) WHEN a poison record arrives
    THEN it is in batchItemFailures and the rest of the batch is alerted on; once the queue works,
    the retried batch quarantines it and delivers nothing twice."""
    working_queue = das_world.quarantine_queue_url
    if queue_url is None:
        das_world.monkeypatch.delenv("ALERTS_QUARANTINE_QUEUE_URL")
    else:
        das_world.set_env("ALERTS_QUARANTINE_QUEUE_URL", queue_url)
    batch = good_neighbours(das_world, pg_record(das.flip_events_byte(good_pg(das_world), offset=-40)))

    failures = das_world.invoke(batch)
    das_world.set_env("ALERTS_QUARANTINE_QUEUE_URL", working_queue)
    retried = das_world.invoke(batch)

    assert (failures, retried) == ([seq(1)], [])
    assert [(q.sequence_number, q.data) for q in das_world.quarantined()] == [
        (seq(1), base64.b64decode(batch[1]["kinesis"]["data"]))
    ]
    assert delivered(das_world) == BOTH_CLUSTERS
    assert [s["quarantined"] for s in summaries.all()] == [0, 1]


KMS_FAULTS = {
    "throttling": das.kms_error("ThrottlingException", 400),
    "internal-5xx": das.kms_error("KMSInternalException", 500),
    "network": EndpointConnectionError(endpoint_url=f"https://kms.{REGION}.amazonaws.com/"),
}


@pytest.mark.parametrize("fault", KMS_FAULTS.values(), ids=KMS_FAULTS.keys())
def test_kms_fault_on_one_data_key_retries_exactly_its_records(das_world: DasWorld, fault: Exception) -> None:
    """GIVEN KMS failing (retryably) for the data key of one cluster WHEN the handler runs
    THEN exactly that key's records are in batchItemFailures, KMS is asked once per key, the other
    cluster's alerts go out; when the same batch is re-delivered without the fault, each alert is
    delivered exactly once overall."""
    _runtime, kms = das_world.install_runtime()
    heartbeats = das.heartbeat_events()
    batch = [
        das.kinesis_record(good_pg(das_world), resource_id=PG, index=0),
        das.kinesis_record(das_world.record_data(das.mysql_record(), AMS), resource_id=AMS, index=1),
        das.kinesis_record(
            das_world.record_data(das.postgres_record(heartbeats), PG), resource_id=PG, index=2
        ),
        das.kinesis_record(
            das_world.record_data(das.mysql_record(heartbeats), AMS), resource_id=AMS, index=3
        ),
    ]
    kms.failing_keys[das_world.data_key(AMS).ciphertext] = fault

    failures = das_world.invoke(batch)
    calls_with_fault = kms.decrypt_calls
    first_delivery = delivered(das_world)
    kms.failing_keys.clear()
    retried = das_world.invoke(batch)

    assert (failures, retried) == ([seq(1), seq(3)], [])
    assert calls_with_fault == 2
    assert kms.decrypt_calls == 3
    assert first_delivery == ([PG_FAILED_LOGIN], [PG_DROP])
    assert delivered(das_world) == BOTH_CLUSTERS
    assert das_world.quarantined() == []


def delivery_batch(world: DasWorld) -> list[dict[str, Any]]:
    """AUX of a DROP (0), a PostgreSQL failed login (1), connect + MAIN of the DROP (2), heartbeats (3)."""
    connect, _failed, main, aux = das.aurora_mysql_events()
    failed_login = das.aurora_postgresql_events()[1]
    parts = [
        (AMS, das.mysql_record([aux])),
        (PG, das.postgres_record([failed_login])),
        (AMS, das.mysql_record([connect, main])),
        (PG, das.postgres_record(das.heartbeat_events())),
    ]
    return [
        das.kinesis_record(world.record_data(record, resource_id), resource_id=resource_id, index=index)
        for index, (resource_id, record) in enumerate(parts)
    ]


def sns_throttled(world: DasWorld) -> Callable[[], None]:
    """SNS answers PublishBatch with Throttling until undone."""
    runtime, _kms = world.install_runtime()
    error = das.kms_error("Throttling", 400, operation="PublishBatch")  # any service's ClientError
    return fail_operation(runtime.sns, "PublishBatch", error)


def slack_unavailable(world: DasWorld) -> Callable[[], None]:
    """Slack answers 503 until undone."""
    world.install_runtime()
    world.slack.clear_all_handlers()
    world.slack.expect_request(HOOK_PATH, method="POST").respond_with_data("unavailable", status=503)

    def undo() -> None:
        """Slack answers ok again."""
        world.slack.clear_all_handlers()
        world.slack.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")

    return undo


@pytest.mark.parametrize(
    ("fault", "records_to_retry"),
    [(sns_throttled, [seq(1)]), (slack_unavailable, [seq(0), seq(2)])],
    ids=["sns-throttled", "slack-503"],
)
def test_retryable_delivery_failure_retries_the_records_feeding_that_alert(
    das_world: DasWorld, fault: Callable[[DasWorld], Callable[[], None]], records_to_retry: list[str]
) -> None:
    """GIVEN one channel failing retryably WHEN the handler runs THEN the records whose events fed the
    undelivered alert (both MAIN and AUX records of a DROP) are in batchItemFailures, the other channel's
    alert goes out; the re-delivered batch, channel healthy, delivers each alert exactly once overall."""
    batch = delivery_batch(das_world)
    undo = fault(das_world)

    failures = das_world.invoke(batch)
    undo()
    retried = das_world.invoke(batch)

    assert (failures, retried) == (records_to_retry, [])
    assert delivered(das_world) == ([PG_FAILED_LOGIN], [AMS_DROP])
    assert das_world.quarantined() == []
