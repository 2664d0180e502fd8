"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright for
Python), against a server on a free loopback port and the demo data set: an inspector signs
in, finds a case, reads its custody timeline, moves the "as of" date, opens the delay board
and the rule diff; a user of a unit that a report concerns walks every page they may open and
finds no trace of the informant.

A screenshot of every page is kept in ``$CONSOLE_ARTIFACTS`` (default
``test-artifacts/console/``), for a person to look at. Without Chromium the test is skipped
locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
import uvicorn

from api.demo import DemoSummary, write_demo
from api.http import create_app
from api.security import Role, issue
from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema
from projections.rebuild import rebuild
from projections.rulebook_loader import RULEBOOKS_DIR
from projections.viewsets import load
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SECRET = "browser-secret-" + "b" * 40
ARTIFACTS = Path(os.environ.get("CONSOLE_ARTIFACTS", "test-artifacts/console"))

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]


def _need_chromium() -> None:
    if sync_playwright is not None and shutil.which(CHROMIUM):
        return
    message = f"no Chromium at {CHROMIUM} (apt-get install chromium) or no playwright"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Site:
    url: str
    ledger: Ledger
    demo: DemoSummary

    def token(self, person: UUID, role: Role, unit: UUID) -> str:
        return issue(SECRET, user=person, role=role, unit=unit, now=datetime.now(UTC))

    def unit(self, code: str) -> UUID:
        u = schema.units
        with self.ledger.engine.connect() as conn:
            return UUID(hex=conn.execute(sa.select(u.c.unit_id).where(u.c.code == code)).scalar())

    def member_of(self, unit: UUID) -> UUID:
        m = schema.memberships
        with self.ledger.engine.connect() as conn:
            person = conn.execute(
                sa.select(m.c.person_id).where(m.c.unit_id == unit.hex).limit(1)
            ).scalar()
        return UUID(hex=person)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _need_chromium()
    url = f"sqlite:///{tmp_path_factory.mktemp('console')}/demo.sqlite3"
    os.environ["LEDGER_TOKEN_SECRET"] = SECRET
    settings = Settings(database_url=url)
    demo = write_demo(settings, seed=2025, cases=80)
    ledger = Ledger(settings)
    rebuild(ledger.engine, load(RULEBOOKS_DIR / "local-working-days.toml"), workers=1)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_projector=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}/console", ledger, demo)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ledger.close()
        os.environ.pop("LEDGER_TOKEN_SECRET", None)


@pytest.fixture
def browser_page(site: Site) -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1300, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def shot(page: Page, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def sign_in(page: Page, site: Site, token: str, start: str = "/cases") -> None:
    page.goto(site.url + start)
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    page.fill("#token", token)
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(re.escape(start) + "$"))


