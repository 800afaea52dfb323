"""The MySQL-family pre-filter drops only complete keyword-free QUERY lines; it keeps everything else."""

from __future__ import annotations

from parsers.event import STATEMENT_ACTIONS, Action, Source
from parsers.prefilter import Prefilter
from parsers.records import RawRecord

TS = "1795000000000000,node1"


def _kept(lines: list[str], source: Source = Source.AURORA_MYSQL) -> tuple[list[str], int]:
    """The lines a pre-filter for DROP/GRANT keeps, and how many it dropped."""
    prefilter = Prefilter(["DROP", "grant"], [Action.CONNECT, Action.FAILED_CONNECT, *STATEMENT_ACTIONS])
    kept = [r.text for r in prefilter.records(source, [RawRecord(text=line) for line in lines])]
    return kept, prefilter.dropped


def test_keyword_free_complete_queries_are_dropped_and_counted() -> None:
    # GIVEN a SELECT, an INSERT and a DROP TABLE (in lower case), each complete on its line
    lines = [
        f"{TS},app,10.0.0.1,7,1,QUERY,shop,'SELECT * FROM orders',0",
        f"{TS},app,10.0.0.1,7,2,QUERY,shop,'INSERT INTO t VALUES (\\'a,b\\')',0",
        f"{TS},app,10.0.0.1,7,3,QUERY,shop,'drop table orders',1051",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN only the (failed) DROP is left, and two records are counted as dropped
    assert kept == [lines[2]]
    assert dropped == 2


def test_connections_table_lines_and_their_query_are_kept() -> None:
    # GIVEN a failed login, a TABLE line announcing query 5, and query 5 without a keyword (a cut text)
    lines = [
        f"{TS},app,10.0.0.1,7,0,FAILED_CONNECT,,,1045",
        f"{TS},app,10.0.0.1,7,5,DROP,shop,orders,",
        f"{TS},app,10.0.0.1,7,5,QUERY,shop,'/* a long comment cut before the stat',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN all three survive: the login for login rules, the TABLE evidence with its statement
    assert kept == lines
    assert dropped == 0


def test_multi_line_statements_and_the_line_after_them_are_kept() -> None:
    # GIVEN a statement spanning two physical lines, then a keyword-free complete query
    lines = [
        f"{TS},app,10.0.0.1,7,1,QUERY,shop,'SELECT 1",
        "FROM dual',0",
        f"{TS},app,10.0.0.1,7,2,QUERY,shop,'SELECT 2',0",
        f"{TS},app,10.0.0.1,7,3,QUERY,shop,'SELECT 3',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN the open statement, its continuation and the next line are kept; the one after is dropped
    assert kept == lines[:3]
    assert dropped == 1


def test_non_ascii_statements_and_other_dialects_pass_untouched() -> None:
    # GIVEN a keyword-free statement with non-ASCII text, and a PostgreSQL line
    mysql = [f"{TS},app,10.0.0.1,7,1,QUERY,shop,'SELECT \u017f FROM t',0"]
    postgres = ["2026-11-23 13:07:04 UTC:127.0.0.1(5432):app@shop:[42]:LOG:  statement: SELECT 1"]
    # WHEN filtering each in its dialect
    # THEN nothing is dropped
    assert _kept(mysql) == (mysql, 0)
    assert _kept(postgres, Source.POSTGRES) == (postgres, 0)


def test_connection_records_no_rule_reads_are_dropped() -> None:
    # GIVEN a login, a user change and a disconnect (rules read only CONNECT and FAILED_CONNECT)
    lines = [
        f"{TS},app,10.0.0.1,7,0,CONNECT,shop,,0",
        f"{TS},app,10.0.0.1,7,0,CHANGEUSER,shop,,0",
        f"{TS},app,10.0.0.1,7,0,DISCONNECT,shop,,0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN only the login is parsed
    assert kept == lines[:1]
    assert dropped == 2


def test_a_keyword_split_by_a_backslash_escape_is_kept() -> None:
    # GIVEN dynamic SQL whose literal unescapes to DROP (the audit line escapes the backslash again)
    lines = [f"{TS},app,10.0.0.1,7,1,QUERY,shop,'EXECUTE IMMEDIATE \\'DR\\\\OP TABLE t\\'',0"]
    # WHEN filtering
    # THEN it is kept: the classifier would see DROP TABLE
    assert _kept(lines) == (lines, 0)


def test_a_dml_statement_goes_with_its_read_and_write_lines() -> None:
    # GIVEN an INSERT … SELECT as MariaDB logs it: READ and WRITE lines, then the keyword-free QUERY
    lines = [
        f"{TS},app,10.0.0.1,7,9,WRITE,shop,orders,",
        f"{TS},app,10.0.0.1,7,9,READ,shop,staging,",
        f"{TS},app,10.0.0.1,7,9,QUERY,shop,'INSERT INTO orders SELECT * FROM staging',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN the whole group is dropped: nothing in it can match a rule
    assert kept == []
    assert dropped == 3


def test_a_kept_statement_keeps_only_the_first_line_of_its_write_group() -> None:
    # GIVEN a GRANT whose privilege-table writes come first (as MariaDB logs them)
    lines = [
        f"{TS},root,localhost,3,5,WRITE,mysql,db,",
        f"{TS},root,localhost,3,5,WRITE,mysql,global_priv,",
        f"{TS},root,localhost,3,5,QUERY,mysql,'GRANT ALL ON *.* TO \\'x\\'@\\'%\\'',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN the group's first line keeps its place (the group opens there), the other WRITE goes
    assert kept == [lines[0], lines[2]]
    assert dropped == 1


def test_drop_evidence_keeps_its_group_first_line_and_its_query() -> None:
    # GIVEN statistics-table writes, the DROP line and a statement cut before any keyword
    lines = [
        f"{TS},app,10.0.0.1,36,30,WRITE,mysql,table_stats,",
        f"{TS},app,10.0.0.1,36,30,WRITE,mysql,column_stats,",
        f"{TS},app,10.0.0.1,36,30,DROP,shop,orders,",
        f"{TS},app,10.0.0.1,36,30,QUERY,shop,'/* nightly cleanup, cut here',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN the first line, the DROP evidence and the statement it announces stay
    assert kept == [lines[0], lines[2], lines[3]]
    assert dropped == 1


def test_a_failed_table_line_and_a_group_without_its_query_are_decided_apart() -> None:
    # GIVEN a WRITE line with an error code, and READ lines whose QUERY is not in the batch
    lines = [
        f"{TS},app,10.0.0.1,7,4,WRITE,shop,orders,1146",
        f"{TS},app,10.0.0.1,7,4,QUERY,shop,'UPDATE orders SET paid = 1',0",
        f"{TS},app,10.0.0.1,8,6,READ,shop,orders,",
        f"{TS},app,10.0.0.1,8,6,READ,shop,customers,",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN the failed line and its statement stay (an error changes the outcome); the READ-only group goes
    assert kept == lines[:2]
    assert dropped == 2


def test_a_keyword_split_across_adjacent_literals_is_kept() -> None:
    # GIVEN dynamic SQL whose DROP is split across two literals (MySQL joins adjacent literals)
    lines = [
        f"{TS},app,10.0.0.1,7,1,QUERY,shop,'EXECUTE IMMEDIATE \\'DR\\' \\'OP TABLE t\\'',0",
        f"{TS},app,10.0.0.1,7,2,QUERY,shop,'EXECUTE IMMEDIATE \\'DR\\'  \\'OP TABLE t\\'',0",
        f"{TS},app,10.0.0.1,7,3,QUERY,shop,'SELECT \\'a\\', \\'b\\'',0",
    ]
    # WHEN filtering
    kept, dropped = _kept(lines)
    # THEN both are kept (the classifier sees DROP TABLE t); a plain SELECT of literals is not
    assert kept == lines[:2]
    assert dropped == 1
