"""Writing many read-model rows fast: COPY (text format) on PostgreSQL, a plain executemany on
SQLite.

Going through SQLAlchemy's compiled inserts costs more than judging the case; a rebuild
writes millions of rows, so rows go to the driver directly, in the table's column order.
"""

from __future__ import annotations

import functools
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


# How the driver binds the values that are not exactly int, float or str. Without an adapter
# of its own, each None or bool went through a failed adapter lookup and two attribute lookups
# (0.25 µs a value, seven times an int's), and a read model's rows are a sixth None.
# Registered, each binds as before: None as NULL, a bool as 0 or 1, a date as the ISO text
# SQLAlchemy's Date type stores on SQLite (the few thousand days of a log's deadlines formatted
# once each: formatting took 0.36 µs a value).
def _null(value: None) -> None:
    return None


sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bool, int)
sqlite3.register_adapter(date, functools.lru_cache(maxsize=4096)(date.isoformat))


NULL = "\\N"
"""COPY's NULL marker (\\N in the text format)."""

COPY_CHUNK = 1 << 20
"""How much of a COPY's bytes the driver reads at a time: from text, it encoded each 8 kB it
read, three times the CPU of the whole copy."""

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy(
    conn: sa.Connection, name: str, columns: list[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN",
            io.BytesIO(copy_text(rows, len(columns)).encode()),
            size=COPY_CHUNK,
        )
    finally:
        cursor.close()


def copy_text(rows: Sequence[tuple[Any, ...]], width: int) -> str:
    """Rows in COPY's text format. Joining plain ``str`` values costs half what the csv module
    does (which looks at every character of every id); a value holding a tab, a line break or
    a backslash would break that, so the counts of those in the result are checked, and the
    rows are written again with every value escaped only when one is there."""
    nulls = 0
    lines = []
    for row in rows:
        nulls += row.count(None)
        lines.append("\t".join([NULL if v is None else str(v) for v in row]))
    text = "\n".join(lines)
    if (
        text.count("\t") == len(rows) * (width - 1)
        and text.count("\n") == len(rows) - 1
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text + "\n"
    return "".join(
        "\t".join([NULL if v is None else str(v).translate(_ESCAPES) for v in row]) + "\n"
        for row in rows
    )
