"""A CloudWatch Logs filter-pattern evaluator for the term subset our patterns use (moto ignores patterns).

Documented semantics (FilterAndPatternSyntax, FORMATS 5.3): the empty pattern matches every event;
terms are case-sensitive; `"a phrase"` matches the exact text; `A B` requires every term; `?A ?B`
matches when any term is present; `-A` excludes events holding the term. Unquoted terms are refused
here: whether `CONNECT` also matches inside `FAILED_CONNECT` is not documented, so we never use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'([?-]?)"((?:[^"\\]|\\.)*)"|(\S+)')


class PatternSubsetError(ValueError):
    """The pattern uses syntax outside the evaluated subset."""


@dataclass(frozen=True, slots=True)
class TermPattern:
    """A parsed term pattern: required, any-of and excluded quoted phrases."""

    required: tuple[str, ...]
    any_of: tuple[str, ...]
    excluded: tuple[str, ...]

    def matches(self, message: str) -> bool:
        """Whether CloudWatch Logs would deliver this event's message."""
        if self.any_of:
            return any(term in message for term in self.any_of)
        return all(t in message for t in self.required) and not any(t in message for t in self.excluded)


def parse_term_pattern(pattern: str) -> TermPattern:
    """Parse a pattern of quoted terms; refuse what the subset does not cover."""
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for match in _TOKEN.finditer(pattern.strip()):
        operator, quoted, bare = match.groups()
        if bare is not None:
            raise PatternSubsetError(f"unquoted or unsupported token {bare!r}")
        term = quoted.replace('\\"', '"')
        {"": required, "?": any_of, "-": excluded}[operator].append(term)
    if any_of and (required or excluded):
        raise PatternSubsetError("?terms mixed with other terms (CloudWatch ignores the ?terms)")
    return TermPattern(tuple(required), tuple(any_of), tuple(excluded))


def delivers(pattern: str, message: str) -> bool:
    """Whether a subscription filter with this pattern forwards this message."""
    return parse_term_pattern(pattern).matches(message)
