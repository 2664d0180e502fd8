"""Writing many read-model rows fast: COPY on PostgreSQL, a plain executemany on SQLite.

Going through SQLAlchemy's compiled inserts costs more than judging the case; a rebuild
writes millions of rows, so rows go to the driver directly, in the table's column order.
"""

from __future__ import annotations

import io
import operator
import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        _copy(conn, table.name, columns, rows)
    else:
        placeholders = ", ".join("?" for _ in columns)
        values = operator.itemgetter(*columns)  # every row has every column
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})",
            [values(row) for row in rows],
        )


# SQLAlchemy's Date type stores ISO text on SQLite; the driver writes dates the same way.
sqlite3.register_adapter(date, date.isoformat)


def _csv(value: Any) -> Any:
    if value is None:
        return None
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _field(value: Any) -> str:
    """One CSV field for COPY: NULL is an unquoted empty field, every value is quoted (so an
    empty string stays a string)."""
    value = _csv(value)
    if value is None:
        return ""
    text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _copy(
    conn: sa.Connection, name: str, columns: list[str], rows: Sequence[dict[str, Any]]
) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write(",".join(_field(row[c]) for c in columns))
        buffer.write("\n")
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    finally:
        cursor.close()
