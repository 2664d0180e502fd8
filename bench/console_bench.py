"""Console page response times against the JSON API for the same data, same run.

    python -m bench.console_bench --cases 100000            # builds the data set (minutes)
    python -m bench.console_bench --cases 100000 --reuse    # measures on the file built before

For one SQLite data set (bench/dataset.py: about ten events per case, directory of the test
world), with the live views caught up: p50 and p99 of the response time of the case page, the
delay board and the unit statistics page, each against its baseline — the JSON endpoints that
return the same data (for the case page: the case, its history, summary and chain, the four
reads the page is made of). Requests go through the whole app in process (ASGI, no socket),
page and API alike. Target: every page under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.console.auth import COOKIE
from api.console.labels import PATTERN_GROUPS
from api.http import create_app, tune_collector
from api.readmodel import built_view_sets, live_views
from api.security import Role, issue
from bench.dataset import write_cases
from ledger.application import Ledger
from ledger.settings import Settings

SECRET = "console-bench-" + "k" * 40
A_YEAR_AGO = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
TARGET_MS = 200.0


def build(path: Path, cases: int, reuse: bool) -> dict[str, Any]:
    """The data set and its live views; the world's ids from the file beside it."""
    meta_file = path.with_suffix(".json")
    settings = Settings(database_url=f"sqlite:///{path}")
    if reuse and meta_file.exists():
        return dict(json.loads(meta_file.read_text()))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    ledger = Ledger(settings)
    started = time.perf_counter()
    write_cases(
        ledger,
        cases=cases,
        on_progress=lambda n: None if n % 10_000 else print(f"  {n} cases written", flush=True),
    )
    written = time.perf_counter() - started
    started = time.perf_counter()
    live_views(ledger)  # the live views, caught up
    projected = time.perf_counter() - started
    meta = {"cases": cases, **signed_in(ledger.engine)}
    meta |= {"write_s": round(written, 1), "project_s": round(projected, 1)}
    ledger.close()
    meta_file.write_text(json.dumps(meta))
    return meta


def signed_in(engine: sa.Engine) -> dict[str, Any]:
    """Who the bench signs in as (an inspector of the province's government: the top unit,
    who sees every case), and case numbers to open."""
    with engine.connect() as conn:
        province = conn.execute(
            sa.text("SELECT unit_id FROM rm_units WHERE parent IS NULL ORDER BY unit_id LIMIT 1")
        ).scalar_one()
        person = conn.execute(
            sa.text("SELECT person_id FROM rm_memberships WHERE unit_id = :u LIMIT 1"),
            {"u": province},
        ).scalar_one()
        numbers = [
            n for (n,) in conn.execute(sa.text("SELECT case_number FROM rm_cases LIMIT 5000"))
        ]
    return {"province": province, "person": person, "numbers": numbers}


