"""The demo run: the whole pipeline on a local AWS emulator, from database log line to inbox.

Starts moto and a local Slack, creates the pipeline's resources, plays the scenario as the databases
would (CloudWatch Logs `put_log_events`, an encrypted activity stream), hands what they wrote to the
real Lambda handlers in the shapes AWS uses, and shows every email and Slack message as it arrives,
then a summary. `--json` prints the delivered alerts as JSON lines; `--keep` leaves the emulator up.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import boto3

from handlers.demo_das import put_activity_record
from handlers.demo_delivery import (
    DUMMY_CREDENTIALS,
    DemoLambdaContext,
    HandlerLogs,
    KmsCallCounter,
    ShardReader,
    captured_handler_logs,
    handler_environment,
    subscription_payloads,
    warm_runtime,
)
from handlers.demo_emulator import Emulator, EmulatorUnavailableError, running_emulator, sigterm_interrupts
from handlers.demo_output import (
    SummaryCounts,
    drain_mailbox,
    email_record,
    render_email,
    render_slack,
    render_summary,
    slack_record,
)
from handlers.demo_resources import (
    LOG_STREAMS,
    SUBSCRIPTION_FILTER_NAME,
    DemoClients,
    DemoResources,
    create_resources,
    state_items_by_kind,
)
from handlers.demo_scenario import PG_CLUSTER_RESOURCE_ID, REGION, Step, scenario_steps
from handlers.settings import ENV_SLACK_SECRET, ENV_SNS_TOPIC, ENV_STATE_TABLE

EXIT_USAGE = 2
LOGS_FUNCTION = "aurora-audit-alerts-logs"
DAS_FUNCTION = "aurora-audit-alerts-das"
SCENARIO_AGE = timedelta(minutes=3)
KEEP_PROMPT = "Press Ctrl-C to stop the emulator."  # the scenario starts this long before now


@dataclass
class _Run:
    """One demo run's clients, resources, output streams and running tallies."""

    emulator: Emulator
    clients: DemoClients
    resources: DemoResources
    account: str
    out: TextIO
    narrative: TextIO
    as_json: bool
    kms: KmsCallCounter
    started: float
    logs: HandlerLogs = field(default_factory=HandlerLogs)
    records: list[dict[str, Any]] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)
    seen_events: set[str] = field(default_factory=set)
    slack_seen: int = 0

    def say(self, text: str = "") -> None:
        """A line of the story (stdout, or stderr under --json)."""
        print(text, file=self.narrative, flush=True)


def run_demo(*, as_json: bool, keep: bool, out: TextIO, err: TextIO) -> int:
    """Run the demo; the exit code."""
    started = time.monotonic()
    try:
        # No proxy, profile or session token of the user's shell may reach the loopback emulator.
        with sigterm_interrupts(), handler_environment({}), running_emulator() as emulator:
            run = _prepare(emulator, out, err, as_json=as_json, started=started)
            _play(run)
            if keep:
                _keep(run)
    except EmulatorUnavailableError as exc:
        print(f"audit-alerts: error: {exc}", file=err)
        return EXIT_USAGE
    return 0


def _prepare(emulator: Emulator, out: TextIO, err: TextIO, *, as_json: bool, started: float) -> _Run:
    """Clients on the emulator and the pipeline's resources."""
    session = boto3.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )

    def client(service: str) -> Any:
        """A client of the emulator."""
        return session.client(service, endpoint_url=emulator.endpoint)  # type: ignore[call-overload]

    clients = DemoClients(
        sns=client("sns"),
        sqs=client("sqs"),
        secrets=client("secretsmanager"),
        dynamodb=client("dynamodb"),
        kms=client("kms"),
        logs=client("logs"),
        kinesis=client("kinesis"),
    )
    kms = KmsCallCounter()
    kms.attach(clients.kms, "database (RDS)")
    account = client("sts").get_caller_identity()["Account"]
    resources = create_resources(clients, emulator.slack.webhook_url, REGION, account)
    run = _Run(emulator, clients, resources, account, out, err if as_json else out, as_json, kms, started)
    run.say("aurora-audit-alerts demo: the whole pipeline on a local AWS emulator")
    run.say(f"  AWS emulator  moto ThreadedMotoServer at {emulator.endpoint} (region {REGION})")
    run.say(f"  Slack         local incoming-webhook receiver on 127.0.0.1:{emulator.slack.port}")
    run.say(f"  created       SNS topic {resources.topic_arn} → SQS mailbox (raw delivery off)")
    run.say(
        f"                Slack secret, state table {resources.state_table}, KMS key {resources.kms_key_id}"
    )
    for group in LOG_STREAMS:
        run.say(f"                log group {group}, subscription filter {SUBSCRIPTION_FILTER_NAME}")
    run.say(f"                activity stream {resources.das_stream}")
    run.say("  emulated hops (moto does not run them; the demo does, with the shapes AWS uses):")
    run.say("    subscription filter → Lambda: filter_log_events → gzip+base64 awslogs payload")
    run.say("                                  → handlers.cloudwatch_logs.lambda_handler")
    run.say("    Kinesis → Lambda (event source mapping): get_records → Kinesis event")
    run.say("                                  → handlers.activity_stream.lambda_handler")
    return run