def test_an_inspector_follows_a_case_through_time_and_the_delay_through_the_units(
    site: Site, browser_page: Page
) -> None:
    page = browser_page
    inspector = site.token(site.member_of(site.unit("JW")), Role.INSPECTOR, site.unit("SZF"))
    page.goto(site.url + "/sign-in")
    shot(page, "01-sign-in")
    sign_in(page, site, inspector)
    total = int(page.inner_text("#total"))
    assert total == site.demo.cases
    shot(page, "02-cases")

    # Find a case passed A→B→A by its number.
    number = site.demo.stories["ping_pong"][0]
    page.fill("#search-number", number)
    page.click("#search")
    expect(page).to_have_url(re.compile(f"/console/cases/{number}$"))
    expect(page.locator("#case-number")).to_contain_text(number)

    # Its timeline: one row per holder, a bar per custody interval, deadlines drawn.
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible()
    bars = timeline.locator("g.interval").count()
    assert bars >= 4
    assert timeline.locator("line.deadline").count() >= 2
    # The case came back to a unit: one row for it, so fewer rows than bars.
    assert timeline.locator("text.rowlabel").count() < bars
    history_rows = page.locator("#history tbody tr").count()
    shot(page, "03-case")
    timeline.screenshot(path=str(ARTIFACTS / "04-timeline.png"))

    # Move the "as of" date to the day after its second recorded event.
    second = page.locator("#history tbody tr").nth(1).locator("td").nth(3).inner_text()
    day = second[:10]
    page.fill("#as_of", day)
    page.click("#replay")
    expect(page).to_have_url(re.compile(f"as_of={day}"))
    expect(page.locator("#asof-banner")).to_contain_text(day)
    assert page.locator("#history tbody tr").count() < history_rows
    assert page.locator("#timeline g.interval").count() < bars
    shot(page, "05-case-as-of")

    # The delay board, worst first, and one unit's cases.
    page.click("text=超期看板")
    board = page.locator("#delay-board tbody tr")
    assert board.count() > 3
    worst = float(board.first.locator("td").nth(4).inner_text())
    second_worst = float(board.nth(1).locator("td").nth(4).inner_text())
    assert worst >= second_worst > 0
    shot(page, "06-delay-board")
    page.click("#by-leader")
    expect(page.locator("#by-leader")).to_have_class(re.compile("on"))
    shot(page, "07-delay-board-leaders")
    page.click("#by-unit")
    party = board.first.locator("a.party").inner_text()
    board.first.locator("a.party").click()
    expect(page.locator("#party")).to_contain_text(party)
    overdue = page.locator("#party-cases tbody tr")
    assert overdue.count() >= 1
    shot(page, "08-delay-unit")
    overdue.first.locator("a").click()
    expect(page.locator("#timeline")).to_be_visible()
    assert page.locator("#timeline rect.overdue").count() >= 1  # it was late in their hands

    page.click("text=考核统计")
    page.select_option("#period", "2024-09")
    page.click("#show-period")
    expect(page).to_have_url(re.compile("period=2024-09"))
    assert page.locator("#ranking tbody tr").count() >= 3
    shot(page, "09-statistics")

    # The rule diff: the national rules against the local working-day rules.
    page.click("text=规则对比")
    page.select_option("#a", index=0)
    page.select_option("#b", index=1)
    page.click("#compare")
    expect(page.locator("#diff-summary")).to_be_visible()
    assert int(page.inner_text("#moved-count")) > 0
    assert page.locator("td.changed").count() > 0
    shot(page, "10-rule-diff", full=False)

    page.click("text=问题线索")
    assert int(page.inner_text("#pattern-count")) > 0
    shot(page, "11-patterns")


def _informant(site: Site) -> tuple[str, UUID, list[str]]:
    """A report that names a unit, that unit, and its informant's identity as recorded."""
    for number in site.demo.stories["report"]:
        case_id = site.ledger.find_case_id(number)
        registered = site.ledger.history(case_id)[0].data
        if not registered.get("concerned_unit"):
            continue
        traces: list[str] = []
        for sealed in registered["petitioners"]:
            p: dict[str, Any] = site.ledger.personal.open(sealed)
            traces += [str(v) for k, v in p.items() if v and k != "petitioner_id"]
            pid = UUID(str(p["petitioner_id"]))
            traces += [pid.hex, str(pid)]
        if traces:
            return number, registered["concerned_unit"], traces
    raise AssertionError("the demo has no named report concerning a unit")


def test_a_user_of_the_reported_unit_finds_no_trace_of_the_informant(
    site: Site, browser_page: Page
) -> None:
    page = browser_page
    number, unit, traces = _informant(site)
    for role in (Role.HANDLER, Role.LEADER):
        page.context.clear_cookies()
        sign_in(page, site, site.token(site.member_of(unit), role, unit), start="/")
        visited = 0
        for path in (
            "/",
            "/cases",
            f"/cases?number={number}",
            f"/cases/{number}",
            f"/cases/{number}?as_of=2025-06-30",
            "/delay",
            "/delay?by=person",
            "/delay?by=leader",
            f"/delay/unit/{unit.hex}",
            "/statistics",
            "/rule-diff",
            "/patterns",
            "/patterns?group=重复访",
        ):
            response = page.goto(site.url + path)
            assert response is not None and response.status in (200, 403, 404), path
            html = page.content()
            leaked = [t for t in traces if t in html]
            assert not leaked, (role, path, leaked)
            visited += response.status == 200
        page.goto(site.url + f"/cases/{number}")
        expect(page.locator("#petitioners")).to_contain_text("举报人身份保密")
        assert page.locator("#reveal").count() == 0
        shot(page, f"12-reported-unit-{role}")
        assert visited >= 5  # a handler may not open the boards: 403, and nothing shown
