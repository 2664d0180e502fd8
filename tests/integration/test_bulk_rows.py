"""Read-model rows written in bulk (COPY on PostgreSQL, executemany on SQLite) come back as
they went in, whatever a free-text value holds: tabs, line breaks, backslashes, the COPY
NULL marker itself, quotes and commas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.bulk import NULL, copy_text, insert_tuples

rows_metadata = sa.MetaData()
table = sa.Table(
    "t_bulk_rows",
    rows_metadata,
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("note", sa.Text),
    sa.Column("code", sa.String(32)),
    sa.Column("at_s", sa.Float),
    sa.Column("flag", sa.Boolean),
    sa.Column("day", sa.Date),
)

# Every character PostgreSQL's text type can hold (not NUL), weighted toward COPY's own.
awkward = st.text(
    st.one_of(
        st.sampled_from(["\t", "\n", "\r", "\\", "N", ".", ",", '"', "'", "信"]),
        st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
    ),
    max_size=12,
)
row_values = st.tuples(
    st.none() | awkward,
    st.none() | st.text("abcdef0123456789\\N\t", max_size=32),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.booleans(),
    st.none() | st.dates(),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    rows_metadata.create_all(engine)
    yield engine
    rows_metadata.drop_all(engine)
    engine.dispose()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(row_values, max_size=8))
def test_rows_come_back_as_they_were_written(engine: sa.Engine, values: list[Any]) -> None:
    rows = [(n, *v) for n, v in enumerate(values)]
    with engine.begin() as conn:
        conn.execute(table.delete())
        insert_tuples(conn, table, rows)
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.n))] == rows


def test_plain_values_are_joined_and_an_awkward_one_escapes_every_row() -> None:
    plain = [(1, "abc", None, 2.5, True, date(2026, 2, 17))]
    assert copy_text(plain, 6) == f"1\tabc\t{NULL}\t2.5\tTrue\t2026-02-17\n"
    awkward = [(1, "a\tb", None, 0.0, False), (2, "c\\N", "x", None, None)]
    assert copy_text(awkward, 5) == (
        f"1\ta\\tb\t{NULL}\t0.0\tFalse\n2\tc\\\\N\tx\t{NULL}\t{NULL}\n"
    )


def test_sqlite_stores_none_bools_and_dates_as_it_always_did() -> None:
    """The driver's adapters (projections.bulk) only make binding cheaper: NULL, integer 0/1
    and ISO text, the forms SQLAlchemy writes and reads on SQLite."""
    engine = sa.create_engine("sqlite://")
    rows_metadata.create_all(engine)
    with engine.begin() as conn:
        insert_tuples(conn, table, [(1, None, "a", 1.5, True, date(2026, 2, 17))])
        insert_tuples(conn, table, [(2, None, None, None, False, None)])
        stored = conn.exec_driver_sql(
            "SELECT typeof(note), flag, typeof(flag), day, typeof(day) FROM t_bulk_rows ORDER BY n"
        ).all()
    assert [tuple(r) for r in stored] == [
        ("null", 1, "integer", "2026-02-17", "text"),
        ("null", 0, "integer", None, "null"),
    ]
