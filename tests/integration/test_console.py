"""The console's pages, without a browser, on both databases: signing in with a token, the
same refusals as the API for every role, no trace of an informant for the unit reported on,
and a case replayed as of a past day.

The browser tests (tests/e2e/) drive the same pages in Chromium; these are the fast checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.access import VIEWS
from api.console.auth import COOKIE
from api.http import create_app
from api.security import Role, issue
from ledger.settings import Settings
from tests.conftest import Clock
from tests.integration.test_http import letter
from tests.world import World

SECRET = "console-secret-" + "c" * 40
INFORMANT = {
    "name": "举报人钱某",
    "phone": "13900000077",
    "id_number": "110101198001017777",
    "address": "清源市某路7号",
}


def local(text: str) -> str:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").isoformat()


def jwt(person: UUID, role: Role, unit: UUID, *, age: timedelta = timedelta(0)) -> str:
    return issue(SECRET, user=person, role=role, unit=unit, now=datetime.now(UTC) - age)


@pytest.fixture
def app(
    world: World, clock: Clock, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", SECRET)
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    with TestClient(
        create_app(Settings(database_url=database_url), run_projector=False),
        follow_redirects=False,
    ) as client:
        client.app.state.ledger.clock = clock  # type: ignore[attr-defined]
        yield client


def written(app: TestClient, occurred: str) -> str:
    """The occurred_at of a command, written down five minutes later by the app's clock."""
    at = local(occurred)
    app.app.state.ledger.clock.now = datetime.fromisoformat(at) + timedelta(minutes=5)  # type: ignore[attr-defined]
    return at


def api_get(app: TestClient, path: str, token: str) -> Any:
    return app.get(path, headers={"Authorization": f"Bearer {token}"})


def page(app: TestClient, path: str, token: str, method: str = "get") -> Any:
    app.cookies.clear()
    app.cookies.set(COOKIE, token, path="/console")
    try:
        return getattr(app, method)(path)
    finally:
        app.cookies.clear()


