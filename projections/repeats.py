"""重复访, kept as cases are written: which earlier case each repeat petition repeats.

A case repeats an earlier one when one of its petitioners had a case on the same matter
(category) closed within the rulebook's window before this one was received; it repeats the
first such case (by id). Whether a case is a repeat depends on other cases, so writing a
case re-decides every case that shares a petitioner with it (before or after the write), in
the transaction that writes it: incremental projection, rebuild and views as of an instant
alike. The rule is the one :meth:`projections.queries.Views._repeats_query` says in SQL; the
tests hold the kept relation to it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from domain.rulebook import RuleSet
from projections import schema
from projections.bulk import insert_tuples

DAY_S = 86_400.0
PetitionerRow = tuple[str, str, str, float, float | None]  # case, petitioner, category, in, closed

_cp, _r = schema.case_petitioners, schema.repeats
_CHUNK = 500


def petitioner_rows(
    conn: sa.Connection, view_set: str, column: str, values: Collection[str]
) -> list[PetitionerRow]:
    """(case, petitioner, category, received_s, closed_s) where ``column`` (``case_id`` or
    ``petitioner_id``) is one of ``values``, read by key."""
    query = sa.select(
        _cp.c.case_id, _cp.c.petitioner_id, _cp.c.category, _cp.c.received_s, _cp.c.closed_s
    ).where(_cp.c.view_set == view_set)
    ordered = sorted(set(values))
    found: list[Any] = []
    for start in range(0, len(ordered), _CHUNK):
        result = conn.execute(query.where(_cp.c[column].in_(ordered[start : start + _CHUNK])))
        found.extend(result.cursor.fetchall())  # type: ignore[union-attr]
    return found


def repeat_pairs(
    laters: Iterable[PetitionerRow], earliers: Iterable[PetitionerRow], window_days: int
) -> Iterator[tuple[str, str, float]]:
    """(later case, earlier case, later's receipt) for every repeat pair among these rows. A
    petitioner's closed cases are kept in order of closing, so each later case looks only at
    those closed within the window before it."""
    window = window_days * DAY_S
    closed: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for case_id, petitioner, category, _, closed_s in set(earliers):
        if closed_s is not None:
            closed[petitioner, category].append((closed_s, case_id))
    for found in closed.values():
        found.sort()
    for case_id, petitioner, category, received_s, _ in set(laters):
        before = closed.get((petitioner, category))
        if not before:
            continue
        # (a second early: the exact test below decides, as the SQL's arithmetic does)
        start = bisect_left(before, (received_s - window - 1.0, ""))
        for closed_s, earlier in before[start:]:
            if closed_s > received_s:
                break
            if earlier != case_id and received_s - closed_s <= window:
                yield case_id, earlier, received_s


def stored_petitioners(conn: sa.Connection, view_set: str, case_ids: Collection[str]) -> set[str]:
    """The petitioners these cases have now (read before their rows are replaced)."""
    return {r[1] for r in petitioner_rows(conn, view_set, "case_id", case_ids)}


def redecide(
    conn: sa.Connection,
    view_set: str,
    rules: RuleSet,
    written: Collection[str],
    petitioners_before: Collection[str] = (),
) -> None:
    """Decide again every case sharing a petitioner with the ``written`` cases, as they are
    now or were before (``petitioners_before``), and replace their rows of ``rm_repeats``."""
    if not written:
        return
    petitioners = stored_petitioners(conn, view_set, written) | set(petitioners_before)
    touched = {r[0] for r in petitioner_rows(conn, view_set, "petitioner_id", petitioners)}
    touched |= set(written)
    later_rows = petitioner_rows(conn, view_set, "case_id", touched)
    # Every earlier case any of them could repeat: all cases of all their petitioners.
    candidates = petitioner_rows(conn, view_set, "petitioner_id", {r[1] for r in later_rows})
    window = rules.rulebook.definitions.repeat_petition_window_days
    chosen: dict[str, tuple[str, float]] = {}
    for later, earlier, received_s in repeat_pairs(later_rows, candidates, window):
        found = chosen.get(later)
        if found is None or earlier < found[0]:
            chosen[later] = (earlier, received_s)
    ordered = sorted(touched)
    for start in range(0, len(ordered), _CHUNK):
        conn.execute(
            _r.delete().where(
                _r.c.view_set == view_set, _r.c.case_id.in_(ordered[start : start + _CHUNK])
            )
        )
    rows = [(view_set, later, e, received_s) for later, (e, received_s) in sorted(chosen.items())]
    insert_tuples(conn, _r, rows)
