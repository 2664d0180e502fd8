"""A province's units and people: about a thousand units in four levels.

    province  省人民政府 ─ 省信访局, 省政府督查室, 省纪委监委, departments
    city      市人民政府 ─ 市信访局, 督查室, 纪委监委, departments, state enterprises
    county    县人民政府 ─ 县信访局, 督查室, 纪委监委, departments, townships (乡镇人民政府)

Every unit has a head and a deputy; petition offices have clerks, departments and townships
handlers, discipline commissions inspectors, governments and supervision offices staff. Units
are written as the ledger's directory commands (``create_unit``, ``create_person``, ``join``),
by an administrator acting for no unit, on the day the directory was set up.

Codes are hierarchical (``C3``, ``C3-XF``, ``C3K2-ZJ``, ``C3K2-T05``), so a case number names
its office: ``C3K2-XF-2025-00123``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from domain.values import Role, UnitKind
from generate.names import person_name, place_names
from ledger.application import Actor, Ledger
from ledger.bulk import Command

PROVINCE_NAME = "清江省"
ENTERPRISES_PER_CITY = 2


@dataclass(frozen=True)
class Shape:
    """How big the province is. The default is about a thousand units."""

    cities: int = 7
    counties_per_city: tuple[int, int] = (5, 7)
    townships_per_county: tuple[int, int] = (6, 10)


PROVINCE = Shape()
SMALL = Shape(cities=1, counties_per_city=(1, 1), townships_per_county=(3, 3))
"""One city with one county: for tests that run every command through the ledger."""

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("ZJ", "住房和城乡建设局"),
    ("RS", "人力资源和社会保障局"),
    ("MZ", "民政局"),
    ("ZR", "自然资源局"),
    ("NY", "农业农村局"),
    ("SJ", "市场监督管理局"),
    ("GA", "公安局"),
    ("HB", "生态环境局"),
    ("YB", "医疗保障局"),
)
ENTERPRISE_NAMES = ("纺织集团有限公司", "矿业集团有限公司", "机械制造集团", "建工集团")

STAFF: dict[str, tuple[tuple[Role, int], ...]] = {
    # Who works in each kind of unit, and how many of them.
    UnitKind.GOVERNMENT: ((Role.HEAD, 1), (Role.DEPUTY, 2), (Role.STAFF, 2)),
    "township": ((Role.HEAD, 1), (Role.DEPUTY, 1), (Role.HANDLER, 2)),
    UnitKind.PETITION_OFFICE: ((Role.HEAD, 1), (Role.DEPUTY, 1), (Role.CLERK, 3)),
    UnitKind.SUPERVISION: ((Role.HEAD, 1), (Role.STAFF, 2)),
    UnitKind.DISCIPLINE: ((Role.HEAD, 1), (Role.DEPUTY, 1), (Role.INSPECTOR, 2)),
    UnitKind.DEPARTMENT: ((Role.HEAD, 1), (Role.DEPUTY, 1), (Role.HANDLER, 2)),
    UnitKind.ENTERPRISE: ((Role.HEAD, 1), (Role.HANDLER, 2)),
}


@dataclass(frozen=True)
class UnitInfo:
    id: UUID
    code: str
    name: str
    short: str  # how a petitioner names it: 河口镇, 县民政局
    kind: str
    parent: str | None


@dataclass
class Level:
    """One government's level: its government and the offices and departments under it."""

    government: str
    office: str
    supervision: str
    discipline: str
    departments: dict[str, str]  # department key (ZJ…) -> unit code
    parent: Level | None = None
    townships: list[str] = field(default_factory=list)
    enterprises: list[str] = field(default_factory=list)
    weight: float = 1.0  # how many petitions come from here, relative to other counties


@dataclass
class Hierarchy:
    units: dict[str, UnitInfo] = field(default_factory=dict)
    people: dict[UUID, str] = field(default_factory=dict)  # person -> name
    staff: dict[tuple[str, Role], list[UUID]] = field(default_factory=dict)
    province: Level | None = None
    cities: list[Level] = field(default_factory=list)
    counties: list[Level] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def id(self, code: str) -> UUID:
        return self.units[code].id

    def members(self, code: str, role: Role) -> list[UUID]:
        return self.staff.get((code, role), [])

    def reviewer_of(self, code: str) -> str:
        """Who decides a 复查 of what ``code`` replied (and a 复核 of what it decided): the
        government above it (条例 Art 35: 本级人民政府 of a department, the government above a
        government)."""
        parent = self.units[code].parent
        while parent is not None and self.units[parent].kind != UnitKind.GOVERNMENT:
            parent = self.units[parent].parent
        if parent is None:
            raise ValueError(f"{code}: no government above it to review its decisions")
        return parent

    def unit_count(self) -> int:
        return len(self.units)