def register(app: TestClient, w: World, **over: Any) -> str:
    body = letter(
        **{
            "occurred_at": written(app, "2025-03-03 11:00"),
            "petitioners": [{"name": "张秀英", "phone": "13800000000"}],
            **over,
        }
    )
    r = app.post(
        "/cases",
        json=body,
        headers={"Authorization": f"Bearer {jwt(w.clerk, Role.REGISTRAR, w.office)}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


def act(app: TestClient, token: str, number: str, action: str, at: str, **body: Any) -> None:
    r = app.post(
        f"/cases/{number}/{action}",
        json={"occurred_at": written(app, at), **body},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, (action, r.text)


def test_a_token_signs_in_to_an_http_only_cookie_and_nothing_else_does(
    app: TestClient, world: World
) -> None:
    w = world
    register(app, w)
    unsigned = app.get("/console/cases?stage=已登记")
    assert unsigned.status_code == 303
    assert unsigned.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2Fcases")

    bad = app.post("/console/sign-in", data={"token": "not-a-token", "next": "/console/cases"})
    assert bad.status_code == 401 and "令牌无效" in bad.text and COOKIE not in bad.cookies

    token = jwt(w.leader, Role.INSPECTOR, w.city)
    good = app.post("/console/sign-in", data={"token": token, "next": "/console/cases"})
    assert good.status_code == 303 and good.headers["location"] == "/console/cases"
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    listed = app.get("/console/cases")
    assert listed.status_code == 200 and "XF-2025-00001" in listed.text
    assert "no-store" in listed.headers["cache-control"]
    assert "script-src 'none'" in listed.headers["content-security-policy"]

    out = app.post("/console/sign-out")
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]
    app.cookies.clear()
    assert app.get("/console/cases").status_code == 303

    elsewhere = app.post("/console/sign-in", data={"token": token, "next": "//evil.example/"})
    assert elsewhere.headers["location"] == "/console/"
    expired = jwt(w.leader, Role.INSPECTOR, w.city, age=timedelta(days=60))
    assert page(app, "/console/cases", expired).status_code == 303
    forged = issue(
        "another-" + "y" * 40, user=w.leader, role=Role.ADMIN, unit=w.city, now=datetime.now(UTC)
    )
    assert page(app, "/console/cases", forged).status_code == 303


PAGES = {  # console page -> (API endpoint with the same data, the view it needs)
    "/console/cases/{n}": ("/cases/{n}", "case"),
    "/console/delay": ("/views/delay", "delay"),
    "/console/delay?by=leader": ("/views/delay?by=leader", "delay"),
    "/console/patterns": ("/views/patterns", "patterns"),
    "/console/statistics?period=2025-03": ("/views/statistics/2025-03", "statistics"),
    "/console/rule-diff": ("/views/statistics/2025-03", "statistics"),
    "/console/cases": ("/cases", "cases"),
}


@pytest.mark.parametrize("role", list(Role))
def test_every_page_refuses_exactly_what_the_api_refuses(
    app: TestClient, world: World, role: Role
) -> None:
    """In scope (the city) and out of scope (the labour bureau, which the case never
    touched): the page answers 200 where the API does, 403 where the API does."""
    w = world
    number = register(app, w)
    clerk = jwt(w.clerk, Role.REGISTRAR, w.office)
    act(app, clerk, number, "route", "2025-03-04 09:00", to_unit=str(w.housing))
    for who in (jwt(w.leader, role, w.city), jwt(w.labour_handler, role, w.labour)):
        for console_path, (api_path, view) in PAGES.items():
            shown = page(app, console_path.format(n=number), who)
            api = api_get(app, api_path.format(n=number), who)
            assert shown.status_code == api.status_code, (console_path, shown.text[:300])
            assert (shown.status_code == 403) == (role not in VIEWS[view] or api.status_code == 403)
            if shown.status_code == 403:
                assert "无权查看" in shown.text and "text/html" in shown.headers["content-type"]


def test_no_trace_of_the_informant_on_any_page_for_the_unit_reported_on(
    app: TestClient, world: World
) -> None:
    w = world
    number = register(
        app,
        w,
        matter_kind="检举控告",
        category="干部作风",
        summary="反映住建局干部索要好处费",
        petitioners=[INFORMANT],
        concerned_unit=str(w.housing),
    )
    clerk = jwt(w.clerk, Role.REGISTRAR, w.office)
    act(app, clerk, number, "route", "2025-03-04 09:00", to_unit=str(w.housing))
    act(app, jwt(w.housing_handler, Role.HANDLER, w.housing), number, "accept", "2025-03-05 09:00")
    pages = [
        "/console/",
        "/console/cases",
        f"/console/cases?number={number}",
        f"/console/cases/{number}",
        f"/console/cases/{number}?as_of=2025-03-04",
        "/console/delay",
        "/console/delay?by=person",
        "/console/delay?by=leader",
        f"/console/delay/unit/{w.housing.hex}",
        "/console/statistics?period=2025-03",
        "/console/rule-diff",
        *(f"/console/patterns?group={g}" for g in ("推诿", "倒签与迟登", "重复访")),
    ]
    for person, role in ((w.housing_handler, Role.HANDLER), (w.housing_head, Role.LEADER)):
        reported = jwt(person, role, w.housing)
        for path in pages:
            shown = page(app, path, reported)
            assert shown.status_code in (200, 303, 403), (
                path,
                shown.status_code,
                shown.text[-800:],
            )
            leaked = [t for t in INFORMANT.values() if t in shown.text]
            assert not leaked, (path, leaked)
        asked = page(app, f"/console/cases/{number}/reveal", reported, method="post")
        assert asked.status_code == 200 and "举报人身份保密" in asked.text
        assert not [t for t in INFORMANT.values() if t in asked.text]
        assert 'id="reveal"' not in asked.text
    history = api_get(app, f"/cases/{number}/history", jwt(w.housing_head, Role.LEADER, w.housing))
    assert not [e for e in history.json() if e["type"] == "IdentityDisclosed"]

    # An inspector in scope sees a button, not the name; pressing it records the disclosure.
    inspector = jwt(w.leader, Role.INSPECTOR, w.city)
    before = page(app, f"/console/cases/{number}", inspector)
    assert 'id="reveal"' in before.text and INFORMANT["name"] not in before.text
    shown = page(app, f"/console/cases/{number}/reveal", inspector, method="post")
    assert INFORMANT["name"] in shown.text and INFORMANT["phone"] in shown.text
    recorded = api_get(app, f"/cases/{number}/history", clerk).json()
    through_console = [
        e
        for e in recorded
        if e["type"] == "IdentityDisclosed" and "console" in e["data"]["purpose"]
    ]
    assert [e["actor"] for e in through_console] == ["陈志华"]


def test_a_case_replayed_as_of_a_past_day_shows_the_record_as_it_stood(
    app: TestClient, world: World
) -> None:
    w = world
    number = register(app, w)
    clerk = jwt(w.clerk, Role.REGISTRAR, w.office)
    act(app, clerk, number, "route", "2025-03-10 09:00", to_unit=str(w.housing))
    act(app, jwt(w.housing_handler, Role.HANDLER, w.housing), number, "accept", "2025-03-12 09:00")
    inspector = jwt(w.leader, Role.INSPECTOR, w.city)

    now = page(app, f"/console/cases/{number}", inspector)
    assert 'id="stage">办理中<' in now.text and "市住建局" in now.text
    # received, registered, routed to housing, accepted by housing
    assert now.text.count('<g class="interval') == 4

    then = page(app, f"/console/cases/{number}?as_of=2025-03-05", inspector)
    assert then.status_code == 200 and 'id="stage">已登记<' in then.text
    assert 'id="asof-banner"' in then.text and "2025-03-05 23:59" in then.text
    assert "受理" not in then.text.split('id="history"')[1]  # not yet recorded then
    assert then.text.count('<g class="interval') == 2
    assert "市住建局" not in then.text.split('id="timeline"')[1].split("</svg>")[0]

    before = page(app, f"/console/cases/{number}?as_of=2025-03-01", inspector)
    assert before.status_code == 404
    bad = page(app, f"/console/cases/{number}?as_of=yesterday", inspector)
    assert bad.status_code == 422 and "yesterday" in bad.text
