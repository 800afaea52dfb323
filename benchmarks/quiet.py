"""Run handlers in a benchmark without their logs and metrics flooding the terminal."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from typing import Any

# Read by the handlers' settings: no delivery channel, no state table, no user rules.
HANDLER_ENV_CLEARED = (
    "ALERTS_SNS_TOPIC_ARN",
    "ALERTS_SLACK_SECRET_ARN",
    "ALERTS_STATE_TABLE",
    "ALERTS_RULES",
    "ALERTS_QUARANTINE_QUEUE_URL",
)


@contextlib.contextmanager
def quiet_handlers() -> Iterator[None]:
    """Silence Powertools' logger (ERROR and up only) and swallow the EMF metrics printed on stdout."""
    from handlers.invocation import logger  # noqa: PLC0415 - the benchmark chooses what it imports

    previous = logger.log_level
    logger.setLevel(logging.ERROR)
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)
        logger.setLevel(previous)


def clear_handler_env() -> None:
    """Unset the channel, state and rules settings so the handler runs with none configured."""
    for name in HANDLER_ENV_CLEARED:
        os.environ.pop(name, None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AuroraAuditAlertsBench")


def count_api_calls(event_name: str) -> list[int]:
    """A one-cell counter of AWS API calls matching a botocore event (e.g. before-call.dynamodb)."""
    import botocore.session  # noqa: PLC0415 - only benchmarks that talk to (moto) AWS need it

    count = [0]

    def counted(**_: object) -> None:
        count[0] += 1

    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register(event_name, counted)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    return count