def plan_hierarchy(
    rng: random.Random, seed: int, founded: datetime, shape: Shape = PROVINCE
) -> Hierarchy:
    """The province's directory, and the commands that create it."""
    h = Hierarchy()
    admin = Actor(Ledger.person_id_for(f"gen-{seed}-administrator"), None)
    clock = [founded]
    used_places: set[str] = set()
    counter = [0]

    def command(
        action: str, aggregate: str, target: UUID | None, key: str, **arguments: object
    ) -> None:
        clock[0] += timedelta(seconds=rng.randint(2, 20))
        h.commands.append(
            Command(
                aggregate, action, target, admin, founded, clock[0], f"gen-{seed}-{key}", arguments
            )
        )

    def unit(code: str, name: str, short: str, kind: UnitKind, parent: str | None) -> str:
        command_id = f"gen-{seed}-unit-{code}"
        unit_id = Ledger.unit_id_for(command_id)
        h.units[code] = UnitInfo(unit_id, code, name, short, kind.value, parent)
        command(
            "create_unit",
            "unit",
            None,
            f"unit-{code}",
            name=name,
            code=code,
            kind=kind.value,
            parent=h.units[parent].id if parent else None,
        )
        return code

    def staff(code: str, staffing: str) -> None:
        for role, count in STAFF[staffing]:
            for _ in range(count):
                counter[0] += 1
                key = f"person-{counter[0]}"
                person = Ledger.person_id_for(f"gen-{seed}-{key}")
                name = person_name(rng)
                h.people[person] = name
                h.staff.setdefault((code, role), []).append(person)
                command("create_person", "person", None, key, name=name)
                command(
                    "join",
                    "person",
                    person,
                    f"{key}-join",
                    unit=h.units[code].id,
                    role=role.value,
                )

    def level(prefix: str, place: str, government: str | None, parent: Level | None) -> Level:
        """A government with its petition office, supervision, discipline and departments."""
        gov = unit(prefix, f"{place}人民政府", f"{place}政府", UnitKind.GOVERNMENT, government)
        office = unit(
            f"{prefix}-XF", f"{place}信访局", f"{place}信访局", UnitKind.PETITION_OFFICE, gov
        )
        supervision = unit(
            f"{prefix}-DC", f"{place}人民政府督查室", f"{place}督查室", UnitKind.SUPERVISION, gov
        )
        discipline = unit(
            f"{prefix}-JW", f"{place}纪委监委", f"{place}纪委监委", UnitKind.DISCIPLINE, gov
        )
        departments = {
            key: unit(f"{prefix}-{key}", f"{place}{name}", name, UnitKind.DEPARTMENT, gov)
            for key, name in DEPARTMENTS
        }
        made = Level(gov, office, supervision, discipline, departments, parent)
        staff(gov, UnitKind.GOVERNMENT)
        staff(office, UnitKind.PETITION_OFFICE)
        staff(supervision, UnitKind.SUPERVISION)
        staff(discipline, UnitKind.DISCIPLINE)
        for code in departments.values():
            staff(code, UnitKind.DEPARTMENT)
        return made

    h.province = level("P", PROVINCE_NAME, None, None)
    for c, city_place in enumerate(place_names(rng, shape.cities, used_places), start=1):
        city = level(f"C{c}", f"{city_place}市", h.province.government, h.province)
        for e, enterprise in enumerate(rng.sample(ENTERPRISE_NAMES, ENTERPRISES_PER_CITY), 1):
            code = unit(
                f"C{c}-QY{e}",
                f"{city_place}{enterprise}",
                f"{city_place}{enterprise[:2]}",
                UnitKind.ENTERPRISE,
                city.government,
            )
            staff(code, UnitKind.ENTERPRISE)
            city.enterprises.append(code)
        h.cities.append(city)
        counties = rng.randint(*shape.counties_per_city)
        for k, county_place in enumerate(place_names(rng, counties, used_places), start=1):
            county = level(f"C{c}K{k}", f"{county_place}县", city.government, city)
            county.weight = rng.lognormvariate(0, 0.5)  # some counties petition far more
            townships = rng.randint(*shape.townships_per_county)
            for t, township in enumerate(place_names(rng, townships, used_places), start=1):
                suffix = "镇" if rng.random() < 0.7 else "乡"
                code = unit(
                    f"C{c}K{k}-T{t:02d}",
                    f"{county_place}县{township}{suffix}人民政府",
                    f"{township}{suffix}",
                    UnitKind.GOVERNMENT,
                    county.government,
                )
                staff(code, "township")
                county.townships.append(code)
            h.counties.append(county)
    return h
