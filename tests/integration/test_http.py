"""The HTTP API: a case's whole life, the role × endpoint matrix, informant redaction,
retries, stale versions and problem documents — on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.access import CASE_ACTIONS, VIEWS
from api.http import create_app
from api.security import Role, issue
from ledger.settings import Settings
from tests.conftest import Clock
from tests.world import World

SECRET = "test-secret-" + "x" * 40
Headers = dict[str, str]


def local(text: str) -> str:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").isoformat()


@pytest.fixture
def api(
    world: World, clock: Clock, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", SECRET)
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    with TestClient(create_app(Settings(database_url=database_url), run_projector=False)) as c:
        yield c


def token(person: UUID, role: Role, unit: UUID) -> Headers:
    jwt = issue(SECRET, user=person, role=role, unit=unit, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {jwt}"}


def letter(**over: Any) -> dict[str, Any]:
    """The body of a letter's registration (a leaking council flat), with ``over`` changed."""
    return {
        "occurred_at": local("2025-03-03 11:00"),
        "channel": "来信",
        "received_at": local("2025-03-03 09:00"),
        "matter_kind": "申诉求决",
        "category": "住房保障",
        "summary": "公租房屋顶漏水",
        "petitioner_kind": "实名",
        "petitioners": [
            {"name": "张秀英", "phone": "13800000000", "id_number": "110101199001011234"}
        ],
        "headcount": 1,
    } | over


