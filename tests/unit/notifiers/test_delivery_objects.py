"""Noise control of statement alerts: one window per named object, so no new object is ever folded away."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from detections.finding import Finding
from detections.severity import Severity
from detections.suppression import InMemoryDeliveryLedger, InMemorySuppressionStore
from notifiers.delivery import Delivery
from notifiers.email_render import render_body
from notifiers.notifier import DeliveryResult, OutgoingAlert
from notifiers.object_list import object_list
from notifiers.slack_render import OBJECTS_FIELD_LIMIT, render_blocks
from parsers.event import Action
from tests.factories import T0, make_event


@dataclass
class RecordingNotifier:
    """A channel that accepts everything and keeps what it was handed."""

    channel: str = "slack"
    sent: list[OutgoingAlert] = field(default_factory=list)

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Record and succeed."""
        self.sent.extend(alerts)
        return [DeliveryResult(a.alert_id, self.channel) for a in alerts]


def drop(seconds: float, *tables: str, user: str = "ops", failed: bool = False) -> Finding:
    """A drop-table finding naming `tables`, as the rule makes it (failures keyed apart)."""
    event = make_event(
        seconds,
        action=Action.QUERY_DDL,
        user=user,
        statement=f"DROP TABLE {', '.join(tables)}",
        status="1051" if failed else "0",
        location=f"log:{seconds}",
    )
    key = f"prod|{user}|10.0.0.9" + ("|failed" if failed else "")
    return Finding(
        "drop-table", f"DROP TABLE {tables[0]}", Severity.HIGH, ("slack",), key, event, objects=tables
    )


def delivery(slack: RecordingNotifier) -> Delivery:
    """Delivery through in-memory windows (shared across calls, like the state table) and one channel."""
    return Delivery({"slack": slack}, InMemorySuppressionStore(), InMemoryDeliveryLedger())


def test_a_new_table_in_a_later_batch_goes_out_by_name_and_a_repeat_folds() -> None:
    # GIVEN orders dropped and delivered in one batch
    slack = RecordingNotifier()
    pipeline = delivery(slack)
    pipeline.deliver([drop(0, "orders")], T0, batch_id="b1")
    # WHEN the next batch, a minute later, drops items and orders again
    report = pipeline.deliver([drop(60, "items"), drop(61, "orders")], T0, batch_id="b2")
    # THEN items goes out at once, alone; the repeat on orders is folded
    assert [o.alert.objects for o in slack.sent] == [("orders",), ("items",)]
    assert report.suppressed == 1


def test_one_statement_naming_an_old_and_a_new_table_is_delivered_with_both() -> None:
    # GIVEN orders already reported
    slack = RecordingNotifier()
    pipeline = delivery(slack)
    pipeline.deliver([drop(0, "orders")], T0, batch_id="b1")
    # WHEN one statement drops orders and carts
    pipeline.deliver([drop(30, "orders", "carts")], T0, batch_id="b2")
    # THEN the statement is delivered (carts is new) and names both
    assert slack.sent[-1].alert.objects == ("orders", "carts")


def test_success_and_failure_on_one_table_never_share_an_alert() -> None:
    # GIVEN a drop that succeeds and the same drop failing a second later, in one batch
    slack = RecordingNotifier()
    # WHEN delivered
    delivery(slack).deliver([drop(0, "shop.t"), drop(1, "shop.t", failed=True)], T0, batch_id="b1")
    # THEN two alerts: one done, one attempted
    assert sorted(o.alert.first.attempt_failed for o in slack.sent) == [False, True]


def test_a_retried_batch_claims_its_own_object_windows_and_sends_nothing_twice() -> None:
    # GIVEN a batch of two new tables delivered
    slack = RecordingNotifier()
    pipeline = delivery(slack)
    batch = [drop(0, "a"), drop(1, "b")]
    pipeline.deliver(batch, T0, batch_id="b1")
    # WHEN the same batch is retried
    report = pipeline.deliver(batch, T0, batch_id="b1")
    # THEN the ledger recognizes the alert: nothing is folded, nothing sent twice
    assert len(slack.sent) == 1
    assert report.already_delivered["slack"] == 1
    assert report.suppressed == 0


