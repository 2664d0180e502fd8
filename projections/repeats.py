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
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from domain.rulebook import RuleSet
from projections import schema
from projections.bulk import insert_tuples
from projections.queries import DAY_S

PetitionerRow = tuple[str, str, str, float, float | None]  # case, petitioner, category, in, closed

_cp, _r = schema.case_petitioners, schema.repeats
_ROW = (_cp.c.case_id, _cp.c.petitioner_id, _cp.c.category, _cp.c.received_s, _cp.c.closed_s)
_CHUNK = 500


def petitioner_rows(
    conn: sa.Connection, view_set: str, column: str, values: Collection[str]
) -> list[PetitionerRow]:
    """(case, petitioner, category, received_s, closed_s) where ``column`` (``case_id`` or
    ``petitioner_id``) is one of ``values``, read by key."""
    query = sa.select(*_ROW).where(_cp.c.view_set == view_set)
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


def changed(
    written: Iterable[str], before: Iterable[PetitionerRow], after: Iterable[tuple[Any, ...]]
) -> set[str]:
    """The written cases whose petitioner rows differ from what they were (``after``: rows of
    ``rm_case_petitioners`` in column order, the view set first)."""
    old: defaultdict[str, set[PetitionerRow]] = defaultdict(set)
    new: defaultdict[str, set[PetitionerRow]] = defaultdict(set)
    for row in before:
        old[row[0]].add(tuple(row))  # type: ignore[arg-type]
    for row in after:
        new[row[1]].add(tuple(row[1:]))  # type: ignore[arg-type]
    return {case_id for case_id in written if old.get(case_id) != new.get(case_id)} | (
        old.keys() - set(written)
    )


FEW = 50
"""Up to this many cases written at once, each related case is found by key (a petitioner
with thousands of cases would otherwise have all of them decided again on every write);
more (a rebuild's range), every case of their petitioners is read at once."""


def redecide(
    conn: sa.Connection,
    view_set: str,
    rules: RuleSet,
    written: Collection[str],
    rows_before: Collection[PetitionerRow] = (),
) -> None:
    """Decide again every case whose repeat judgment the ``written`` cases (with these
    petitioner rows before the write) may change, and replace their rows of ``rm_repeats``."""
    if not written:
        return
    window = rules.rulebook.definitions.repeat_petition_window_days
    if len(written) <= FEW:
        chosen, touched = _decide_few(conn, view_set, window, written, rows_before)
    else:
        chosen, touched = _decide_all_related(conn, view_set, window, written, rows_before)
    ordered = sorted(touched)
    for start in range(0, len(ordered), _CHUNK):
        conn.execute(
            _r.delete().where(
                _r.c.view_set == view_set, _r.c.case_id.in_(ordered[start : start + _CHUNK])
            )
        )
    _insert(conn, view_set, chosen)


Chosen = dict[str, tuple[str, float]]  # later -> (earlier, later's receipt)


def _insert(conn: sa.Connection, view_set: str, chosen: Chosen) -> None:
    rows = [(view_set, later, e, received_s) for later, (e, received_s) in sorted(chosen.items())]
    insert_tuples(conn, _r, rows)


def _choose(pairs: Iterable[tuple[str, str, float]]) -> Chosen:
    """The first earlier case (by id) of each repeat."""
    chosen: Chosen = {}
    for later, earlier, received_s in pairs:
        found = chosen.get(later)
        if found is None or earlier < found[0]:
            chosen[later] = (earlier, received_s)
    return chosen


def _decide_all_related(
    conn: sa.Connection,
    view_set: str,
    window: int,
    written: Collection[str],
    rows_before: Collection[PetitionerRow],
) -> tuple[Chosen, set[str]]:
    """Every case of the written cases' petitioners (now or before), decided from every
    case of all their petitioners."""
    petitioners = {r[1] for r in petitioner_rows(conn, view_set, "case_id", written)}
    petitioners |= {r[1] for r in rows_before}
    touched = {r[0] for r in petitioner_rows(conn, view_set, "petitioner_id", petitioners)}
    touched |= set(written)
    later_rows = petitioner_rows(conn, view_set, "case_id", touched)
    candidates = petitioner_rows(conn, view_set, "petitioner_id", {r[1] for r in later_rows})
    return _choose(repeat_pairs(later_rows, candidates, window)), touched


def _decide_few(
    conn: sa.Connection,
    view_set: str,
    window: int,
    written: Collection[str],
    rows_before: Collection[PetitionerRow],
) -> tuple[Chosen, set[str]]:
    """The written cases, the cases a closing of one of them (now or before) falls within the
    window before, and the cases that repeated one of them; each decided from the cases
    closed within its own window, all read by key."""
    span = window * DAY_S
    cp = _cp
    mine = cp.c.view_set == view_set
    touched = set(written)
    for _, petitioner, category, _, closed_s in [
        *petitioner_rows(conn, view_set, "case_id", written),
        *rows_before,
    ]:
        if closed_s is None:
            continue
        touched.update(
            conn.execute(
                sa.select(cp.c.case_id).where(
                    mine,
                    cp.c.petitioner_id == petitioner,
                    cp.c.category == category,
                    cp.c.received_s >= closed_s - 1.0,
                    cp.c.received_s <= closed_s + span + 1.0,
                )
            ).scalars()
        )
    touched.update(
        conn.execute(
            sa.select(_r.c.case_id).where(
                _r.c.view_set == view_set, _r.c.earlier_case_id.in_(sorted(written))
            )
        ).scalars()
    )
    later_rows = petitioner_rows(conn, view_set, "case_id", touched)
    candidates: list[PetitionerRow] = []
    for _, petitioner, category, received_s, _ in later_rows:
        candidates.extend(
            conn.execute(
                sa.select(*_ROW).where(
                    mine,
                    cp.c.petitioner_id == petitioner,
                    cp.c.category == category,
                    cp.c.closed_s >= received_s - span - 1.0,
                    cp.c.closed_s <= received_s,
                )
            ).tuples()
        )
    return _choose(repeat_pairs(later_rows, candidates, window)), touched


def decide_all(conn: sa.Connection, view_set: str, rules: RuleSet) -> None:
    """Every case's repeat judgment at once, for a view set built whole (a rebuild): its
    petitioner rows read once, petitioner by petitioner in the index's order, instead of every
    range reading again every case of its petitioners (at 1M cases that read, in the serial
    part of each range's commit, was most of the rebuild). Same pairs as :func:`redecide`:
    a repeat pairs cases of one petitioner and one matter."""
    write_all(conn, view_set, choose_all(conn, view_set, rules))


def choose_all(conn: sa.Connection, view_set: str, rules: RuleSet) -> Chosen:
    """:func:`decide_all`'s reading and choosing, which writes nothing (so a rebuild on
    SQLite does it while the one writer builds the other indexes)."""
    window = rules.rulebook.definitions.repeat_petition_window_days
    rows = conn.execute(
        sa.select(*_ROW)
        .where(_cp.c.view_set == view_set)
        .order_by(_cp.c.petitioner_id, _cp.c.category, _cp.c.received_s),
        execution_options={"yield_per": 10_000},
    ).tuples()
    groups = (list(g) for _, g in groupby(rows, key=itemgetter(1, 2)))  # petitioner, matter
    return _choose(pair for group in groups for pair in repeat_pairs(group, group, window))


def write_all(conn: sa.Connection, view_set: str, chosen: Chosen) -> None:
    """The view set's repeats, all of them: ``chosen``."""
    conn.execute(_r.delete().where(_r.c.view_set == view_set))
    _insert(conn, view_set, chosen)
