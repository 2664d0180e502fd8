"""`petition views …`, `petition project`, `petition rebuild` and `petition rules …`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli import _fail, _ledger, app, err, out, parse_instant
from api.presenters import plain
from api.readmodel import live_lag, live_runner, views_at
from ledger.application import Ledger
from projections import schema
from projections.projector import ProjectorStopped, get_view_set
from projections.queries import Views, names
from projections.rebuild import (
    diff_ranking,
    diff_statistics,
    iter_moved_cases,
    moved_cases,
    periods,
    rebuild,
)
from projections.statistics import unit_statistics
from projections.viewsets import activate, load

views_app = typer.Typer(help="The views inspectors and assessors use, now or as of any instant.")
rules_app = typer.Typer(help="Rulebooks: compare two, switch the live views to another.")
app.add_typer(views_app, name="views")
app.add_typer(rules_app, name="rules")

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="As the record stood then (ISO date or date-time).")
]
Rulebook = Annotated[
    Path | None, typer.Option(help="Judge under this rulebook file instead of the live one.")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _views(as_of: str | None, rulebook: Path | None) -> Iterator[tuple[Ledger, Views, datetime]]:
    """The ledger, the views (live, or as the record stood at ``as_of``) and their instant."""
    with _ledger() as ledger:
        instant = parse_instant(as_of, ledger.zone) if as_of else None
        try:
            views = views_at(ledger, instant, rulebook)
        except ProjectorStopped as e:
            _fail(str(e))
        yield ledger, views, instant or datetime.now(UTC)


def _show(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str) -> None:
    if as_json:
        out.print_json(json.dumps(plain(rows), ensure_ascii=False))
        return
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(_text(row.get(c)) for c in columns))
    out.print(table)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(plain(value), ensure_ascii=False)
    return str(plain(value))


def _named(views: Views, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    known = names(views)
    return [{k: known.get(v, v) if k in keys else v for k, v in row.items()} for row in rows]


@views_app.command("chain")
def chain(
    reference: str, as_of: AsOf = None, rulebook: Rulebook = None, as_json: Json = False
) -> None:
    """The responsibility chain (责任链) of a case: who held it, when, against which deadline."""
    with _views(as_of, rulebook) as (ledger, views, now):
        case_id = ledger.find_case_id(reference).hex
        rows = _named(views, views.chain(case_id, now), ("holder_unit", "handler", "leader"))
    _show(
        rows,
        [
            "seq",
            "holder_unit",
            "handler",
            "leader",
            "stage",
            "from",
            "to",
            "clock",
            "deadline",
            "excluded",
            "time_used_days",
            "overdue_days",
        ],
        as_json,
        f"{reference}: responsibility chain ({views.rules.rulebook.name})",
    )


@views_app.command("delay")
def delay(
    by: Annotated[str, typer.Option(help="unit | person | leader")] = "unit",
    as_of: AsOf = None,
    rulebook: Rulebook = None,
    as_json: Json = False,
) -> None:
    """Who delayed what (拖延): overdue days per unit, person or leader, with the cases."""
    if by not in ("unit", "person", "leader"):
        _fail("--by must be unit, person or leader")
    with _views(as_of, rulebook) as (_, views, now):
        rows = views.who_delayed_what(by, now)
        for row in rows:
            row["cases"] = [c["case_number"] for c in row["cases"]]
        rows = _named(views, rows, ("party",))
    _show(
        rows,
        ["party", "cases_held", "cases_overdue", "overdue_days", "worst_days", "by_stage", "cases"],
        as_json,
        f"who delayed what, by {by} ({views.rules.rulebook.name})",
    )


@views_app.command("patterns")
def patterns_command(
    kind: Annotated[
        str | None,
        typer.Option(
            help="ping_pong, backdating, late_registration, "
            "late_jurisdiction_objection, overturned, "
            "excess_transfers, ignored_supervision, repeat"
        ),
    ] = None,
    as_of: AsOf = None,
    rulebook: Rulebook = None,
    as_json: Json = False,
) -> None:
    """The patterns inspectors look for: 推诿, backdating, ignored 督办, overturned, repeats."""
    with _views(as_of, rulebook) as (_, views, now):
        rows = _named(views, views.patterns(kind, now), ("unit", "person"))
    _show(rows, ["kind", "case_number", "unit", "person", "at", "detail"], as_json, "patterns")


@views_app.command("desk")
def desk(
    unit: Annotated[str, typer.Argument(help="Unit code (e.g. ZJ) or id.")],
    as_of: AsOf = None,
    rulebook: Rulebook = None,
    as_json: Json = False,
) -> None:
    """What is on a unit's desk, each with its deadline; ⚠ marks the early-warning window."""
    with _views(as_of, rulebook) as (_, views, now):
        unit_id = _unit_id(views, unit)
        rows = _named(views, views.desk(now, unit=unit_id), ("handler", "leader"))
    for row in rows:
        row["!"] = "逾期" if row["overdue"] else ("⚠ 预警" if row["warning"] else "")
    _show(
        rows,
        ["!", "case_number", "stage", "handler", "leader", "clock", "deadline", "time_left_days"],
        as_json,
        f"desk of {unit}",
    )


