"""The generator's plan, without a database: the province's shape, who reviews whom, and a
log in the order things were written down."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from itertools import islice, pairwise

from domain.values import Role, UnitKind
from generate.hierarchy import plan_hierarchy
from generate.run import plan


def test_the_province_has_about_a_thousand_units_each_staffed_for_its_work() -> None:
    h = plan_hierarchy(random.Random(1), 1, datetime(2022, 12, 1, tzinfo=UTC))
    assert 900 <= h.unit_count() <= 1100
    assert len(h.cities) == 7 and 35 <= len(h.counties) <= 49
    for county in h.counties:
        assert 6 <= len(county.townships) <= 10
        assert len(county.departments) == 9
        assert h.members(county.office, Role.CLERK)  # someone registers
        assert h.members(county.discipline, Role.INSPECTOR)  # someone handles reports
        assert len(h.members(county.government, Role.DEPUTY)) == 2  # leaders for 包案
        for township in county.townships:
            assert h.members(township, Role.HANDLER)


def test_a_reply_is_reviewed_by_the_government_above_the_unit_that_gave_it() -> None:
    h = plan_hierarchy(random.Random(1), 1, datetime(2022, 12, 1, tzinfo=UTC))
    county = h.counties[0]
    assert county.parent is not None
    city = county.parent
    assert h.reviewer_of(county.townships[0]) == county.government  # 乡镇 → 县政府
    assert h.reviewer_of(county.departments["MZ"]) == county.government  # 县民政局 → 本级政府
    assert h.reviewer_of(county.government) == city.government  # 复核: 县政府 → 市政府
    assert h.units[h.reviewer_of(city.enterprises[0])].kind == UnitKind.GOVERNMENT


def test_the_log_is_in_the_order_things_were_written_and_the_same_seed_plans_the_same() -> None:
    def first(seed: int) -> list[tuple[object, ...]]:
        commands = plan(cases=300, seed=seed, timezone="Asia/Shanghai").commands()
        return [
            (c.action, c.target, c.actor, c.occurred_at, c.recorded_at, c.command_id)
            for c in islice(commands, 12000)
        ]

    once = first(3)
    cases = [c for c in once if c[0] not in ("create_unit", "create_person", "join")]
    assert len(cases) > 1000
    assert all(a[4] <= b[4] for a, b in pairwise(cases))  # by recorded_at
    assert all(c[3] <= c[4] for c in once)  # nothing written before it happened
    assert once == first(3)
    assert once != first(4)
