"""What a built-in rule is: metadata, tunable parameters, and a pure evaluate function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from detections.observation import Observation
from detections.rule_needs import RuleNeeds
from detections.severity import Severity
from detections.state import Windows

ParamValue = int | float | str | bool
_WINDOWS: dict[float, timedelta] = {}  # window lengths in minutes → one shared timedelta each
MEASURED = "measured"  # context key of a threshold rule's count line ("25 failed logins in 40 s")


class RuleKind(StrEnum):
    """Whether a rule looks at logins or at statements (internal users are skipped for statements)."""

    LOGIN = "login"
    STATEMENT = "statement"


@dataclass(slots=True, unsafe_hash=True)  # not frozen: built per match, as Finding (detections.finding)
class Match:
    """A rule's verdict that an observation matters: what to call it and how to group repeats."""

    title: str
    dedup_key: str
    context: tuple[tuple[str, str], ...] = ()
    objects: tuple[str, ...] = ()  # tables, databases or accounts the match is about, as written
    measured: bool = False  # a threshold rule: its title states the measured count itself
    tally: str = ""  # what repeats are counted as, for digests ("failed logins for bob from 10.0.0.9")

    @staticmethod
    def of(
        title: str,
        dedup_key: str,
        *,
        context: tuple[tuple[str, str], ...] = (),
        objects: tuple[str, ...] = (),
        measured: bool = False,
        tally: str = "",
    ) -> Match:
        """`Match(...)` by keyword at half the cost: keywords passed to a class build a dict per call."""
        return Match(title, dedup_key, context, objects, measured, tally)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule may use besides the observation: the batch's rule windows and its own parameters."""

    state: Windows
    params: Mapping[str, ParamValue]
    windows: dict[str, timedelta] = field(default_factory=dict, compare=False, repr=False)
    ints: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def param_int(self, name: str) -> int:
        """An integer parameter (checked once per batch, asked per event)."""
        try:
            return self.ints[name]
        except KeyError:  # the first time in this batch
            value = self.ints[name] = int(_number(self.params, name))
            return value

    def param_window(self, name: str = "window_minutes") -> timedelta:
        """A window parameter given in minutes, as a timedelta (made once per batch, asked per event)."""
        try:
            return self.windows[name]
        except KeyError:  # the first time in this batch
            minutes = float(_number(self.params, name))
            # One object per length across rules: the state view recognises a repeated window by identity.
            window = self.windows[name] = _WINDOWS.setdefault(minutes, timedelta(minutes=minutes))
            return window


def _number(params: Mapping[str, ParamValue], name: str) -> int | float:
    """A numeric rule parameter; a bool or a string is a TypeError (the rule fails, the engine counts it)."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"rule parameter {name!r} must be a number")
    return value


Evaluate = Callable[[Observation, RuleContext], Match | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """A detection rule: built-in (one module each) or defined by a user in YAML."""

    id: str
    description: str
    kind: RuleKind
    severity: Severity
    channels: tuple[str, ...]
    evaluate: Evaluate = field(repr=False)
    params: Mapping[str, ParamValue] = field(default_factory=lambda: MappingProxyType({}))
    include_internal_users: bool = False  # statement rules skip rdsadmin & co. unless asked
    needs: RuleNeeds | None = None  # what the rule can match (pre-filter); None: everything
