"""Getting at the views from an entrypoint: the live set, or the views as the record stood at
a past instant.

The live views are read where ``LEDGER_VIEWS_DATABASE_URL`` points — a PostgreSQL streaming
replica — or else from the store's own database. On the store's database a read first
catches the projector up; a replica is only read (the projector runs on the primary and its
rows and position arrive by replication), so a client that must see its own write passes the
log position its command returned (``after``) and the read waits, bounded, until the
replica's views have reached it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from domain.errors import NotFound, ProcessRuleViolation
from ledger.application import Ledger
from projections import schema
from projections.log import last_position
from projections.projector import Projector, get_view_set
from projections.queries import Views
from projections.runner import Runner, lag, live_rules, read_live, view_set_and_log_end
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, load, views_as_of

_loaded: dict[Path, tuple[tuple[tuple[int, int], ...], LoadedRules]] = {}


def _stamp(*paths: Path) -> tuple[tuple[int, int], ...]:
    stats = [p.stat() for p in paths]
    return tuple((s.st_mtime_ns, s.st_size) for s in stats)


def load_cached(path: Path) -> LoadedRules:
    """``viewsets.load``, read again only when the rulebook or its calendar file changed:
    parsing the calendar and hashing both costs tens of milliseconds, on every request."""
    cached = _loaded.get(path)
    if cached is not None:
        stamp, loaded = cached
        calendar = (path.parent / loaded.rules.rulebook.calendar).resolve()
        if _stamp(path, calendar) == stamp:
            return loaded
    loaded = load(path)
    calendar = (path.parent / loaded.rules.rulebook.calendar).resolve()
    _loaded[path] = (_stamp(path, calendar), loaded)
    return loaded


REPLICA_WAIT_SECONDS = 5.0
"""How long a read with ``after`` waits for the replica's views to reach that position."""
REPLICA_POLL_SECONDS = 0.02


class ViewsBehind(Exception):
    """The replica's views have not yet reached the position asked for (503, retry soon)."""


def default_rules() -> LoadedRules:
    return load_cached(DEFAULT_RULEBOOK)


def store_views(ledger: Ledger, *, catch_up: bool = True) -> Views:
    """The live views on the store's own database, caught up to the end of the log: for
    decisions that must see the latest facts (who may read a case)."""
    views = ledger.projection_engine
    view_set, loaded = live_rules(views, default_rules())
    if catch_up and _behind(ledger.engine, views, view_set):
        Projector(
            ledger.engine, views, loaded.rules, view_set, write_lock=ledger.projection_lock
        ).catch_up()
    return Views(views, view_set, loaded.rules)


def live_runner(ledger: Ledger) -> Runner:
    """The live projector of this ledger's log, writing where its views are kept."""
    return Runner(
        ledger.engine,
        default_rules(),
        write_lock=ledger.projection_lock,
        views=ledger.projection_engine,
    )


def live_lag(ledger: Ledger, view_set: str) -> dict[str, Any]:
    """How far the view set is behind this ledger's log (``projections.runner.lag``)."""
    return lag(ledger.engine, view_set, ledger.projection_engine)


def _behind(engine: sa.Engine, views: sa.Engine, view_set: str) -> bool:
    """Whether the log has rows the view set has not read: two indexed lookups, where a
    catch-up that finds nothing to do still folds the whole directory first."""
    current, end = view_set_and_log_end(engine, views, view_set)
    return current is None or end > current.position


def live_views(ledger: Ledger, *, catch_up: bool = True, after: int | None = None) -> Views:
    """The live views where they are read (the replica, if there is one), including log
    position ``after`` if given (404 if the log has no such position)."""
    if ledger.settings.views_database_url is None:
        views = store_views(ledger, catch_up=catch_up)
        if after is not None:
            with views.engine.connect() as conn:
                current = get_view_set(conn, views.view_set)
            if current is None or current.position < after:
                raise NotFound(f"log position {after} does not exist")
        return views
    engine: sa.Engine = ledger.views_engine
    view_set, loaded, position = read_live(engine, default_rules())
    if after is not None and position < after:
        wait_for_replica(ledger, after)
    return Views(engine, view_set, loaded.rules)