def test_the_window_of_each_object_reopens_after_it_elapses() -> None:
    # GIVEN orders reported at T0
    slack = RecordingNotifier()
    pipeline = delivery(slack)
    pipeline.deliver([drop(0, "orders")], T0, batch_id="b1")
    # WHEN orders is dropped again after the 5-minute window
    pipeline.deliver([drop(301, "orders")], T0 + timedelta(minutes=6), batch_id="b2")
    # THEN it is reported again
    assert len(slack.sent) == 2


def test_a_thousand_new_tables_are_one_message_whose_object_field_fits_slack() -> None:
    # GIVEN one batch dropping 1,000 tables with long names
    slack = RecordingNotifier()
    findings = [drop(n / 100, f"warehouse_{n:04d}.fact_sales_{'x' * 40}") for n in range(1000)]
    # WHEN delivered
    delivery(slack).deliver(findings, T0, batch_id="b1")
    # THEN one alert lists them; its Slack field lists as many as fit and counts the rest
    (outgoing,) = slack.sent
    assert len(outgoing.alert.objects) == 1000
    field_text = next(
        f["text"]["text"] if isinstance(f.get("text"), dict) else f["text"]
        for block in render_blocks(outgoing)
        for f in block.get("fields", [])
        if f["text"].startswith("Objects: ")
    )
    assert len(field_text) <= OBJECTS_FIELD_LIMIT
    assert field_text.endswith("more")
    shown = field_text.removeprefix("Objects: ").split(", ")
    hidden = int(shown[-1].split(" +")[1].split(" ")[0])
    assert len(shown) + hidden == 1000  # every object is either named or counted


def test_the_email_objects_line_names_fifty_then_counts_the_rest() -> None:
    # GIVEN an alert of 60 dropped tables
    slack = RecordingNotifier()
    delivery(slack).deliver([drop(n, f"t{n:02d}") for n in range(60)], T0, batch_id="b1")
    # WHEN rendered as an e-mail
    body = render_body(slack.sent[0])
    # THEN the Objects line names 50 and says how many more
    (line,) = [row for row in body.splitlines() if row.startswith("Objects:")]
    assert line.endswith("t49 +10 more")
    assert "t00, t01" in line


def test_a_single_object_is_listed_too() -> None:
    # GIVEN one dropped table
    slack = RecordingNotifier()
    delivery(slack).deliver([drop(0, "orders")], T0, batch_id="b1")
    # WHEN rendered for both channels
    body = render_body(slack.sent[0])
    fields = [f["text"] for block in render_blocks(slack.sent[0]) for f in block.get("fields", [])]
    # THEN both name it
    assert "Objects:     orders" in body
    assert "Objects: orders" in fields


def test_object_list_budget() -> None:
    # GIVEN names and a budget that holds only two of them
    names = ["alpha", "beta", "gamma", "delta"]
    # WHEN listed within the budget, and with no budget
    fitted = object_list(names, fits=lambda text: len(text) <= 20)
    # THEN the fitted list names what fits and counts the rest; no budget names up to the limit
    assert fitted == "alpha, beta +2 more"
    assert object_list(names) == "alpha, beta, gamma, delta"
    assert object_list(names, limit=1) == "alpha +3 more"
    assert object_list(names, fits=lambda text: False) == "+4 more"


@dataclass
class CountingSuppression(InMemorySuppressionStore):
    """The in-memory windows, counting every read of them."""

    calls: int = 0

    def admit(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        """Count, then decide as the in-memory store does."""
        self.calls += 1
        return super().admit(*args, **kwargs)  # type: ignore[arg-type]

    def admit_many(self, requests: Sequence[object]) -> object:  # type: ignore[override]
        """Count, then decide as the in-memory store does."""
        self.calls += 1
        return super().admit_many(requests)  # type: ignore[arg-type]


def test_an_alert_no_configured_channel_takes_is_counted_and_costs_no_window() -> None:
    # GIVEN only email configured, and 1,000 dropped tables (a Slack-only rule) in one batch
    windows = CountingSuppression()
    pipeline = Delivery({"email": RecordingNotifier("email")}, windows, InMemoryDeliveryLedger())
    findings = [drop(n / 10, f"t{n}") for n in range(1000)]
    # WHEN delivering the batch
    report = pipeline.deliver(findings, T0, batch_id="b1")
    # THEN the one collapsed alert is counted as unrouted on slack, nothing is suppressed or sent,
    # and no suppression window was read or written for it
    assert report.unrouted == {"slack": 1}
    assert (report.suppressed, sum(report.alerts_sent.values()), windows.calls) == (0, 0, 0)
