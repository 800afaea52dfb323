"""Rules indexed by the event actions they can match, so the engine never calls a rule in vain."""

from __future__ import annotations

from collections.abc import Sequence

from detections.rule import Rule
from parsers.event import Action


def rules_by_action(rules: Sequence[Rule]) -> dict[Action, tuple[Rule, ...]]:
    """For every action, the rules (in their order) that can match an observation of it.

    A rule without a declaration (`needs` None, e.g. a user rule) is listed under every action.
    """
    return {
        action: tuple(rule for rule in rules if rule.needs is None or action in rule.needs.actions)
        for action in Action
    }
