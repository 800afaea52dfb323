"""The detection engine: correlated observations through every rule, isolated, into findings."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4

from detections.correlation import correlate
from detections.finding import Finding, event_identity, redacted
from detections.observation import Observation
from detections.rule import Rule, RuleContext, RuleKind
from detections.rule_index import RuleIndex
from detections.severity import Severity
from detections.state import StateStore, StateStoreError, StateView
from parsers.event import AuditEvent

logger = logging.getLogger(__name__)

DEFAULT_INTERNAL_USERS = frozenset({"rdsadmin", "rdssec", "rdsproxyadmin"})

UnitOf = Callable[[AuditEvent], str]  # the re-delivered unit (payload, record) an event came in


def batch_order(event: AuditEvent) -> tuple[object, ...]:
    """Sort key of a batch: event time, then the stable event id (shorter first: numeric ids in order).

    Records of the same second are evaluated in the same order on every attempt, so a retry counts
    exactly as the first attempt did.
    """
    identity = event_identity(event)
    return (event.time, len(identity), identity)


def longest_window(rules: Sequence[Rule]) -> timedelta:
    """The longest `window_minutes` of the rules: how far back a batch reads the stored windows."""
    minutes = [
        float(value)
        for rule in rules
        if isinstance(value := rule.params.get("window_minutes"), int | float) and not isinstance(value, bool)
    ]
    return timedelta(minutes=max(minutes, default=0.0))


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Engine-wide tunables (per-rule tunables live on the rules)."""

    internal_users: frozenset[str] = DEFAULT_INTERNAL_USERS
    min_severity: Severity = Severity.INFO


@dataclass
class EngineCounters:
    """What the engine did, for the run report."""

    observations: int = 0  # findings are counted per rule by the run report (handlers/pipeline.py)
    rule_errors: Counter[str] = field(default_factory=Counter)
    below_min_severity: int = 0


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What an engine derives from its rules alone."""

    index: RuleIndex
    horizon: timedelta
    skip_internal: frozenset[str]  # statement rules that skip internal users (decided once per rule)


# What was derived from the rule tuple last asked for: a container builds an engine per batch over
# one rule tuple, and the index keeps the gate answers it remembers for the next batch.
_last_prepared: list[tuple[tuple[Rule, ...], _Prepared]] = []


def _prepared(rules: tuple[Rule, ...]) -> _Prepared:
    """What an engine over `rules` needs besides them: the same object again for the same tuple."""
    if _last_prepared and _last_prepared[0][0] is rules:
        return _last_prepared[0][1]
    skip_internal = frozenset(
        rule.id for rule in rules if rule.kind is RuleKind.STATEMENT and not rule.include_internal_users
    )
    prepared = _Prepared(RuleIndex(rules), longest_window(rules), skip_internal)
    _last_prepared[:] = [(rules, prepared)]
    return prepared


class DetectionEngine:
    """Runs rules over events; one rule's exception never stops the others."""

    def __init__(
        self, rules: Sequence[Rule], state: StateStore, settings: EngineSettings | None = None
    ) -> None:
        """Bind the rules to the state store they share."""
        self.rules = tuple(rules)
        self.state = state
        self.settings = settings or EngineSettings()
        self.counters = EngineCounters()
        prepared = _prepared(self.rules)
        self.horizon = prepared.horizon
        self._index = prepared.index  # only rules that can match an observation are called
        self._skip_internal = prepared.skip_internal
        self._reported = frozenset(  # decided once per rule, not per match
            rule.id for rule in self.rules if rule.severity.at_least(self.settings.min_severity)
        )

    def detect(
        self,
        events: Iterable[AuditEvent],
        unit_of: UnitOf | str | None = None,
        units: frozenset[str] = frozenset(),
        before_commit: Callable[[list[Finding]], object] | None = None,
    ) -> list[Finding]:
        """Correlate a batch: every finding, in observation order; the rule windows are then stored.

        The store is read once per touched key and written once per key at the end. `unit_of` names
        the re-delivered unit of each event (a string: the one unit of every event) and `units` all
        units of the batch (a retried batch reads the stored windows without them); without them the
        batch is one fresh unit. `before_commit` sees the findings before the windows are written, so
        a caller counts them even when writing fails (the error propagates: the batch is retried).
        """
        if unit_of is None:
            unit_of = uuid4().hex
            units = frozenset({unit_of})
        view = StateView(self.state, horizon=self.horizon, units=units)
        contexts = {rule.id: RuleContext(state=view, params=rule.params) for rule in self.rules}
        findings: list[Finding] = []
        add, evaluate = findings.extend, self.evaluate  # bound once: a batch has thousands of observations
        if isinstance(unit_of, str):  # one unit (a CloudWatch payload): set once, not per observation
            view.unit = unit_of
            for observation in correlate(events):
                add(evaluate(observation, contexts))
        else:
            for observation in correlate(events):
                view.unit = unit_of(observation.event)
                add(evaluate(observation, contexts))
        if before_commit is not None:
            before_commit(findings)
        view.commit()
        return findings

    def evaluate(self, observation: Observation, contexts: dict[str, RuleContext]) -> list[Finding]:
        """Run every applicable rule on one observation."""
        counters = self.counters
        counters.observations += 1
        findings: list[Finding] = []
        shown: AuditEvent | None = None  # the redacted event, made once for all of its findings
        internal = observation.event.user in self.settings.internal_users
        for rule in self._index.rules_for(observation):
            rule_id = rule.id
            if internal and rule_id in self._skip_internal:
                continue
            try:
                match = rule.evaluate(observation, contexts[rule_id])
            except StateStoreError:
                raise  # the state store is the caller's to retry, not a rule bug
            except Exception:  # per-rule isolation boundary: one broken rule must not blind the rest
                counters.rule_errors[rule_id] += 1
                logger.exception("rule %s failed on %s", rule_id, observation.event.location or "an event")
                continue
            if match is None:
                continue
            if rule_id not in self._reported:  # below the minimum severity
                counters.below_min_severity += 1
                continue
            if shown is None:
                shown = redacted(observation.event)
            # Positional (the field order of Finding): a third of the cost of ten keywords, per finding.
            findings.append(
                Finding(
                    rule_id,
                    match.title,
                    rule.severity,
                    rule.channels,
                    match.dedup_key,
                    shown,
                    match.context,
                    match.objects,
                    match.measured,
                    match.tally,
                )
            )
        return findings