def register(api: TestClient, w: World, **over: Any) -> dict[str, Any]:
    body = letter(**over)
    response = api.post("/cases", json=body, headers=token(w.clerk, Role.REGISTRAR, w.office))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_case_lives_its_whole_life_over_http(api: TestClient, world: World) -> None:
    w = world
    clerk = token(w.clerk, Role.REGISTRAR, w.office)
    handler = token(w.housing_handler, Role.HANDLER, w.housing)
    head = token(w.housing_head, Role.LEADER, w.housing)
    leader = token(w.leader, Role.LEADER, w.city)
    supervisor = token(w.supervisor, Role.SUPERVISOR, w.supervision)
    reviewer = token(w.city_reviewer, Role.HANDLER, w.city)
    province = token(w.province_reviewer, Role.HANDLER, w.province)
    created = register(api, w)
    number, code = created["case_number"], created["receipt_code"]
    assert number == "XF-2025-00001" and code.startswith(number + ".")

    def do(action: str, who: Headers, at: str, **body: Any) -> dict[str, Any]:
        r = api.post(
            f"/cases/{number}/{action}", json={"occurred_at": local(at), **body}, headers=who
        )
        assert r.status_code == 200, (action, r.text)
        return r.json()  # type: ignore[no-any-return]

    do("route", clerk, "2025-03-04 09:00", to_unit=str(w.housing), mode="交办")
    do("accept", handler, "2025-03-05 09:00")
    do("assign-lead", leader, "2025-03-06 09:00", leader=str(w.leader))
    do("request-extension", handler, "2025-04-20 09:00", days=30, reason="需现场勘验")
    do(
        "decide-extension",
        head,
        "2025-04-21 09:00",
        decision="批准",
        approver=str(w.housing_head),
        days_granted=30,
    )
    notice = do(
        "issue-supervision",
        supervisor,
        "2025-05-01 09:00",
        level="市级",
        deadline="2025-05-20",
        instructions="限期报告",
    )
    assert notice["value"] == 1
    do("answer-supervision", handler, "2025-05-25 09:00", notice_no=1, answer="已维修")
    do(
        "reply",
        handler,
        "2025-06-20 09:00",
        outcome="支持",
        text="已修复",
        delivered_at=local("2025-06-21 09:00"),
    )
    seen = api.get("/petitioner/case", headers={"X-Receipt-Code": code}).json()
    assert seen["reply"]["text"] == "已修复" and seen["can_rate"]
    rated = api.post(
        "/petitioner/case/rating", json={"rating": "不满意"}, headers={"X-Receipt-Code": code}
    )
    assert rated.status_code == 200, rated.text
    petitioner = api.get(f"/cases/{number}/history", headers=clerk).json()[0]["data"][
        "petitioners"
    ][0]["petitioner_id"]
    do(
        "file-appeal",
        clerk,
        "2025-07-01 09:00",
        level="复查",
        to_unit=str(w.city),
        reason="仍漏水",
        on_behalf_of=petitioner,
    )
    do(
        "decide-appeal",
        reviewer,
        "2025-07-25 09:00",
        decision="维持",
        text="维持",
        delivered_at=local("2025-07-26 09:00"),
    )
    do(
        "file-appeal",
        clerk,
        "2025-08-10 09:00",
        level="复核",
        to_unit=str(w.province),
        reason="不服",
        on_behalf_of=petitioner,
    )
    do(
        "decide-appeal",
        province,
        "2025-09-01 09:00",
        decision="维持",
        text="复核维持",
        delivered_at=local("2025-09-02 09:00"),
    )
    final = api.get(f"/cases/{number}", headers=clerk)
    assert final.json()["stage"] == "已复核" and final.headers["ETag"] == '"14"'
    refused = api.post(
        f"/cases/{number}/file-appeal",
        headers=clerk,
        json={
            "level": "复核",
            "to_unit": str(w.province),
            "reason": "再申请",
            "on_behalf_of": petitioner,
        },
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("appeal-not-allowed")

    chain = api.get(f"/cases/{number}/chain", headers=leader).json()
    handling = [i for i in chain if i["clock"] == "handling"]
    # Accepted 5 March; 60 + 30 days (extension) → 3 June; replied 20 June 09:00 → 16.4 days.
    assert handling[-1]["deadline"] == "2025-06-03"
    assert sum(i["overdue_days"] for i in handling) == pytest.approx(16.4)
    delay = api.get("/views/delay", params={"by": "unit"}, headers=leader).json()
    housing = next(d for d in delay if d["party"] == "市住建局")
    # 16.4 days of handling, and the 督办 notice answered 5 days (4.4) late.
    assert housing["by_stage"] == {"handling": 16.4, "supervision": 4.4}
    joint = api.get("/views/delay", params={"by": "leader"}, headers=leader).json()
    assert joint[0]["party"] == "陈志华" and joint[0]["overdue_days"] == pytest.approx(16.4)


def test_retries_and_stale_versions(api: TestClient, world: World) -> None:
    w = world
    clerk = token(w.clerk, Role.REGISTRAR, w.office)
    number = register(api, w)["case_number"]
    body = {"occurred_at": local("2025-03-04 09:00"), "to_unit": str(w.housing)}
    retry = {**clerk, "Idempotency-Key": "route-1"}
    first = api.post(f"/cases/{number}/route", json=body, headers=retry)
    again = api.post(f"/cases/{number}/route", json=body, headers=retry)
    assert first.json()["version"] == again.json()["version"] == 2
    assert again.json()["replayed"] and again.json()["position"] is None
    assert len(api.get(f"/cases/{number}/history", headers=clerk).json()) == 2
    stale = api.post(f"/cases/{number}/close", json={}, headers={**clerk, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("get", "/cases/XF-2025-99999", None, 404, "not-found"),
        ("get", "/cases/hello", None, 422, "invalid-input"),
        ("get", "/cases/XF-2025-00001?as_of=2025-03-03T09:00:00", None, 422, "invalid-input"),
        ("post", "/cases/XF-2025-00001/route", {"to_unit": "nope"}, 422, "invalid-input"),
        ("post", "/cases/XF-2025-00001/route", {"to_unit": str(uuid4())}, 404, "not-found"),
        ("post", "/cases/XF-2025-00001/close", {}, 409, "process-rule"),
        ("post", "/cases/XF-2025-00001/accept", {"colour": "red"}, 422, "invalid-input"),
    ],
)
def test_errors_are_problem_documents_and_write_nothing(
    api: TestClient, world: World, method: str, path: str, body: Any, status: int, kind: str
) -> None:
    clerk = token(world.clerk, Role.REGISTRAR, world.office)
    register(api, world)
    before = len(api.get("/cases/XF-2025-00001/history", headers=clerk).json())
    response = getattr(api, method)(
        path, headers=clerk, **({"json": body} if body is not None else {})
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(kind)
    assert len(api.get("/cases/XF-2025-00001/history", headers=clerk).json()) == before


def test_without_a_valid_token_nothing_is_shown(api: TestClient, world: World) -> None:
    register(api, world)
    assert api.get("/cases/XF-2025-00001").status_code == 401
    forged = {
        "Authorization": "Bearer "
        + issue(
            "another-secret-" + "y" * 40,
            user=world.clerk,
            role=Role.ADMIN,
            unit=world.city,
            now=datetime.now(UTC),
        )
    }
    assert api.get("/cases/XF-2025-00001", headers=forged).status_code == 401
    expired = {
        "Authorization": "Bearer "
        + issue(
            SECRET,
            user=world.clerk,
            role=Role.ADMIN,
            unit=world.city,
            now=datetime.now(UTC) - timedelta(days=60),
        )
    }
    assert api.get("/cases/XF-2025-00001", headers=expired).status_code == 401
    assert (
        api.get("/petitioner/case", headers={"X-Receipt-Code": "XF-2025-00001.guess"}).status_code
        == 401
    )


VIEW_PATHS = {
    "case": "/cases/{n}",
    "history": "/cases/{n}/history",
    "chain": "/cases/{n}/chain",
    "delay": "/views/delay",
    "patterns": "/views/patterns",
    "statistics": "/views/statistics/2025-03",
}
ACTIONS = {
    "accept": {},
    "assign_lead": {"leader": "{leader}"},
    "issue_supervision": {"level": "市级", "deadline": "2025-04-01", "instructions": "i"},
    "merge_into": {"target_case": "{other}"},
}


@pytest.mark.parametrize("role", list(Role))
def test_every_role_is_allowed_or_refused_exactly_as_designed(
    api: TestClient, world: World, role: Role
) -> None:
    """In scope (the city, which holds everything) and out of scope (the labour bureau,
    which this case never touched)."""
    w = world
    number = register(api, w)["case_number"]
    other = register(api, w)["case_id"]
    clerk = token(w.clerk, Role.REGISTRAR, w.office)
    api.post(f"/cases/{number}/route", json={"to_unit": str(w.housing)}, headers=clerk)
    in_scope = token(w.leader, role, w.city)
    out_of_scope = token(w.labour_handler, role, w.labour)
    for view, path in VIEW_PATHS.items():
        url = path.format(n=number)
        allowed = role in VIEWS[view]
        status = api.get(url, headers=in_scope).status_code
        assert (status == 200) == allowed and (status == 403) == (not allowed), (view, status)
        outside = api.get(url, headers=out_of_scope)
        if view in ("case", "history", "chain"):
            assert outside.status_code == 403, (view, outside.text)
        elif allowed:
            assert outside.status_code == 200 and number not in outside.text, (view, outside.text)
    for action, body in ACTIONS.items():
        filled = {
            k: v.format(leader=w.leader, other=other) if isinstance(v, str) else v
            for k, v in body.items()
        }
        response = api.post(
            f"/cases/{number}/{action.replace('_', '-')}", json=filled, headers=in_scope
        )
        if action in CASE_ACTIONS[role]:
            assert response.status_code != 403, (action, response.text)
        else:
            assert response.status_code == 403, (action, response.text)


def test_no_trace_of_the_informant_reaches_the_reported_unit(api: TestClient, world: World) -> None:
    w = world
    informant = {
        "name": "举报人李某",
        "phone": "13900000001",
        "id_number": "110101198001011111",
        "address": "清源市某路1号",
    }
    created = register(
        api,
        w,
        matter_kind="检举控告",
        category="干部作风",
        summary="反映住建局干部索要好处费",
        petitioners=[informant],
        concerned_unit=str(w.housing),
    )
    number = created["case_number"]
    clerk = token(w.clerk, Role.REGISTRAR, w.office)
    api.post(f"/cases/{number}/route", json={"to_unit": str(w.housing)}, headers=clerk)
    api.post(
        f"/cases/{number}/accept",
        json={},
        headers=token(w.housing_handler, Role.HANDLER, w.housing),
    )
    traces = [*informant.values(), "petitioner_id"]
    for person, role in ((w.housing_handler, Role.HANDLER), (w.housing_head, Role.LEADER)):
        reported = token(person, role, w.housing)
        for path in (
            f"/cases/{number}",
            f"/cases/{number}/history",
            f"/cases/{number}/summary",
            f"/cases/{number}/chain",
            "/cases",
            "/views/delay",
            "/views/patterns",
            f"/views/desk/{w.housing.hex}",
            "/views/delay?format=csv",
            f"/views/desk/{w.housing.hex}?format=xlsx",
        ):
            response = api.get(path, headers=reported)
            if response.status_code == 403:
                continue
            assert response.status_code == 200, (path, response.text)
            body = response.text if "xlsx" not in path else response.content.decode("latin-1")
            leaked = [t for t in traces if t in body and t != "petitioner_id"]
            assert not leaked, (path, leaked)
            if path.endswith("/history"):
                registered = json.loads(body)[0]["data"]["petitioners"]
                assert registered == [{"petitioner_id": None, "name": "（举报人身份保密）"}]
    # An inspector in scope sees the informant, and the disclosure is recorded.
    inspector = token(w.leader, Role.INSPECTOR, w.city)
    shown = api.get(f"/cases/{number}", headers=inspector).json()
    assert shown["petitioners"][0]["name"] == "举报人李某"
    history = api.get(f"/cases/{number}/history", headers=clerk).json()
    disclosures = [e for e in history if e["type"] == "IdentityDisclosed"]
    assert disclosures and disclosures[0]["actor"] == "陈志华"


def test_an_admin_builds_the_directory_over_http(api: TestClient, world: World) -> None:
    admin = token(world.leader, Role.ADMIN, world.city)
    unit = api.post(
        "/units",
        json={"name": "市民政局", "code": "MZ", "kind": "职能部门", "parent": str(world.city)},
        headers=admin,
    )
    assert unit.status_code == 201, unit.text
    person = api.post("/people", json={"name": "刘洋"}, headers=admin)
    joined = api.post(
        f"/people/{person.json()['id']}/memberships",
        json={"action": "join", "unit": unit.json()["id"], "role": "承办人"},
        headers=admin,
    )
    assert joined.status_code == 200 and joined.json()["version"] == 2
    clerk = token(world.clerk, Role.REGISTRAR, world.office)
    assert api.post("/people", json={"name": "x"}, headers=clerk).status_code == 403
    bad = api.post("/units", json={"name": "x", "code": "中文", "kind": "职能部门"}, headers=admin)
    assert bad.status_code == 422


def test_the_case_list_finds_the_cases_a_leader_took_charge_of(
    api: TestClient, world: World
) -> None:
    w = world
    clerk = token(w.clerk, Role.REGISTRAR, w.office)
    handler = token(w.housing_handler, Role.HANDLER, w.housing)
    leader = token(w.leader, Role.LEADER, w.city)
    numbers = [register(api, w)["case_number"] for _ in range(2)]
    for number in numbers:
        for action, who, body in (
            ("route", clerk, {"to_unit": str(w.housing), "mode": "交办"}),
            ("accept", handler, {}),
        ):
            r = api.post(f"/cases/{number}/{action}", json=body, headers=who)
            assert r.status_code == 200, r.text
    r = api.post(f"/cases/{numbers[1]}/assign-lead", json={"leader": str(w.leader)}, headers=leader)
    assert r.status_code == 200, r.text

    led = api.get("/cases", params={"person": str(w.leader)}, headers=leader).json()
    assert [c["case_number"] for c in led["items"]] == [numbers[1]] and led["total"] == 1
    everyone = api.get("/cases", headers=leader).json()
    assert everyone["total"] == 2
    bad = api.get("/cases", params={"person": "nobody"}, headers=leader)
    assert bad.status_code == 422
