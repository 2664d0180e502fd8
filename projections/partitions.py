"""On PostgreSQL, each view set's case rows in partitions of their own (ADR 15).

The case tables are partitioned by view set (``LIST (view_set)``). A live view set gets its
partitions attached from the start, so the projector writes through the parent tables as on
SQLite. A view set being rebuilt is loaded into bare tables — no index but its partition
constraint — and only when every range is in are its keys and indexes built, each once and
sorted, and the tables attached as the view set's partitions. Inserting millions of rows into
B-trees far larger than the server's buffers, in no particular order, was most of what a
rebuild at a million cases waited for.

SQLite has no partitions: there the view sets share the tables, and none of this applies.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from projections import schema

PARTITIONED = schema.CASE_TABLES
READ_FROM_INDEX_ALONE = (schema.cases, schema.clock_runs, schema.delay_cases)
"""Tables whose queries are answered by an index alone (a period's statistics, who delayed
what): vacuumed once loaded, so that the visibility map lets PostgreSQL skip the table's pages
(``ANALYZE`` alone leaves a freshly loaded table's pages not known all-visible; at 1M cases an
on-time rate then read 25,508 heap pages in 1.65 s, against 15 ms from the index alone)."""

INDEX_MEMORY = "256MB"
"""``maintenance_work_mem`` for building a partition's indexes: sorting in memory, not in
temporary files (PostgreSQL's default is 64 MB)."""


def applies(conn: sa.Connection | sa.Engine) -> bool:
    return conn.dialect.name == "postgresql"


def partition_name(table: sa.Table, view_set: str) -> str:
    """The name of ``table``'s partition for ``view_set`` (view set names are up to 80
    characters, identifiers 63: the name carries a digest of the view set's)."""
    return f"{table.name}__{_suffix(view_set)}"


def _suffix(view_set: str) -> str:
    return hashlib.sha256(view_set.encode()).hexdigest()[:12]


def _literal(view_set: str) -> str:
    return "'" + view_set.replace("'", "''") + "'"


def create(conn: sa.Connection, view_set: str, *, attached: bool) -> None:
    """The view set's tables: attached partitions, indexed like their parents (a view set
    projected live), or bare tables of the parents' columns with a check that every row is
    the view set's, so that attaching them later need not read them (a view set rebuilt)."""
    for table in PARTITIONED:
        name = partition_name(table, view_set)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")  # a leftover of a dropped set
        if attached:
            conn.exec_driver_sql(
                f"CREATE TABLE {name} PARTITION OF {table.name} "
                f"FOR VALUES IN ({_literal(view_set)})"
            )
            continue
        conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS)")
        conn.exec_driver_sql(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_view_set "
            f"CHECK (view_set = {_literal(view_set)})"
        )


def _state(conn: sa.Connection, table: sa.Table, view_set: str) -> bool | None:
    """Whether the view set's table is attached as a partition (None: there is none)."""
    found: bool | None = conn.execute(
        sa.text(
            "SELECT relispartition FROM pg_class WHERE relname = :name AND pg_table_is_visible(oid)"
        ),
        {"name": partition_name(table, view_set)},
    ).scalar()
    return found


def is_attached(conn: sa.Connection, table: sa.Table, view_set: str) -> bool:
    return bool(_state(conn, table, view_set))


def rows_of(conn: sa.Connection, table: sa.Table, view_set: str) -> sa.TableClause:
    """Where ``view_set``'s rows of ``table`` can be read: the table itself, but on
    PostgreSQL, while the set is being loaded, its bare table (which the parent does not
    show)."""
    if not applies(conn) or table not in PARTITIONED or _state(conn, table, view_set) is not False:
        return table
    return sa.table(
        partition_name(table, view_set), *(sa.column(c.name, c.type) for c in table.columns)
    )


def _index_name(index: sa.Index, view_set: str) -> str:
    return f"{index.name}__{_suffix(view_set)}"


def _index_statements(table: sa.Table, view_set: str) -> list[str]:
    """The parent's key and indexes, for the partition (named after it; a partial index's
    with the parent's predicate, or ATTACH would build another one)."""
    name = partition_name(table, view_set)
    statements = []
    key = schema.key_columns(table, "postgresql")
    if key:
        statements.append(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY ({', '.join(key)})"
        )
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        statements.append(schema.index_statement(index, name, _index_name(index, view_set)))
    return statements


def attach(engine: sa.Engine, view_set: str, workers: int = 2) -> None:
    """Build the loaded tables' keys and indexes (``workers`` tables at a time, largest first,
    each on its own connection) and attach them as the view set's partitions. Safe to call
    again after an interruption: what is attached stays, what is not is indexed afresh."""
    size = sa.text("SELECT pg_relation_size(:name)")
    with engine.connect() as conn:
        todo = [t for t in PARTITIONED if not is_attached(conn, t, view_set)]
        todo.sort(
            key=lambda t: -conn.execute(size, {"name": partition_name(t, view_set)}).scalar_one()
        )
    # A table's key, indexes and statistics one after another (adding a key locks out its
    # other builds); the tables side by side. (A table keeps its statistics and visibility
    # map when attached: vacuumed in the pool, not one after another once attached, a 100k
    # rebuild's index phase went from 1.0 s to 0.74–0.83 s.)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for _ in pool.map(lambda t: _index_table(engine, t, view_set), todo):
            pass
    with engine.begin() as conn:
        for table in todo:
            name = partition_name(table, view_set)
            conn.exec_driver_sql(
                f"ALTER TABLE {table.name} ATTACH PARTITION {name} "
                f"FOR VALUES IN ({_literal(view_set)})"
            )


def _index_table(engine: sa.Engine, table: sa.Table, view_set: str) -> None:
    _drop_partition_indexes(engine, table, view_set)  # what an interrupted attach had built
    for statement in _index_statements(table, view_set):
        _run_alone(engine, statement)
    with engine.connect() as conn:  # the planner's statistics for the new partition
        conn.execution_options(isolation_level="AUTOCOMMIT")
        command = "VACUUM (ANALYZE)" if table in READ_FROM_INDEX_ALONE else "ANALYZE"
        conn.exec_driver_sql(f"{command} {partition_name(table, view_set)}")


def _run_alone(engine: sa.Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'")
        conn.exec_driver_sql(statement)


def _drop_partition_indexes(engine: sa.Engine, table: sa.Table, view_set: str) -> None:
    name = partition_name(table, view_set)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {name}_pkey")
        for index in table.indexes:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_index_name(index, view_set)}")
