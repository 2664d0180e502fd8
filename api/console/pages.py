"""The console's pages: server-rendered HTML over the API's own read functions.

Every page gets its data from the functions the JSON routes call, or their paged forms
(``case_list``, ``checked_case``, ``case_view``, ``history_view``, ``case_views``,
``delay_rows``, ``pattern_rows``, ``statistics_page``, ``rule_diff_of_period``), so the access
check, the unit scope and the redaction of an informant are the API's, not a copy. A page adds
only layout: names in Chinese, the timeline drawn as SVG, an "as of" control that passes
``as_of`` through.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api import access
from api.console import labels
from api.console.auth import (
    COOKIE,
    PREFIX,
    ConsoleUser,
    SignInRequired,
    form_fields,
    safe_next,
)
from api.console.timeline import layout
from api.deps import plausible
from api.presenters import Names, case_view, history_view, instant_from_text, plain
from api.readmodel import built_view_sets, default_rules, live_views, views_at
from api.routes_cases import (
    CaseFilters,
    case_list,
    checked_case,
    judged_views,
    named,
    named_rows,
    reveal_identity,
)
from api.routes_views import (
    delay_board_page,
    delay_rows,
    pattern_page,
    rule_diff_of_period,
    statistics_page,
)
from api.security import Principal, Unauthenticated, verify
from domain.errors import InvalidInput, NotFound
from domain.values import MatterKind
from domain.workflow import Stage
from ledger.application import Ledger
from projections import schema
from projections.queries import names
from projections.runner import live_rules

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 50
BOARD_CASES = 5  # cases listed per party on the delay board; the drill-down lists them all
BOARD_PAGE_SIZE = 50  # parties per page of the board, worst first
MOVED_PAGE_SIZE = 100  # runs per page of the rule diff's moved cases
UNITS_PAGE_SIZE = 50  # units per page of the statistics tables, the ranking and the rule diff

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


# ---------------------------------------------------------------------------- rendering


def _ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M", zone: Any = None) -> str:
    if value in (None, ""):
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(instant, datetime):
        return str(value)
    return instant.astimezone(zone).strftime(fmt) if zone else instant.strftime(fmt)


def _pct(rate: Any) -> str:
    return "—" if rate is None else f"{float(rate) * 100:.1f}%"


def _epoch(seconds: float | None, zone: Any = None) -> str:
    """Seconds since the epoch (the read models' instants) as local time."""
    return "" if seconds is None else _local(datetime.fromtimestamp(seconds, UTC), zone=zone)


def _epochs(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _compact(value: Any) -> str:
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


templates.env.filters.update(local=_local, pct=_pct, epoch=_epoch, epochs=_epochs, compact=_compact)
templates.env.globals.update(
    EVENTS=labels.EVENTS,
    PATTERNS=labels.PATTERNS,
    METRICS=labels.METRICS,
    PARTIES=labels.PARTIES,
    FLAGS=labels.FLAGS,
    excluded_label=labels.excluded_label,
    deadline_status=labels.deadline_status,
    PREFIX=PREFIX,
    UNITS_PAGE_SIZE=UNITS_PAGE_SIZE,
)


def _me(request: Request, principal: Principal) -> dict[str, Any]:
    names = Names(_ledger(request))
    return {
        "name": names(principal.user),
        "unit": names(principal.unit),
        "role": labels.ROLES[principal.role],
        "may": {view for view, roles in access.VIEWS.items() if principal.role in roles},
    }


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    ledger = _ledger(request)
    context.setdefault("zone", ledger.zone)
    me = _me(request, principal) if principal is not None else None
    response = templates.TemplateResponse(
        request, template, {"me": me, **context}, status_code=status
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """Any error on a console page, as a page (the API's problem documents stay JSON)."""
    principal = None
    token = request.cookies.get(COOKIE)
    if token:
        try:
            principal = verify(request.app.state.token_secret, token)
        except Unauthenticated:
            principal = None
    return render(
        request, "error.html", principal, status=status, title=title, detail=detail, code=status
    )


def is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def as_of_param(request: Request, text: str | None) -> datetime | None:
    """The page's "as of" control: empty for now; a date (end of that day, local) or an
    instant. Bad text is a 422 page naming it."""
    if not text:
        return None
    try:
        instant = plausible(instant_from_text(text.strip(), _ledger(request).zone))
    except ValueError as e:
        raise InvalidInput(f"截至时间 as_of：{e}") from None
    return instant


def _clocks(request: Request) -> dict[str, str]:
    """The live rulebook's clock titles."""
    return labels.clock_titles(
        live_rules(_ledger(request).projection_engine, default_rules())[1].rules
    )


def _as_of_text(request: Request, instant: datetime | None) -> str:
    return "" if instant is None else instant.astimezone(_ledger(request).zone).date().isoformat()


# ---------------------------------------------------------------------------- sign in


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return render(request, "sign_in.html", None, next=safe_next(next), reason=reason)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    fields = await form_fields(request)
    token = fields.get("token", "").strip()
    target = safe_next(fields.get("next"))
    try:
        verify(request.app.state.token_secret, token)
    except Unauthenticated as e:
        return render(
            request, "sign_in.html", None, status=401, next=target, reason=f"令牌无效：{e}"
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse(PREFIX + "/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def sign_in_redirect(request: Request, error: SignInRequired) -> Response:
    query = urlencode({"next": error.next_path, "reason": str(error)})
    return RedirectResponse(f"{PREFIX}/sign-in?{query}", status_code=303)


# ---------------------------------------------------------------------------- cases


@router.get("/")
def home(request: Request, principal: ConsoleUser) -> Response:
    return render(request, "home.html", principal)


@router.get("/cases")
def cases(
    request: Request,
    principal: ConsoleUser,
    number: str | None = None,
    stage: str | None = None,
    matter_kind: str | None = None,
    period: str | None = None,
    flag: str | None = None,
    unit: str | None = None,
    page: int = 1,
) -> Response:
    """案件查询: the API's case list and filters; an exact case number opens the case."""
    filters = CaseFilters(
        stage=stage or None,
        matter_kind=matter_kind or None,
        period=period or None,
        flag=flag or None,
        unit=unit or None,
        number=(number or "").strip() or None,
    )
    page = max(page, 1)
    found = case_list(
        _ledger(request), principal, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    if filters.number and any(i["case_number"] == filters.number for i in found["items"]):
        return RedirectResponse(f"{PREFIX}/cases/{filters.number}", status_code=303)
    query = {k: v for k, v in filters.__dict__.items() if v}
    return render(
        request,
        "cases.html",
        principal,
        found=found,
        filters=filters,
        page=page,
        pages=max(1, -(-found["total"] // PAGE_SIZE)),
        query=query,
        stages=[s.value for s in Stage],
        kinds=[k.value for k in MatterKind],
    )


def _case_page(
    request: Request, principal: Principal, reference: str, as_of: str | None, reveal: bool
) -> Response:
    ledger = _ledger(request)
    access.require_view(principal, "case")
    at = as_of_param(request, as_of)
    live = views_at(ledger, None)
    case_id, scope, units = checked_case(ledger, live, principal, reference)
    shown = reveal and reveal_identity(ledger, case_id, scope, units, through="the console")
    names = Names(ledger)
    case = ledger.get_case(case_id) if at is None else ledger.case_as_of(case_id, at)
    facts = plain(case_view(ledger, case, names, reveal=shown))
    views, now = judged_views(ledger, live, case_id, at)
    summary = views.case_summary(case_id.hex, now)
    may_read_chain = principal.role in access.VIEWS["chain"]
    history: list[dict[str, Any]] = []
    if principal.role in access.VIEWS["history"]:
        history = [
            e
            for e in history_view(ledger, case_id, names, reveal=shown)
            if at is None or e["recorded_at"] <= at
        ]
    chain = named_rows(views, views.chain(case_id.hex, now)) if may_read_chain else []
    history_json = plain(history)
    clocks = labels.clock_titles(views.rules)
    return render(
        request,
        "case.html",
        principal,
        case=facts,
        summary=named(views, summary) if summary else None,
        history=history_json,
        chain=chain,
        timeline=layout(chain, history_json, now, ledger.zone, clocks) if chain else None,
        clocks=clocks,
        as_of=at,
        as_of_text=_as_of_text(request, at),
        now=now,
        may_reveal=units.is_report and not shown and scope.cleared_for_identity(units),
        revealed=shown,
        may_read_history=principal.role in access.VIEWS["history"],
        may_read_chain=may_read_chain,
        backdating_hours=views.rules.rulebook.definitions.backdating_threshold_hours,
    )


@router.get("/cases/{reference}")
def case_page(
    request: Request, principal: ConsoleUser, reference: str, as_of: str | None = None
) -> Response:
    """案件页: facts, the custody timeline, the chain and the history, as of any instant."""
    return _case_page(request, principal, reference, as_of, reveal=False)


@router.post("/cases/{reference}/reveal")
def case_page_revealed(
    request: Request, principal: ConsoleUser, reference: str, as_of: str | None = None
) -> Response:
    """The case page with the informant shown, for a user cleared to see them: recorded as
    a disclosure (IdentityDisclosed) before the page is drawn."""
    return _case_page(request, principal, reference, as_of, reveal=True)


# ---------------------------------------------------------------------------- views


@router.get("/delay")
def delay_board(
    request: Request,
    principal: ConsoleUser,
    by: Literal["unit", "person", "leader"] = "unit",
    as_of: str | None = None,
    page: int = 1,
) -> Response:
    """超期看板: who delayed what, by overdue days, with the cases behind each number; a
    page of the worst parties at a time."""
    at = as_of_param(request, as_of)
    page = max(page, 1)
    board = delay_board_page(
        _ledger(request),
        principal,
        by,
        at,
        top=BOARD_CASES,
        limit=BOARD_PAGE_SIZE,
        offset=(page - 1) * BOARD_PAGE_SIZE,
    )
    return render(
        request,
        "delay.html",
        principal,
        rows=board.rows,
        by=by,
        worst=float(board.most_overdue_days),
        first=(page - 1) * BOARD_PAGE_SIZE,
        page=page,
        pages=max(1, -(-board.parties // BOARD_PAGE_SIZE)),
        parties=board.parties,
        board_cases=BOARD_CASES,
        clocks=_clocks(request),
        as_of=at,
        as_of_text=_as_of_text(request, at),
    )


@router.get("/delay/{by}/{party}")
def delay_party(
    request: Request,
    principal: ConsoleUser,
    by: Literal["unit", "person", "leader"],
    party: str,
    as_of: str | None = None,
) -> Response:
    """One party's overdue cases, all of them."""
    at = as_of_param(request, as_of)
    rows = delay_rows(_ledger(request), principal, by, at, only=party)
    if not rows:
        raise NotFound("此对象不在您的范围内，或没有经手的案件")
    return render(
        request,
        "delay_party.html",
        principal,
        row=rows[0],
        by=by,
        clocks=_clocks(request),
        as_of=at,
        as_of_text=_as_of_text(request, at),
    )


@router.get("/statistics")
def statistics(
    request: Request,
    principal: ConsoleUser,
    period: str | None = None,
    as_of: str | None = None,
    page: int = 1,
) -> Response:
    """考核统计: the assessment rates of a period and the ranking, a page of units at a time
    (the handling units in ranking order, so a page shows the same units in both lists)."""
    ledger = _ledger(request)
    access.require_view(principal, "statistics")
    at = as_of_param(request, as_of)
    known = _periods(ledger, at)
    chosen = period or known[-1]
    result = statistics_page(ledger, principal, chosen, at, page=page, page_size=UNITS_PAGE_SIZE)
    return render(
        request,
        "statistics.html",
        principal,
        result=result,
        period=chosen,
        periods=known,
        metrics=[m for m in labels.METRICS if m in result["metrics"]],
        counts=result["counts"],
        page=result["page"],
        pages=result["pages"],
        as_of=at,
        as_of_text=_as_of_text(request, at),
    )


def _page_of(page: int, items: int, size: int = UNITS_PAGE_SIZE) -> tuple[int, int, int]:
    """The page asked for (within 1 … the last), how many pages, and its first item."""
    pages = max(1, -(-items // size))
    page = min(max(page, 1), pages)
    return page, pages, (page - 1) * size


def _periods(ledger: Ledger, at: datetime | None) -> list[str]:
    """The rulebook's statistical periods from the first matter received to now (or the
    "as of" instant): the choices of the period control."""
    views = live_views(ledger, catch_up=False)
    c = schema.cases
    period = views.rules.rulebook.definitions.period
    with views.engine.connect() as conn:
        # The first period a case was registered in, from its index (the earliest receipt
        # would read every case).
        first_period = (
            sa.select(sa.func.min(c.c.registered_period))
            .where(c.c.view_set == views.view_set)
            .scalar_subquery()
        )
        first = conn.execute(
            sa.select(sa.func.min(c.c.registered_s)).where(
                c.c.view_set == views.view_set, c.c.registered_period == first_period
            )
        ).scalar()
    end = (at or datetime.now(UTC)).astimezone(ledger.zone).date()
    day = (
        end
        if first is None
        else period.containing(datetime.fromtimestamp(first, ledger.zone).date()).first
    )
    found: list[str] = []
    while day <= end:
        bounds = period.containing(day)
        found.append(bounds.label)
        day = bounds.last + timedelta(days=1)
    return found


@router.get("/rule-diff")
def rule_diff_page(
    request: Request,
    principal: ConsoleUser,
    a: str | None = None,
    b: str | None = None,
    period: str | None = None,
    after: str | None = None,
    page: int = 1,
) -> Response:
    """规则对比: two rulebooks side by side for one period (the latest, unless chosen), what
    differs, and the cases that moved, each a page at a time (``page``: of the differing
    figures and ranking places; ``after``: the last case shown)."""
    ledger = _ledger(request)
    access.require_view(principal, "statistics")
    sets = built_view_sets(ledger)
    report = None
    known = _periods(ledger, None)
    chosen = period or known[-1]
    if a and b:
        report = rule_diff_of_period(
            ledger,
            principal,
            a,
            b,
            chosen,
            limit=MOVED_PAGE_SIZE,
            after=after or None,
            page=page,
            page_size=UNITS_PAGE_SIZE,
        )
    elif len(sets) >= 2:
        a, b = sets[0]["id"], sets[1]["id"]
    return render(
        request,
        "rule_diff.html",
        principal,
        sets=sets,
        a=a,
        b=b,
        period=chosen,
        periods=known,
        report=report,
        after=after or "",
        clocks=_clocks(request),
    )


@router.get("/patterns")
def patterns(
    request: Request,
    principal: ConsoleUser,
    group: str | None = None,
    as_of: str | None = None,
    page: int = 1,
) -> Response:
    """问题线索: ping-pong, backdating, ignored 督办, overturned replies, repeats; latest
    first, a page at a time."""
    at = as_of_param(request, as_of)
    chosen = group if group in labels.PATTERN_GROUPS else next(iter(labels.PATTERN_GROUPS))
    page = max(page, 1)
    rows, total = pattern_page(
        _ledger(request),
        principal,
        labels.PATTERN_GROUPS[chosen],
        at,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    known = names(live_views(_ledger(request), catch_up=False))

    def name(value: Any) -> str:
        return known.get(value, value) if isinstance(value, str) else str(value)

    for r in rows:
        r["sentence"] = labels.pattern_detail(r["kind"], r["detail"], name)
    return render(
        request,
        "patterns.html",
        principal,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        group=chosen,
        groups=labels.PATTERN_GROUPS,
        as_of=at,
        as_of_text=_as_of_text(request, at),
    )


def install(app: FastAPI) -> None:
    """Mount the console on the app: its pages, its stylesheet, the sign-in redirect."""
    app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, error: SignInRequired) -> Response:
        return sign_in_redirect(request, error)

    @app.get(PREFIX, include_in_schema=False)
    def _root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)
