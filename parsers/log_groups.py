"""Read RDS log-group names (`/aws/rds/{cluster|instance}/<id>/<log type>`) to route batches to a dialect."""

from __future__ import annotations

from dataclasses import dataclass

from parsers.event import Source
from parsers.records import Origin

_PREFIX = "/aws/rds/"
_KINDS = frozenset({"cluster", "instance"})


@dataclass(frozen=True, slots=True)
class LogGroupName:
    """The parts of an RDS log-group name, e.g. ("cluster", "mydb", "audit")."""

    kind: str  # "cluster" | "instance"
    identifier: str
    log_type: str  # audit, error, general, slowquery, postgresql, iam-db-auth-error, …


def parse_log_group_name(name: str) -> LogGroupName | None:
    """Split `/aws/rds/<kind>/<identifier>/<log type>`; None for any other log group."""
    if not isinstance(name, str) or not name.startswith(_PREFIX):
        return None
    parts = name[len(_PREFIX) :].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    kind, identifier, log_type = parts
    if kind not in _KINDS:
        return None
    return LogGroupName(kind=kind, identifier=identifier, log_type=log_type)


def source_for_log_group(name: str) -> Source | None:
    """The audit dialect written to this log group, or None when it is not an audit/PostgreSQL log."""
    parsed = parse_log_group_name(name)
    if parsed is None:
        return None
    if parsed.log_type == "postgresql":
        return Source.POSTGRES
    if parsed.log_type == "audit":
        # Aurora MySQL exports its advanced-auditing log per cluster; RDS MySQL/MariaDB export the
        # audit plugin's log per instance (FORMATS 1.1, 2.1).
        return Source.AURORA_MYSQL if parsed.kind == "cluster" else Source.MYSQL_AUDIT
    return None


def origin_for_log_group(log_group: str, log_stream: str) -> Origin:
    """The Origin of a batch: cluster is the log group's identifier ("" for non-RDS groups)."""
    parsed = parse_log_group_name(log_group)
    return Origin(
        log_group=log_group,
        log_stream=log_stream,
        cluster=parsed.identifier if parsed is not None else "",
    )
