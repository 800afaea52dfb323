"""Print report records of the AWS commands (attach, posture): a column table, or one JSON object a line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from handlers.replay_output import json_lines


def _cell(text: str) -> str:
    """One table cell on one line: control characters become visible escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def print_records(
    records: Sequence[Mapping[str, str]], columns: Sequence[str], out: TextIO, *, as_json: bool
) -> None:
    """Print records as JSON lines, or as a table of the given columns (the last one unpadded)."""
    if as_json:
        for line in json_lines(dict(record) for record in records):
            print(line, file=out)
        return
    widths = [max([len(c), *(len(_cell(r.get(c, ""))) for r in records)]) for c in columns[:-1]]
    header = [c.upper().replace("_", " ") for c in columns]
    for row in [header, *([_cell(r.get(c, "")) for c in columns] for r in records)]:
        cells = [value.ljust(width) for value, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)
