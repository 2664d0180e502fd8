"""Running the live projector continuously: pushed by PostgreSQL's NOTIFY, polling SQLite.

It catches up on start (after any downtime), then waits for new events. A fact it cannot
project stops it: the error is recorded on the view set (health shows it) and the runner
exits non-zero instead of skipping the fact.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from projections import schema
from projections.log import EVENTS_TABLE, last_position
from projections.projector import Projector, ProjectorStopped, ViewSet, get_view_set
from projections.viewsets import LIVE, LoadedRules, ensure_live, load

log = logging.getLogger("petition.projector")

POLL_SECONDS = 0.05
"""SQLite: how often the runner looks for new events. A shorter wait means smaller batches, each
holding the single writer's lock for less time (HTTP bench at 200/s: p99 53 -> 37 ms, lag p99
243 -> 99 ms, for 0.3 ms more server CPU a command than at 0.2 s)."""
GATHER_SECONDS = 0.05
"""PostgreSQL: after a NOTIFY, how long the runner lets more events arrive before it projects.
Woken by every commit, it wrote a batch per command, and a batch's fixed cost (a dozen
statements) was most of the projector's CPU under a steady stream of commands; this adds at
most this much to the views' lag (a read that asks for its own write catches up itself)."""


def live_rules(engine: sa.Engine, default: LoadedRules) -> tuple[str, LoadedRules]:
    """The live view set and the rulebook it was built under (its file must be unchanged)."""
    live = ensure_live(engine, default)
    with engine.connect() as conn:
        path, digest = conn.execute(
            sa.select(schema.view_sets.c.rulebook_path, schema.view_sets.c.rulebook_digest).where(
                schema.view_sets.c.id == live
            )
        ).one()
    return live, _rules(path, digest, default)


def read_live(engine: sa.Engine, default: LoadedRules) -> tuple[str, LoadedRules, int]:
    """The live view set, its rulebook and its position, on a database the views are only
    read from (a replica): nothing is created, and a stopped projector is reported."""
    v = schema.view_sets
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                v.c.id, v.c.rulebook_path, v.c.rulebook_digest, v.c.position, v.c.error
            ).where(v.c.status == LIVE)
        ).first()
    if row is None:
        raise ProjectorStopped(
            "the views database has no live views yet: the projector has not run on the primary"
        )
    live, path, digest, position, error = row
    if error:
        raise ProjectorStopped(f"the projector of view set {live} stopped: {error}")
    return live, _rules(path, digest, default), int(position)


def _rules(path: str, digest: str, default: LoadedRules) -> LoadedRules:
    loaded = default if digest == default.digest else load(Path(path))
    if loaded.digest != digest:
        raise ProjectorStopped(
            f"the live views were built under {path} as it was (digest {digest[:12]}); the "
            "file has changed since, or the views were built by an earlier version of the "
            f"projector: rebuild (petition rebuild --rulebook {path}) and activate"
        )
    return loaded


def view_set_and_log_end(
    engine: sa.Engine, views: sa.Engine, view_set: str
) -> tuple[ViewSet | None, int]:
    """The view set as ``views`` records it (None: not made yet) and the last position of the
    log of ``engine``: two indexed lookups, one in each database."""
    with views.connect() as conn:
        current = get_view_set(conn, view_set)
    with engine.connect() as conn:
        return current, last_position(conn)


def _check_same_log(engine: sa.Engine, views: sa.Engine, view_set: str) -> None:
    """Views kept apart from the log (ADR 18) that are past its end belong to another store (a
    store deleted or restored without its views file): never served as this one's."""
    current, end = view_set_and_log_end(engine, views, view_set)
    if current is not None and current.position > end:
        raise ProjectorStopped(
            f"the views at {views.url} are at log position {current.position}, past the end "
            f"of this store's log ({end}): they were built from another store; delete that "
            "views file and the projector builds it again from this log"
        )


class Runner:
    def __init__(
        self,
        engine: sa.Engine,
        default: LoadedRules,
        *,
        write_lock: AbstractContextManager[Any] | None = None,
        views: sa.Engine | None = None,
    ) -> None:
        """Project the log of ``engine`` into the live view set of ``views`` (the same
        database unless told); ``write_lock``: the views' writers' lock."""
        self.engine = engine
        self.views = views or engine
        self.view_set, self.loaded = live_rules(self.views, default)
        if self.views is not engine:
            _check_same_log(engine, self.views, self.view_set)
        self.projector = Projector(
            engine, self.views, self.loaded.rules, self.view_set, write_lock=write_lock
        )
        self.stopping = threading.Event()
        self.last_caught_up = 0.0

    def catch_up(self, *, settle: bool = True) -> int:
        try:
            position = self.projector.catch_up(settle=settle)
        except ProjectorStopped as e:
            self.projector.record_error(e)
            log.error("projector stopped: %s", e)
            raise
        self.last_caught_up = time.time()
        return position

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Catch up, then follow the log until stopped."""
        self.catch_up()
        waiter = self._waiter()
        try:
            while not self.stopping.is_set() and not (until and until()):
                waiter()
                self.catch_up(settle=False)
        finally:
            self._close_waiter()

    def stop(self) -> None:
        self.stopping.set()

    # PostgreSQL pushes a NOTIFY on every insert into the events table; SQLite is polled.
    _listen_conn: object | None = None

    def _waiter(self) -> Callable[[], None]:
        if self.engine.dialect.name != "postgresql":

            def poll() -> None:
                self.stopping.wait(POLL_SECONDS)

            return poll
        raw = self.engine.raw_connection()
        raw.driver_connection.set_isolation_level(0)  # type: ignore[union-attr]
        cursor = raw.cursor()
        cursor.execute(f"LISTEN {EVENTS_TABLE};")
        self._listen_conn = raw
        pg: Any = raw.driver_connection

        def wait() -> None:
            if select.select([pg], [], [], 1.0) != ([], [], []):
                self.stopping.wait(GATHER_SECONDS)
                pg.poll()  # type: ignore[union-attr]
                pg.notifies.clear()  # type: ignore[union-attr]

        return wait

    def _close_waiter(self) -> None:
        if self._listen_conn is not None:
            self._listen_conn.close()  # type: ignore[attr-defined]
            self._listen_conn = None


def lag(
    engine: sa.Engine, view_set: str, views: sa.Engine | None = None
) -> dict[str, float | int | str | None]:
    """How far the view set (in ``views``, the store's database unless told) is behind the
    log: in events, and in seconds since the oldest fact not yet projected was written."""
    with (views or engine).connect() as conn:
        current = get_view_set(conn, view_set)
        error = conn.execute(
            sa.select(schema.view_sets.c.error).where(schema.view_sets.c.id == view_set)
        ).scalar()
    position = current.position if current else 0
    seconds = 0.0
    with engine.connect() as conn:
        last = last_position(conn)
        if last > position:
            state = conn.execute(
                sa.text(f"SELECT state FROM {EVENTS_TABLE} WHERE id > :p ORDER BY id LIMIT 1"),
                {"p": position},
            ).scalar()
            written = orjson.loads(bytes(state or b"{}"))["timestamp"]["_data_"]
            seconds = max(0.0, time.time() - datetime.fromisoformat(written).timestamp())
    return {
        "view_set": view_set,
        "position": position,
        "log_end": last,
        "events_behind": last - position,
        "seconds_behind": seconds,
        "error": error,
    }
