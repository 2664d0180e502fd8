"""Who may do and see what: the one place where role and unit scope are checked.

A user acts in one role for one unit, and their scope is that unit's subtree. They see a
case if any unit involved in it (the registering office, a unit that held it, a supervised
unit, the unit it concerns) is in their scope; they act on it only with an action their role
allows — the case itself then checks that their unit has standing. An informant's identity
(检举控告) is shown only to inspectors in scope and to the clerk who registered it, never to
anyone in the unit the report concerns; every such disclosure is recorded as an event.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.security import Forbidden, Principal, Role
from domain.values import MatterKind
from domain.workflow import ALLOWED_STAGES
from projections import schema
from projections.directory import Directory
from projections.queries import Views

CASE_ACTIONS: dict[Role, frozenset[str]] = {
    Role.REGISTRAR: frozenset(
        {
            "register",
            "route",
            "decide_objection",
            "assign_handler",
            "close",
            "reopen",
            "merge_into",
            "correct",
            "withdraw",
            "rate",
            "file_appeal",
        }
    ),
    Role.HANDLER: frozenset(
        {
            "route",
            "object_jurisdiction",
            "accept",
            "refuse",
            "assign_handler",
            "request_extension",
            "pause_clock",
            "resume_clock",
            "answer_supervision",
            "reply",
            "decide_appeal",
            "close",
            "correct",
        }
    ),
    Role.LEADER: frozenset(
        {
            "assign_lead",
            "release_lead",
            "decide_extension",
            "decide_appeal",
            "route",
            "answer_supervision",
            "close",
        }
    ),
    Role.SUPERVISOR: frozenset({"issue_supervision"}),
    Role.INSPECTOR: frozenset(),
    Role.ASSESSOR: frozenset(),
    Role.ADMIN: frozenset({"register", *ALLOWED_STAGES}),
}
"""Which case actions each role may take (the case decides whether their unit may)."""

VIEWS: dict[str, frozenset[Role]] = {
    "case": frozenset(Role),
    "history": frozenset(Role) - {Role.ASSESSOR},
    "chain": frozenset(Role) - {Role.ASSESSOR},
    "cases": frozenset(Role),
    "delay": frozenset({Role.INSPECTOR, Role.SUPERVISOR, Role.LEADER, Role.ASSESSOR, Role.ADMIN}),
    "patterns": frozenset({Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN}),
    "desk": frozenset(Role) - {Role.ASSESSOR},
    "statistics": frozenset(
        {Role.ASSESSOR, Role.SUPERVISOR, Role.LEADER, Role.INSPECTOR, Role.ADMIN}
    ),
    "directory": frozenset({Role.ADMIN}),
}
"""Which views each role may read (always within their scope)."""


@dataclass(frozen=True)
class CaseUnits:
    """The units involved in a case, and who may see its informant."""

    involved: frozenset[str]
    concerned_unit: str | None
    registering_clerk: str
    is_report: bool


def require_action(principal: Principal, action: str) -> None:
    if action not in CASE_ACTIONS[principal.role]:
        raise Forbidden(f"a {principal.role} may not {action.replace('_', ' ')}")


def require_view(principal: Principal, view: str) -> None:
    if principal.role not in VIEWS[view]:
        raise Forbidden(f"a {principal.role} may not read the {view} view")


def subtree(views: Views, unit: str) -> set[str]:
    """A unit and every unit below it, in the views' directory."""
    return _hierarchy(views).subtree(unit)


def _hierarchy(views: Views) -> Directory:
    """The views' units, each with its parent."""
    directory = Directory()
    u = schema.units
    with views.engine.connect() as conn:
        for unit_id, parent in conn.execute(
            sa.select(u.c.unit_id, u.c.parent).where(u.c.view_set == views.view_set)
        ):
            directory.units[unit_id] = {"parent": parent}
    return directory


