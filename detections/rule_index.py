"""Rules indexed by what they can match, so the engine never calls (or tokenizes for) a rule in vain.

Two gates, both from the rules' declared needs (detections/rule_needs.py): the observation's action
must be one the rule reads, and a statement rule is skipped when the observation's statement is
ASCII text holding none of the keywords its statement kinds require, backslashes ignored (so a
statement no rule can match is never tokenized). Non-ASCII text and undeclared rules always run,
and so do the rules declaring they read DROP evidence (`RuleNeeds.drop_evidence`, the only table
evidence a rule reads: `Observation.dropped_tables`) when an observation carries it.
"""

from __future__ import annotations

from collections.abc import Sequence

from detections.observation import Observation
from detections.rule import Rule
from detections.rule_needs import statement_keywords
from parsers.event import Action
from parsers.prefilter import holds_any, keyword_text

REMEMBERED_TEXTS = 4096
REMEMBERED_CHARS = 2048


class RuleIndex:
    """For one rule set: which rules an observation can possibly match, in the rules' order."""

    __slots__ = ("_all", "_by_action", "_keywords", "_remembered")

    def __init__(self, rules: Sequence[Rule]) -> None:
        """Index the rules by action and keep each statement rule's keywords (None: no gate)."""
        self._all = tuple(rules)
        self._by_action = rules_by_action(self._all)
        self._keywords = {
            rule.id: statement_keywords([rule.needs]) if rule.needs and rule.needs.statement_kinds else None
            for rule in self._all
        }
        # Statements repeat: the answer per (action, text, DROP evidence), for texts up to REMEMBERED_CHARS.
        self._remembered: dict[tuple[Action, str, bool], tuple[Rule, ...]] = {}

    def rules_for(self, observation: Observation) -> tuple[Rule, ...]:
        """The rules worth calling on this observation."""
        event = observation.event
        candidates = self._by_action.get(event.action, self._all)
        statement = event.statement
        if not statement:
            return candidates
        drop_evidence = observation.has_drop_evidence
        if len(statement) > REMEMBERED_CHARS:
            return self._answer(candidates, statement, drop_evidence)
        key = (event.action, statement, drop_evidence)
        remembered = self._remembered.get(key)
        if remembered is None:
            if len(self._remembered) >= REMEMBERED_TEXTS:
                self._remembered.clear()  # bounded: start over rather than track recency
            remembered = self._remembered[key] = self._answer(candidates, statement, drop_evidence)
        return remembered

    def _answer(self, candidates: tuple[Rule, ...], statement: str, drop_evidence: bool) -> tuple[Rule, ...]:
        """The candidates the keyword gate lets through, plus those reading DROP evidence if there is some."""
        rules = self._gated(candidates, statement)
        if drop_evidence:  # the rules reading it run whatever the text holds
            gated = {rule.id for rule in rules}
            return tuple(rule for rule in candidates if rule.id in gated or _reads_drop_evidence(rule))
        return rules

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
