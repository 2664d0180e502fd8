"""The directory as the projections see it: units, their hierarchy and people, as recorded.

Folded from the directory's own facts, so a projection built from the events recorded by an
instant sees the organisation as it was recorded by then.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from domain.values import UnitKind
from projections.facts import Fact

DEPARTMENT_KINDS = frozenset(
    {UnitKind.PETITION_OFFICE, UnitKind.DEPARTMENT, UnitKind.SUPERVISION, UnitKind.DISCIPLINE}
)
"""Units that sit at the level of the body they belong to (a city's bureaus are city-level)."""


@dataclass
class Directory:
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Levels by (unit, how many hierarchy changes were recorded by the position asked about):
    # the hierarchy only changes when a unit is created or moved, so every case between two
    # such changes sees the same levels.
    _levels: dict[tuple[str, int], int] = field(default_factory=dict, compare=False, repr=False)
    _changes: list[int] | None = field(default=None, compare=False, repr=False)

    def apply(self, fact: Fact) -> None:
        self._levels.clear()
        self._changes = None
        d = fact.data
        if fact.kind == "Unit":
            if fact.type == "Created":
                self.units[fact.aggregate_id] = {
                    "name": d["name"],
                    "code": d["code"],
                    "kind": d["kind"],
                    "parent": d["parent"],
                    "merged_into": None,
                    "parents": [(fact.position, d["parent"])],
                }
            elif fact.type == "Renamed":
                self.units[fact.aggregate_id]["name"] = d["name"]
            elif fact.type == "Moved":
                self.units[fact.aggregate_id]["parent"] = d["parent"]
                self.units[fact.aggregate_id]["parents"].append((fact.position, d["parent"]))
            elif fact.type == "MergedInto":
                self.units[fact.aggregate_id]["merged_into"] = d["target"]
        elif fact.kind == "Person":
            if fact.type == "Created":
                self.people[fact.aggregate_id] = {"name": d["name"], "roles": {}}
            elif fact.type in ("Joined", "RoleChanged"):
                self.people[fact.aggregate_id]["roles"][d["unit"]] = d["role"]
            elif fact.type == "Left":
                self.people[fact.aggregate_id]["roles"].pop(d["unit"], None)

    def parent_at(self, unit: str, position: int) -> str | None:
        """The unit's parent as recorded at log ``position``."""
        parent = None
        for at, value in self.units.get(unit, {}).get("parents", []):
            if at > position:
                break
            parent = value
        return parent

    def depth(self, unit: str, position: int) -> int:
        depth, seen = 0, {unit}
        parent = self.parent_at(unit, position)
        while parent is not None and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = self.parent_at(parent, position)
        return depth

    def level(self, unit: str, position: int) -> int:
        """How far below the top the unit's *body* sits (0 = the top), as recorded at
        ``position``."""
        if self._changes is None:
            self._changes = sorted(at for u in self.units.values() for at, _ in u["parents"])
        key = (unit, bisect_right(self._changes, position))
        found = self._levels.get(key)
        if found is None:
            found = self._levels[key] = self._level(unit, position)
        return found

    def _level(self, unit: str, position: int) -> int:
        info = self.units.get(unit)
        if info is None:
            return 0
        depth = self.depth(unit, position)
        return depth - 1 if info["kind"] in DEPARTMENT_KINDS and depth > 0 else depth

    def levels_above(self, office: str, competent: str, position: int) -> int:
        """How many levels above the competent unit's the matter was brought (越级 if more
        than the rulebook allows), with the hierarchy as recorded at ``position``."""
        return self.level(competent, position) - self.level(office, position)

    def subtree(self, unit: str) -> set[str]:
        children: dict[str, list[str]] = {}
        for uid, info in self.units.items():
            if info["parent"] is not None:
                children.setdefault(info["parent"], []).append(uid)
        found, stack = set(), [unit]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(children.get(current, []))
        return found
