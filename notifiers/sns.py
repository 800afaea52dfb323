"""The e-mail channel: alerts published to an SNS topic in batches, with filterable message attributes."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from notifiers.email_render import MAX_MESSAGE_BYTES, clean_line, render_email, render_subject
from notifiers.notifier import DeliveryError, DeliveryResult, OutgoingAlert

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef, PublishBatchRequestEntryTypeDef

MAX_BATCH_ENTRIES = 10  # PublishBatch: "up to 10 messages"
MAX_BATCH_BYTES = MAX_MESSAGE_BYTES  # PublishBatch: total payload of all entries, bodies and attributes
MAX_ENTRY_ID_CHARS = 80  # "up to 80 characters ... alphanumeric characters, hyphens(-), and underscores (_)"
_MAX_ATTRIBUTE_CHARS = 256
_ATTRIBUTE_TYPE = "String"

# Error codes a later retry may get past (throttling, SNS or KMS having a bad moment).
RETRYABLE_CODES = frozenset(
    {
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "KMSThrottling",
        "KMSThrottlingException",
        "InternalError",
        "InternalErrorException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Error codes that mean the request or the account setup is wrong: retrying sends the same failure.
PERMANENT_CODES = frozenset(
    {
        "InvalidParameter",
        "ParameterValueInvalid",
        "InvalidParameterValue",
        "ValidationException",
        "AuthorizationError",
        "AccessDenied",
        "AccessDeniedException",
        "NotFound",
        "ResourceNotFound",
        "EndpointDisabled",
        "PlatformApplicationDisabled",
        "InvalidSecurity",
        "KMSDisabled",
        "KMSInvalidState",
        "KMSNotFound",
        "KMSOptInRequired",
        "KMSAccessDenied",
        "BatchEntryIdsNotDistinct",
        "BatchRequestTooLong",
        "EmptyBatchRequest",
        "InvalidBatchEntryId",
        "TooManyEntriesInBatchRequest",
    }
)
_TOO_LARGE_CODES = frozenset({"BatchRequestTooLong", "TooManyEntriesInBatchRequest"})
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class SnsPublishError(DeliveryError):
    """SNS refused or failed one alert; `code` is SNS's error code (or the botocore error name)."""

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        """An error with SNS's code and whether a retry may succeed."""
        super().__init__(message, retryable=retryable)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Entry:
    """One alert's PublishBatch entry, where it sits in the caller's list, and its size toward the limits."""

    index: int
    alert_id: str
    request: PublishBatchRequestEntryTypeDef
    size: int


class SnsNotifier:
    """Publishes alerts to one SNS topic (e-mail subscribers and any others), ten per PublishBatch call."""

    def __init__(self, topic_arn: str, sns_client: SNSClient, channel: str = "email") -> None:
        """Publish to `topic_arn` through an injected boto3 SNS client, reporting results as `channel`."""
        self.topic_arn = topic_arn
        self.channel = channel
        self._client = sns_client

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Deliver each alert, one result per alert in input order; a failure never raises."""
        results: list[DeliveryResult | None] = [None] * len(alerts)
        entries: list[_Entry] = []
        for index, outgoing in enumerate(alerts):
            try:
                entries.append(_entry(index, outgoing))
            except Exception as exc:  # noqa: BLE001 - per-alert isolation: one unrenderable alert spares the rest
                error = SnsPublishError(
                    f"could not render the alert: {exc!r}", code="Render", retryable=False
                )
                error.__cause__ = exc
                results[index] = DeliveryResult(outgoing.alert_id, self.channel, error)
        for batch in _batches(entries):
            if deadline is not None and time.monotonic() >= deadline:
                late = SnsPublishError("deadline reached before publishing", code="Deadline", retryable=True)
                self._fail(results, batch, late)
                continue
            self._publish(batch, results)
        return [result for result in results if result is not None]

    def _publish(self, batch: list[_Entry], results: list[DeliveryResult | None]) -> None:
        """One PublishBatch call; a batch SNS finds too large is split in two and each half sent."""
        entries = _with_unique_ids(batch)
        try:
            response = self._client.publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=[entry.request for entry in entries]
            )
        except ClientError as exc:
            error = _client_error(exc)
            if error.code in _TOO_LARGE_CODES and len(batch) > 1:
                middle = len(batch) // 2
                self._publish(batch[:middle], results)
                self._publish(batch[middle:], results)
                return
            self._fail(results, batch, error)
            return
        except (HTTPClientError, BotocoreConnectionError) as exc:  # timeouts, unreachable, connection closed
            unreachable = SnsPublishError(f"SNS unreachable: {exc}", code=type(exc).__name__, retryable=True)
            unreachable.__cause__ = exc
            self._fail(results, batch, unreachable)
            return
        except BotoCoreError as exc:  # no credentials, invalid parameters: retrying cannot help
            broken = SnsPublishError(f"SNS client error: {exc}", code=type(exc).__name__, retryable=False)
            broken.__cause__ = exc
            self._fail(results, batch, broken)
            return
        delivered = {item["Id"] for item in response.get("Successful", [])}
        failed = {item["Id"]: item for item in response.get("Failed", [])}
        for entry in entries:
            entry_id = entry.request["Id"]
            if entry_id in delivered:
                results[entry.index] = DeliveryResult(entry.alert_id, self.channel)
                continue
            failure = failed.get(entry_id)
            if failure is None:
                error = SnsPublishError(
                    "SNS reported no result for this entry", code="NoResult", retryable=True
                )
            else:
                code = failure.get("Code", "")
                error = SnsPublishError(
                    f"SNS rejected the message: {code}: {failure.get('Message', '')}",
                    code=code,
                    retryable=is_retryable_entry_code(code, sender_fault=failure.get("SenderFault", True)),
                )
            results[entry.index] = DeliveryResult(entry.alert_id, self.channel, error)

    def _fail(self, results: list[DeliveryResult | None], batch: list[_Entry], error: DeliveryError) -> None:
        """Mark every alert of a batch as failed with the same error."""
        for entry in batch:
            results[entry.index] = DeliveryResult(entry.alert_id, self.channel, error)


def is_retryable_entry_code(code: str, *, sender_fault: bool) -> bool:
    """Whether a failed PublishBatch entry may succeed later; unknown codes follow SNS's SenderFault flag."""
    if code in RETRYABLE_CODES:
        return True
    if code in PERMANENT_CODES:
        return False
    return not sender_fault


