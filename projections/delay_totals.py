"""The delay board's totals per party, kept as cases are written (超期看板的汇总).

A case's closed custody (intervals ended, 督办 notice runs stopped) brings to each party it
involved one case held, one case overdue if any of that time with the party was late, and
its overdue time, in total and per stage; the board adds what is still open at its instant.
Writing a case's rows takes away what its earlier rows brought and adds what the new ones
bring, in the transaction that writes them, so the totals are always those of the rows beside
them: incremental projection and rebuild alike. Time is added up in integer microseconds so
that adding a case and taking it away again leaves exactly what was there.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from projections import schema
from projections.bulk import insert_tuples

Row = tuple[Any, ...]
Party = tuple[str, str]  # (kind, party)

_d, _c = schema.delay_parts, schema.delay_cases


def microseconds(seconds: float) -> int:
    return round(seconds * 1_000_000)


class Change:
    """What some writes do to the totals: per party [held, overdue cases, overdue µs], per
    party and stage overdue µs."""

    def __init__(self) -> None:
        self.parties: dict[Party, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.stages: dict[tuple[str, str, str], int] = defaultdict(int)

    def add(
        self, cases: Iterable[Sequence[Any]], parts: Iterable[Sequence[Any]], sign: int
    ) -> None:
        """Add (``sign`` 1) or take away (-1) rows given as (case, kind, party, overdue_s) and
        (case, kind, party, stage, overdue_s)."""
        for _, kind, party, overdue_s in cases:
            found = self.parties[kind, party]
            found[0] += sign
            found[1] += sign if overdue_s > 0 else 0
        for _, kind, party, stage, overdue_s in parts:
            us = sign * microseconds(overdue_s)
            self.parties[kind, party][2] += us
            self.stages[kind, party, stage] += us

    def add_written(self, batches: dict[str, list[Row]], sign: int = 1) -> None:
        """Add the rows of a batch about to be written (tuples in column order); ``sign``
        -1: take away what stored rows brought."""
        self.add(
            ((r[1], r[2], r[3], r[4]) for r in batches[_c.name]),
            ((r[1], r[2], r[3], r[4], r[5]) for r in batches[_d.name]),
            sign,
        )


def apply(conn: sa.Connection, view_set: str, change: Change) -> None:
    """Write the totals the change leads to: read the rows it touches, replace them (a party
    left with no case has no row)."""
    _apply(
        conn,
        schema.delay_totals,
        view_set,
        {k: v for k, v in change.parties.items() if v != [0, 0, 0]},
        ("cases_held", "cases_overdue", "overdue_us"),
    )
    _apply(
        conn,
        schema.delay_stage_totals,
        view_set,
        {k: [v] for k, v in change.stages.items() if v != 0},
        ("overdue_us",),
    )


Counted = tuple[list[Row], list[Row]]
"""A view set's totals as rows of ``rm_delay_totals`` and of ``rm_delay_stage_totals``."""


def count(conn: sa.Connection, view_set: str) -> Counted:
    """The view set's totals counted from its rows by the database: how a build gets them
    once its last range is in. Range by range, each commit read, deleted and wrote again
    the totals of every party its cases touched (most of them): at 100k events 0.21 s of
    the commits' turns on PostgreSQL, 0.12 s on SQLite. Counted so, the sums are those
    :class:`Change` keeps: each part's time rounded to a whole microsecond, then added (an
    instant is a whole number of microseconds, so each part's time is within a float's
    error of one, and both databases round it to that)."""
    us = sa.cast(sa.func.round(_d.c.overdue_s * 1_000_000), sa.BigInteger)
    parts = _d.c.view_set == view_set
    per_stage = (
        sa.select(_d.c.view_set, _d.c.kind, _d.c.party, _d.c.stage, sa.func.sum(us))
        .where(parts)
        .group_by(_d.c.view_set, _d.c.kind, _d.c.party, _d.c.stage)
        .having(sa.func.sum(us) != 0)
    )
    per_party = (
        sa.select(_d.c.kind, _d.c.party, sa.func.sum(us).label("us"))
        .where(parts)
        .group_by(_d.c.kind, _d.c.party)
        .subquery()
    )
    held = (
        sa.select(
            _c.c.view_set,
            _c.c.kind,
            _c.c.party,
            sa.func.count(),
            sa.func.sum(sa.case((_c.c.overdue_s > 0, 1), else_=0)),
            sa.func.coalesce(sa.func.max(per_party.c.us), 0),
        )
        .select_from(
            _c.outerjoin(
                per_party, sa.and_(per_party.c.kind == _c.c.kind, per_party.c.party == _c.c.party)
            )
        )
        .where(_c.c.view_set == view_set)
        .group_by(_c.c.view_set, _c.c.kind, _c.c.party)
    )
    return (
        [tuple(r) for r in conn.execute(held)],
        [tuple(r) for r in conn.execute(per_stage)],
    )


def write(conn: sa.Connection, view_set: str, counted: Counted) -> None:
    """Replace the view set's totals with ``counted``."""
    for table, rows in zip((schema.delay_totals, schema.delay_stage_totals), counted, strict=True):
        conn.execute(table.delete().where(table.c.view_set == view_set))
        insert_tuples(conn, table, rows)


def recount(conn: sa.Connection, view_set: str) -> None:
    """Count the view set's totals from its rows again (:func:`count`) and keep them."""
    write(conn, view_set, count(conn, view_set))


@functools.cache
def _statements(table: sa.Table, values: tuple[str, ...]) -> tuple[sa.Select[Any], sa.Delete]:
    """Reading and deleting a view set's totals of some parties of one kind: built once."""
    keys = [c for c in table.primary_key.columns if c.name != "view_set"]
    where = (
        table.c.view_set == sa.bindparam("view_set"),
        table.c.kind == sa.bindparam("kind"),
        table.c.party.in_(sa.bindparam("parties", expanding=True)),
    )
    read = sa.select(*keys, *(table.c[v] for v in values)).where(*where)
    return read, table.delete().where(*where)


def _apply(
    conn: sa.Connection,
    table: sa.Table,
    view_set: str,
    deltas: dict[Any, list[int]],
    values: tuple[str, ...],
) -> None:
    """Every row of the touched parties is read, deleted and written again with the deltas
    added: a few statements per 500 parties, whatever the number of keys."""
    if not deltas:
        return
    width = len(table.primary_key.columns) - 1  # the key after the view set
    by_kind: dict[str, set[str]] = defaultdict(set)
    for key in deltas:
        by_kind[key[0]].add(key[1])
    totals: dict[Any, list[int]] = {}
    read, delete = _statements(table, values)
    for kind, parties in by_kind.items():
        ordered = sorted(parties)
        for start in range(0, len(ordered), 500):
            params = {"view_set": view_set, "kind": kind, "parties": ordered[start : start + 500]}
            for row in conn.execute(read, params):
                totals[tuple(row[:width])] = list(row[width:])
            conn.execute(delete, params)
    for key, delta in deltas.items():
        found = totals.get(key)
        totals[key] = delta if found is None else [a + b for a, b in zip(found, delta, strict=True)]
    if any(value < 0 for total in totals.values() for value in total[:2]):
        wrong = [(k, v) for k, v in totals.items() if min(v[:2]) < 0]
        raise RuntimeError(f"{table.name} would go below zero: {wrong[:3]}")
    insert_tuples(conn, table, [(view_set, *k, *v) for k, v in sorted(totals.items()) if any(v)])
