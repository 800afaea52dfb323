"""Rules indexed by what they can match, so the engine never calls (or tokenizes for) a rule in vain.

Three gates, all from the rules' declared needs (detections/rule_needs.py): the observation's
action must be one the rule reads; a statement rule is skipped when the observation's statement is
ASCII text holding none of the keywords its statement kinds require, backslashes ignored (so a
statement no rule can match is never tokenized); and a statement rule is skipped when none of the
classified statements is of a kind it declares (a CREATE TABLE never reaches the account rules,
although it holds "create"). Undeclared rules always run, non-ASCII text passes the keyword gate,
and the rules declaring they read DROP evidence (`RuleNeeds.drop_evidence`, the only table evidence
a rule reads: `Observation.dropped_tables`) run when an observation carries it.
"""

from __future__ import annotations

from collections.abc import Sequence

from detections.observation import Observation
from detections.rule import Rule
from detections.rule_needs import statement_keywords
from parsers.event import Action, Source
from parsers.statement_keywords import holds_any, keyword_text

REMEMBERED_TEXTS = 4096
REMEMBERED_CHARS = 2048


class RuleIndex:
    """For one rule set: which rules an observation can possibly match, in the rules' order."""

    __slots__ = ("_all", "_by_action", "_keywords", "_kinds", "_remembered")

    def __init__(self, rules: Sequence[Rule]) -> None:
        """Index the rules by action and keep each statement rule's keywords (None: no gate)."""
        self._all = tuple(rules)
        self._by_action = rules_by_action(self._all)
        self._keywords = {
            rule.id: statement_keywords([rule.needs]) if rule.needs and rule.needs.statement_kinds else None
            for rule in self._all
        }
        self._kinds = {
            rule.id: rule.needs.statement_kinds if rule.needs and rule.needs.statement_kinds else None
            for rule in self._all
        }
        # Statements repeat: the answer per (action, source, engine, text, DROP evidence), for texts up
        # to REMEMBERED_CHARS (source and engine: the dialect the text is classified in).
        self._remembered: dict[tuple[Action, Source, str, str, bool], tuple[Rule, ...]] = {}

    def rules_for(self, observation: Observation) -> tuple[Rule, ...]:
        """The rules worth calling on this observation."""
        event = observation.event
        candidates = self._by_action.get(event.action, self._all)
        statement = event.statement
        if not statement:
            return candidates
        drop_evidence = observation.has_drop_evidence
        if len(statement) > REMEMBERED_CHARS:
            return self._answer(candidates, observation, drop_evidence)
        key = (event.action, event.source, event.engine, statement, drop_evidence)
        remembered = self._remembered.get(key)
        if remembered is None:
            if len(self._remembered) >= REMEMBERED_TEXTS:
                self._remembered.clear()  # bounded: start over rather than track recency
            remembered = self._remembered[key] = self._answer(candidates, observation, drop_evidence)
        return remembered

    def _answer(
        self, candidates: tuple[Rule, ...], observation: Observation, drop_evidence: bool
    ) -> tuple[Rule, ...]:
        """The candidates both statement gates let through, plus the readers of DROP evidence if any."""
        rules = self._of_kinds(self._gated(candidates, observation.event.statement or ""), observation)
        if drop_evidence:  # the rules reading it run whatever the text holds
            gated = {rule.id for rule in rules}
            return tuple(rule for rule in candidates if rule.id in gated or _reads_drop_evidence(rule))
        return rules

    def _of_kinds(self, rules: tuple[Rule, ...], observation: Observation) -> tuple[Rule, ...]:
        """The rules without declared kinds, and those declaring a kind the statement was classified as.

        Classifies only when a declared rule passed the keyword gate (the text is then likely to be
        classified by that rule anyway; the classification is remembered per text).
        """
        kinds = self._kinds
        if all(kinds[rule.id] is None for rule in rules):
            return rules
        try:
            present = {statement.kind for statement in observation.statements}
        except Exception:  # noqa: BLE001 - the rules meet the same error in the engine, each counted
            return rules
        return tuple(
            rule for rule in rules if (wanted := kinds[rule.id]) is None or not wanted.isdisjoint(present)
        )

    def _gated(self, candidates: tuple[Rule, ...], statement: str) -> tuple[Rule, ...]:
        """The candidates whose keywords the statement holds (all of them for non-ASCII text)."""
        text = keyword_text(statement)
        if text is None:
            return candidates
        return tuple(
            rule
            for rule in candidates
            if (words := self._keywords[rule.id]) is None or holds_any(text, words)
        )


def _reads_drop_evidence(rule: Rule) -> bool:
    """Whether a rule may read DROP evidence (an undeclared rule may read anything)."""
    return rule.needs is None or rule.needs.drop_evidence


def rules_by_action(rules: Sequence[Rule]) -> dict[Action, tuple[Rule, ...]]:
    """For every action, the rules (in their order) that can match an observation of it.

    A rule without a declaration (`needs` None, e.g. a user rule) is listed under every action.
    """
    return {
        action: tuple(rule for rule in rules if rule.needs is None or action in rule.needs.actions)
        for action in Action
    }
