"""Apply posture fixes (infra/posture.py's Fix values) through the RDS and CloudWatch Logs APIs."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from infra.log_selection import filter_pattern_for
from infra.posture import AUDIT_OPTION, PLUGIN_DEFAULT_EVENTS, Fix, Resource
from infra.subscriptions import ChangeAction, SubscriptionChange, apply_subscriptions

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_rds.type_defs import CloudwatchLogsExportConfigurationTypeDef, ParameterTypeDef


@dataclass(frozen=True, slots=True)
class FixOutcome:
    """One applied fix: whether it took effect, and the AWS error when not."""

    resource: str
    fix: Fix
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class FixTargets:
    """What fixes need beyond the resource: where filters send events (and with which role)."""

    destination_arn: str | None = None
    role_arn: str | None = None


def _log_export(rds: RDSClient, resource: Resource, fix: Fix) -> None:
    """Turn on the audit log export of a cluster or an instance."""
    config: CloudwatchLogsExportConfigurationTypeDef = {"EnableLogTypes": [fix.arguments["log_type"]]}
    if resource.kind == "cluster":
        rds.modify_db_cluster(
            DBClusterIdentifier=resource.identifier,
            CloudwatchLogsExportConfiguration=config,
            ApplyImmediately=True,
        )
    else:
        rds.modify_db_instance(
            DBInstanceIdentifier=resource.identifier,
            CloudwatchLogsExportConfiguration=config,
            ApplyImmediately=True,
        )


def _parameters(rds: RDSClient, fix: Fix) -> None:
    """Set parameters in a cluster or instance parameter group."""
    parameters: list[ParameterTypeDef] = [
        {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}
        for name, (value, method) in fix.arguments["parameters"].items()
    ]
    if fix.kind == "cluster_parameters":
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=fix.arguments["group"],
            Parameters=parameters,
        )
    else:
        rds.modify_db_parameter_group(DBParameterGroupName=fix.arguments["group"], Parameters=parameters)


def _audit_option(rds: RDSClient, fix: Fix) -> None:
    """Add the audit plugin option (CONNECT, QUERY) to an option group."""
    rds.modify_option_group(
        OptionGroupName=fix.arguments["group"],
        OptionsToInclude=[
            {
                "OptionName": AUDIT_OPTION,
                "OptionSettings": [{"Name": "SERVER_AUDIT_EVENTS", "Value": PLUGIN_DEFAULT_EVENTS}],
            }
        ],
        ApplyImmediately=True,
    )


def _filter(logs: CloudWatchLogsClient, fix: Fix, targets: FixTargets) -> None:
    """Attach our filter to the audit log group, creating the group when RDS has not yet."""
    log_group = fix.arguments["log_group"]
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=log_group)
    change = SubscriptionChange(
        log_group,
        ChangeAction.ATTACH,
        "posture fix",
        targets.destination_arn or "",
        filter_pattern_for(log_group),
        targets.role_arn,
    )
    (result,) = apply_subscriptions(logs, [change])
    if not result.ok:
        raise FixError(result.error)


class FixError(Exception):
    """A fix failed in a way the API reported without a ClientError (the subscription result)."""


def apply_fix(
    rds: RDSClient, logs: CloudWatchLogsClient, resource: Resource, fix: Fix, targets: FixTargets
) -> FixOutcome:
    """Apply one fix; an AWS error is reported in the outcome, never raised."""
    try:
        if fix.kind == "log_export":
            _log_export(rds, resource, fix)
        elif fix.kind in ("cluster_parameters", "instance_parameters"):
            _parameters(rds, fix)
        elif fix.kind == "audit_option":
            _audit_option(rds, fix)
        elif fix.kind == "activity_stream":
            rds.start_activity_stream(
                ResourceArn=resource.arn,
                Mode="async",
                KmsKeyId=fix.arguments["kms_key_id"],
                ApplyImmediately=True,
            )
        else:
            _filter(logs, fix, targets)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return FixOutcome(resource.name, fix, ok=False, error=f"{error.get('Code')}: {error.get('Message')}")
    except FixError as exc:
        return FixOutcome(resource.name, fix, ok=False, error=str(exc))
    return FixOutcome(resource.name, fix, ok=True)
