"""The views people ask for, as SQL over one view set, measured at an instant.

``now`` is a parameter of every view that depends on time: the live views pass the current
instant, a view "as of" an instant passes that instant (over a view set built only from the
facts recorded by then). Overdue time of an interval [start, end) with deadline end D is
``max(0, min(end, now) - max(start, D))``, the same SQL on both databases.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from domain.deadlines import duration_in_days
from domain.rulebook import RuleSet
from projections import schema
from projections.delay_totals import microseconds

DAY_S = 86_400.0


class greatest(GenericFunction[float]):
    inherit_cache = True
    type = sa.Float()


class least(GenericFunction[float]):
    inherit_cache = True
    type = sa.Float()


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


def pairs(rows: Iterable[Sequence[Any]]) -> dict[Any, Any]:
    """A two-column result as a dict."""
    return {row[0]: row[1] for row in rows}


def at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def days(seconds: float, decimals: int = 1) -> Decimal:
    from datetime import timedelta

    return duration_in_days(timedelta(seconds=seconds), decimals)


def overdue_expr(table: sa.Table, now: float) -> sa.ColumnElement[float]:
    """Overdue seconds of a custody interval at ``now`` (0 when excluded or not computable)."""
    end = least(sa.func.coalesce(table.c.end_s, now), now)
    late_from = greatest(table.c.start_s, table.c.deadline_end_s)
    return sa.case(
        (
            sa.and_(table.c.excluded.is_(None), table.c.deadline_end_s.is_not(None)),
            greatest(end - late_from, 0.0),
        ),
        else_=0.0,
    )


def _run_overdue_expr(now: float) -> sa.ColumnElement[float]:
    r = schema.clock_runs
    end = least(sa.func.coalesce(r.c.stopped_s, now), now)
    return sa.case(
        (
            sa.and_(r.c.deadline_end_s.is_not(None), r.c.cancelled.is_(False)),
            greatest(end - r.c.deadline_end_s, 0.0),
        ),
        else_=0.0,
    )


_dc = schema.delay_cases
_WORST_CLOSED = (
    sa.select(_dc.c.case_id, _dc.c.overdue_s, _dc.c.case_number)
    .where(
        _dc.c.view_set == sa.bindparam("view_set"),
        _dc.c.kind == sa.bindparam("kind"),
        _dc.c.party == sa.bindparam("party"),
        schema.OVERDUE,
        _dc.c.ended_s <= sa.bindparam("n"),
    )
    .order_by(_dc.c.overdue_s.desc(), _dc.c.case_id)
    .limit(sa.bindparam("top"))
)
"""A party's worst cases by closed time: one statement, built once, run for every party shown."""


class BoardPage(NamedTuple):
    rows: list[dict[str, Any]]
    parties: int
    most_overdue_days: Decimal


class _Delays(NamedTuple):
    """What the parties answer for at an instant, added up (``Views._delays``)."""

    sums: dict[str, list[float]]  # party -> [cases held, cases overdue, overdue seconds]
    stages: dict[str, dict[str, float]]  # party -> stage -> overdue seconds
    candidates: dict[str, dict[str, float]]  # party -> case -> overdue s (open or moving)
    stale: Counter[str]  # party -> its open cases the closed-time index also lists


def _worst_first(closed: dict[str, float], moving: dict[str, float]) -> list[tuple[float, str]]:
    """(overdue seconds, case) of a party's overdue cases, worst first: the cases whose time
    with it is all closed, and the ``moving`` ones (open, or read from their intervals) with
    their whole time, which replaces what the index gave them."""
    found = {**closed, **moving}
    return sorted(((o, c) for c, o in found.items() if o > 0), key=lambda x: (-x[0], x[1]))


