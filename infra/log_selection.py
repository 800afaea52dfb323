"""Which log groups get our subscription filter, and the filter pattern each dialect's group gets.

Audit log groups are named by RDS (FORMATS 1.1, 2.1, 3.1): `/aws/rds/cluster/<c>/audit` (Aurora MySQL),
`/aws/rds/instance/<i>/audit` (RDS MySQL / MariaDB audit plugin) and `.../postgresql` (RDS / Aurora
PostgreSQL with pgaudit). The group's last path segment tells the dialect, hence the pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Final

DEFAULT_LOG_GROUP_PATTERNS: Final = (
    "/aws/rds/cluster/*/audit",
    "/aws/rds/instance/*/audit",
    "/aws/rds/cluster/*/postgresql",
    "/aws/rds/instance/*/postgresql",
)

# MySQL-family operations (field 7 of an audit line) whose lines the parser and the rules use: connection
# events (failed-login, brute-force, spray, login-after-failures), every statement kind (statement rules
# and user rules over statements) and the TABLE events that name a structural change (drop-table's
# correlation of a cut statement). Only the per-table READ and WRITE lines — the bulk of a TABLE-enabled
# log — are left out.
MYSQL_KEPT_OPERATIONS: Final = (
    "CONNECT",
    "FAILED_CONNECT",
    "DISCONNECT",
    "CHANGEUSER",
    "PROXY_CONNECT",
    "QUERY",
    "QUERY_DDL",
    "QUERY_DCL",
    "QUERY_DML",
    "CREATE",
    "ALTER",
    "RENAME",
    "DROP",
)

# One quoted term per operation, with the commas around field 7, OR-ed: a line is kept when it holds
# `,QUERY,` (etc.) anywhere. The server writes the operation field itself, so every line the rules need
# holds its own term: statement text can only add matches, never hide a line (an exclusion such as
# -",READ," could be defeated by a comment holding that text). MySQL-family audit lines are one line per
# event (Aurora turns newlines into spaces, the plugin writes `\n`: FORMATS 1.5, 2.3).
MYSQL_FILTER_PATTERN: Final = " ".join(f'?",{operation},"' for operation in MYSQL_KEPT_OPERATIONS)

# PostgreSQL groups get everything: failed logins arrive as many different FATAL texts, and a multi-line
# entry may reach CloudWatch as one event per physical line (FORMATS 3.4, UNVERIFIED), whose TAB-led
# continuation lines hold no term a pattern could keep them by.
POSTGRES_FILTER_PATTERN: Final = ""
ALL_EVENTS_PATTERN: Final = ""


def filter_pattern_for(log_group: str, *, all_events: bool = False) -> str:
    """The subscription filter pattern for a log group, by its dialect (the group's last segment)."""
    if all_events:
        return ALL_EVENTS_PATTERN
    if log_group.rstrip("/").rsplit("/", 1)[-1] == "audit":
        return MYSQL_FILTER_PATTERN
    return POSTGRES_FILTER_PATTERN


def _literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard."""
    for index, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:index]
    return pattern


@dataclass(frozen=True, slots=True)
class LogGroupSelection:
    """Log groups chosen by name globs, include / exclude prefixes and tags (all given tags must match)."""

    patterns: tuple[str, ...] = DEFAULT_LOG_GROUP_PATTERNS
    include_prefixes: tuple[str, ...] = ()
    exclude_prefixes: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    all_events: bool = False  # subscribe with the empty pattern (every event) instead of the dialect's

    def matches_name(self, log_group: str) -> bool:
        """Whether the name passes the globs and prefixes (tags are checked apart: they cost a call)."""
        if self.include_prefixes and not log_group.startswith(self.include_prefixes):
            return False
        if self.exclude_prefixes and log_group.startswith(self.exclude_prefixes):
            return False
        return any(fnmatchcase(log_group, pattern) for pattern in self.patterns)

    def matches_tags(self, tags: Mapping[str, str]) -> bool:
        """Whether a group's tags hold every selected tag with its value."""
        return all(tags.get(key) == value for key, value in self.tags.items())

    def server_prefixes(self) -> list[str | None]:
        """The fewest DescribeLogGroups name prefixes covering the selection (None: list everything)."""
        candidates = {_literal_prefix(pattern) for pattern in self.patterns}
        if self.include_prefixes:
            narrowed = set()
            for include in self.include_prefixes:
                for prefix in candidates:
                    if include.startswith(prefix):
                        narrowed.add(include)
                    elif prefix.startswith(include):
                        narrowed.add(prefix)
            candidates = narrowed
        if "" in candidates:
            return [None]
        kept = sorted(p for p in candidates if not any(p != q and p.startswith(q) for q in candidates))
        return list(kept)
