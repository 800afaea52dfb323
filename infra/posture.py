"""Posture: is auditing actually on for each Aurora cluster and RDS instance, and does it reach us?

Per resource (FORMATS 1.2, 2.2, 3.3, 3.4, 4.1): the audit log export, the engine's audit settings
(Aurora MySQL cluster parameters, the RDS MySQL / MariaDB MARIADB_AUDIT_PLUGIN option, PostgreSQL
pgaudit and log_connections), the Database Activity Stream (Aurora clusters) and our subscription
filter on the exported log group. Each failed check carries the fix that would make it pass, as data
(infra/posture_fixes.py applies it). Reads only; the clients are injected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from infra.subscriptions import FILTER_NAME

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rds import RDSClient

MYSQL_ENGINES: Final = frozenset({"aurora", "aurora-mysql", "mysql", "mariadb"})
POSTGRES_ENGINES: Final = frozenset({"aurora-postgresql", "postgres"})
TRUE_VALUES: Final = frozenset({"1", "on", "true"})
AUDIT_OPTION: Final = "MARIADB_AUDIT_PLUGIN"
PLUGIN_DEFAULT_EVENTS: Final = "CONNECT,QUERY"  # SERVER_AUDIT_EVENTS when the option sets none


class Status(StrEnum):
    """A check's outcome."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Fix:
    """A change that makes a failed check pass: what it does, and the API call's arguments."""

    kind: (
        str  # log_export | cluster_parameters | instance_parameters | audit_option | activity_stream | filter
    )
    description: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one resource; a failure may carry its fix (None: no automatic fix, see reason)."""

    resource: str
    check: str
    status: Status
    reason: str
    fix: Fix | None = None

    def as_record(self) -> dict[str, str]:
        """The reported object: {"resource", "check", "status", "reason"}."""
        return {"resource": self.resource, "check": self.check, "status": self.status, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Resource:
    """An Aurora cluster or a standalone RDS instance, as DescribeDBClusters / DescribeDBInstances give it."""

    kind: str  # "cluster" | "instance"
    identifier: str
    arn: str
    engine: str
    exports: tuple[str, ...]
    parameter_group: str
    option_groups: tuple[str, ...] = ()
    description: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How reports name it: cluster/<id> or instance/<id>."""
        return f"{self.kind}/{self.identifier}"

    @property
    def is_mysql(self) -> bool:
        """Whether it is of the MySQL family (audit log type `audit`)."""
        return self.engine in MYSQL_ENGINES

    @property
    def log_type(self) -> str:
        """The CloudWatch Logs export type that carries its audit records."""
        return "audit" if self.is_mysql else "postgresql"

    @property
    def log_group(self) -> str:
        """The log group RDS exports the audit log to."""
        return f"/aws/rds/{self.kind}/{self.identifier}/{self.log_type}"


def list_resources(rds: RDSClient) -> Iterator[Resource]:
    """Aurora clusters, then RDS instances that are not cluster members, of the audited engines."""
    for page in rds.get_paginator("describe_db_clusters").paginate():
        for cluster in page.get("DBClusters", []):
            engine = cluster.get("Engine", "")
            if engine in MYSQL_ENGINES | POSTGRES_ENGINES:
                yield Resource(
                    "cluster",
                    cluster["DBClusterIdentifier"],
                    cluster.get("DBClusterArn", ""),
                    engine,
                    tuple(cluster.get("EnabledCloudwatchLogsExports", [])),
                    cluster.get("DBClusterParameterGroup", ""),
                    description=dict(cluster),
                )
    for instance_page in rds.get_paginator("describe_db_instances").paginate():
        for instance in instance_page.get("DBInstances", []):
            engine = instance.get("Engine", "")
            if instance.get("DBClusterIdentifier") or engine not in MYSQL_ENGINES | POSTGRES_ENGINES:
                continue
            groups = instance.get("DBParameterGroups", [])
            yield Resource(
                "instance",
                instance["DBInstanceIdentifier"],
                instance.get("DBInstanceArn", ""),
                engine,
                tuple(instance.get("EnabledCloudwatchLogsExports", [])),
                groups[0].get("DBParameterGroupName", "") if groups else "",
                tuple(m.get("OptionGroupName", "") for m in instance.get("OptionGroupMemberships", [])),
                description=dict(instance),
            )


def _parameters(rds: RDSClient, resource: Resource) -> dict[str, str]:
    """The resource's (cluster or instance) parameter group values, by name; unset ones are left out."""
    if resource.kind == "cluster":
        pages = rds.get_paginator("describe_db_cluster_parameters").paginate(
            DBClusterParameterGroupName=resource.parameter_group
        )
    else:
        pages = rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=resource.parameter_group
        )
    return {
        p["ParameterName"]: str(p["ParameterValue"])
        for page in pages
        for p in page.get("Parameters", [])
        if "ParameterValue" in p
    }


