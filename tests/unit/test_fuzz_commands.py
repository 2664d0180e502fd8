"""Fuzzing the domain boundary: whatever a command is given, the case either records it or
refuses it with a typed domain error — never a crash, never a half-applied change."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import Case
from domain.errors import DomainError
from domain.provenance import Provenance
from domain.workflow import ALLOWED_STAGES, Stage
from tests.unit.test_workflow import OFFICE, UNIT, case_at

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=30),
    st.sampled_from(["支持", "满意", "复查", "复核", "维持", "批准", "听证", "来信", "转送"]),
    st.uuids(),
    st.sampled_from([OFFICE, UNIT]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
    st.lists(st.text(max_size=5), max_size=3),
    st.floats(allow_nan=True),
)


def parameters(action: str) -> list[tuple[str, bool]]:
    """(name, required) of the action's own arguments."""
    return [
        (name, parameter.default is inspect.Parameter.empty)
        for name, parameter in inspect.signature(getattr(Case, action)).parameters.items()
        if name not in ("self", "p")
    ]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stage=st.sampled_from(list(Stage)),
    action=st.sampled_from(sorted(ALLOWED_STAGES)),
    unit=st.sampled_from([OFFICE, UNIT, None]),
    offset=st.integers(min_value=-30, max_value=30),
    data=st.data(),
)
def test_any_payload_is_recorded_or_refused_cleanly(
    stage: Stage, action: str, unit: UUID | None, offset: int, data: st.DataObject
) -> None:
    case = case_at(stage)
    version, pending = case.version, len(case.pending_events)
    arguments: dict[str, Any] = {
        name: data.draw(values, label=name)
        for name, required in parameters(action)
        if required or data.draw(st.booleans(), label=f"give {name}")
    }
    at = T0 + timedelta(days=offset)
    try:
        p = Provenance(
            actor=data.draw(st.sampled_from([UNIT, OFFICE])),
            actor_unit=unit,
            occurred_at=at,
            recorded_at=max(at, T0 + timedelta(days=10)),
            command_id="fuzz",
        )
        inspect.signature(getattr(case, action)).bind(p, **arguments)
    except (DomainError, TypeError):
        return  # a missing argument is refused at the ledger boundary (InvalidInput)
    try:
        getattr(case, action)(p, **arguments)
    except DomainError:
        assert (case.version, len(case.pending_events)) == (version, pending)
    else:
        assert case.version == version + 1
