"""Audit tampering, grant edge cases and the MySQL `--` trap played on real servers, as data.

What the servers really log (found on MariaDB 10/11 server_audit and PostgreSQL 15 + pgaudit, pinned by
test_tampering_and_grants.py):
- MariaDB logs `SET GLOBAL server_audit_logging=OFF` itself, then nothing until `=ON`, which it logs.
- MariaDB does not log `SET GLOBAL server_audit_events='CONNECT'` (the record is written under the new
  event list): a narrowing of server_audit_events is invisible in the log. The SET that restores QUERY
  is logged (not pinned: in another order of statements it was not).
- MariaDB logs `SET GLOBAL server_audit_excl_users='dba'` and the SET that clears it, not what dba did
  in between.
- `SET GLOBAL server_audit_query_log_limit=16` is logged cut to its first 16 bytes (`SET GLOBAL serve`);
  the SET that restores 1024 is logged whole.
- server_audit logs `SELECT 1--1; DROP TABLE t` as two records, one per statement: the DROP runs.
- pgaudit logs ALTER SYSTEM and ALTER ROLE|DATABASE … SET (classes DDL and ROLE); a refused statement
  is only the server's ERROR + STATEMENT lines. With `-c pgaudit.log=…` on the command line (as the test
  server starts), ALTER SYSTEM + pg_reload_conf() does not change the value in effect.
"""

from __future__ import annotations

from .scenario import Scenario, Session, Sql

DATABASE = "tamperdb"
DBA_PASSWORD = "S3cr3t-dba-tamper!"
INTRUDER_PASSWORD = "S3cr3t-intruder!"
REPORTER_PASSWORD = "S3cr3t-grant-ident!"  # set by GRANT … IDENTIFIED BY
MALLORY_PASSWORD = "S3cr3t-mallory!"
READER_PASSWORD = "S3cr3t-reader!"
SECRETS = (DBA_PASSWORD, INTRUDER_PASSWORD, REPORTER_PASSWORD, MALLORY_PASSWORD, READER_PASSWORD)

TRAP = "SELECT 1--1; DROP TABLE t_trap"  # MySQL: `--1` is minus minus one, the DROP runs
PG_TRAP = "SELECT 1--1; DROP EXTENSION pgaudit"  # PostgreSQL: everything after `--` is a comment

# Reading a setting, or naming a change in a literal or a comment: never an alert.
MARIADB_DECOYS = (
    Sql("SHOW GLOBAL VARIABLES LIKE 'server_audit%'"),
    Sql("SELECT @@server_audit_logging, @@global.server_audit_events"),
    Sql("SELECT 'SET GLOBAL server_audit_logging=OFF' AS decoy"),
    # a line comment ends at a line break: without one the client would read its delimiter as comment text
    Sql("SELECT 1 /* UNINSTALL PLUGIN server_audit */ AS one -- SET GLOBAL server_audit_logging=OFF\n"),
    Sql("SELECT 2 AS two # SET GLOBAL server_audit_excl_users='dba'\n"),
)
POSTGRES_DECOYS = (
    Sql("SHOW pgaudit.log"),
    Sql("SELECT current_setting('pgaudit.log')"),
    Sql("SELECT 'ALTER SYSTEM SET pgaudit.log = none' AS decoy"),
    Sql("SELECT 1 /* DROP EXTENSION pgaudit */ AS one -- SET pgaudit.log = 'none'"),
    Sql(PG_TRAP),
)