def replica_position(ledger: Ledger) -> int:
    """How far the live views on the replica have got in the log."""
    return read_live(ledger.views_engine, default_rules())[2]


def wait_for_replica(ledger: Ledger, position: int, timeout: float | None = None) -> None:
    """Read-your-writes: wait (``REPLICA_WAIT_SECONDS`` unless told) until the replica's
    views include log ``position``."""
    with ledger.engine.connect() as conn:
        if last_position(conn) < position:
            raise NotFound(f"log position {position} does not exist")
    deadline = time.monotonic() + (REPLICA_WAIT_SECONDS if timeout is None else timeout)
    while (reached := replica_position(ledger)) < position:
        if time.monotonic() > deadline:
            raise ViewsBehind(
                f"the views replica is at log position {reached}, not yet {position}; "
                "try again in a moment"
            )
        time.sleep(REPLICA_POLL_SECONDS)


def views_at(
    ledger: Ledger,
    instant: datetime | None,
    rulebook: Path | None = None,
    *,
    after: int | None = None,
) -> Views:
    """Live views for now; views built from the facts recorded by ``instant`` otherwise
    (from the log on the store's database)."""
    if instant is None and rulebook is None:
        return live_views(ledger, after=after)
    loaded = (
        load(rulebook) if rulebook else live_rules(ledger.projection_engine, default_rules())[1]
    )
    return views_as_of(ledger.engine, loaded, instant or datetime.now(UTC))


BUILT = ("live", "ready", "retired")
"""View sets complete under their rulebook (not being built, not transient)."""


def built_view_sets(ledger: Ledger) -> list[dict[str, Any]]:
    """The view sets two rulebooks can be compared on, the live one first, then the newest:
    only those ``built_views`` can read."""
    store_views(ledger)  # ensures the live set exists and is caught up
    v = schema.view_sets
    with ledger.projection_engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                v.c.id,
                v.c.rulebook_name,
                v.c.rulebook_version,
                v.c.status,
                v.c.position,
                v.c.rulebook_path,
                v.c.rulebook_digest,
            )
            .where(v.c.status.in_(BUILT))
            .order_by(v.c.status != "live", v.c.created_s.desc(), v.c.id)
        ).mappings()
        found = [dict(r) for r in rows]
    readable = []
    for row in found:
        path, digest = row.pop("rulebook_path"), row.pop("rulebook_digest")
        try:
            _rules_as_built(row["id"], path, digest)
        except (NotFound, ProcessRuleViolation):
            continue
        readable.append(row)
    return readable


def built_views(ledger: Ledger, name: str) -> Views:
    """A built view set by name, under the rulebook it was built with (its file unchanged)."""
    v = schema.view_sets
    store_views(ledger)
    with ledger.projection_engine.connect() as conn:
        row = conn.execute(
            sa.select(v.c.rulebook_path, v.c.rulebook_digest, v.c.status).where(v.c.id == name)
        ).first()
    if row is None or row.status not in BUILT:
        raise NotFound(f"no built view set {name!r} (petition rebuild --rulebook FILE builds one)")
    loaded = _rules_as_built(name, row.rulebook_path, row.rulebook_digest)
    return Views(ledger.projection_engine, name, loaded.rules)


def _rules_as_built(name: str, path: str, digest: str) -> LoadedRules:
    """The rulebook a view set was built with, if its file (and this projector version) still
    give the digest it was built under."""
    try:
        loaded = load_cached(Path(path))
    except (OSError, ValueError) as e:
        raise NotFound(f"view set {name}: its rulebook cannot be read: {e}") from None
    if loaded.digest != digest:
        raise ProcessRuleViolation(
            f"view set {name}: its rulebook file has changed since it was built; rebuild it"
        )
    return loaded
