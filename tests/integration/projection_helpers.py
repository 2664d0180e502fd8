"""Helpers for projection tests: project the live view set, dump a view set's rows."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ledger.application import Ledger
from projections import partitions, schema
from projections.projector import Projector
from projections.queries import Views, days
from projections.viewsets import LoadedRules, ensure_live


def project(ledger: Ledger, loaded: LoadedRules, *, batch_size: int = 500) -> Views:
    views = ledger.projection_engine  # (the store's own engine, unless the views are apart)
    view_set = ensure_live(views, loaded)
    Projector(ledger.engine, views, loaded.rules, view_set, batch_size=batch_size).catch_up()
    return Views(views, view_set, loaded.rules)


def dump(engine: sa.Engine, view_set: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view of a view set (without the view set's name), sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in schema.VIEW_TABLES:
            source = partitions.rows_of(conn, table, view_set)  # (a set being built: its own)
            columns = [c for c in source.c if c.name != "view_set"]
            rows = conn.execute(sa.select(*columns).where(source.c.view_set == view_set)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def events_digest(ledger: Ledger) -> str:
    """A digest of every stored event row, byte for byte."""
    digest = hashlib.sha256()
    with ledger.engine.connect() as conn:
        for row in conn.execute(
            sa.text(
                "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
                "ORDER BY id"
            )
        ):
            digest.update(
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode()
            )
    return digest.hexdigest()


def kept_totals(engine: sa.Engine, view_set: str) -> dict[str, set[tuple[Any, ...]]]:
    """The delay board's totals as the projector kept them."""
    t, st = schema.delay_totals, schema.delay_stage_totals
    with engine.connect() as conn:
        return {
            "parties": set(
                conn.execute(
                    sa.select(
                        t.c.kind, t.c.party, t.c.cases_held, t.c.cases_overdue, t.c.overdue_us
                    ).where(t.c.view_set == view_set)
                ).tuples()
            ),
            "stages": set(
                conn.execute(
                    sa.select(st.c.kind, st.c.party, st.c.stage, st.c.overdue_us).where(
                        st.c.view_set == view_set
                    )
                ).tuples()
            ),
        }


def totals_from_rows(engine: sa.Engine, view_set: str) -> dict[str, set[tuple[Any, ...]]]:
    """The same totals added up afresh from the cases' rows."""
    from projections.delay_totals import microseconds

    c, d = schema.delay_cases, schema.delay_parts
    parties: dict[tuple[str, str], list[int]] = {}
    stages: dict[tuple[str, str, str], int] = {}
    with engine.connect() as conn:
        for kind, party, overdue_s in conn.execute(
            sa.select(c.c.kind, c.c.party, c.c.overdue_s).where(c.c.view_set == view_set)
        ):
            found = parties.setdefault((kind, party), [0, 0, 0])
            found[0] += 1
            found[1] += overdue_s > 0
        for kind, party, stage, overdue_s in conn.execute(
            sa.select(d.c.kind, d.c.party, d.c.stage, d.c.overdue_s).where(d.c.view_set == view_set)
        ):
            parties[kind, party][2] += microseconds(overdue_s)
            stages[kind, party, stage] = stages.get((kind, party, stage), 0) + microseconds(
                overdue_s
            )
    return {
        "parties": {(*k, *v) for k, v in parties.items()},
        "stages": {(*k, v) for k, v in stages.items() if v},
    }


def delays_from_intervals(
    views: Views, party: str, now: datetime, only: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Who delayed what by its definition: every custody interval and 督办 notice run of the
    view set judged at ``now`` and added up here, case by case — what ``who_delayed_what``
    and the board, which read the projector's kept totals, must equal."""
    n = now.timestamp()
    union = views._overdue_parts(party, n, only)
    query = sa.select(
        union.c.party, union.c.case_id, union.c.stage, sa.func.sum(union.c.overdue_s)
    ).group_by(union.c.party, union.c.case_id, union.c.stage)
    with views.engine.connect() as conn:
        rows = conn.execute(query).all()
        numbers = views.case_numbers(conn, None)
    per_case: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_stage: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for who, case_id, stage, overdue in rows:
        per_case[who][case_id] += overdue or 0.0
        by_stage[who][stage] += overdue or 0.0
    parties = []
    for who, cases in per_case.items():
        overdue_cases = {k: v for k, v in cases.items() if v > 0}
        total = sum(cases.values())
        parties.append(
            {
                "party": who,
                "cases_held": len(cases),
                "cases_overdue": len(overdue_cases),
                "overdue_s": total,
                "overdue_days": days(total, views.decimals),
                "worst_days": days(max(cases.values(), default=0.0), views.decimals),
                "by_stage": {
                    s: days(v, views.decimals) for s, v in sorted(by_stage[who].items()) if v > 0
                },
                "cases": sorted(
                    (
                        {
                            "case_id": k,
                            "case_number": numbers.get(k),
                            "overdue_days": days(v, views.decimals),
                        }
                        for k, v in overdue_cases.items()
                    ),
                    key=_worst_first,
                ),
            }
        )
    return sorted(parties, key=lambda p: (-p["overdue_s"], p["party"]))


def _worst_first(case: dict[str, Any]) -> tuple[Any, str]:
    return (-case["overdue_days"], case["case_number"] or "")