def _words(value: str) -> set[str]:
    """A comma list as a set of upper-case words."""
    return {word.strip().upper() for word in value.split(",") if word.strip()}


def check_log_export(resource: Resource) -> CheckResult:
    """The audit log type is exported to CloudWatch Logs."""
    if resource.log_type in resource.exports:
        return CheckResult(resource.name, "log_export", Status.PASS, f"{resource.log_type} log exported")
    fix = Fix(
        "log_export",
        f"export the {resource.log_type} log of {resource.name}",
        {"log_type": resource.log_type},
    )
    exported = ", ".join(resource.exports) or "none"
    reason = f"{resource.log_type} log not exported (exported: {exported})"
    return CheckResult(resource.name, "log_export", Status.FAIL, reason, fix)


def _mysql_parameter_result(resource: Resource, values: Mapping[str, str]) -> CheckResult:
    """Aurora MySQL: server_audit_logging on, server_audit_events with CONNECT and QUERY (or DDL + DCL)."""
    logging_on = values.get("server_audit_logging", "").lower() in TRUE_VALUES
    events = _words(values.get("server_audit_events", ""))
    statements = "QUERY" in events or {"QUERY_DDL", "QUERY_DCL"} <= events
    if logging_on and "CONNECT" in events and statements:
        return CheckResult(
            resource.name, "audit_settings", Status.PASS, f"server_audit_events={','.join(sorted(events))}"
        )
    wanted = ",".join(sorted(events | {"CONNECT", "QUERY"}))
    problems = [] if logging_on else ["server_audit_logging is off"]
    if "CONNECT" not in events or not statements:
        problems.append(
            f"server_audit_events={','.join(sorted(events)) or '(empty)'} lacks CONNECT and QUERY"
        )
    parameters = {"server_audit_logging": ("1", "immediate"), "server_audit_events": (wanted, "immediate")}
    return _parameter_failure(resource, "; ".join(problems), parameters)


def _postgres_parameter_result(resource: Resource, values: Mapping[str, str]) -> CheckResult:
    """PostgreSQL: pgaudit preloaded, pgaudit.log with ddl and role, log_connections on."""
    libraries = {w.lower() for w in _words(values.get("shared_preload_libraries", ""))}
    classes = {w.lower() for w in _words(values.get("pgaudit.log", ""))}
    problems: list[str] = []
    parameters: dict[str, tuple[str, str]] = {}
    if "pgaudit" not in libraries:
        problems.append("pgaudit is not in shared_preload_libraries")
        parameters["shared_preload_libraries"] = (",".join(sorted(libraries | {"pgaudit"})), "pending-reboot")
    if "all" not in classes and not {"ddl", "role"} <= classes:
        problems.append(f"pgaudit.log={','.join(sorted(classes)) or '(empty)'} lacks ddl and role")
        parameters["pgaudit.log"] = (",".join(sorted(classes | {"ddl", "role"})), "immediate")
    if values.get("log_connections", "").lower() not in TRUE_VALUES:
        problems.append("log_connections is off")
        parameters["log_connections"] = ("1", "immediate")
    if not problems:
        return CheckResult(
            resource.name, "audit_settings", Status.PASS, f"pgaudit.log={','.join(sorted(classes))}"
        )
    return _parameter_failure(resource, "; ".join(problems), parameters)


def _parameter_failure(
    resource: Resource, reason: str, parameters: Mapping[str, tuple[str, str]]
) -> CheckResult:
    """A failed settings check; its fix sets the parameters unless the group is a read-only default one."""
    group = resource.parameter_group
    if group.startswith("default."):
        reason += f" (parameter group {group} is a default one: attach a custom group to fix it)"
        return CheckResult(resource.name, "audit_settings", Status.FAIL, reason)
    kind = "cluster_parameters" if resource.kind == "cluster" else "instance_parameters"
    names = ", ".join(f"{name}={value}" for name, (value, _method) in parameters.items())
    fix = Fix(kind, f"set {names} in {group}", {"group": group, "parameters": dict(parameters)})
    return CheckResult(resource.name, "audit_settings", Status.FAIL, reason, fix)