@views_app.command("stats")
def stats(
    period: Annotated[str, typer.Argument(help="Statistical period, e.g. 2025-03.")],
    as_of: AsOf = None,
    rulebook: Rulebook = None,
    as_json: Json = False,
) -> None:
    """Assessment rates per unit for a period, and the ranking (考核排名)."""
    with _views(as_of, rulebook) as (_, views, now):
        result = unit_statistics(views, period, now, with_cases=False).as_dict()
        known = names(views)
    if as_json:
        out.print_json(json.dumps(plain(result), ensure_ascii=False))
        return
    for title, key in (
        ("petition offices", "petition_offices"),
        ("handling units", "handling_units"),
    ):
        rows = result[key]
        metrics = sorted({m for r in rows for m in r["metrics"]})
        table = Table("unit", *metrics, title=f"{title}, {period} ({result['rulebook']})")
        for r in rows:
            table.add_row(
                known.get(r["unit"], r["unit"]),
                *(_rate(r["metrics"].get(m)) for m in metrics),
            )
        out.print(table)
    table = Table("rank", "unit", "score", "重点管理", title="ranking")
    for r in result["ranking"]:
        table.add_row(
            str(r["rank"]),
            known.get(r["unit"], r["unit"]),
            str(r["score"]),
            "●" if r["special_management"] else "",
        )
    out.print(table)


def _rate(metric: dict[str, Any] | None) -> str:
    if not metric or metric["rate"] is None:
        return "—"
    return f"{metric['rate'] * 100:.1f}% ({metric['numerator']}/{metric['denominator']})"


def _unit_id(views: Views, reference: str) -> str:
    u = schema.units
    with views.engine.connect() as conn:
        found = conn.execute(
            sa.select(u.c.unit_id).where(
                u.c.view_set == views.view_set,
                sa.or_(u.c.code == reference, u.c.unit_id == reference.replace("-", "")),
            )
        ).scalar()
    if found is None:
        _fail(f"no unit with code or id {reference!r}")
    return str(found)


@app.command()
def project(
    once: Annotated[bool, typer.Option(help="Catch up and exit instead of following.")] = False,
) -> None:
    """Run the live projector: catch up, then follow the log (NOTIFY on PostgreSQL)."""
    with _ledger() as ledger:
        try:
            runner = live_runner(ledger)
            if once:
                runner.catch_up()
            else:
                out.print(f"projecting into view set {runner.view_set}; Ctrl-C to stop")
                with suppress(KeyboardInterrupt):
                    runner.run()
        except ProjectorStopped as e:
            _fail(str(e))
        out.print(live_lag(ledger, runner.view_set))