MARIADB_TAMPERING = Scenario(
    engine="mariadb",
    superuser="root",
    steps=(
        Session(
            None,
            "",
            (
                Sql(f"CREATE DATABASE {DATABASE}"),
                *(Sql(f"CREATE TABLE {DATABASE}.{t} (id INT)") for t in ("t_trap", "t_hidden", "t_excluded")),
                Sql(f"CREATE USER 'intruder'@'%' IDENTIFIED BY '{INTRUDER_PASSWORD}'"),
                Sql(f"GRANT SELECT ON {DATABASE}.* TO 'intruder'@'%'"),
                Sql(f"CREATE USER 'dba'@'%' IDENTIFIED BY '{DBA_PASSWORD}'"),
                Sql("GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%' WITH GRANT OPTION"),
            ),
        ),
        Session(
            "dba",
            DBA_PASSWORD,
            (
                *MARIADB_DECOYS,
                Sql("SET GLOBAL server_audit_logging=OFF"),
                Sql("DROP TABLE t_hidden"),  # not logged
                Sql("SET GLOBAL server_audit_logging=ON"),
                Sql("SET GLOBAL server_audit_excl_users='dba'"),
                Sql("DROP TABLE t_excluded"),  # not logged
                Sql("SET GLOBAL server_audit_excl_users=''"),
                Sql("SET GLOBAL server_audit_events='CONNECT'"),  # not logged
                Sql("SET GLOBAL server_audit_events='CONNECT,QUERY,TABLE'"),  # restores: silent
                Sql(
                    f"GRANT SELECT ON {DATABASE}.t_trap TO 'reporter'@'%' IDENTIFIED BY '{REPORTER_PASSWORD}'"
                ),
                Sql(f"GRANT SELECT ON {DATABASE}.t_trap TO 'intruder'@'%'"),  # narrow: silent
                Sql("GRANT PROCESS, FILE ON *.* TO 'reporter'@'%'"),
                Sql(TRAP),
                Sql("SET GLOBAL server_audit_query_log_limit=16"),  # logged as `SET GLOBAL serve`
                Sql("SET GLOBAL server_audit_query_log_limit=1024"),  # logged whole; restores: silent
            ),
            DATABASE,
        ),
        Session(
            "intruder",
            INTRUDER_PASSWORD,
            (
                Sql("UNINSTALL PLUGIN server_audit", fails=True),
                Sql("SET GLOBAL server_audit_logging=OFF", fails=True),
                Sql("UNINSTALL SONAME 'server_audit'", fails=True),
            ),
            DATABASE,
        ),
    ),
    expected={
        "user-created": frozenset({("root", "intruder"), ("root", "dba"), ("dba", "reporter")}),
        "privilege-grant": frozenset({("root", "dba"), ("dba", "reporter")}),
        "audit-disabled": frozenset(
            {
                ("dba", "server_audit_logging"),
                ("dba", "server_audit_excl_users"),
                ("dba", "serve…"),
                ("intruder", "server_audit"),
                ("intruder", "server_audit_logging"),
            }
        ),
        "drop-table": frozenset({("dba", "t_trap")}),
    },
    tolerated={},
    not_expected={"privilege-grant": frozenset({("dba", "intruder")})},
)

POSTGRES_TAMPERING = Scenario(
    engine="postgres",
    superuser="postgres",
    steps=(
        Session(
            None,
            "",
            (
                Sql(f"CREATE ROLE mallory LOGIN PASSWORD '{MALLORY_PASSWORD}'"),
                Sql(f"CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}'"),
                Sql(f"CREATE DATABASE {DATABASE}"),
            ),
        ),
        Session(
            None,
            "",
            (
                Sql("CREATE EXTENSION pgaudit"),
                Sql("CREATE TABLE t_grant (id INT)"),
                Sql("ALTER SYSTEM SET pgaudit.log = 'none'"),
                Sql("SELECT pg_reload_conf()"),
                Sql("ALTER SYSTEM SET pgaudit.log = 'ddl,role,write,misc_set'"),  # restored: stronger, silent
                Sql("ALTER SYSTEM RESET pgaudit.log"),  # back to the configuration: silent
                Sql("SELECT pg_reload_conf()"),
                Sql("ALTER ROLE mallory SET pgaudit.log TO 'none'"),
                Sql("GRANT SELECT ON t_grant TO reader"),  # narrow: silent
                Sql("GRANT pg_read_server_files TO reader"),
                Sql("ALTER ROLE reader CREATEROLE"),
            ),
            DATABASE,
        ),
        # log_statement='all' (stronger: silent) makes the decoys reach the log
        Session(None, "", (Sql("SET log_statement = 'all'"), *POSTGRES_DECOYS), DATABASE),
        Session(
            "mallory",
            MALLORY_PASSWORD,
            (
                Sql("DROP EXTENSION pgaudit", fails=True),
                Sql("SET pgaudit.log = 'none'", fails=True),
                Sql("SELECT set_config('pgaudit.log', 'none', false)", fails=True),
            ),
            DATABASE,
        ),
    ),
    expected={
        "user-created": frozenset({("postgres", "mallory"), ("postgres", "reader")}),
        "privilege-grant": frozenset({("postgres", "reader")}),
        "audit-disabled": frozenset(
            {("postgres", "pgaudit.log"), ("mallory", "pgaudit"), ("mallory", "pgaudit.log")}
        ),
    },
    tolerated={},
    not_expected={},
)
