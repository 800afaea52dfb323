"""SnsNotifier against a moto SNS topic read back through a subscribed SQS queue, and against faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto import mock_aws

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.email_render import render_email
from notifiers.notifier import DeliveryResult, OutgoingAlert
from notifiers.sns import SnsNotifier, SnsPublishError, batch_entry_id
from parsers.event import Action
from tests.factories import failed_login, make_event
from tests.functional.fake_aws import use_fake_aws_credentials

REGION = "us-east-1"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:audit-alerts"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so no test can reach or sign for a real account."""
    use_fake_aws_credentials(monkeypatch, REGION)


@dataclass
class Topic:
    """A moto SNS topic with an SQS queue subscribed (raw delivery off: bodies are SNS envelopes)."""

    sns: Any
    sqs: Any
    arn: str
    queue_url: str
    batch_sizes: list[int]

    def received(self, expected: int) -> list[dict[str, Any]]:
        """The SNS envelopes the queue got, reading until `expected` arrived or the queue is empty."""
        envelopes: list[dict[str, Any]] = []
        while len(envelopes) < expected:
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return envelopes


@pytest.fixture
def topic() -> Iterator[Topic]:
    """A topic, a subscribed queue, and a record of the entry count of every PublishBatch call."""
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        arn = sns.create_topic(Name="audit-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="email-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        batch_sizes: list[int] = []

        def record_batch(params: dict[str, Any], **_: Any) -> None:
            batch_sizes.append(len(params["PublishBatchRequestEntries"]))

        sns.meta.events.register("provide-client-params.sns.PublishBatch", record_batch)
        yield Topic(sns, sqs, arn, queue_url, batch_sizes)


def outgoing(number: int, **event_fields: Any) -> OutgoingAlert:
    """Alert `number`: a burst of failed logins by user-<number> on cluster prod-<number % 3>."""
    fields: dict[str, Any] = {"user": f"user-{number}", "cluster": f"prod-{number % 3}"}
    fields.update(event_fields)
    event = failed_login(number, **fields)
    title = f"Failed login for {event.user} from 10.0.0.5 on {event.cluster} (1045)"
    finding = Finding("failed-login", title, Severity.MEDIUM, ("email",), "k", event)
    alert = Alert(finding, 3, event.time, event.time + timedelta(seconds=20))
    return OutgoingAlert(f"failed-login-{number:04d}", alert)


def statement_alert(alert_id: str, statement: str) -> OutgoingAlert:
    """A DROP TABLE alert carrying `statement`."""
    event = make_event(0, action=Action.QUERY_DDL, statement=statement)
    finding = Finding("drop-table", "DROP TABLE t by app on prod", Severity.HIGH, ("email",), "k", event)
    return OutgoingAlert(alert_id, Alert(finding, 1, event.time, event.time))


def attributes(
    rule: str, severity: str, cluster: str, count: int = 1, kind: str = "alert"
) -> dict[str, dict[str, str]]:
    """Message attributes as the SNS envelope shows them."""
    return {
        "rule": {"Type": "String", "Value": rule},
        "severity": {"Type": "String", "Value": severity},
        "cluster": {"Type": "String", "Value": cluster},
        "kind": {"Type": "String", "Value": kind},
        "count": {"Type": "Number", "Value": str(count)},
    }


def errors(results: list[DeliveryResult]) -> list[tuple[str, str, bool] | None]:
    """(alert id, error code, retryable) per result, None where delivered."""
    summary: list[tuple[str, str, bool] | None] = []
    for result in results:
        error = result.error
        if error is None:
            summary.append(None)
            continue
        assert isinstance(error, SnsPublishError)
        summary.append((result.alert_id, error.code, error.retryable))
    return summary


def test_twelve_alerts_go_out_in_two_batches_with_subject_body_and_attributes(topic: Topic) -> None:
    """GIVEN 12 alerts  WHEN sent
    THEN two PublishBatch calls (10 + 2) deliver them all, and each SNS envelope carries the rendered
    subject, body and the rule/severity/cluster/kind/count attributes."""
    alerts = [outgoing(number) for number in range(12)]

    results = SnsNotifier(topic.arn, topic.sns).send(alerts)

    assert results == [DeliveryResult(alert.alert_id, "email") for alert in alerts]
    assert topic.batch_sizes == [10, 2]
    envelopes = topic.received(12)
    by_subject = {envelope["Subject"]: envelope for envelope in envelopes}
    assert len(by_subject) == 12
    for number, alert in enumerate(alerts):
        rendered = render_email(alert)
        envelope = by_subject[rendered.subject]
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == topic.arn
        assert envelope["Message"] == rendered.body
        assert f"Alert id: failed-login-{number:04d}\n" in envelope["Message"]
        assert envelope["MessageAttributes"] == attributes(
            "failed-login", "medium", f"prod-{number % 3}", count=alert.count
        )


@pytest.mark.parametrize(
    ("cluster", "server_host", "expected_cluster"),
    [
        ("", "", "unknown"),
        ("", "db-instance-1", "db-instance-1"),
        ("prod\r\nrule: drop-table\x00", "", "prod rule: drop-table"),
        ("\u2028\x1b", "", "unknown"),
    ],
)
def test_cluster_attribute_is_never_empty_and_never_carries_controls(
    topic: Topic, cluster: str, server_host: str, expected_cluster: str
) -> None:
    """GIVEN an empty or hostile cluster name  WHEN sent
    THEN the cluster attribute is one clean, non-empty line (falling back to the instance, then 'unknown')."""
    alert = outgoing(1, cluster=cluster, server_host=server_host, user="app\nSeverity: LOW")

    results = SnsNotifier(topic.arn, topic.sns).send([alert])

    assert results == [DeliveryResult(alert.alert_id, "email")]
    [envelope] = topic.received(1)
    assert envelope["MessageAttributes"] == attributes(
        "failed-login", "medium", expected_cluster, count=alert.count
    )
    assert "\n" not in envelope["Subject"]
    assert "User:        app Severity: LOW\n" in envelope["Message"]


def test_large_alerts_are_batched_by_payload_size_and_each_fits(topic: Topic) -> None:
    """GIVEN three alerts with 300 KB statements of 4-byte characters  WHEN sent
    THEN each goes in its own batch (a batch is limited to 256 KiB too) and arrives within 262,144 bytes."""
    alerts = [statement_alert(f"big-{n}", "DROP TABLE t; -- " + "\U0001f4a9" * 75_000) for n in range(3)]

    results = SnsNotifier(topic.arn, topic.sns).send(alerts)

    assert results == [DeliveryResult(alert.alert_id, "email") for alert in alerts]
    assert topic.batch_sizes == [1, 1, 1]
    envelopes = topic.received(3)
    assert len(envelopes) == 3
    for envelope in envelopes:
        body = envelope["Message"].encode("utf-8")
        assert 262_144 - 2_000 < len(body) <= 262_144
        assert envelope["Message"].endswith("\n    [truncated]\n\nAlert id: " + envelope["Message"][-6:])


def test_the_same_alert_id_twice_gets_distinct_batch_ids(topic: Topic) -> None:
    """GIVEN two alerts sharing an id (and one id SNS would refuse as an entry Id)  WHEN sent
    THEN all are delivered in one batch."""
    alerts = [outgoing(1), outgoing(1), OutgoingAlert("brute-force|prod|app@10.0.0.5", outgoing(2).alert)]

    results = SnsNotifier(topic.arn, topic.sns).send(alerts)

    assert [result.delivered for result in results] == [True, True, True]
    assert [result.alert_id for result in results] == [alert.alert_id for alert in alerts]
    assert topic.batch_sizes == [3]
    assert len(topic.received(3)) == 3


@pytest.mark.parametrize(
    ("alert_id", "entry_id"),
    [
        ("failed-login-0001", "failed-login-0001"),
        ("a_b-C9", "a_b-C9"),
        ("brute-force|prod|app@10.0.0.5", "brute-force_prod_app_10_0_0_5-13c474e36b74414b"),
        ("x" * 81, "x" * 63 + "-4d1f7bb876c6aae0"),
        ("", "-e3b0c44298fc1c14"),
    ],
)
def test_batch_entry_id_is_derived_from_the_alert_id(alert_id: str, entry_id: str) -> None:
    """GIVEN an alert id  WHEN made a batch entry Id  THEN valid ids pass, others become prefix + hash."""
    assert batch_entry_id(alert_id) == entry_id
    assert len(entry_id) <= 80


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    """A real SNS client whose responses come from botocore's Stubber."""
    client = boto3.client("sns", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("Throttled", 429, True),
        ("KMSThrottling", 400, True),
        ("InternalError", 500, True),
        ("SomethingNew", 503, True),
        ("SomethingNew", 429, True),
        ("InvalidParameter", 400, False),
        ("AuthorizationError", 403, False),
        ("NotFound", 404, False),
        ("KMSDisabled", 400, False),
        ("SomethingNew", 400, False),
    ],
)
def test_whole_call_client_error_fails_every_alert_of_the_batch_classified(
    stubbed: tuple[Any, Stubber], code: str, status: int, retryable: bool
) -> None:
    """GIVEN PublishBatch raising a ClientError  WHEN two alerts are sent
    THEN both get an error with SNS's code, retryable for throttling/5xx/429 only, and nothing raises."""
    client, stubber = stubbed
    stubber.add_client_error("publish_batch", service_error_code=code, http_status_code=status)
    alerts = [outgoing(1), outgoing(2)]

    results = SnsNotifier(TOPIC_ARN, client).send(alerts)

    assert errors(results) == [(a.alert_id, code, retryable) for a in alerts]
    assert [result.channel for result in results] == ["email", "email"]
    assert isinstance(results[0].error.__cause__ if results[0].error else None, ClientError)