def timed(page: Callable[[], Any], api: Callable[[], Any] | None, repeat: int) -> list[list[float]]:
    """Milliseconds per request of the page and of its API baseline, alternating (so a
    neighbour's load on this shared machine falls on both alike)."""
    calls = (page,) if api is None else (page, api)
    for call in calls:
        call()  # warm: caches, first template compile
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for i, call in enumerate(calls):
            started = time.perf_counter()
            response = call()
            times[i].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (response.status_code, response.text[-1500:])
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    parser.add_argument("--reuse", action="store_true", help="measure on the data set built before")
    parser.add_argument("--period", default="2024-09")
    parser.add_argument(
        "--only", default="", help="measure only views whose name contains this text"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"console-{args.cases}.sqlite3"
    meta = build(path, args.cases, args.reuse)
    os.environ["LEDGER_TOKEN_SECRET"] = SECRET
    token = issue(
        SECRET,
        user=UUID(hex=meta["person"]),
        role=Role.INSPECTOR,
        unit=UUID(hex=meta["province"]),
        now=datetime.now(UTC),
    )
    rng = random.Random(1)
    app = create_app(Settings(database_url=f"sqlite:///{path}"), run_projector=False)
    tune_collector()  # as `petition serve` runs
    results = []
    with TestClient(app) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        client.cookies.set(COOKIE, token, path="/console")

        def case_page() -> Any:
            return client.get(f"/console/cases/{rng.choice(meta['numbers'])}")

        def case_api() -> Any:
            n = rng.choice(meta["numbers"])
            for path_ in (f"/cases/{n}", f"/cases/{n}/history", f"/cases/{n}/summary"):
                r = client.get(path_, headers=bearer)
                assert r.status_code == 200
            return client.get(f"/cases/{n}/chain", headers=bearer)

        def get(path: str) -> Callable[[], Any]:
            return lambda: client.get(path)

        def api_get(path: str) -> Callable[[], Any]:
            return lambda: client.get(path, headers=bearer)

        few = max(5, args.repeat // 3)
        # (numbered in an earlier year: recorded by then; a case of later is not found)
        year_ago = int(A_YEAR_AGO[:4])
        recorded_a_year_ago = [n for n in meta["numbers"] if int(n.split("-")[-2]) < year_ago]
        # The live view set and the newest built under another rulebook, if there is one.
        sets = built_view_sets(client.app.state.ledger)  # type: ignore[attr-defined]
        others = [s["id"] for s in sets[1:] if s["rulebook_name"] != sets[0]["rulebook_name"]]
        built = [sets[0]["id"], others[0]] if sets and others else []
        party = client.get("/console/delay?by=unit")
        first_party = party.text.split('href="/console/delay/unit/')[1].split('"')[0]
        # (view, page, its API baseline or None where the API returns a complete list that the
        # page cuts into pages, requests)
        pairs: list[tuple[str, Callable[[], Any], Callable[[], Any] | None, int]] = [
            ("case page", case_page, case_api, args.repeat),
            (
                "case page as of a year ago",
                lambda: client.get(
                    f"/console/cases/{rng.choice(recorded_a_year_ago)}?as_of={A_YEAR_AGO}"
                ),
                None,
                few,
            ),
            (
                "case list (open cases of a period)",
                get(f"/console/cases?stage=accepted&period={args.period}"),
                api_get(f"/cases?stage=accepted&period={args.period}&limit=50"),
                few,
            ),
            ("delay board (by unit)", get("/console/delay?by=unit"), None, few),
            ("delay board (by person)", get("/console/delay?by=person"), None, few),
            ("delay board (by leader)", get("/console/delay?by=leader"), None, few),
            ("delay board, page 3", get("/console/delay?by=unit&page=3"), None, few),
            (
                "delay drill-down (worst unit)",
                get(f"/console/delay/unit/{first_party}"),
                None,
                few,
            ),
            (
                f"statistics {args.period}",
                get(f"/console/statistics?period={args.period}"),
                api_get(f"/views/statistics/{args.period}"),
                few,
            ),
            *[
                (f"patterns: {group}", get(f"/console/patterns?group={group}"), None, few)
                for group in PATTERN_GROUPS
            ],
        ]
        if len(built) >= 2:
            pairs.append(
                (
                    f"rule diff {args.period}",
                    get(f"/console/rule-diff?a={built[0]}&b={built[1]}&period={args.period}"),
                    None,
                    few,
                )
            )
        for name, page, api, repeat in pairs:
            if args.only not in name:
                continue
            print(f"  {name} …", flush=True)
            page_ms, api_ms = timed(page, api, repeat)
            p50, p99 = pct(page_ms, 0.5), pct(page_ms, 0.99)
            print(f"    p50 {p50:.0f} ms, p99 {p99:.0f} ms", flush=True)
            results.append(
                {
                    "view": name,
                    "requests": repeat,
                    "page_p50_ms": round(pct(page_ms, 0.5), 1),
                    "page_p99_ms": round(pct(page_ms, 0.99), 1),
                    "api_p50_ms": round(pct(api_ms, 0.5), 1) if api_ms else None,
                    "api_p99_ms": round(pct(api_ms, 0.99), 1) if api_ms else None,
                    "page_vs_api_p50": (
                        round(statistics.median(page_ms) / statistics.median(api_ms), 2)
                        if api_ms
                        else None
                    ),
                    "meets_200ms": pct(page_ms, 0.99) < TARGET_MS,
                }
            )
    print(
        f"cases: {meta['cases']} (written in {meta['write_s']} s, "
        f"projected in {meta['project_s']} s)"
    )
    print("| view | page p50 ms | page p99 ms | API p50 ms | API p99 ms | page/API p50 | < 200 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['view']} | {r['page_p50_ms']} | {r['page_p99_ms']} | {r['api_p50_ms'] or '—'} | "
            f"{r['api_p99_ms'] or '—'} | {r['page_vs_api_p50'] or '—'} | "
            f"{'yes' if r['meets_200ms'] else 'NO'} |"
        )


if __name__ == "__main__":
    main()
