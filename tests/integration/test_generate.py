"""`petition generate`: a province's case work from a seed, written in bulk. The bulk path
must write exactly what the ledger's commands write one by one, the same seed the same
bytes, a log that verifies, and views that show the mix the stories were drawn from."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from generate.hierarchy import SMALL
from generate.run import Summary, generate
from ledger.application import Ledger
from ledger.integrity import verify
from ledger.settings import Settings
from projections import schema
from projections.queries import Views
from projections.rebuild import periods, rebuild
from projections.statistics import unit_statistics
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import _reset_postgres

END = datetime(2026, 1, 1, tzinfo=UTC)  # the generated data set's "now"

STORE = {
    "events": "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
    "ORDER BY id",
    "seals": "SELECT id, originator_id, originator_version, case_hash, log_hash FROM ledger_seals "
    "ORDER BY id",
    "snapshots": "SELECT originator_id, originator_version, topic, state FROM ledger_snapshots "
    "ORDER BY originator_id, originator_version",
    "keys": "SELECT petitioner_id, key FROM petitioner_keys ORDER BY petitioner_id",
    "appearances": "SELECT petitioner_id, case_id FROM petitioner_cases ORDER BY 1, 2",
}


def empty(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    else:
        _reset_postgres(url)


def write(url: str, **options: Any) -> tuple[Summary, dict[str, list[tuple[Any, ...]]]]:
    """Generate into an empty store; return the summary and every stored row (a snapshot
    without the wall-clock instant it was taken at)."""
    empty(url)
    keys = random.Random(7)
    ledger = Ledger(Settings(database_url=url), keygen=lambda: keys.randbytes(32))
    try:
        summary = generate(ledger, **options)
        with ledger.engine.connect() as conn:
            rows = {
                name: [tuple(_plain(v) for v in row) for row in conn.execute(sa.text(query))]
                for name, query in STORE.items()
            }
    finally:
        ledger.close()
    rows["snapshots"] = [(*row[:3], _without_timestamp(row[3])) for row in rows["snapshots"]]
    return summary, rows


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _without_timestamp(state: bytes) -> dict[str, Any]:
    snapshot = json.loads(state)
    del snapshot["timestamp"]
    return snapshot  # type: ignore[no-any-return]


@pytest.mark.slow
def test_the_bulk_path_writes_exactly_what_the_commands_write_one_by_one(
    database_url: str,
) -> None:
    # One county, enough registrations in one year for the case numbering to be snapshotted.
    story = {"cases": 130, "seed": 11, "years": 1, "shape": SMALL}
    bulk_summary, bulk = write(database_url, **story, events_per_save=700)
    one_summary, one_by_one = write(database_url, **story, one_by_one=True)

    assert bulk_summary.cases == one_summary.cases == 130
    assert len(bulk["events"]) > 10 * 130
    assert bulk["snapshots"], "the numbering reached a snapshot version"
    for table in STORE:  # the same bytes at the same positions, the same seals and keys
        assert bulk[table] == one_by_one[table], table
    assert bulk_summary.tags == one_summary.tags


def test_the_same_seed_writes_the_same_events_and_another_seed_does_not(
    database_url: str,
) -> None:
    story = {"cases": 200, "years": 2, "shape": SMALL}
    _, first = write(database_url, seed=5, **story)
    _, again = write(database_url, seed=5, **story)
    _, other = write(database_url, seed=6, **story)

    assert first["events"] == again["events"] and first["seals"] == again["seals"]
    assert first["events"] != other["events"]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, Views]:
    """A generated province (SQLite: the bulk path's equality with the commands is proven on
    both databases above), with every view rebuilt under the national rulebook."""
    url = f"sqlite:///{tmp_path_factory.mktemp('province')}/ledger.sqlite3"
    keys = random.Random(3)
    ledger = Ledger(Settings(database_url=url), keygen=lambda: keys.randbytes(32))
    summary = generate(ledger, cases=2500, seed=2024)
    assert verify(ledger.engine).ok
    loaded = load(DEFAULT_RULEBOOK)
    name = rebuild(ledger.engine, loaded, workers=1)
    return summary, Views(ledger.engine, name, loaded.rules)


def test_a_generated_province_verifies_and_has_about_a_thousand_units(
    province: tuple[Summary, Views],
) -> None:
    summary, views = province
    assert 900 <= summary.units <= 1100
    assert summary.cases == 2500
    with views.engine.connect() as conn:
        assert verify(views.engine).ok
        cases = conn.execute(sa.select(sa.func.count()).select_from(schema.cases)).scalar()
    assert cases == 2500


def test_the_views_show_the_stories_that_were_told(province: tuple[Summary, Views]) -> None:
    summary, views = province
    found = Counter(p["kind"] for p in views.patterns(None, END))
    tags = summary.tags
    # Each ping-pong story returns the case once (A→B→A); each overturned appeal is one.
    assert found["ping_pong"] == tags["ping_pong"] > 0
    assert found["overturned"] == tags["overturned"] > 0
    # A chain and a ping-pong pass the case more often than the rulebook allows.
    assert found["excess_transfers"] >= tags["transfer_chain"] > 0
    assert 0 < found["late_jurisdiction_objection"] <= tags["objection_late"] + 2
    # A notice ignored until the case closed lapsed, unless the case closed before its deadline.
    assert 0 < found["ignored_supervision"] <= tags["supervision_ignored"]
    assert found["repeat"] >= 0.6 * tags["repeat_petition"] > 0
    assert found["backdating"] >= tags["backdated"] > 0
    assert found["late_registration"] >= tags["late_registration"] > 0


def test_the_views_show_realistic_shares(province: tuple[Summary, Views]) -> None:
    _, views = province
    c = schema.cases
    with views.engine.connect() as conn:
        kinds = Counter(
            dict(
                conn.execute(
                    sa.select(c.c.matter_kind, sa.func.count()).group_by(c.c.matter_kind)
                ).all()
            )
        )
        channels = Counter(
            dict(conn.execute(sa.select(c.c.channel, sa.func.count()).group_by(c.c.channel)).all())
        )
        collective = conn.execute(sa.select(sa.func.count()).where(c.c.collective)).scalar()
    total = sum(kinds.values())
    assert 0.74 < kinds["申诉求决"] / total < 0.86  # claims: 80 %
    assert 0.08 < kinds["检举控告"] / total < 0.16  # reports of misconduct: 12 %
    assert 0.24 < channels["来访"] / total < 0.36  # visits: 30 %
    assert 0 < collective < 0.05 * total  # group visits of five or more: under 3 %

    rates: dict[str, list[int]] = {}
    for period in periods(views):
        stats = unit_statistics(views, period, END)
        for metrics in [*stats.handling.values(), *stats.offices.values()]:
            for metric, ratio in metrics.items():
                total_ = rates.setdefault(metric, [0, 0])
                total_[0] += ratio.numerator
                total_[1] += ratio.denominator

    def rate(metric: str) -> float:
        numerator, denominator = rates[metric]
        return numerator / denominator

    assert 0.80 < rate("on_time_completion_rate") < 0.96  # about one in ten replies late
    assert 0.85 < rate("on_time_acceptance_rate") < 0.99
    assert 0.75 < rate("satisfaction_rate") < 0.95
    assert 0.60 < rate("participation_rate") < 0.92
    assert 0 < rate("skip_level_rate") < 0.05
    assert 0 < rate("repeat_petition_rate") < 0.10


def test_delay_concentrates_in_the_units_that_tend_to_delay(
    province: tuple[Summary, Views],
) -> None:
    _, views = province
    delayed = [u for u in views.who_delayed_what("unit", END) if u["overdue_s"] > 0]
    assert len(delayed) >= 50
    totals = sorted((u["overdue_s"] for u in delayed), reverse=True)
    top_tenth = sum(totals[: len(totals) // 10])
    assert top_tenth > 0.3 * sum(totals)  # some units are chronic delayers
    leaders = [p for p in views.who_delayed_what("leader", END) if p["overdue_s"] > 0]
    assert leaders, "leaders in charge answer jointly for overdue cases they held"


def test_petition_generate_writes_a_verifying_store_and_refuses_a_full_one(
    database_url: str,
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    empty(database_url)
    result = runner.invoke(app, ["generate", "--cases", "60", "--seed", "4"], env=env)
    assert result.exit_code == 0, result.output
    assert "Recorded 60 cases" in result.output and "events/s" in result.output
    verified = runner.invoke(app, ["verify"], env=env)
    assert verified.exit_code == 0 and "verified" in verified.output

    again = runner.invoke(app, ["generate", "--cases", "60", "--seed", "4"], env=env)
    assert again.exit_code == 2 and "already holds" in again.output
