"""Replay inputs: walk paths, order rotated files, read raw lines or JSON documents, pick parsers."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO, cast

from handlers.replay_decrypt import ReplayDecryptError, ReplayDecryptor
from parsers.activity_stream import parse_activity_stream_record
from parsers.dialects import parser_for, sniff_source
from parsers.event import ParseFailure, ParseResult, Source
from parsers.json_documents import (
    ActivityStreamBatch,
    DocumentError,
    EncryptedActivityBatch,
    batches_from_json,
)
from parsers.records import Origin, RawRecord

_ROTATION = re.compile(r"^(?P<base>.+?)\.(?P<number>\d{1,4})(?P<gz>\.gz)?$")
_SNIFF_BYTES = 64 * 1024


class InputError(Exception):
    """A replay input cannot be used (missing, unreadable, not a recognised format)."""


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file to replay and the name it is reported under."""

    path: Path
    display: str

    @property
    def size(self) -> int:
        """Size in bytes (0 when it cannot be read)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def _rotation_order(path: Path) -> tuple[str, int, str]:
    """Sort key putting rotated files oldest first: x.log.3, x.log.2, x.log.1, x.log."""
    match = _ROTATION.match(path.name)
    if match is None:
        return (str(path.parent / path.name), 0, path.name)
    return (str(path.parent / match["base"]), -int(match["number"]), path.name)


def _is_ignored(path: Path) -> bool:
    """Hidden files and provenance notes are not logs."""
    return path.name.startswith((".", "README")) or path.name.endswith((".source.txt", ".md"))


def expand_paths(paths: Sequence[str]) -> list[InputFile]:
    """Files named or found under directories, rotated files ordered oldest first."""
    files: list[InputFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and not _is_ignored(p)), key=_rotation_order
            )
            files.extend(InputFile(p, str(p)) for p in found)
        elif path.is_file():
            files.append(InputFile(path, given))
        elif path.exists():
            raise InputError(f"{given}: not a regular file or directory")
        else:
            raise InputError(f"{given}: no such file or directory")
    return files


def _open(path: Path) -> IO[bytes]:
    """Open a file for binary reading, transparently gunzipping .gz files."""
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _head(path: Path) -> bytes:
    """The first bytes of a file, to tell JSON from text logs."""
    try:
        with _open(path) as stream:
            return stream.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except EOFError as exc:
        raise InputError(f"{path}: cannot read: truncated compressed file") from exc


def read_lines(source: InputFile) -> Iterator[RawRecord]:
    """Physical lines split on \\n only (statements hold raw VT/FF/U+2028), decoded leniently."""
    try:
        with _open(source.path) as stream:
            for number, line in enumerate(stream, start=1):
                text = line.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")
                yield RawRecord(text=text, location=f"{source.display}:{number}")
    except (OSError, EOFError) as exc:
        raise InputError(f"{source.display}: cannot read: {exc}") from exc


def _json_documents(source: InputFile) -> Iterator[tuple[object, str] | ParseFailure]:
    """A file's JSON document, or its JSON lines, with locations; what is not JSON becomes a failure."""
    try:
        with _open(source.path) as stream:
            data = stream.read().decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise InputError(f"{source.display}: cannot read: {exc}") from exc
    try:
        document = json.loads(data)
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(data.split("\n"), start=1) if line.strip()]
        try:
            json.loads(lines[0][1])
        except (IndexError, json.JSONDecodeError):
            # Neither one document nor JSON lines: the whole file is one unusable record.
            reason = f"not valid JSON ({whole.msg} at line {whole.lineno} column {whole.colno})"
            yield ParseFailure(source="json", reason=reason, raw=data, location=source.display)
            return
        for number, line in lines:
            location = f"{source.display}:{number}"
            try:
                yield json.loads(line), location
            except json.JSONDecodeError as exc:
                yield ParseFailure(
                    source="json", reason=f"not valid JSON ({exc.msg})", raw=line, location=location
                )
        return
    yield document, source.display


def _parse_text(
    records: Iterable[RawRecord], origin: Origin, forced: Source | None, where: str, *, keep_raw: bool = False
) -> Iterator[ParseResult]:
    """Parse text lines with the forced dialect or the sniffed one.

    Lines in no known format are one failure for a file (it stays on disk), or one failure per
    record with its text when `keep_raw` (records from a payload exist nowhere else).
    """
    head: list[RawRecord] = []
    iterator = iter(records)
    source = forced
    if source is None:
        for record in iterator:
            head.append(record)
            if record.text.strip() and (source := sniff_source([record.text])) is not None:
                break
            if len(head) >= 50:
                break
    if source is None:
        source = sniff_source(r.text for r in head)
    if source is None:
        reason = "no known audit log format"
        if keep_raw:
            for record in chain(head, iterator):
                yield ParseFailure("unknown", reason, record.text, record.location or where)
        else:
            yield ParseFailure(source="unknown", reason=reason, raw="", location=where)
        return
    yield from parser_for(source)(chain(head, iterator), origin)


def parse_input(
    source: InputFile, forced: Source | None = None, decryptor: ReplayDecryptor | None = None
) -> Iterator[ParseResult]:
    """Every parse result of one input file, whatever its kind (encrypted records go to `decryptor`)."""
    decryptor = decryptor or ReplayDecryptor()
    head = _head(source.path).lstrip()
    if head[:1] not in (b"{", b"["):
        yield from _parse_text(read_lines(source), Origin(), forced, source.display)
        return
    for item in _json_documents(source):
        if isinstance(item, ParseFailure):
            yield item
            continue
        document, location = item
        try:
            batches = batches_from_json(document, location)
        except DocumentError as exc:
            # One unusable document is bad input, not a bad run: count it, keep it, go on.
            raw = json.dumps(document, ensure_ascii=False)
            reason = str(exc).removeprefix(f"{location}: ")
            yield ParseFailure(source="json", reason=reason, raw=raw, location=location)
            continue
        for batch in batches:
            if isinstance(batch, ActivityStreamBatch):
                yield from parse_activity_stream_record(batch.record, batch.location)
            elif isinstance(batch, EncryptedActivityBatch):
                yield from _decrypted(batch, decryptor)
            else:
                yield from _parse_text(
                    batch.records, batch.origin, forced or batch.source, location, keep_raw=True
                )


def _decrypted(batch: EncryptedActivityBatch, decryptor: ReplayDecryptor) -> Iterator[ParseResult]:
    """An encrypted activity-stream record's parse results; no way to decrypt at all is an InputError."""
    try:
        yield from decryptor.parse(batch)
    except ReplayDecryptError as exc:
        raise InputError(str(exc)) from exc
