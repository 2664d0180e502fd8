"""Writing many read-model rows fast: COPY on PostgreSQL, a plain executemany on SQLite.

Going through SQLAlchemy's compiled inserts costs more than judging the case; a rebuild
writes millions of rows, so rows go to the driver directly, in the table's column order.
"""

from __future__ import annotations

import csv
import io
import operator
import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows given as dicts (every row has every column)."""
    values = operator.itemgetter(*[c.name for c in table.columns])
    insert_tuples(conn, table, [values(row) for row in rows])


def insert_tuples(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[tuple[Any, ...]],
    *,
    into: str | None = None,
) -> None:
    """Insert rows given as tuples in the table's column order (``into``: a table of the same
    columns under another name, such as one of its partitions)."""
    if not rows:
        return
    columns = [c.name for c in table.columns]
    name = into or table.name
    if conn.dialect.name == "postgresql":
        _copy(conn, name, columns, rows)
    else:
        placeholders = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})",
            list(rows),
        )


# SQLAlchemy's Date type stores ISO text on SQLite; the driver writes dates the same way.
sqlite3.register_adapter(date, date.isoformat)


NULL = "\\N"
"""COPY's NULL marker (an unquoted \\N). A free-text value that is exactly \\N would read as
NULL; every such column is NOT NULL, so that fails loudly instead of passing silently."""


def _copy(
    conn: sa.Connection, name: str, columns: list[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([NULL if v is None else v for v in row] for row in rows)
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            buffer,
        )
    finally:
        cursor.close()
