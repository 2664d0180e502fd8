"""Making the log append-only in the database itself (PostgreSQL).

The role the application runs as may read and append events and seals, and nothing else: it
cannot UPDATE or DELETE them. One subtlety: the library serialises writers with
``LOCK TABLE … IN EXCLUSIVE MODE``, which PostgreSQL allows only to a role holding UPDATE,
DELETE or TRUNCATE on the table. So the application role holds UPDATE (for the lock) and an
owner-owned trigger refuses every UPDATE and DELETE of those tables; the role can neither drop
the trigger (it does not own the table) nor truncate (it has no TRUNCATE).
Run by the owner (the role that created the tables), once, after the first start.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

APPEND_ONLY = ("ledger_events", "ledger_seals")
MUTABLE = ("ledger_snapshots", "petitioner_keys", "petitioner_cases")
"""Derived (snapshots are rewritten) or meant to be destroyed (keys are forgotten)."""
READ_MODEL_PREFIX = "rm_"

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def protect(engine: sa.Engine, app_role: str) -> list[str]:
    """Install the append-only triggers and the application role's grants; returns the SQL."""
    if engine.dialect.name != "postgresql":
        raise ValueError("database roles exist on PostgreSQL only")
    if not _ROLE.match(app_role):
        raise ValueError(f"not a plain role name: {app_role!r}")
    statements = [
        """CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
        BEGIN
          RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
        END $$ LANGUAGE plpgsql""",
    ]
    for table in APPEND_ONLY:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
            f"REVOKE ALL ON {table} FROM {app_role}",
            f"GRANT SELECT, INSERT, UPDATE ON {table} TO {app_role}",
        ]
    statements.append(f"GRANT USAGE, SELECT ON SEQUENCE ledger_events_id_seq TO {app_role}")
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
    for table in [*MUTABLE, *(t for t in tables if t.startswith(READ_MODEL_PREFIX))]:
        if table in tables:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {app_role}")
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    return statements