def _environment(run: _Run) -> dict[str, str]:
    """The deploy contract's variables, pointed at the emulator."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": run.emulator.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        ENV_SNS_TOPIC: run.resources.topic_arn,
        ENV_SLACK_SECRET: run.resources.slack_secret_arn,
        ENV_STATE_TABLE: run.resources.state_table,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "aurora-audit-alerts",
    }


def _play(run: _Run) -> None:
    """Every scenario step: the database writes, the hop delivers, the alerts arrive; then the summary."""
    steps = scenario_steps(datetime.now(UTC).replace(microsecond=0) - SCENARIO_AGE)
    reader = ShardReader(
        run.clients.kinesis, run.resources.das_stream, run.resources.das_stream_arn, REGION, run.account
    )
    with handler_environment(_environment(run)), captured_handler_logs(run.logs):
        warm_runtime(run.kms)
        for number, step in enumerate(steps, 1):
            run.say()
            run.say(f"[{number}/{len(steps)}] {step.title}")
            if step.activity_record is not None:
                _play_activity(run, step.activity_record, reader)
            else:
                _play_logs(run, step)
            _show_arrivals(run)
    run.say()
    run.say(
        render_summary(
            run.records,
            SummaryCounts(
                kms_calls=run.kms.calls,
                state_items=state_items_by_kind(run.clients.dynamodb, run.resources.state_table),
                invocations=run.invocations,
            ),
        ).rstrip()
    )
    run.say(f"Finished in {time.monotonic() - run.started:.1f} s.")


def _play_logs(run: _Run, step: Step) -> None:
    """The database writes its lines; the subscription-filter hop hands them to the CloudWatch handler."""
    from handlers.cloudwatch_logs import lambda_handler  # noqa: PLC0415 - imported once the env is set

    run.clients.logs.put_log_events(
        logGroupName=step.log_group,
        logStreamName=step.log_stream,
        logEvents=[
            {"timestamp": int(line.time.timestamp() * 1000), "message": line.message} for line in step.lines
        ],
    )
    run.say(f"  database → CloudWatch Logs: put_log_events, {len(step.lines)} lines to {step.log_group}")
    payloads = subscription_payloads(
        run.clients.logs,
        step.log_group,
        run.seen_events,
        owner=run.account,
        filter_name=SUBSCRIPTION_FILTER_NAME,
    )
    for payload in payloads:
        lambda_handler(payload, DemoLambdaContext(LOGS_FUNCTION, REGION, run.account))
        run.invocations["cloudwatch_logs.lambda_handler"] += 1
    run.say(f"  [emulated hop] subscription filter → lambda_handler: {len(payloads)} awslogs payload(s)")
    _say_summary(run)


def _play_activity(run: _Run, record: dict[str, Any], reader: ShardReader) -> None:
    """RDS encrypts the record and puts it on the stream; the event-source-mapping hop hands it over."""
    from handlers.activity_stream import lambda_handler  # noqa: PLC0415 - imported once the env is set

    put_activity_record(
        run.clients.kinesis,
        stream_name=run.resources.das_stream,
        record=record,
        kms=run.clients.kms,
        key_id=run.resources.kms_key_id,
        resource_id=PG_CLUSTER_RESOURCE_ID,
    )
    run.say(
        "  database → Kinesis: KMS GenerateDataKey (context aws:rds:dbc-id), gzip, Encryption SDK, "
        f"put_record on {run.resources.das_stream}"
    )
    event = reader.kinesis_event()
    response = lambda_handler(event, DemoLambdaContext(DAS_FUNCTION, REGION, run.account))
    run.invocations["activity_stream.lambda_handler"] += 1
    failures = len(response.get("batchItemFailures", []))
    run.say(
        f"  [emulated hop] event source mapping → lambda_handler: {len(event['Records'])} record(s), "
        f"{failures} batch item failure(s)"
    )
    _say_summary(run)


def _say_summary(run: _Run) -> None:
    """What the handler's own invocation summary said (events, findings, alerts sent, suppressed)."""
    summaries = run.logs.summaries()
    if not summaries:
        return
    last = summaries[-1]
    events = sum(last.get("events", {}).values())
    findings = ", ".join(f"{rule} {n}" for rule, n in sorted(last.get("findings", {}).items())) or "none"
    sent = ", ".join(f"{channel} {n}" for channel, n in sorted(last.get("alerts_sent", {}).items())) or "none"
    run.say(
        f"  handler summary: {events} events; findings: {findings}; sent: {sent}; "
        f"suppressed {last.get('suppressed', 0)}"
    )


def _show_arrivals(run: _Run) -> None:
    """Every email and Slack message that arrived since the last look, as their readers see them."""
    for email in drain_mailbox(run.clients.sqs, run.resources.mailbox_url):
        _deliver(run, email_record(email), render_email(email))
    messages = run.emulator.slack.taken_since(run.slack_seen)
    run.slack_seen += len(messages)
    for payload in messages:
        _deliver(run, slack_record(payload), render_slack(payload))


def _deliver(run: _Run, record: dict[str, Any], rendered: str) -> None:
    """Show one delivered alert: rendered in the story, or one JSON line under --json."""
    run.records.append(record)
    if run.as_json:
        print(json.dumps(record, ensure_ascii=False), file=run.out, flush=True)
    else:
        run.say()
        run.say(rendered.rstrip())


def _keep(run: _Run) -> None:
    """Leave the emulator up until Ctrl-C, with commands to look around."""
    endpoint = run.emulator.endpoint
    aws = f"aws --endpoint-url {endpoint}"
    run.say()
    run.say(f"The emulator stays up at {endpoint}. Look around (any credentials work):")
    run.say(f"  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION={REGION}")
    for group in LOG_STREAMS:
        run.say(f"  {aws} logs describe-subscription-filters --log-group-name {group}")
    run.say(f"  {aws} dynamodb scan --table-name {run.resources.state_table}")
    run.say(f"  {aws} sns list-subscriptions-by-topic --topic-arn {run.resources.topic_arn}")
    run.say(f"  {aws} kinesis describe-stream-summary --stream-name {run.resources.das_stream}")
    run.say(f"  {aws} kms list-keys")
    run.say(KEEP_PROMPT)
    while True:
        time.sleep(0.5)