class Scope:
    """A principal's unit subtree, read from the live directory."""

    def __init__(self, principal: Principal, views: Views) -> None:
        self.principal = principal
        self.views = views
        hierarchy = _hierarchy(views)
        self.units = hierarchy.subtree(principal.unit.hex)
        self._all_units = len(hierarchy.units)

    def everything(self) -> bool:
        """Does the scope hold every unit of the directory (a province's inspector)?"""
        return len(self.units) >= self._all_units

    def covers(self, unit: str | None) -> bool:
        return unit is not None and unit in self.units

    def require_unit(self, unit: str) -> None:
        if not self.covers(unit):
            raise Forbidden("that unit is outside your scope")

    def sees(self, case: CaseUnits) -> bool:
        return any(self.covers(u) for u in case.involved)

    def require_case(self, case: CaseUnits) -> None:
        if not self.sees(case):
            raise Forbidden("that case is outside your scope")

    def cleared_for_identity(self, case: CaseUnits) -> bool:
        """May this user see the informant of this case?"""
        if not case.is_report:
            return True
        if self.principal.unit.hex == case.concerned_unit:
            return False  # the unit reported on never learns who reported it
        if self.principal.user.hex == case.registering_clerk:
            return True
        return self.principal.role is Role.INSPECTOR and self.sees(case)

    def visible_cases(self, case_ids: Collection[str]) -> set[str]:
        """Which of these cases the user sees: the same rule as ``sees`` (any unit involved
        in scope), for many cases at once."""
        if not case_ids:
            return set()
        c, t, r = schema.cases, schema.custody, schema.clock_runs
        units = list(self.units)
        wanted = list(case_ids)
        vs = self.views.view_set
        found: set[str] = set()
        with self.views.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                for query in (
                    sa.select(c.c.case_id).where(
                        c.c.view_set == vs,
                        c.c.case_id.in_(chunk),
                        sa.or_(c.c.registering_office.in_(units), c.c.concerned_unit.in_(units)),
                    ),
                    sa.select(t.c.case_id).where(
                        t.c.view_set == vs, t.c.case_id.in_(chunk), t.c.holder_unit.in_(units)
                    ),
                    sa.select(r.c.case_id).where(
                        r.c.view_set == vs, r.c.case_id.in_(chunk), r.c.unit.in_(units)
                    ),
                ):
                    found.update(case_id for (case_id,) in conn.execute(query))
        return found

    def parties(self) -> set[str]:
        """The units in scope and the people who belong to one of them."""
        m = schema.memberships
        with self.views.engine.connect() as conn:
            members = {
                person
                for person, unit in conn.execute(
                    sa.select(m.c.person_id, m.c.unit_id).where(m.c.view_set == self.views.view_set)
                )
                if unit in self.units
            }
        return self.units | members

    def filter_parties(self, rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        """Keep the rows whose unit (or person, by their memberships) is in scope."""
        allowed = self.parties()
        return [r for r in rows if r.get(key) in allowed]


def case_units(views: Views, case_id: str, registered: dict[str, Any], clerk: str) -> CaseUnits:
    """The units involved in a case, from the live views and its registration."""
    involved = {registered["registering_office"]}
    if registered.get("concerned_unit"):
        involved.add(registered["concerned_unit"])
    c, r = schema.custody, schema.clock_runs
    with views.engine.connect() as conn:
        involved.update(
            u
            for (u,) in conn.execute(
                sa.select(c.c.holder_unit).where(
                    c.c.view_set == views.view_set, c.c.case_id == case_id
                )
            )
            if u
        )
        involved.update(
            u
            for (u,) in conn.execute(
                sa.select(r.c.unit).where(r.c.view_set == views.view_set, r.c.case_id == case_id)
            )
            if u
        )
    return CaseUnits(
        involved=frozenset(involved),
        concerned_unit=registered.get("concerned_unit"),
        registering_clerk=clerk,
        is_report=registered["matter_kind"] == MatterKind.REPORT,
    )