def _option_result(rds: RDSClient, resource: Resource) -> CheckResult:
    """RDS MySQL / MariaDB: the MARIADB_AUDIT_PLUGIN option with CONNECT and QUERY events."""
    for group in resource.option_groups:
        for option_group in rds.describe_option_groups(OptionGroupName=group).get("OptionGroupsList", []):
            for option in option_group.get("Options", []):
                if option.get("OptionName") != AUDIT_OPTION:
                    continue
                settings = {s.get("Name"): s.get("Value", "") for s in option.get("OptionSettings", [])}
                events = _words(settings.get("SERVER_AUDIT_EVENTS") or PLUGIN_DEFAULT_EVENTS)
                if "CONNECT" in events and ("QUERY" in events or {"QUERY_DDL", "QUERY_DCL"} <= events):
                    return CheckResult(
                        resource.name, "audit_settings", Status.PASS, f"{AUDIT_OPTION} in {group}"
                    )
                reason = f"{AUDIT_OPTION} in {group} logs {','.join(sorted(events))}, not CONNECT and QUERY"
                return CheckResult(resource.name, "audit_settings", Status.FAIL, reason, _option_fix(group))
    custom = [g for g in resource.option_groups if not g.startswith("default:")]
    reason = f"no {AUDIT_OPTION} option in {', '.join(resource.option_groups) or 'any option group'}"
    if not custom:
        reason += " (only default option groups: attach a custom one to fix it)"
        return CheckResult(resource.name, "audit_settings", Status.FAIL, reason)
    return CheckResult(resource.name, "audit_settings", Status.FAIL, reason, _option_fix(custom[0]))


def _option_fix(group: str) -> Fix:
    """Add (or reset) the audit plugin option with CONNECT and QUERY events."""
    return Fix("audit_option", f"add {AUDIT_OPTION} (CONNECT,QUERY) to {group}", {"group": group})


def check_audit_settings(rds: RDSClient, resource: Resource) -> CheckResult:
    """The engine's own audit settings; unknown when the groups cannot be read."""
    try:
        if resource.is_mysql and resource.kind == "instance":
            return _option_result(rds, resource)
        values = _parameters(rds, resource)
    except ClientError as exc:
        reason = f"cannot read the settings: {exc.response.get('Error', {}).get('Code', 'error')}"
        return CheckResult(resource.name, "audit_settings", Status.UNKNOWN, reason)
    if resource.is_mysql:
        return _mysql_parameter_result(resource, values)
    return _postgres_parameter_result(resource, values)


def check_activity_stream(resource: Resource, kms_key_id: str | None) -> CheckResult | None:
    """Aurora clusters: the activity stream is started (mode and KMS key reported); None for instances."""
    if resource.kind != "cluster":
        return None
    status = resource.description.get("ActivityStreamStatus")
    if status is None:
        return CheckResult(resource.name, "activity_stream", Status.UNKNOWN, "status not reported")
    if status == "started":
        mode = resource.description.get("ActivityStreamMode", "?")
        key = resource.description.get("ActivityStreamKmsKeyId", "?")
        return CheckResult(
            resource.name, "activity_stream", Status.PASS, f"started, mode {mode}, KMS key {key}"
        )
    reason = f"activity stream {status}"
    if not kms_key_id:
        return CheckResult(resource.name, "activity_stream", Status.FAIL, reason + " (--kms-key-id to fix)")
    fix = Fix(
        "activity_stream",
        f"start the activity stream (async) with KMS key {kms_key_id}",
        {"kms_key_id": kms_key_id},
    )
    return CheckResult(resource.name, "activity_stream", Status.FAIL, reason, fix)


def check_subscription(
    logs: CloudWatchLogsClient, resource: Resource, destination_arn: str | None
) -> CheckResult:
    """Our subscription filter sits on the resource's audit log group."""
    try:
        filters = logs.describe_subscription_filters(logGroupName=resource.log_group).get(
            "subscriptionFilters", []
        )
    except logs.exceptions.ResourceNotFoundException:
        filters, missing = [], " (the log group does not exist yet)"
    except ClientError as exc:
        reason = f"cannot read the filters: {exc.response.get('Error', {}).get('Code', 'error')}"
        return CheckResult(resource.name, "subscription_filter", Status.UNKNOWN, reason)
    else:
        missing = ""
    ours = [f for f in filters if f.get("filterName") == FILTER_NAME]
    if ours:
        reason = f"{FILTER_NAME} on {resource.log_group} → {ours[0].get('destinationArn', '?')}"
        return CheckResult(resource.name, "subscription_filter", Status.PASS, reason)
    reason = f"no {FILTER_NAME} filter on {resource.log_group}{missing}"
    if not destination_arn:
        return CheckResult(
            resource.name, "subscription_filter", Status.FAIL, reason + " (--destination to fix)"
        )
    fix = Fix("filter", f"attach {FILTER_NAME} to {resource.log_group}", {"log_group": resource.log_group})
    return CheckResult(resource.name, "subscription_filter", Status.FAIL, reason, fix)


def check_posture(
    rds: RDSClient,
    logs: CloudWatchLogsClient,
    *,
    destination_arn: str | None = None,
    kms_key_id: str | None = None,
) -> list[tuple[Resource, CheckResult]]:
    """Every check of every audited resource, in order."""
    results: list[tuple[Resource, CheckResult]] = []
    for resource in list_resources(rds):
        checks = [
            check_log_export(resource),
            check_audit_settings(rds, resource),
            check_activity_stream(resource, kms_key_id),
            check_subscription(logs, resource, destination_arn),
        ]
        results.extend((resource, check) for check in checks if check is not None)
    return results
