"""CloudWatch Logs path: the subscription handler vs base64 + gunzip + json of the same payloads."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.quiet import clear_handler_env, quiet_handlers
from benchmarks.workloads import CPU, BenchContext, best_of, cloudwatch_payloads, decode_floor


@dataclass(frozen=True, slots=True)
class CloudWatchFigures:
    """Events per second through the handler and through the decode floor, measured in one run."""

    events_per_s: float
    floor_events_per_s: float

    @property
    def ratio(self) -> float:
        """The handler's rate as a fraction of the floor's."""
        return self.events_per_s / self.floor_events_per_s


def measure_cloudwatch(payloads: int = 10, lines: int = 1000, repeat: int = 5) -> CloudWatchFigures:
    """Best-of-`repeat` rates of the handler (no delivery channels) and of the floor, interleaved."""
    clear_handler_env()
    from handlers.cloudwatch_logs import lambda_handler  # noqa: PLC0415 - after the environment is set
    from handlers.runtime import reset_runtime  # noqa: PLC0415

    events = [{"awslogs": {"data": data}} for data in cloudwatch_payloads(payloads, lines)]
    context = BenchContext()
    total = payloads * lines

    def handler() -> None:
        reset_runtime()  # fresh in-memory state and suppression: each run sees the same findings
        for event in events:
            lambda_handler(event, context)

    def floor() -> None:
        for event in events:
            decode_floor(event["awslogs"]["data"])

    with quiet_handlers():
        handler()  # warm up: rules catalogue, regexes, runtime
        floor_s = handler_s = float("inf")
        for _ in range(repeat):  # interleaved so both see the same machine load
            floor_s = min(floor_s, best_of(1, floor, CPU))
            handler_s = min(handler_s, best_of(1, handler, CPU))
        reset_runtime()
    return CloudWatchFigures(events_per_s=total / handler_s, floor_events_per_s=total / floor_s)