def test_failed_entries_fail_only_their_own_alert(stubbed: tuple[Any, Stubber]) -> None:
    """GIVEN a PublishBatch response with one success, a throttled entry, a refused entry, an unknown
    server-side failure and an entry SNS did not report
    WHEN five alerts are sent
    THEN each alert gets its own outcome."""
    client, stubber = stubbed
    alerts = [outgoing(number) for number in range(5)]
    ids = [alert.alert_id for alert in alerts]
    stubber.add_response(
        "publish_batch",
        {
            "Successful": [{"Id": ids[0], "MessageId": "m-0"}],
            "Failed": [
                {"Id": ids[1], "Code": "Throttled", "Message": "Rate exceeded", "SenderFault": True},
                {
                    "Id": ids[2],
                    "Code": "InvalidParameter",
                    "Message": "Message too long",
                    "SenderFault": True,
                },
                {"Id": ids[3], "Code": "Unheard", "Message": "?", "SenderFault": False},
            ],
        },
        expected_params={"TopicArn": TOPIC_ARN, "PublishBatchRequestEntries": stubber_any_entries(ids)},
    )

    results = SnsNotifier(TOPIC_ARN, client, channel="email-security").send(alerts)

    assert errors(results) == [
        None,
        (ids[1], "Throttled", True),
        (ids[2], "InvalidParameter", False),
        (ids[3], "Unheard", True),
        (ids[4], "NoResult", True),
    ]
    assert {result.channel for result in results} == {"email-security"}
    assert str(results[2].error) == "SNS rejected the message: InvalidParameter: Message too long"


