"""The Activity Stream pre-filter: drop decrypted events no enabled rule can match, before any event exists.

Built, like the text pre-filter (parsers/prefilter.py), from what the enabled rules declare: the
actions they read and the keywords a statement must contain for one of them to match. An event of a
decrypted record (`databaseActivityEventList` item) is dropped, counted and never parsed when:
- it stands alone (no statement id to join by) and its action is one no rule reads (DISCONNECT,
  CHANGEUSER … for the built-ins), or it carries a statement no rule can match: ASCII text holding
  none of the keywords in any case, backslashes ignored (`keyword_text`);
- it carries a statement (or is an AUX event) and no rule reads any statement action;
- it belongs to a statement group (the ids `detections.correlation` joins by: MySQL MAIN/AUX with
  the same pid + statementId, other engines' records of one statementId.substatementId, across the
  records of the batch) in which no member carries evidence: no statement with a keyword or non-ASCII text,
  no AUX event whose command (READ, WRITE, DROP …) holds a keyword or says DROP. One member with
  evidence keeps the whole group, whatever its actions, so the observation rules see is unchanged.
Anything the parser might reject (not an object, a bad logTime) and heartbeats are kept for it.
Screen every record of a batch first, then parse them (a group's evidence may come in a later record).
As with the text pre-filter, fewer events lie between two records of one statement afterwards: two
that were more than the correlator's horizon (512 events in batch order) apart may now be joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from parsers.activity_stream import (
    activity_event_list,
    classify_event,
    parse_activity_event,
    query_id_of,
    surely_statement,
)
from parsers.activity_stream_fields import (
    AURORA_MYSQL,
    ActivityFieldError,
    engine_of,
    parse_log_time,
    text,
)
from parsers.event import STATEMENT_ACTIONS, Action, ParseFailure, ParseResult
from parsers.statement_keywords import keyword_text

GroupKey = tuple[str, str, str]  # resource, session, statement ids: as detections.correlation joins them
_NO_ID = ("", "0")


class _Decision(Enum):
    """What screening decided for one item."""

    KEEP = "keep"
    DROP = "drop"
    GROUP = "group"  # kept only if some member of its statement group (if any) carries evidence


# An AUX command saying this is DROP evidence (Observation.dropped_tables), whatever the keywords.
_DROP_WORD = "drop"


@dataclass(slots=True)
class ScreenedRecord:
    """One decrypted record after screening: its items to parse, and those waiting on their group."""

    location: str
    cluster: str = ""
    failure: ParseFailure | None = None  # the record itself is unusable (no event list …)
    # (index in the event list, the item, KEEP or GROUP: its statement group's evidence decides)
    entries: list[tuple[int, object, _Decision]] = field(default_factory=list)


class ActivityPrefilter:
    """Drops activity events that cannot matter to rules with these keywords and actions; counts them."""

    __slots__ = ("_actions", "_reads_statements", "_wanted_groups", "dropped", "keywords")

    def __init__(self, keywords: Iterable[str], actions: Iterable[Action]) -> None:
        """Keep the lower-case statement keywords and the actions some rule reads."""
        self.keywords = tuple(sorted({word.lower() for word in keywords}))
        self._actions = frozenset(actions)
        # A statement group's observation always has a statement action: no rule reading one, no group.
        self._reads_statements = not self._actions.isdisjoint(STATEMENT_ACTIONS)
        self._wanted_groups: set[GroupKey] = set()
        self.dropped = 0

    def screen(self, record: object, location: str) -> ScreenedRecord:
        """Decide for each item of a decrypted record: keep it, drop it, or let its group decide."""
        listed = activity_event_list(record, location)
        if isinstance(listed, ParseFailure):
            return ScreenedRecord(location, failure=listed)
        events, cluster = listed
        screened = ScreenedRecord(location, cluster)
        for index, item in enumerate(events):
            try:
                decision = self._decide(item, cluster)
            except Exception:  # noqa: BLE001 — anything odd is the parser's to judge: keep it
                decision = _Decision.KEEP
            if decision is _Decision.DROP:
                self.dropped += 1
            else:
                screened.entries.append((index, item, decision))
        return screened

    def parse(self, screened: ScreenedRecord) -> Iterator[ParseResult]:
        """The parse results of a screened record's kept items, in record order (after every screen)."""
        if screened.failure is not None:
            yield screened.failure
            return
        wanted = self._wanted_groups
        for index, item, decision in screened.entries:
            if decision is _Decision.GROUP and not self._group_wanted(item, screened.cluster, wanted):
                self.dropped += 1
                continue
            result = parse_activity_event(item, screened.cluster, f"{screened.location}[{index}]")
            if result is not None:
                yield result

    def _decide(self, item: object, cluster: str) -> _Decision:
        """Keep, drop, or let the statement group (its evidence in any record of the batch) decide."""
        if not isinstance(item, Mapping):
            return _Decision.KEEP  # a failure the parser reports
        kind = item.get("type")
        if kind != "record" and text(kind).strip().lower() == "heartbeat":
            return _Decision.KEEP  # skipped by the parser
        try:
            parse_log_time(item.get("logTime"))
        except ActivityFieldError:
            return _Decision.KEEP  # a failure the parser reports
        if self._plain_statement(item):  # the bulk, decided without engine or classification
            return _Decision.GROUP if self._reads_statements else _Decision.DROP
        engine = engine_of(item)
        classified = classify_event(item, engine)
        action = classified.action
        if action not in STATEMENT_ACTIONS:  # connections stand alone: the action decides
            return _Decision.KEEP if action in self._actions else _Decision.DROP
        if not self._reads_statements:
            return _Decision.DROP
        if action is Action.TABLE:
            evidence = self._aux_evidence(text(item.get("command")))
        else:
            statement = classified.statement
            evidence = statement is not None and self._holds_keyword(statement)
        if not evidence:
            # Its group decides at parse time (an event standing alone, no group key, is dropped then).
            return _Decision.GROUP
        group = group_key(item, engine, cluster)
        if group is None:
            return _Decision.KEEP if action in self._actions else _Decision.DROP
        self._wanted_groups.add(group)
        return _Decision.KEEP

    def _plain_statement(self, item: Mapping[str, object]) -> bool:
        """Cheaply: a statement event (any engine) whose texts carry no evidence; False when unsure.

        Its command and class alone make it a statement (`surely_statement`); its commandText holds
        no keyword; an AUX event's command is no evidence either (whatever the engine: both checked).
        """
        command = text(item.get("command")).strip().upper()
        event_class = text(item.get("class")).strip().upper()
        if not surely_statement(command, event_class):
            return False
        statement = text(item.get("commandText"))
        if statement and self._holds_keyword(statement):
            return False
        return event_class != "AUX" or not self._aux_evidence(command)

    def _aux_evidence(self, command: str) -> bool:
        """Whether an AUX event's command (READ, WRITE, DROP …) is evidence: says drop, or holds a keyword."""
        return bool(command) and (_DROP_WORD in command.lower() or self._holds_keyword(command))

    def _holds_keyword(self, statement: str) -> bool:
        """Whether some rule may match this text: non-ASCII, or holding one of the keywords."""
        lowered = keyword_text(statement)
        if lowered is None:
            return True
        for word in self.keywords:  # noqa: SIM110 - a plain loop: twice as fast as any() over a generator
            if word in lowered:
                return True
        return False

    @staticmethod
    def _group_wanted(item: object, cluster: str, wanted: set[GroupKey]) -> bool:
        """Whether a member of this item's statement group carried evidence (keys computed only then)."""
        if not wanted or not isinstance(item, Mapping):
            return False
        return group_key(item, engine_of(item), cluster) in wanted


def group_key(item: Mapping[str, object], engine: str, cluster: str) -> GroupKey | None:
    """The ids correlation joins this event's statement records by; None when it stands alone.

    The same as `detections.correlation.correlation_key` of the parsed event (a test holds them
    equal): Aurora MySQL pid:statementId (MAIN and AUX), other engines statementId.substatementId;
    no statement id (empty or 0) stands alone.
    """
    query_id = query_id_of(
        engine, text(item.get("pid")), text(item.get("statementId")), text(item.get("substatementId"))
    )
    if engine == AURORA_MYSQL:
        statement_id = query_id.rpartition(":")[2]
        key_id = query_id
    else:
        statement_id, key_id = query_id.split(".", 1)[0], query_id
    if statement_id in _NO_ID:
        return None
    return (cluster or text(item.get("serverHost")), text(item.get("sessionId")), key_id)
