"""Reading the events table directly, in log order or by case: the projectors' fast path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy_utils.types.uuid import UUIDType

from projections.facts import Fact, decode_all

EVENTS_TABLE = "ledger_events"

_COLUMNS = "id, originator_id, originator_version, topic, state"


def facts_after(conn: sa.Connection, position: int, limit: int) -> tuple[list[Fact], int]:
    """Case and directory facts after ``position``, and the last position read (which may
    be beyond the last fact: sequence rows are read and skipped; gaps are normal)."""
    rows = conn.execute(
        sa.text(f"SELECT {_COLUMNS} FROM {EVENTS_TABLE} WHERE id > :p ORDER BY id LIMIT :n"),
        {"p": position, "n": limit},
    ).all()
    last = rows[-1][0] if rows else position
    return list(decode_all(rows)), last


def facts_of(conn: sa.Connection, aggregate_ids: Sequence[str]) -> dict[str, list[Fact]]:
    """Every fact of the given aggregates, grouped by aggregate, in version order."""
    if not aggregate_ids:
        return {}
    statement = sa.text(
        f"SELECT {_COLUMNS} FROM {EVENTS_TABLE} WHERE originator_id IN :ids "
        "ORDER BY originator_id, originator_version"
    ).bindparams(sa.bindparam("ids", expanding=True, type_=UUIDType()))
    grouped: dict[str, list[Fact]] = {}
    for fact in decode_all(
        conn.execute(statement, {"ids": [UUID(hex=i) for i in aggregate_ids]}).all()
    ):
        grouped.setdefault(fact.aggregate_id, []).append(fact)
    return grouped


def last_position(conn: sa.Connection) -> int:
    value = conn.execute(sa.text(f"SELECT max(id) FROM {EVENTS_TABLE}")).scalar()
    return int(value or 0)


def all_facts(
    conn: sa.Connection, *, up_to: int | None = None, batch: int = 5000
) -> Iterator[Fact]:
    """Every fact in log order (streamed in batches, so memory stays flat)."""
    position = 0
    while True:
        facts, last = facts_after(conn, position, batch)
        for fact in facts:
            if up_to is not None and fact.position > up_to:
                return
            yield fact
        if last == position:
            return
        position = last


def directory_facts(conn: sa.Connection, *, up_to: int | None = None) -> Iterator[Fact]:
    """The directory's facts (units and people) in log order, without reading the cases."""
    rows = conn.execute(
        sa.text(
            f"SELECT {_COLUMNS} FROM {EVENTS_TABLE} WHERE topic LIKE :topics "
            "AND (:up_to IS NULL OR id <= :up_to) ORDER BY id"
        ),
        {"topics": "domain.directory:%", "up_to": up_to},
    )
    yield from decode_all(rows)


def table_exists(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(EVENTS_TABLE)