def stubber_any_entries(ids: list[str]) -> list[dict[str, Any]]:
    """Expected entries that pin the Ids and leave the rendered content to the other tests."""
    from botocore.stub import ANY

    return [{"Id": entry_id, "Subject": ANY, "Message": ANY, "MessageAttributes": ANY} for entry_id in ids]


def test_batch_sns_finds_too_long_is_split_and_resent(stubbed: tuple[Any, Stubber]) -> None:
    """GIVEN SNS answering BatchRequestTooLong to a batch of four  WHEN sent
    THEN the halves are sent separately and every alert is delivered."""
    client, stubber = stubbed
    alerts = [outgoing(number) for number in range(4)]
    ids = [alert.alert_id for alert in alerts]
    stubber.add_client_error("publish_batch", service_error_code="BatchRequestTooLong", http_status_code=400)
    for half in (ids[:2], ids[2:]):
        stubber.add_response(
            "publish_batch",
            {
                "Successful": [{"Id": entry_id, "MessageId": f"m-{entry_id}"} for entry_id in half],
                "Failed": [],
            },
            expected_params={"TopicArn": TOPIC_ARN, "PublishBatchRequestEntries": stubber_any_entries(half)},
        )

    results = SnsNotifier(TOPIC_ARN, client).send(alerts)

    assert errors(results) == [None, None, None, None]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("failure", "code", "retryable"),
    [
        (
            ConnectTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com"),
            "ConnectTimeoutError",
            True,
        ),
        (ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com"), "ReadTimeoutError", True),
        (
            EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com"),
            "EndpointConnectionError",
            True,
        ),
        (NoCredentialsError(), "NoCredentialsError", False),
    ],
)
def test_network_failures_are_retryable_and_client_setup_failures_are_not(
    failure: Exception, code: str, retryable: bool
) -> None:
    """GIVEN a real client whose HTTP send fails (raised where botocore sends, retries off)
    WHEN an alert is sent  THEN it gets an error, retryable for timeouts and unreachable endpoints."""
    client = boto3.client("sns", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))

    def fail(**_: Any) -> None:
        raise failure

    client.meta.events.register("before-send.sns.PublishBatch", fail)
    alert = outgoing(1)

    results = SnsNotifier(TOPIC_ARN, client).send([alert])

    assert errors(results) == [(alert.alert_id, code, retryable)]


def test_past_deadline_sends_nothing_and_reports_retryable(stubbed: tuple[Any, Stubber]) -> None:
    """GIVEN a deadline already passed  WHEN alerts are sent  THEN no call is made and each is retryable."""
    client, stubber = stubbed
    alerts = [outgoing(1), outgoing(2)]

    results = SnsNotifier(TOPIC_ARN, client).send(alerts, deadline=0.0)

    assert errors(results) == [(a.alert_id, "Deadline", True) for a in alerts]
    stubber.assert_no_pending_responses()


def test_an_alert_that_cannot_be_rendered_fails_alone(topic: Topic) -> None:
    """GIVEN one malformed alert (its first_seen is not a datetime) among good ones
    WHEN sent  THEN it alone fails, not retryable, and the others are delivered."""
    good = outgoing(1)
    broken_alert = Alert(good.alert.first, 1, "yesterday", good.alert.last_seen)  # type: ignore[arg-type]
    alerts = [good, OutgoingAlert("broken", broken_alert), outgoing(2)]

    results = SnsNotifier(topic.arn, topic.sns).send(alerts)

    assert [result.delivered for result in results] == [True, False, True]
    assert errors(results)[1] == ("broken", "Render", False)
    assert topic.batch_sizes == [2]
