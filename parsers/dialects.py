"""Which parser reads which log: by log-group name, by forced format, or by sniffing the content."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from parsers.event import ParseResult, Source
from parsers.mysql_audit import looks_like_mysql_audit, parse_mysql_audit
from parsers.postgres import looks_like_postgres, parse_postgres
from parsers.records import Origin, RawRecord

LineParser = Callable[[Iterable[RawRecord], Origin], Iterator[ParseResult]]

# The text-log dialects and their parsers; activity streams are JSON and parsed elsewhere.
LINE_PARSERS: dict[Source, LineParser] = {
    Source.AURORA_MYSQL: parse_mysql_audit,
    Source.MYSQL_AUDIT: parse_mysql_audit,
    Source.POSTGRES: parse_postgres,
}

SNIFF_LINES = 50


def sniff_source(lines: Iterable[str]) -> Source | None:
    """Guess the dialect from the first non-blank lines; None when nothing fits."""
    for line in islice((text for text in lines if text.strip()), SNIFF_LINES):
        if looks_like_mysql_audit(line):
            return Source.AURORA_MYSQL if line[:16].isdigit() else Source.MYSQL_AUDIT
        if looks_like_postgres(line):
            return Source.POSTGRES
    return None


def parser_for(source: Source) -> LineParser:
    """The line parser of a text dialect."""
    try:
        return LINE_PARSERS[source]
    except KeyError:
        raise ValueError(f"{source} is not a line-oriented log format") from None