@app.command("rebuild")
def rebuild_command(
    rulebook: Annotated[Path, typer.Option(help="The rulebook file to judge under.")],
) -> None:
    """Build every view under a rulebook beside the live ones (resumable); then compare with
    `petition rules diff` and switch with `petition rules activate`."""
    try:
        loaded = load(rulebook)
    except (OSError, ValueError) as e:
        _fail(str(e))
    with (
        _ledger() as ledger,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
        ) as progress,
    ):
        task = progress.add_task(f"judging cases under {loaded.rules.rulebook.name}", total=None)
        name = rebuild(
            ledger.engine,
            loaded,
            views=ledger.projection_engine,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    out.print(f"view set {name} is ready; `petition rules activate {name}` makes it live")


def _resolve(ledger_engine: Any, reference: str) -> Views:
    """A built view set by name, or by the rulebook file it was built under."""
    schema.create_all(ledger_engine)
    with ledger_engine.connect() as conn:
        path = Path(reference)
        name = load(path).view_set_name if path.is_file() else reference
        current = get_view_set(conn, name)
        if current is None:
            _fail(f"no view set {name}: build it first with `petition rebuild --rulebook FILE`")
        stored = conn.execute(
            sa.select(schema.view_sets.c.rulebook_path).where(schema.view_sets.c.id == name)
        ).scalar_one()
    return Views(ledger_engine, name, load(Path(stored)).rules)


@rules_app.command("diff")
def rules_diff(
    a: Annotated[str, typer.Argument(help="View set name or rulebook file (built).")],
    b: Annotated[str, typer.Argument(help="View set name or rulebook file (built).")],
    period: Annotated[str | None, typer.Option(help="One period; default: every period.")] = None,
    as_json: Json = False,
) -> None:
    """Every statistic and ranking that differs between two rulebooks, unit by unit, with the
    cases that moved and why (their deadlines under each)."""
    now = datetime.now(UTC)
    with _ledger() as ledger:
        va, vb = _resolve(ledger.projection_engine, a), _resolve(ledger.projection_engine, b)
        known = names(va)
        report: dict[str, Any] = {"a": va.view_set, "b": vb.view_set, "periods": {}}
        for p in [period] if period else sorted(set(periods(va)) | set(periods(vb))):
            sa_, sb = unit_statistics(va, p, now), unit_statistics(vb, p, now)
            changes = [
                {**c.__dict__, "unit": known.get(c.unit, c.unit)} for c in diff_statistics(sa_, sb)
            ]
            ranking = diff_ranking(sa_, sb)
            if changes or ranking:
                report["periods"][p] = {"statistics": changes, "ranking": ranking}
        # The table only counts the runs that moved: read a range of cases at a time, never
        # held whole (a million cases' runs would not fit); the JSON report lists them all.
        if as_json:
            report["moved_cases"] = moved_cases(va, vb)
            out.print_json(json.dumps(plain(report), ensure_ascii=False))
            return
        moved_runs = sum(1 for _ in iter_moved_cases(va, vb))
    for p, body in report["periods"].items():
        table = Table("unit", "metric", "A", "B", "cases gained", "cases lost", title=p)
        for c in body["statistics"]:
            table.add_row(
                c["unit"],
                c["metric"],
                _rate(c["before"]),
                _rate(c["after"]),
                ", ".join(c["cases_gained"][:5]),
                ", ".join(c["cases_lost"][:5]),
            )
        out.print(table)
    out.print(f"{moved_runs} clock runs have another deadline or lateness under B")


@rules_app.command("activate")
def rules_activate(
    reference: Annotated[str, typer.Argument(help="View set name or rulebook file (built).")],
) -> None:
    """Switch the live views to a rebuilt view set, atomically."""
    with _ledger() as ledger:
        views = _resolve(ledger.projection_engine, reference)
        try:
            activate(ledger.projection_engine, views.view_set)
        except (LookupError, RuntimeError) as e:
            _fail(str(e))
    out.print(f"{views.view_set} is live")


@rules_app.command("list")
def rules_list() -> None:
    """The view sets: which rulebook, how far, which one is live."""
    with _ledger() as ledger:
        schema.create_all(ledger.projection_engine)
        with ledger.projection_engine.connect() as conn:
            rows = conn.execute(sa.select(schema.view_sets)).mappings().all()
    table = Table("view set", "rulebook", "status", "position", "error")
    for r in rows:
        if r["status"] != "transient":
            table.add_row(
                r["id"], r["rulebook_name"], r["status"], str(r["position"]), r["error"] or ""
            )
    out.print(table)


token_app = typer.Typer(help="Bearer tokens for the HTTP API.")
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
    user: Annotated[str, typer.Option(help="The person's id (a directory person).")],
    role: Annotated[
        str,
        typer.Option(help="registrar, handler, leader, supervisor, inspector, assessor or admin."),
    ],
    unit: Annotated[
        str, typer.Option(help="The unit they act for (code or id); their scope is its subtree.")
    ],
    days: Annotated[int, typer.Option(min=1, max=366, help="Valid for this many days.")] = 30,
) -> None:
    """Issue a signed token for a person acting in a role for a unit."""
    from datetime import timedelta
    from uuid import UUID

    from api.security import Role, issue, token_secret

    try:
        role_value = Role(role)
    except ValueError:
        _fail(f"--role must be one of {', '.join(r.value for r in Role)}")
    with _ledger() as ledger:
        try:
            person = ledger.get_person(UUID(user))
        except ValueError:
            _fail(f"--user: {user!r} is not a person id")
        unit_id = _unit_by_code_or_id(ledger, unit)
        if not person.is_member_of(unit_id):
            _fail(f"{person.name} is not a member of that unit")
        secret = token_secret(ledger.settings)
    out.print(
        issue(
            secret,
            user=person.id,
            role=role_value,
            unit=unit_id,
            now=datetime.now(UTC),
            ttl=timedelta(days=days),
        ),
        soft_wrap=True,
    )


def _unit_by_code_or_id(ledger: Ledger, reference: str) -> Any:
    from uuid import UUID

    from domain.errors import NotFound

    try:
        return ledger.get_unit(UUID(reference)).id
    except (ValueError, NotFound):
        pass
    views = _live(ledger)
    return UUID(hex=_unit_id(views, reference))


def _live(ledger: Ledger) -> Views:
    from api.readmodel import live_views

    return live_views(ledger)


@token_app.command("demo")
def token_demo() -> None:
    """An admin token for a member of a top-level unit (its scope is everything below): for
    trying the API on the demo data set."""
    from api.security import Role, issue, token_secret

    with _ledger() as ledger:
        views = _live(ledger)
        u, m = schema.units, schema.memberships
        with views.engine.connect() as conn:
            row = conn.execute(
                sa.select(m.c.person_id, u.c.unit_id, u.c.name)
                .join(u, sa.and_(u.c.view_set == m.c.view_set, u.c.unit_id == m.c.unit_id))
                .where(m.c.view_set == views.view_set, u.c.parent.is_(None))
                .order_by(u.c.name, m.c.person_id)
            ).first()
        if row is None:
            _fail("the directory is empty: run `petition demo` first")
        secret = token_secret(ledger.settings)
    from uuid import UUID

    person, unit, name = row
    jwt = issue(
        secret, user=UUID(hex=person), role=Role.ADMIN, unit=UUID(hex=unit), now=datetime.now(UTC)
    )
    err.print(f"admin of {name}; use it as: Authorization: Bearer <token>")
    out.print(jwt, soft_wrap=True)