def is_retryable_call_error(code: str, http_status: int) -> bool:
    """Whether a whole failed call may succeed later: throttling, SNS/KMS trouble, HTTP 429 or 5xx."""
    if code in RETRYABLE_CODES:
        return True
    if code in PERMANENT_CODES:
        return False
    return http_status == 429 or http_status >= 500


def message_attributes(outgoing: OutgoingAlert) -> dict[str, str]:
    """The filter-policy attributes: rule, severity, cluster, kind (alert | digest) as one clean line each."""
    finding = outgoing.alert.first
    values = {
        "rule": finding.rule_id,
        "severity": finding.severity.value,
        "cluster": finding.event.resource,
        "kind": outgoing.kind,
    }
    return {name: clean_line(value, _MAX_ATTRIBUTE_CHARS) or "unknown" for name, value in values.items()}


def typed_attributes(outgoing: OutgoingAlert) -> dict[str, MessageAttributeValueTypeDef]:
    """The message attributes as SNS takes them: the strings above plus `count` (Number, matches reported)."""
    typed: dict[str, MessageAttributeValueTypeDef] = {
        name: {"DataType": _ATTRIBUTE_TYPE, "StringValue": value}
        for name, value in message_attributes(outgoing).items()
    }
    typed["count"] = {"DataType": "Number", "StringValue": str(outgoing.count)}
    return typed


def batch_entry_id(alert_id: str) -> str:
    """A PublishBatch Id from the alert id: itself when already valid, else a safe prefix plus a hash."""
    if alert_id and len(alert_id) <= MAX_ENTRY_ID_CHARS and not _UNSAFE_ID_CHARS.search(alert_id):
        return alert_id
    digest = hashlib.sha256(alert_id.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]
    prefix = _UNSAFE_ID_CHARS.sub("_", alert_id)[: MAX_ENTRY_ID_CHARS - len(digest) - 1]
    return f"{prefix}-{digest}"


def _client_error(exc: ClientError) -> SnsPublishError:
    """A whole-call ClientError classified by its code and HTTP status."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    retryable = is_retryable_call_error(code, status)
    message = f"SNS call failed: {code}: {error.get('Message', '')}"
    failure = SnsPublishError(message, code=code, retryable=retryable)
    failure.__cause__ = exc  # kept for the logs, as `raise … from exc` would
    return failure


def _entry(index: int, outgoing: OutgoingAlert) -> _Entry:
    """The PublishBatch entry of one alert, its body sized to fit the message limit beside its attributes."""
    typed = typed_attributes(outgoing)
    overhead = sum(
        _utf8_len(name) + len(value["DataType"]) + _utf8_len(value.get("StringValue", ""))
        for name, value in typed.items()
    )
    subject = render_subject(outgoing.alert)
    email = render_email(outgoing, max_message_bytes=MAX_MESSAGE_BYTES - overhead - _utf8_len(subject))
    request: PublishBatchRequestEntryTypeDef = {
        "Id": batch_entry_id(outgoing.alert_id),
        "Subject": email.subject,
        "Message": email.body,
        "MessageAttributes": typed,
    }
    size = overhead + _utf8_len(email.subject) + _utf8_len(email.body)
    return _Entry(index, outgoing.alert_id, request, size)


def _batches(entries: list[_Entry]) -> Iterator[list[_Entry]]:
    """Consecutive groups of at most ten entries whose sizes add up to at most the batch payload limit."""
    batch: list[_Entry] = []
    total = 0
    for entry in entries:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or total + entry.size > MAX_BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += entry.size
    if batch:
        yield batch


def _with_unique_ids(batch: list[_Entry]) -> list[_Entry]:
    """The batch with Ids made distinct (the same alert id twice gets '-2', '-3' …)."""
    seen: set[str] = set()
    unique: list[_Entry] = []
    for entry in batch:
        entry_id = entry.request["Id"]
        counter = 1
        while entry_id in seen:
            counter += 1
            suffix = f"-{counter}"
            entry_id = entry.request["Id"][: MAX_ENTRY_ID_CHARS - len(suffix)] + suffix
        seen.add(entry_id)
        request: PublishBatchRequestEntryTypeDef = {**entry.request, "Id": entry_id}
        unique.append(_Entry(entry.index, entry.alert_id, request, entry.size))
    return unique


def _utf8_len(text: str) -> int:
    """Length in UTF-8 bytes."""
    return len(text.encode("utf-8"))