class Views:
    """Every view of one view set, for one rule set."""

    def __init__(self, engine: sa.Engine, view_set: str, rules: RuleSet) -> None:
        self.engine = engine
        self.view_set = view_set
        self.rules = rules
        self.decimals = rules.rulebook.definitions.overdue_display.decimals

    # ------------------------------------------------------------------ one case

    def case_summary(self, case_id: str, now: datetime) -> dict[str, Any] | None:
        c = schema.cases
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(c).where(c.c.view_set == self.view_set, c.c.case_id == case_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            repeat = self._repeat_of(conn, [case_id]).get(case_id)
        out = dict(row)
        out.pop("view_set")
        n = now.timestamp()
        deadline_end = row["deadline_end_s"]
        if row["unknown_year"] is not None:
            out["deadline_status"] = (
                f"not yet computable: the {row['unknown_year']} calendar is not loaded"
            )
        elif deadline_end is None:
            out["deadline_status"] = "no clock running"
        elif row["excluded"] is not None:
            out["deadline_status"] = f"clock stopped ({row['excluded']})"
        elif n <= deadline_end:
            out["deadline_status"] = "running"
            out["time_left_days"] = days(deadline_end - n, self.decimals)
        else:
            out["deadline_status"] = "overdue"
            out["overdue_days"] = days(n - deadline_end, self.decimals)
        out["repeat_of"] = repeat
        out["flags"] = [
            flag
            for flag, on in (
                ("repeat", repeat is not None),
                ("collective", row["collective"]),
                ("skip_level", row["skip_level"]),
                ("confidential", row["confidential"]),
            )
            if on
        ]
        return out

    def chain(self, case_id: str, now: datetime) -> list[dict[str, Any]]:
        """The responsibility chain: custody intervals, each with its deadline and overdue part."""
        t = schema.custody
        n = now.timestamp()
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(t, overdue_expr(t, n).label("overdue_s"))
                    .where(t.c.view_set == self.view_set, t.c.case_id == case_id, t.c.start_s <= n)
                    .order_by(t.c.seq)
                )
                .mappings()
                .all()
            )
        chain = []
        for r in rows:
            end = min(r["end_s"], n) if r["end_s"] is not None else n
            chain.append(
                {
                    "seq": r["seq"],
                    "holder_unit": r["holder_unit"],
                    "handler": r["handler"],
                    "leader": r["leader"],
                    "stage": r["stage"],
                    "from": at(r["start_s"]),
                    "to": at(r["end_s"]) if r["end_s"] is not None and r["end_s"] <= n else None,
                    "clock": r["clock"],
                    "deadline": r["deadline"],
                    "deadline_end": at(r["deadline_end_s"]),
                    "deadline_status": _deadline_status(r["unknown_year"], r["excluded"]),
                    "excluded": r["excluded"],
                    "extension_days": r["extension_days"],
                    "pause_days": r["pause_days"],
                    "time_used_days": days(end - r["start_s"], self.decimals),
                    "overdue_s": r["overdue_s"],
                    "overdue_days": days(r["overdue_s"], self.decimals),
                }
            )
        return chain

    def same_petitioners(self, case_id: str) -> set[str]:
        """The case and every case sharing a petitioner with it: all that its 重复访 judgment
        (and theirs of it) can depend on. Two reads by key (as one self-join, SQLite may
        walk the petitioners of every case)."""
        cp = schema.case_petitioners
        mine = cp.c.view_set == self.view_set
        with self.engine.connect() as conn:
            petitioners = list(
                conn.execute(
                    sa.select(cp.c.petitioner_id).where(mine, cp.c.case_id == case_id)
                ).scalars()
            )
            found = set(
                conn.execute(
                    sa.select(cp.c.case_id).where(mine, cp.c.petitioner_id.in_(petitioners))
                ).scalars()
            )
        return found | {case_id}

    def clock_runs(self, case_id: str) -> list[dict[str, Any]]:
        r = schema.clock_runs
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(r)
                    .where(r.c.view_set == self.view_set, r.c.case_id == case_id)
                    .order_by(r.c.seq)
                )
                .mappings()
                .all()
            )
        return [{k: v for k, v in row.items() if k != "view_set"} for row in rows]

    # ------------------------------------------------------------------ who delayed what

    def _overdue_parts(
        self,
        party: str,
        n: float,
        only: Sequence[str] | None = None,
        *,
        cases: list[str] | None = None,
    ) -> sa.Subquery:
        """(case, party, stage, overdue seconds at ``n``) of every custody interval, and for
        units every 督办 notice run: what who-delayed-what adds up (for ``only`` these
        parties, if given; of only these ``cases``, if given)."""
        column = {"unit": "holder_unit", "person": "handler", "leader": "leader"}[party]
        t = schema.custody
        per_interval = sa.select(
            t.c.case_id,
            t.c[column].label("party"),
            sa.func.coalesce(t.c.clock, t.c.stage).label("stage"),
            overdue_expr(t, n).label("overdue_s"),
        ).where(t.c.view_set == self.view_set, t.c.start_s <= n)
        if only is not None:  # in each part, so that each reads its index for the party
            per_interval = per_interval.where(t.c[column].in_(list(only)))
        if cases is None:
            per_interval = per_interval.where(t.c[column].is_not(None))
        else:
            # Read by case; an interval without the party gives a row with party None, for
            # the caller to drop (said in SQL, SQLite would walk the party index instead).
            per_interval = per_interval.where(t.c.case_id.in_(cases))
        parts = [per_interval]
        if party == "unit":  # a 督办 notice runs its own clock against the supervised unit
            r = schema.clock_runs
            notices = sa.select(
                r.c.case_id,
                r.c.unit.label("party"),
                r.c.clock.label("stage"),
                _run_overdue_expr(n).label("overdue_s"),
            ).where(
                r.c.view_set == self.view_set,
                schema.NOTICE,
                r.c.started_s <= n,
            )
            if only is not None:
                notices = notices.where(r.c.unit.in_(list(only)))
            if cases is not None:
                notices = notices.where(r.c.case_id.in_(cases))
            parts.append(notices)
        return sa.union_all(*parts).subquery()

    def delay_board(self, party: str, now: datetime, **options: Any) -> list[dict[str, Any]]:
        """``who_delayed_what`` with only each party's ``top`` worst cases (by exact overdue
        time) — a board that stays cheap when a party held tens of thousands of cases.
        ``cases_listed`` is how many cases ``who_delayed_what`` lists. The rows of
        :meth:`delay_board_page`."""
        return self.delay_board_page(party, now, **options).rows

    def delay_board_page(
        self,
        party: str,
        now: datetime,
        *,
        top: int = 5,
        within: Collection[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> BoardPage:
        """The board's rows ``offset`` to ``offset + limit`` (worst first) of the parties
        ``within`` (all if None), how many parties there are and the most overdue days of
        one (the scale of every page's bars). Only the parties shown have their worst cases
        looked up (``rm_delay_cases``, in index order)."""
        n = now.timestamp()
        with self.engine.connect() as conn:
            delays = self._delays(conn, party, n)
            sums = delays.sums
            allowed = set(within) if within is not None else None
            ordered = sorted(
                (who for who in sums if allowed is None or who in allowed),
                key=lambda who: (-sums[who][2], who),
            )
            shown = ordered[offset:] if limit is None else ordered[offset : offset + limit]
            numbers: dict[str, str] = {}
            worst_cases = {
                who: self._worst(
                    conn, party, who, n, top, delays.candidates[who], delays.stale[who], numbers
                )
                for who in shown
            }
            numbers.update(
                self.case_numbers(
                    conn, {c for found in worst_cases.values() for _, c in found} - numbers.keys()
                )
            )
        board = [
            {
                **self._delay_row(who, delays, worst_cases[who], numbers),
                "cases_listed": int(sums[who][1]),
            }
            for who in shown
        ]
        most = days(sums[ordered[0]][2], self.decimals) if ordered else Decimal(0)
        return BoardPage(board, len(ordered), most)

    def _delay_row(
        self,
        who: str,
        delays: _Delays,
        listed: list[tuple[float, str]],
        numbers: dict[Any, Any],
    ) -> dict[str, Any]:
        """One party's row: its totals, its overdue time by stage, and the ``listed`` cases."""
        held, overdue_cases, total = delays.sums[who]
        return {
            "party": who,
            "cases_held": int(held),
            "cases_overdue": int(overdue_cases),
            "overdue_s": total,
            "overdue_days": days(total, self.decimals),
            "worst_days": days(listed[0][0] if listed else 0.0, self.decimals),
            "by_stage": {
                s: days(v, self.decimals)
                for s, v in sorted(delays.stages.get(who, {}).items())
                if v > 0
            },
            "cases": self._listed(listed, numbers),
        }

    def _delays(
        self, conn: sa.Connection, party: str, n: float, parties: Sequence[str] | None = None
    ) -> _Delays:
        """What every party (or only ``parties``) answers for at ``n``, added up.

        Every case's closed custody is read as the projector added it up, one row per party
        (``rm_delay_totals``, ``rm_delay_stage_totals``); what is open at ``n`` (a custody
        interval, a running 督办 notice: one row per open case) is added to it, counting a
        case held or overdue only where its closed time with that party did not already. A
        case with custody closed after ``n`` is taken away from the totals again
        (``rm_delay_cases``, ``rm_delay_parts``) and read from its intervals. So the cost
        follows the parties and their open cases, not the history they hold."""
        totals, stage_totals = schema.delay_totals, schema.delay_stage_totals
        c, d = schema.delay_cases, schema.delay_parts
        chosen = list(parties) if parties is not None else None

        def of(table: sa.Table, query: sa.Select[Any]) -> sa.Select[Any]:
            query = query.where(table.c.view_set == self.view_set, table.c.kind == party)
            return query if chosen is None else query.where(table.c.party.in_(chosen))

        # party -> [cases held, cases overdue, overdue µs] of the closed custody
        closed: dict[str, list[int]] = {}
        stage_us: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for who, held, overdue_cases, us in conn.execute(
            of(
                totals,
                sa.select(
                    totals.c.party, totals.c.cases_held, totals.c.cases_overdue, totals.c.overdue_us
                ),
            )
        ):
            closed[who] = [held, overdue_cases, us]
        for who, stage, us in conn.execute(
            of(
                stage_totals,
                sa.select(stage_totals.c.party, stage_totals.c.stage, stage_totals.c.overdue_us),
            )
        ):
            stage_us[who][stage] += us
        # Custody closed after ``n`` (or opened after it: the interval before it closed after
        # ``n``): such a case is taken out of the totals as the projector put it in (held and
        # overdue from its row per party, the time from its overdue parts; a part with no
        # overdue time is not stored) and read entirely from its intervals below.
        later: set[str] = set()
        for case_id, who, overdue_s in conn.execute(
            of(c, sa.select(c.c.case_id, c.c.party, c.c.overdue_s)).where(c.c.ended_s > n)
        ):
            held = closed[who]
            held[0] -= 1
            held[1] -= overdue_s > 0
            later.add(case_id)
        for who, stage, overdue_s in conn.execute(
            of(d, sa.select(d.c.party, d.c.stage, d.c.overdue_s)).where(d.c.ended_s > n)
        ):
            us = microseconds(overdue_s)
            closed[who][2] -= us
            stage_us[who][stage] -= us
        # party -> [cases held, cases overdue, overdue seconds]
        sums: dict[str, list[float]] = {
            who: [held, overdue_cases, us / 1e6]
            for who, (held, overdue_cases, us) in closed.items()
            if held > 0
        }
        stages: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for who, by_stage in stage_us.items():
            for stage, us in by_stage.items():
                stages[who][stage] += us / 1e6
        # What is open at ``n``, added to the case's closed time with the same party.
        open_parts: dict[tuple[str, str], float] = defaultdict(float)
        for case_id, who, stage, overdue in self._open_parts(conn, party, n, chosen):
            if case_id in later or who is None:
                continue
            open_parts[who, case_id] += overdue
            stages[who][stage] += overdue
        closed_of = self._closed_of(conn, party, {case_id for _, case_id in open_parts})
        # case totals of the cases open or read from intervals, per party: candidates for
        # the worst (the closed ones' come from the index)
        candidates: dict[str, dict[str, float]] = defaultdict(dict)
        for (who, case_id), overdue in open_parts.items():
            party_sums = sums.setdefault(who, [0, 0, 0.0])
            before = closed_of.get((who, case_id))
            if before is None:
                party_sums[0] += 1  # first held by this party now
                before = 0.0
            if before <= 0 < overdue:
                party_sums[1] += 1  # overdue with this party only now
            party_sums[2] += overdue
            candidates[who][case_id] = before + overdue
        for chunk in chunks(later):
            moving = self._overdue_parts(party, n, chosen, cases=chunk)
            # The driver's rows as they are (floats and text: nothing to convert).
            rows = conn.execute(sa.select(moving)).cursor.fetchall()  # type: ignore[union-attr]
            per_case: dict[tuple[str, str], float] = defaultdict(float)
            for case_id, who, stage, overdue in rows:
                if who is None:
                    continue
                per_case[who, case_id] += overdue or 0.0
                stages[who][stage] += overdue or 0.0
            for (who, case_id), overdue in per_case.items():
                party_sums = sums.setdefault(who, [0, 0, 0.0])
                party_sums[0] += 1
                party_sums[1] += overdue > 0
                party_sums[2] += overdue
                candidates[who][case_id] = overdue
        # Index rows of open cases the index would list (closed time > 0): a party's worst
        # are read past as many of them.
        stale = Counter(who for (who, _), closed_s in closed_of.items() if closed_s > 0)
        return _Delays(sums, stages, candidates, stale)

    def _worst(
        self,
        conn: sa.Connection,
        party: str,
        who: str,
        n: float,
        top: int,
        moving: dict[str, float],
        stale: int,
        numbers: dict[str, str],
    ) -> list[tuple[float, str]]:
        """A party's ``top`` worst cases at ``n``: those whose time with it is all closed,
        from the index, and the ``moving`` ones (open, or read from their intervals) with
        their whole time. The index gives an open case its closed time only, so as many more
        are read as there are open cases with closed time (``stale``) for the party. The
        numbers of the cases read from the index are added to ``numbers``."""
        values = {
            "view_set": self.view_set,
            "kind": party,
            "party": who,
            "n": n,
            "top": top + stale,
        }
        found: dict[str, float] = {}
        for case_id, overdue, number in conn.execute(_WORST_CLOSED, values):
            found[case_id] = overdue
            numbers[case_id] = number
        return _worst_first(found, moving)[:top]

    def _open_parts(
        self, conn: sa.Connection, party: str, n: float, parties: list[str] | None = None
    ) -> list[tuple[str, str | None, str, float]]:
        """(case, party, stage, overdue seconds at ``n``) of the custody intervals open at
        ``n`` and, for units, the 督办 notices running against them (of ``parties`` only, if
        given: each read from the party's index, which leads with its open intervals)."""
        column = {"unit": "holder_unit", "person": "handler", "leader": "leader"}[party]
        t, r = schema.custody, schema.clock_runs
        parts: list[Any] = [
            sa.select(
                t.c.case_id,
                t.c[column],
                sa.func.coalesce(t.c.clock, t.c.stage),
                overdue_expr(t, n),
            ).where(t.c.view_set == self.view_set, schema.OPEN_CUSTODY, t.c.start_s <= n)
        ]
        if party == "unit":
            parts.append(
                sa.select(r.c.case_id, r.c.unit, r.c.clock, _run_overdue_expr(n)).where(
                    r.c.view_set == self.view_set,
                    schema.NOTICE,
                    r.c.stopped_s.is_(None),
                    r.c.started_s <= n,
                )
            )
        if parties is not None:
            parts[0] = parts[0].where(t.c[column].in_(parties))
            if party == "unit":
                parts[1] = parts[1].where(r.c.unit.in_(parties))
        found: list[Any] = []
        for query in parts:
            found.extend(conn.execute(query).cursor.fetchall())  # type: ignore[union-attr]
        return found

    def _closed_of(
        self, conn: sa.Connection, party: str, case_ids: Collection[str]
    ) -> dict[tuple[str, str], float]:
        """(party, case) -> the case's closed overdue seconds with that party."""
        c = schema.delay_cases
        query = sa.select(c.c.party, c.c.case_id, c.c.overdue_s).where(
            c.c.view_set == self.view_set, c.c.kind == party
        )
        found: dict[tuple[str, str], float] = {}
        for chunk in chunks(case_ids):
            for who, case_id, overdue in conn.execute(query.where(c.c.case_id.in_(chunk))):
                found[who, case_id] = overdue
        return found

    def _listed(
        self, shown: list[tuple[float, str]], numbers: dict[Any, Any]
    ) -> list[dict[str, Any]]:
        """A party's cases on the board, in who-delayed-what's order."""
        cases = [
            (days(overdue, self.decimals), numbers.get(case_id) or "", case_id)
            for overdue, case_id in shown
        ]
        return [
            {"case_id": case_id, "case_number": number or None, "overdue_days": overdue}
            for overdue, number, case_id in sorted(cases, key=lambda x: (-x[0], x[1]))
        ]

    def who_delayed_what(
        self, party: str, now: datetime, *, only: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Per unit, person (handler) or leader (or only the parties ``only``): cases held,
        cases held while overdue, overdue days (total and worst), by stage, with the cases
        behind every number. A leader answers jointly for the overdue time of the cases
        while in charge. Added up from the kept totals (:meth:`_delays`) and the parties'
        overdue cases (``rm_delay_cases``), so one party costs what it has overdue and open,
        not every interval it ever held."""
        n = now.timestamp()
        with self.engine.connect() as conn:
            delays = self._delays(conn, party, n, only)
            overdue, numbers = self._overdue_closed(conn, party, n, only)
            listed = {
                who: _worst_first(overdue.get(who, {}), delays.candidates.get(who, {}))
                for who in delays.sums
            }
            # only the open cases' (and those read from their intervals') numbers are missing
            wanted = {c for cases in listed.values() for _, c in cases if c not in numbers}
            numbers.update(self.case_numbers(conn, wanted))
        rows = [self._delay_row(who, delays, listed[who], numbers) for who in delays.sums]
        return sorted(rows, key=lambda r: (-r["overdue_s"], r["party"]))

    def _overdue_closed(
        self, conn: sa.Connection, party: str, n: float, parties: Sequence[str] | None
    ) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
        """party -> case -> the closed overdue seconds of the case with it, of the cases
        whose custody all closed by ``n`` (the rest are the candidates of :meth:`_delays`),
        and those cases' numbers: all read from the worst-first index alone."""
        c = schema.delay_cases
        query = sa.select(c.c.party, c.c.case_id, c.c.overdue_s, c.c.case_number).where(
            c.c.view_set == self.view_set, c.c.kind == party, schema.OVERDUE, c.c.ended_s <= n
        )
        if parties is not None:
            query = query.where(c.c.party.in_(list(parties)))
        found: dict[str, dict[str, float]] = defaultdict(dict)
        numbers: dict[str, str] = {}
        for who, case_id, overdue_s, number in conn.execute(query):
            found[who][case_id] = overdue_s
            numbers[case_id] = number
        return found, numbers

    def case_numbers(self, conn: sa.Connection, case_ids: Collection[str] | None) -> dict[Any, Any]:
        """Case numbers by case id: of the given cases (read by key), or of every case."""
        c = schema.cases
        query = sa.select(c.c.case_id, c.c.case_number).where(c.c.view_set == self.view_set)
        if case_ids is None:
            return pairs(conn.execute(query).all())
        found: dict[Any, Any] = {}
        for chunk in chunks(case_ids):
            found.update(pairs(conn.execute(query.where(c.c.case_id.in_(chunk))).all()))
        return found

    # ------------------------------------------------------------------ patterns

    def patterns(self, kind: str | None, now: datetime) -> list[dict[str, Any]]:
        """推诿, backdating, late objections, overturned replies, ignored 督办, repeats."""
        p, c = schema.patterns, schema.cases
        n = now.timestamp()
        found: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            query = (
                sa.select(p, c.c.case_number)
                .join(c, sa.and_(c.c.view_set == p.c.view_set, c.c.case_id == p.c.case_id))
                .where(p.c.view_set == self.view_set, p.c.at_s <= n)
            )
            if kind is not None:
                query = query.where(p.c.kind == kind)
            for row in conn.execute(query.order_by(p.c.at_s, p.c.case_id, p.c.seq)).mappings():
                found.append(
                    {
                        "kind": row["kind"],
                        "case_id": row["case_id"],
                        "case_number": row["case_number"],
                        "unit": row["unit"],
                        "person": row["person"],
                        "at": at(row["at_s"]),
                        "detail": json.loads(row["detail"]),
                    }
                )
            if kind in (None, "ignored_supervision"):
                found.extend(self._ignored_supervision(conn, n))
            if kind in (None, "repeat"):
                for case_id, earlier in self._repeat_of(conn, None).items():
                    found.append(
                        {
                            "kind": "repeat",
                            "case_id": case_id,
                            "case_number": earlier["case_number"],
                            "unit": None,
                            "person": None,
                            "at": earlier["received_at"],
                            "detail": {"repeat_of": earlier["earlier_case_number"]},
                        }
                    )
        return found

    def pattern_page(
        self,
        kinds: Collection[str],
        now: datetime,
        *,
        units: Collection[str] | None = None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Patterns of these kinds found by ``now``, latest first, ``limit`` from ``offset``,
        and how many there are: cut in the database, so a page costs the same at any size.
        ``units``: only the patterns of these units, or with no unit (a repeat petition), of
        the cases involving one of them (None: all)."""
        n = now.timestamp()
        p, r, c = schema.patterns, schema.clock_runs, schema.cases
        parts: list[sa.Select[Any]] = []
        stored = [k for k in kinds if k not in ("ignored_supervision", "repeat")]
        if stored:
            parts.append(
                sa.select(
                    p.c.kind,
                    p.c.case_id,
                    p.c.unit,
                    p.c.person,
                    p.c.at_s,
                    p.c.detail,
                    sa.null().label("notice_no"),
                    sa.null().label("deadline"),
                    sa.null().label("earlier"),
                ).where(p.c.view_set == self.view_set, p.c.kind.in_(stored), p.c.at_s <= n)
            )
        if "ignored_supervision" in kinds:
            parts.append(
                sa.select(
                    sa.literal("ignored_supervision").label("kind"),
                    r.c.case_id,
                    r.c.unit,
                    sa.null().label("person"),
                    r.c.deadline_end_s.label("at_s"),
                    sa.null().label("detail"),
                    r.c.notice_no,
                    r.c.deadline,
                    sa.null().label("earlier"),
                ).where(*self._ignored_supervision_where(n))
            )
        if "repeat" in kinds:
            rep = schema.repeats
            parts.append(
                sa.select(
                    sa.literal("repeat").label("kind"),
                    rep.c.case_id,
                    sa.null().label("unit"),
                    sa.null().label("person"),
                    rep.c.received_s.label("at_s"),
                    sa.null().label("detail"),
                    sa.null().label("notice_no"),
                    sa.null().label("deadline"),
                    rep.c.earlier_case_id.label("earlier"),
                ).where(rep.c.view_set == self.view_set)
            )
        if not parts:
            return [], 0
        found = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
        query = sa.select(found, c.c.case_number).join(
            c, sa.and_(c.c.view_set == self.view_set, c.c.case_id == found.c.case_id)
        )
        if units is not None:
            allowed = list(units)
            query = query.where(
                sa.or_(
                    found.c.unit.in_(allowed),
                    sa.and_(found.c.unit.is_(None), found.c.case_id.in_(self._involving(allowed))),
                )
            )
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar()
            rows = (
                conn.execute(
                    query.order_by(found.c.at_s.desc(), c.c.case_number.desc(), found.c.kind)
                    .limit(limit)
                    .offset(offset)
                )
                .mappings()
                .all()
            )
            repeats_of = self.case_numbers(conn, {r["earlier"] for r in rows if r["earlier"]})
        page = []
        for row in rows:
            if row["kind"] == "repeat":
                detail: dict[str, Any] = {"repeat_of": repeats_of[row["earlier"]]}
            elif row["kind"] == "ignored_supervision":
                detail = {"notice_no": row["notice_no"], "deadline": str(row["deadline"])}
            else:
                detail = json.loads(row["detail"])
            page.append(
                {
                    "kind": row["kind"],
                    "case_id": row["case_id"],
                    "case_number": row["case_number"],
                    "unit": row["unit"],
                    "person": row["person"],
                    "at": at(row["at_s"]),
                    "detail": detail,
                }
            )
        return page, int(total or 0)

    def _involving(self, units: list[str]) -> sa.CompoundSelect[Any]:
        """The cases any of these units is involved in: registered, concerned, held, or
        supervised (the rule of ``access.Scope.sees``)."""
        c, t, r = schema.cases, schema.custody, schema.clock_runs
        vs = self.view_set
        return sa.union(
            sa.select(c.c.case_id).where(
                c.c.view_set == vs,
                sa.or_(c.c.registering_office.in_(units), c.c.concerned_unit.in_(units)),
            ),
            sa.select(t.c.case_id).where(t.c.view_set == vs, t.c.holder_unit.in_(units)),
            sa.select(r.c.case_id).where(r.c.view_set == vs, r.c.unit.in_(units)),
        )

    def _ignored_supervision_where(self, n: float) -> tuple[sa.ColumnElement[bool], ...]:
        r = schema.clock_runs
        return (
            r.c.view_set == self.view_set,
            schema.NOTICE,
            r.c.started_s <= n,
            r.c.cancelled.is_(False),
            # its deadline passed before an answer came (or before now, if none has)
            r.c.deadline_end_s < least(sa.func.coalesce(r.c.stopped_s, n), n),
            sa.or_(
                r.c.stopped_s.is_(None),
                r.c.stopped_s > n,
                r.c.ended_by != "SupervisionAnswered",
            ),
        )

    def _ignored_supervision(self, conn: sa.Connection, n: float) -> list[dict[str, Any]]:
        r, c = schema.clock_runs, schema.cases
        rows = conn.execute(
            sa.select(r, c.c.case_number)
            .join(c, sa.and_(c.c.view_set == r.c.view_set, c.c.case_id == r.c.case_id))
            .where(*self._ignored_supervision_where(n))
        ).mappings()
        return [
            {
                "kind": "ignored_supervision",
                "case_id": row["case_id"],
                "case_number": row["case_number"],
                "unit": row["unit"],
                "person": None,
                "at": at(row["deadline_end_s"]),
                "detail": {"notice_no": row["notice_no"], "deadline": str(row["deadline"])},
            }
            for row in rows
        ]

    def _repeat_of(
        self, conn: sa.Connection, case_ids: Collection[str] | None
    ) -> dict[str, dict[str, Any]]:
        """重复访: the same petitioner on the same matter (category) within the rulebook's
        window after an earlier case of theirs was closed. For each repeat among ``case_ids``
        (or among all cases), the earlier case it repeats (kept by the projector:
        ``rm_repeats``)."""
        r = schema.repeats
        query = sa.select(r.c.case_id, r.c.earlier_case_id, r.c.received_s).where(
            r.c.view_set == self.view_set
        )
        rows: list[Any] = []
        if case_ids is None:
            rows = list(conn.execute(query))
        else:
            for chunk in chunks(case_ids):
                rows.extend(conn.execute(query.where(r.c.case_id.in_(chunk))))
        if not rows:
            return {}
        numbers = self.case_numbers(conn, {x for row in rows for x in row[:2]})
        return {
            later_id: {
                "case_number": numbers[later_id],
                "earlier_case_id": earlier_id,
                "earlier_case_number": numbers[earlier_id],
                "received_at": at(received_s),
            }
            for later_id, earlier_id, received_s in sorted(rows)
        }

    def repeated(self, conn: sa.Connection, case_ids: Collection[str]) -> set[str]:
        """Of ``case_ids``, those a later case is a repeat of (the petitioner came back)."""
        r = schema.repeats
        found: set[str] = set()
        for chunk in chunks(case_ids):
            found.update(
                conn.execute(
                    sa.select(r.c.earlier_case_id).where(
                        r.c.view_set == self.view_set, r.c.earlier_case_id.in_(chunk)
                    )
                ).scalars()
            )
        return found

    def repeats_among(
        self, conn: sa.Connection, case_ids: Collection[str], earlier: Collection[str]
    ) -> tuple[set[str], set[str]]:
        """For a period's statistics: the repeats among ``case_ids`` (as :meth:`_repeat_of`),
        and those of ``earlier`` that a later case repeats (:meth:`repeated`)."""
        r = schema.repeats
        repeats: set[str] = set()
        for chunk in chunks(case_ids):
            repeats.update(
                conn.execute(
                    sa.select(r.c.case_id).where(
                        r.c.view_set == self.view_set, r.c.case_id.in_(chunk)
                    )
                ).scalars()
            )
        return repeats, self.repeated(conn, earlier)

    def repeats_by_rule(self, conn: sa.Connection) -> dict[str, str]:
        """Every repeat and the earlier case it repeats, decided afresh by the rule in SQL
        (what ``rm_repeats`` must hold; for checking it)."""
        later = schema.case_petitioners.alias("later")
        chosen: dict[str, str] = {}
        for later_id, earlier_id, _ in conn.execute(self._repeats_query(later)):
            chosen[later_id] = min(chosen.get(later_id, earlier_id), earlier_id)
        return chosen

    def _repeats_query(self, later: Any, earlier: Any = None) -> sa.Select[Any]:
        """(later case, earlier case, later's receipt) for every repeat pair."""
        window = self.rules.rulebook.definitions.repeat_petition_window_days * DAY_S
        earlier = earlier if earlier is not None else schema.case_petitioners.alias("e")
        return (
            sa.select(later.c.case_id, earlier.c.case_id, later.c.received_s)
            .join(
                earlier,
                sa.and_(
                    earlier.c.view_set == later.c.view_set,
                    earlier.c.petitioner_id == later.c.petitioner_id,
                    earlier.c.case_id != later.c.case_id,
                    earlier.c.category == later.c.category,
                    earlier.c.closed_s.is_not(None),
                    earlier.c.closed_s <= later.c.received_s,
                    later.c.received_s - earlier.c.closed_s <= window,
                ),
            )
            .where(later.c.view_set == self.view_set)
        )

    # ------------------------------------------------------------------ desk

    def desk(
        self, now: datetime, *, unit: str | None = None, person: str | None = None
    ) -> list[dict[str, Any]]:
        """What is on a unit's or person's desk, each with its deadline and time left; the
        ``warning`` flag marks cases within the rulebook's early-warning window (预警)."""
        c = schema.cases
        n = now.timestamp()
        window = self.rules.rulebook.definitions.early_warning_window_days * DAY_S
        query = sa.select(c).where(c.c.view_set == self.view_set, c.c.holder_unit.is_not(None))
        if unit is not None:
            query = query.where(c.c.holder_unit == unit)
        if person is not None:
            query = query.where(c.c.handler == person)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        desk = []
        for r in rows:
            end = r["deadline_end_s"]
            item = {
                "case_id": r["case_id"],
                "case_number": r["case_number"],
                "stage": r["stage"],
                "handler": r["handler"],
                "leader": r["leader"],
                "clock": r["clock"],
                "deadline": r["deadline"],
                "deadline_status": _deadline_status(r["unknown_year"], r["excluded"]),
                "time_left_days": None,
                "overdue": False,
                "warning": False,
            }
            if end is not None and r["excluded"] is None:
                item["time_left_days"] = days(end - n, self.decimals)
                item["overdue"] = n > end
                item["warning"] = 0 <= end - n <= window
            desk.append(item)
        return sorted(
            desk,
            key=lambda d: (
                d["time_left_days"] is None,
                d["time_left_days"] if d["time_left_days"] is not None else 0,
                d["case_number"],
            ),
        )


CHUNK = 5000
"""Ids per IN list (SQLite allows 32766 bound values in one statement)."""


def chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _deadline_status(unknown_year: int | None, excluded: str | None) -> str:
    if unknown_year is not None:
        return f"not yet computable: the {unknown_year} calendar is not loaded"
    if excluded is not None:
        return f"not counted ({excluded})"
    return "in force"


def names(views: Views, only: Collection[str] | None = None) -> dict[str, str]:
    """Names of the units and people of the view set's directory, by hex id (``only``: of
    these ids, as a page of a few rows needs, by key)."""
    u, p = schema.units, schema.people
    units = sa.select(u.c.unit_id, u.c.name).where(u.c.view_set == views.view_set)
    people = sa.select(p.c.person_id, p.c.name).where(p.c.view_set == views.view_set)
    if only is not None:
        ids = sorted(only)
        units, people = units.where(u.c.unit_id.in_(ids)), people.where(p.c.person_id.in_(ids))
    with views.engine.connect() as conn:
        found: dict[Any, Any] = pairs(conn.execute(units).all())
        found.update((row[0], row[1]) for row in conn.execute(people))
    return found
