"""The console's pattern lists are cut into pages in the database: page after page they are
the whole list of a group, latest first, and a user with a narrower scope gets exactly the
patterns the API's rule gives them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from api.console.labels import PATTERN_GROUPS
from api.demo import write_demo
from api.readmodel import live_views
from api.routes_views import pattern_page, pattern_rows
from api.security import Principal, Role
from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema

ZONE = ZoneInfo("Asia/Shanghai")


def _order(rows: list[dict]) -> list[dict]:
    """Latest first, by case number (latest first) at the same instant, then by kind."""
    by_kind = sorted(rows, key=lambda r: r["kind"])
    return sorted(by_kind, key=lambda r: (r["at"], r["case_number"]), reverse=True)


@pytest.fixture
def ledger(database_url: str) -> Ledger:
    write_demo(Settings(database_url=database_url), seed=11, cases=60)
    ledger = Ledger(Settings(database_url=database_url))
    yield ledger
    ledger.close()


def test_every_group_page_by_page_is_the_whole_list_latest_first(ledger: Ledger) -> None:
    views = live_views(ledger)
    now = datetime(2026, 1, 1, tzinfo=ZONE)
    whole = views.patterns(None, now)
    seen = set()
    for kinds in PATTERN_GROUPS.values():
        expected = _order([r for r in whole if r["kind"] in kinds])
        pages: list[dict] = []
        offset = 0
        while True:
            rows, total = views.pattern_page(kinds, now, limit=4, offset=offset)
            assert total == len(expected)
            if not rows:
                break
            pages.extend(rows)
            offset += 4
        assert [(r["kind"], r["case_id"], r["at"]) for r in pages] == [
            (r["kind"], r["case_id"], r["at"]) for r in expected
        ]
        assert pages == [
            {k: r[k] for k in ("kind", "case_id", "case_number", "unit", "person", "at", "detail")}
            for r in pages
        ]
        assert {r["case_id"]: r["detail"] for r in pages} == {
            r["case_id"]: r["detail"] for r in expected
        }
        seen.update(r["kind"] for r in pages)
    # The demo's stories hold every computed kind and some stored ones: none is untested.
    assert {"repeat", "ignored_supervision", "ping_pong"} <= seen


def test_a_narrower_scope_gets_the_patterns_the_api_gives_it(ledger: Ledger) -> None:
    views = live_views(ledger)
    u, m = schema.units, schema.memberships
    with views.engine.connect() as conn:
        counties = (
            conn.execute(
                sa.select(u.c.unit_id).where(
                    u.c.view_set == views.view_set, u.c.parent.is_not(None)
                )
            )
            .scalars()
            .all()
        )
        members = {
            unit: person
            for unit, person in conn.execute(
                sa.select(m.c.unit_id, m.c.person_id).where(m.c.view_set == views.view_set)
            )
        }
    checked = 0
    for unit in counties:
        if unit not in members:
            continue
        who = Principal(user=UUID(hex=members[unit]), role=Role.INSPECTOR, unit=UUID(hex=unit))
        everything = pattern_rows(ledger, who, None)
        for kinds in PATTERN_GROUPS.values():
            expected = _order([r for r in everything if r["kind"] in kinds])
            rows, total = pattern_page(ledger, who, kinds, None, limit=1000, offset=0)
            assert total == len(expected)
            assert [(r["kind"], r["case_id"]) for r in rows] == [
                (r["kind"], r["case_id"]) for r in expected
            ]
            checked += len(rows)
    assert checked > 0
