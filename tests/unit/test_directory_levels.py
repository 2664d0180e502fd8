"""Levels in the directory as recorded at a log position: a move of a unit changes the levels
of the cases registered after it, never of those before, however often the levels are asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.values import UnitKind
from projections.directory import Directory
from projections.facts import Fact

T = datetime(2025, 1, 1, tzinfo=UTC)


def unit_fact(position: int, unit: str, event: str, **data: Any) -> Fact:
    return Fact(position, unit, 1, "Unit", event, T, T, None, None, None, None, data)


def created(position: int, unit: str, kind: UnitKind, parent: str | None) -> Fact:
    return unit_fact(position, unit, "Created", name=unit, code=unit, kind=kind, parent=parent)


def test_a_move_changes_the_levels_seen_after_it_and_not_before() -> None:
    d = Directory()
    d.apply(created(1, "province", UnitKind.GOVERNMENT, None))
    d.apply(created(2, "city", UnitKind.GOVERNMENT, "province"))
    d.apply(created(3, "county", UnitKind.GOVERNMENT, "city"))
    d.apply(created(4, "county_office", UnitKind.PETITION_OFFICE, "county"))
    d.apply(created(5, "bureau", UnitKind.DEPARTMENT, "city"))  # a city-level bureau
    assert d.level("county_office", 10) == 2  # a county's office sits at the county's level
    assert d.level("bureau", 10) == 1
    assert d.levels_above("bureau", "county_office", 10) == 1  # brought one level up

    # The county is made directly subordinate to the province (省直管县) at position 20.
    d.apply(unit_fact(20, "county", "Moved", parent="province"))
    assert d.level("county_office", 10) == 2  # a case registered before the move: as it was
    assert d.level("county_office", 19) == 2
    assert d.level("county_office", 20) == 1  # after it: one level higher
    assert d.levels_above("bureau", "county_office", 25) == 0
    assert d.levels_above("bureau", "county_office", 15) == 1  # asked again, still as recorded


def test_a_unit_created_later_has_no_parent_before_its_creation() -> None:
    d = Directory()
    d.apply(created(1, "city", UnitKind.GOVERNMENT, None))
    assert d.level("town", 5) == 0  # not known yet
    d.apply(created(8, "town", UnitKind.GOVERNMENT, "city"))
    assert d.level("town", 5) == 0  # known now, but not at position 5
    assert d.level("town", 8) == 1
