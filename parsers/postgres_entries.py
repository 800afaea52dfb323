"""Physical lines → PostgreSQL log entries (a prefixed line plus its continuation lines)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from parsers.event import ParseFailure
from parsers.postgres_prefix import LogLinePrefix, PostgresPrefixError, decode_prefix, match_prefix
from parsers.records import RawRecord

SOURCE = "postgres"
# Written by the RDS console / log download at the end of a file; not a log line.
END_OF_LOG = "----------------------- END OF LOG ----------------------"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry: the decoded prefix, the message (continuation TABs removed) and the raw text."""

    prefix: LogLinePrefix
    message: str
    raw: str
    location: str
    event_id: str


@dataclass(slots=True)
class _EntryLines:
    """The lines of the entry being read, until the next prefixed line closes it."""

    first_line: str
    prefix_match: re.Match[str]
    location: str
    event_id: str
    raw_lines: list[str] = field(default_factory=list)
    message_lines: list[str] = field(default_factory=list)

    def close(self) -> LogEntry | ParseFailure:
        """Decode the prefix and join the lines; an impossible prefix value makes a ParseFailure."""
        raw = "\n".join([self.first_line, *self.raw_lines])
        try:
            prefix = decode_prefix(self.prefix_match)
        except PostgresPrefixError as exc:
            return ParseFailure(SOURCE, str(exc), raw, self.location)
        message = "\n".join([self.first_line[self.prefix_match.end() :], *self.message_lines])
        return LogEntry(prefix, message, raw, self.location, self.event_id)


def group_entries(records: Iterable[RawRecord]) -> Iterator[LogEntry | ParseFailure]:
    """Group physical lines into entries.

    A line starting with TAB continues the current entry (PostgreSQL inserts one after every newline of
    a message); so does any line without a recognised prefix (AWS doc samples lost their TABs). Such a
    line before any entry is a ParseFailure; blank lines there are ignored.
    """
    current: _EntryLines | None = None
    for record in records:
        for line in _physical_lines(record.text):
            if line.startswith("\t"):
                continuation = line[1:]
            elif line.strip() == END_OF_LOG:
                if current is not None:
                    yield current.close()
                current = None
                continue
            elif (match := match_prefix(line)) is not None:
                if current is not None:
                    yield current.close()
                current = _EntryLines(line, match, record.location, record.event_id)
                continue
            else:
                continuation = line
            if current is not None:
                current.raw_lines.append(line)
                current.message_lines.append(continuation)
            elif line.strip():
                yield ParseFailure(SOURCE, "continuation line before any log entry", line, record.location)
    if current is not None:
        yield current.close()


def _physical_lines(text: str) -> list[str]:
    """Split a record on LF only (statements may hold VT, FF, U+2028); a final LF ends the last line."""
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines
