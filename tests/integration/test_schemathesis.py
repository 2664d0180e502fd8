"""Schemathesis against the app's own OpenAPI schema: every operation, generated requests
(schema examples, coverage of boundaries and negative input, random fuzzing), and every answer
checked — never a 5xx, a body the schema describes, a status code the schema documents.

The app runs in-process (ASGI, no server) on a small seeded world: the test directory, case
XF-2025-00001 registered and routed, XF-2025-00002 replied to. Hooks sometimes swap real
references, unit and person ids, a receipt code and the words the domain parses (channel,
mode, outcome, ...) into the generated requests, so they get past the 404s and 422s into the
domain. Requests carry a real admin token for the top unit, so every endpoint is in scope; a
smaller run sends no token and checks that nothing secured answers 2xx.

SQLite only, on purpose: the property checked is the HTTP contract, which does not depend on
the database (the database-specific paths are covered on both by test_http.py), and one world
shared by every operation keeps the file within its budget (the PostgreSQL fixture resets the
schema per test). Derandomized, so a run is reproducible and CI is not flaky;
``SCHEMATHESIS_EXAMPLES=500`` makes a deeper, random search for a local run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.http import create_app
from api.routes_cases import receipt_hash
from api.security import Role, issue
from domain import values
from ledger.application import Ledger
from ledger.settings import Settings
from tests.world import build_world

SECRET = "schemathesis-secret-" + "s" * 40
FOUNDED = datetime(2025, 1, 1, tzinfo=UTC)
RECEIVED = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
BASE_URL = "http://testserver"

# The app's own schema; producing it opens no database.
RAW_SCHEMA = create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi()
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
# Without a token every operation fails the same way early: examples and fuzzing suffice.
NO_COVERAGE = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
ANONYMOUS_SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA, config=NO_COVERAGE)


def no_secured_success(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """Without a token, an operation that requires one never succeeds."""
    secured = bool(case.operation.definition.raw.get("security"))
    if secured and response.status_code < 300:
        raise AssertionError(f"{case.operation.label} answered {response.status_code} anonymously")


CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# SCHEMATHESIS_EXAMPLES=500 searches deeper, and at random, for a local run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "0"))
BUDGET = settings(
    max_examples=EXAMPLES or 25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not EXAMPLES,
    database=None,
)


# ---------------------------------------------------------------- real values for the hooks


@dataclass
class Real:
    """Values that exist in the seeded world (filled in by the fixture)."""

    references: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    receipt_codes: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=lambda: ["2025-03", "2025-Q1", "2025"])


REAL = Real()


def _words(*enums: type[StrEnum]) -> list[str]:
    return [member.value for enum in enums for member in enum]


# Text fields the domain parses as one of a few words.
WORDS = {
    "channel": _words(values.Channel),
    "matter_kind": _words(values.MatterKind),
    "petitioner_kind": _words(values.PetitionerKind),
    "mode": _words(values.RoutingMode),
    "outcome": _words(values.ReplyOutcome),
    "rating": _words(values.Rating),
    "level": [*_words(values.AppealLevel), "市级"],
    "decision": _words(values.ExtensionDecision, values.AppealDecision),
    "reason": _words(values.PauseReason),
    "kind": _words(values.UnitKind),
    "role": _words(values.Role),
}
UNIT_KEYS = ("to_unit", "unit", "parent", "concerned_unit")
PERSON_KEYS = ("leader", "to_handler", "handler", "approver", "on_behalf_of", "person_id")


def _sometimes(generated: Any, real: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """The generated values as they are, some of them replaced by real ones, or all of them."""
    if not isinstance(generated, dict):
        return st.just(generated)
    keys = [k for k in generated if real.get(k)]
    if not keys:
        return st.just(generated)
    mixed = {k: st.one_of(st.just(generated[k]), st.sampled_from(real[k])) for k in keys}
    every = {k: st.sampled_from(real[k]) for k in keys}
    return st.one_of(
        st.just(generated),
        *(st.fixed_dictionaries(d).map(lambda v: {**generated, **v}) for d in (mixed, every)),
    )


def flatmap_path_parameters(context: schemathesis.HookContext, parameters: Any) -> Any:
    return _sometimes(
        parameters,
        {
            "reference": REAL.references,
            "unit": REAL.units,
            "period": REAL.periods,
            "person_id": REAL.people,
        },
    )


def flatmap_query(context: schemathesis.HookContext, query: Any) -> Any:
    return _sometimes(query, {"unit": REAL.units, "period": REAL.periods})


def flatmap_headers(context: schemathesis.HookContext, headers: Any) -> Any:
    return _sometimes(headers, {"X-Receipt-Code": REAL.receipt_codes})


def flatmap_body(context: schemathesis.HookContext, body: Any) -> Any:
    real = {k: REAL.units for k in UNIT_KEYS} | {k: REAL.people for k in PERSON_KEYS}
    return _sometimes(body, {**real, **WORDS, "target_case": REAL.references})


for _schema in (SCHEMA, ANONYMOUS_SCHEMA):
    for _hook in (flatmap_path_parameters, flatmap_query, flatmap_headers, flatmap_body):
        _schema.hook(_hook)


# ---------------------------------------------------------------- the seeded app


@dataclass
class Seeded:
    client: TestClient  # its lifespan opened the ledger; regression tests use it directly
    app: Any  # the same app for schemathesis' transport (see _requests_only)
    admin: dict[str, str]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis')}/ledger.sqlite3"
    ledger = Ledger(Settings(database_url=url))
    try:
        w = build_world(ledger, FOUNDED)
        day = timedelta(days=1)
        routed = w.register(RECEIVED, receipt_hash=receipt_hash("known-secret"))
        w.act(routed.aggregate_id, "route", w.at_office, RECEIVED + day, to_unit=w.housing)
        replied = w.register(RECEIVED)
        w.act(replied.aggregate_id, "route", w.at_office, RECEIVED + day, to_unit=w.housing)
        w.act(replied.aggregate_id, "accept", w.at_housing, RECEIVED + 2 * day)
        w.act(
            replied.aggregate_id,
            "reply",
            w.at_housing,
            RECEIVED + 5 * day,
            outcome="支持",
            text="已修复",
            delivered_at=RECEIVED + 6 * day,
        )
    finally:
        ledger.close()
    assert routed.case_number == "XF-2025-00001"
    REAL.references[:] = [
        routed.case_number,
        str(replied.case_number),
        routed.aggregate_id.hex,
        str(replied.aggregate_id),
        "XF-2025-99999",
    ]
    REAL.units[:] = [u.hex for u in (w.province, w.office, w.housing)] + [str(w.labour)]
    REAL.people[:] = [str(p) for p in (w.housing_handler, w.leader, w.clerk, w.housing_head)]
    REAL.receipt_codes[:] = [f"{routed.case_number}.known-secret", f"{replied.case_number}.x"]
    admin = issue(
        SECRET, user=w.province_reviewer, role=Role.ADMIN, unit=w.province, now=datetime.now(UTC)
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_TOKEN_SECRET", SECRET)
        app = create_app(Settings(database_url=url), run_projector=False)
        with TestClient(app) as client:
            yield Seeded(client, _requests_only(app), {"Authorization": f"Bearer {admin}"})


def _requests_only(app: Any) -> Any:
    """The app with its lifespan left to the fixture's TestClient (started once, stopped at the
    end); schemathesis would otherwise keep its own until the process exits."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            phase = (await receive())["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                return

    return asgi


# ---------------------------------------------------------------- the runs


@SCHEMA.parametrize()
@BUDGET
def test_every_operation_as_admin(case: schemathesis.Case[Any], seeded: Seeded) -> None:
    case.call_and_validate(app=seeded.app, base_url=BASE_URL, headers=seeded.admin, checks=CHECKS)


@ANONYMOUS_SCHEMA.parametrize()
@settings(BUDGET, max_examples=max(5, EXAMPLES // 5))
def test_every_operation_without_a_token(case: schemathesis.Case[Any], seeded: Seeded) -> None:
    if case.headers:
        case.headers.pop("Authorization", None)
    case.call_and_validate(app=seeded.app, base_url=BASE_URL, checks=[*CHECKS, no_secured_success])


# ---------------------------------------------------------------- regressions found by the runs


def test_a_malformed_request_is_a_documented_problem(seeded: Seeded) -> None:
    """422 was documented as FastAPI's application/json HTTPValidationError (``detail`` a
    list), but the app sends an application/problem+json document (``detail`` a string)."""
    operation = SCHEMA["/cases"]["POST"]
    documented = operation.definition.raw["responses"]["422"]["content"]
    assert list(documented) == ["application/problem+json"]
    response = seeded.client.post("/cases", json={"channel": 1}, headers=seeded.admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert isinstance(response.json()["detail"], str) and response.json()["errors"]
    operation.Case(body={"channel": 1}, media_type="application/json").validate_response(
        response, checks=CHECKS
    )


@pytest.mark.parametrize(
    ("status", "send"),
    [
        (400, {"content": b"\xff", "headers": {"Content-Type": "application/json"}}),
        (404, {"json": {"note": ""}, "path": "/cases/XF-2025-99999/accept"}),
        (401, {"json": {"note": ""}, "anonymous": True}),
    ],
)
def test_every_error_status_is_documented(
    seeded: Seeded, status: int, send: dict[str, Any]
) -> None:
    """400 (an unreadable body), 401, 404, ... were sent but not in the schema."""
    send = dict(send)
    path = send.pop("path", "/cases/XF-2025-00001/accept")
    headers = {} if send.pop("anonymous", False) else dict(seeded.admin)
    headers.update(send.pop("headers", {}))
    response = seeded.client.post(path, headers=headers, **send)
    assert response.status_code == status, response.text
    operation = SCHEMA["/cases/{reference}/accept"]["POST"]
    operation.Case(path_parameters={"reference": "XF-2025-00001"}).validate_response(
        response, checks=CHECKS
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_view_as_a_file_is_documented(seeded: Seeded, fmt: str) -> None:
    """format=csv|xlsx answered with a media type the schema did not list."""
    response = seeded.client.get("/views/delay", params={"format": fmt}, headers=seeded.admin)
    assert response.status_code == 200, response.text
    operation = SCHEMA["/views/delay"]["GET"]
    operation.Case(query={"format": fmt}).validate_response(response, checks=CHECKS)


def test_a_huge_offset_is_refused_not_a_server_error(seeded: Seeded) -> None:
    """offset=2**63 reached SQLite's OFFSET: OverflowError, a 500."""
    response = seeded.client.get("/cases", params={"offset": 2**63}, headers=seeded.admin)
    assert response.status_code == 422, response.text
    SCHEMA["/cases"]["GET"].Case(query={"offset": 2**63}).validate_response(response, checks=CHECKS)


FAR_OFF = [
    ("/cases/XF-2025-00001/issue-supervision", {"deadline": "9999-12-31"}),
    ("/cases/XF-2025-00001/reply", {"delivered_at": "9999-12-31T23:59:59Z"}),
    ("/cases", {"received_at": "0001-01-01T00:00:00+14:00"}),
    ("/cases", {"occurred_at": "0001-01-01T00:00:00+14:00"}),
    ("/units", {"occurred_at": "0001-01-01T00:00:00+14:00"}),
]
BODIES: dict[str, dict[str, Any]] = {
    "/cases/XF-2025-00001/issue-supervision": {"level": "市级", "instructions": "限期报告"},
    "/cases/XF-2025-00001/reply": {"outcome": "支持", "text": "已修复"},
    "/cases": {
        "channel": "来信",
        "received_at": "2025-03-03T09:00:00+08:00",
        "matter_kind": "申诉求决",
        "category": "住房保障",
        "summary": "漏水",
        "petitioner_kind": "实名",
        "petitioners": [{"name": "张秀英"}],
        "headcount": 1,
    },
    "/units": {"name": "新单位", "code": "XD", "kind": "职能部门"},
}


@pytest.mark.parametrize(("path", "far_off"), FAR_OFF)
def test_a_far_off_date_is_refused_and_never_stops_the_projector(
    seeded: Seeded, path: str, far_off: dict[str, str]
) -> None:
    """A 督办 deadline of 9999-12-31, a reply delivered then, a matter received at
    0001-01-01+14:00 were recorded (201/200), and the projector then failed on them with an
    OverflowError: every live read answered 503 from then on. A registration occurring then
    was a 500. Dates and instants are now refused outside 1900-2999."""
    response = seeded.client.post(path, json=BODIES[path] | far_off, headers=seeded.admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == next(iter(far_off))
    assert seeded.client.get("/healthz").json()["projector"]["error"] is None
    assert seeded.client.get("/cases", headers=seeded.admin).status_code == 200


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z"])
def test_a_far_off_as_of_is_refused(seeded: Seeded, as_of: str) -> None:
    response = seeded.client.get("/views/delay", params={"as_of": as_of}, headers=seeded.admin)
    assert response.status_code == 422, response.text


def test_an_idempotency_key_the_schema_allows_is_accepted(seeded: Seeded) -> None:
    """A 200-character Idempotency-Key passed the header's maxLength, then the "http:<user>:"
    prefix made the command id longer than the domain's 200: a 422 for valid input."""
    documented = next(
        p["schema"]
        for p in SCHEMA["/units"]["POST"].definition.raw["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    longest = max(s.get("maxLength", 0) for s in documented["anyOf"])
    body = {"name": "幂等单位", "code": "MD", "kind": "职能部门"}
    headers = {**seeded.admin, "Idempotency-Key": "k" * longest}
    first = seeded.client.post("/units", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = seeded.client.post("/units", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["replayed"] is True
