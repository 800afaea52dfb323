"""The result of SQL classification: statement kinds, the Statement value, superuser-class grants.

Import these from `detections.sql`; they live here so the classifier's modules can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StatementKind(StrEnum):
    """What one SQL statement does, at the granularity detection rules need."""

    DROP_TABLE = "drop_table"
    DROP_DATABASE = "drop_database"  # DROP DATABASE and DROP SCHEMA
    TRUNCATE = "truncate"
    GRANT = "grant"  # also PostgreSQL ALTER GROUP g ADD USER u (= GRANT g TO u)
    REVOKE = "revoke"  # also PostgreSQL ALTER GROUP g DROP USER u
    CREATE_USER = "create_user"
    CREATE_ROLE = "create_role"  # also PostgreSQL CREATE GROUP
    ALTER_USER = "alter_user"  # ALTER USER, ALTER ROLE, ALTER GROUP … RENAME, RENAME USER
    SET_PASSWORD = "set_password"  # noqa: S105 — a statement kind, not a password
    DROP_USER = "drop_user"  # DROP USER / DROP ROLE / DROP GROUP
    # SET/RESET of a setting that decides what is audited (AUDIT_SETTINGS, pgaudit.*), in any scope:
    # SET [GLOBAL|SESSION], SET @@global.x, ALTER SYSTEM, ALTER ROLE|USER|DATABASE … SET|RESET, set_config()
    AUDIT_SETTING = "audit_setting"
    AUDIT_REMOVED = "audit_removed"  # UNINSTALL PLUGIN|SONAME server_audit, DROP EXTENSION pgaudit
    OTHER_DDL = "other_ddl"
    DML = "dml"
    SELECT = "select"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Statement:
    """One classified statement with the facts rules match on."""

    kind: StatementKind
    # tables / databases / users / grantees named, identifier quotes removed, case kept;
    # accounts as `user@host` when a host is given ('u'@'%' -> u@%)
    objects: tuple[str, ...] = ()
    temporary: bool = False  # DROP TEMPORARY TABLE (MySQL)
    if_exists: bool = False  # IF EXISTS (not IF NOT EXISTS)
    schema: bool = False  # DROP_DATABASE written as DROP SCHEMA (a MySQL synonym); titles say so
    grant_all: bool = False  # GRANT/REVOKE ALL [PRIVILEGES]
    with_grant_option: bool = False  # WITH GRANT OPTION / WITH ADMIN OPTION / WITH ADMIN TRUE
    granted: tuple[str, ...] = ()  # privileges or role names granted/revoked (or IN ROLE …), lower-case
    superuser: bool = False  # grants/creates/alters superuser-class power (see SUPERUSER_ROLES)
    login: bool = False  # CREATE USER (unless NOLOGIN); CREATE/ALTER ROLE … LOGIN
    sets_password: bool = (
        False  # IDENTIFIED BY/AS/USING, PASSWORD '…' (or a redaction placeholder), SET PASSWORD
    )
    level: str = ""  # GRANT … ON level as written, quotes removed (*.*, shop.*, DATABASE appdb)
    # PostgreSQL role attributes given by CREATE/ALTER ROLE|USER that reach beyond one's own objects,
    # lower-case, in ROLE_ATTRIBUTES order (SUPERUSER also sets `superuser`)
    attributes: tuple[str, ...] = ()
    # AUDIT_SETTING: the setting, lower-case without scope (server_audit_logging, pgaudit.log; "all"
    # for RESET ALL); its new value with quotes removed, None when it returns to a default (RESET,
    # = DEFAULT) — an expression is kept as written; where it applies (AUDIT_SCOPES). `objects` holds
    # the role or database of ALTER ROLE|DATABASE … SET, the plugin or extension of AUDIT_REMOVED.
    setting: str = ""
    value: str | None = None
    scope: str = ""


# PostgreSQL role attributes that give power over other roles, other sessions' data or the server.
ROLE_ATTRIBUTES: tuple[str, ...] = ("superuser", "createrole", "bypassrls", "replication")

# Where an AUDIT_SETTING applies: server-wide now (MySQL SET GLOBAL/PERSIST, @@global.), this session
# (SET [SESSION|LOCAL], set_config()), server-wide after a reload (ALTER SYSTEM), or to the sessions of
# one role or database from their next login (ALTER ROLE|USER|DATABASE … SET|RESET).
AUDIT_SCOPES: tuple[str, ...] = ("global", "session", "system", "role", "database")


# Roles and privileges whose grant gives superuser-class power over the server, lower-case.
# GRANT/REVOKE items, CREATE ROLE … IN ROLE and ALTER GROUP … ADD USER are compared against this
# after dropping any `@host`. Also superuser-class, without a name here: PostgreSQL's SUPERUSER role
# attribute, and MySQL `GRANT ALL [PRIVILEGES] ON *.*` (it includes SUPER and FILE).
SUPERUSER_ROLES: frozenset[str] = frozenset(
    {
        # RDS/Aurora PostgreSQL: the master user's role; the most privileged role a customer gets.
        "rds_superuser",
        # RDS for MySQL 8.0.36+ (and Aurora MySQL 3): role granted to the master user, holding every
        # privilege RDS allows, including CREATE USER / CREATE ROLE / DROP ROLE.
        "rds_superuser_role",
        # PostgreSQL predefined role: run programs on the database server as its OS user (COPY … PROGRAM).
        "pg_execute_server_program",
        # PostgreSQL predefined role: write any file the server can (COPY … TO 'file').
        "pg_write_server_files",
        # PostgreSQL predefined role: read any file the server can (COPY … FROM 'file', pg_read_file).
        "pg_read_server_files",
        # MySQL SUPER privilege: change global variables (incl. turning audit off), kill any session,
        # write despite read_only, act as any definer.
        "super",
        # MySQL FILE privilege: read and write server files (LOAD DATA INFILE, SELECT … INTO OUTFILE),
        # the MySQL counterpart of pg_read_server_files / pg_write_server_files.
        "file",
    }
)
