"""View sets: the live one, one being built beside it, and transient ones for past instants.

A view set is named after its rulebook and the digest of the rulebook and calendar files, so
the same rules always rebuild into the same name and a changed calendar is a new view set.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from domain.rulebook import RuleSet
from projections import log, schema
from projections.directory import Directory
from projections.facts import Fact
from projections.projector import (
    Projector,
    create_view_set,
    get_view_set,
    recorded_by,
    write_cases,
    write_directory,
)
from projections.queries import Views
from projections.rulebook_loader import RULEBOOKS_DIR, load_rules

DEFAULT_RULEBOOK = RULEBOOKS_DIR / "2022-national.toml"
LIVE = "live"


@dataclass(frozen=True)
class LoadedRules:
    rules: RuleSet
    digest: str
    path: Path

    @property
    def view_set_name(self) -> str:
        return f"{self.rules.rulebook.name}-{self.digest[:12]}"


def load(path: Path | str = DEFAULT_RULEBOOK) -> LoadedRules:
    """A rulebook file with its calendar, and a digest of both and of the projector's version
    (what the views depend on)."""
    path = Path(path)
    rules = load_rules(path)
    digest = hashlib.sha256(path.read_bytes())
    calendar_file = (path.parent / rules.rulebook.calendar).resolve()
    digest.update(calendar_file.read_bytes())
    digest.update(f"projection {schema.PROJECTION_VERSION}".encode())
    return LoadedRules(rules=rules, digest=digest.hexdigest(), path=path)


def live_view_set(conn: sa.Connection) -> str | None:
    return conn.execute(
        sa.select(schema.view_sets.c.id).where(schema.view_sets.c.status == LIVE)
    ).scalar()


_schema_made: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()
"""The engines whose read-model tables this process has made or checked: every request asks
for the live view set, and checking every table and index costs tens of milliseconds."""


def ensure_live(engine: sa.Engine, loaded: LoadedRules) -> str:
    """The live view set; created (empty, to be caught up) under ``loaded`` if there is none."""
    if engine not in _schema_made:
        schema.create_all(engine)
        _schema_made[engine] = True
    with engine.begin() as conn:
        live = live_view_set(conn)
        if live is not None:
            return live
        name = loaded.view_set_name
        if get_view_set(conn, name) is None:
            create_view_set(
                conn, name, loaded.rules, loaded.digest, status=LIVE, path=str(loaded.path)
            )
        else:
            conn.execute(
                schema.view_sets.update().where(schema.view_sets.c.id == name).values(status=LIVE)
            )
        return name


def activate(engine: sa.Engine, view_set: str) -> None:
    """Make ``view_set`` the live one, atomically: readers see the old set or the new one."""
    import time

    with engine.begin() as conn:
        current = get_view_set(conn, view_set)
        if current is None:
            raise LookupError(f"no view set {view_set}")
        if current.status not in ("ready", LIVE):
            raise RuntimeError(f"view set {view_set} is {current.status}, not ready")
        conn.execute(
            schema.view_sets.update()
            .where(schema.view_sets.c.status == LIVE)
            .values(status="retired")
        )
        conn.execute(
            schema.view_sets.update()
            .where(schema.view_sets.c.id == view_set)
            .values(status=LIVE, activated_s=time.time())
        )


def _transient(loaded: LoadedRules, name: str) -> tuple[sa.Engine, sqlite3.Connection]:
    """An empty view set in memory, and the connection to its database."""
    target, raw = _memory_copy(_empty_schema())
    with target.begin() as conn:
        create_view_set(
            conn, name, loaded.rules, loaded.digest, status="transient", path=str(loaded.path)
        )
    return target, raw


_templates_lock = threading.Lock()
_empty: list[sqlite3.Connection] = []


def _empty_schema() -> sqlite3.Connection:
    """An in-memory database with every read-model table and index, made once per process:
    a transient view set starts as a copy of it (a page copy takes a millisecond; creating
    the tables and indexes, tens)."""
    with _templates_lock:
        if not _empty:
            raw = sqlite3.connect(":memory:", check_same_thread=False)
            engine = sa.create_engine("sqlite://", poolclass=StaticPool, creator=lambda: raw)
            schema.create_all(engine)
            _empty.append(raw)
        return _empty[0]


def _memory_copy(template: sqlite3.Connection) -> tuple[sa.Engine, sqlite3.Connection]:
    """A new in-memory database with the template's tables and rows, and its connection."""
    raw = sqlite3.connect(":memory:", check_same_thread=False)
    with _templates_lock:  # (one reader of a template at a time)
        template.backup(raw)
    return sa.create_engine("sqlite://", poolclass=StaticPool, creator=lambda: raw), raw


_directories: weakref.WeakKeyDictionary[sa.Engine, dict[tuple[str, int], sqlite3.Connection]] = (
    weakref.WeakKeyDictionary()
)
"""Per source database, in-memory view sets holding only a directory as it stood after its
first N facts (under one rulebook): every case page replayed to an instant after the same
directory fact starts from a copy of it instead of writing thousands of directory rows."""
_KEPT_DIRECTORIES = 8


def _with_directory(
    source: sa.Engine, loaded: LoadedRules, every: list[Fact], known: list[Fact], name: str
) -> tuple[sa.Engine, Directory]:
    """A transient view set ``name`` with the directory the ``known`` facts (of ``every``
    directory fact) make, and the directory."""
    directory = Directory()
    for fact in known:
        directory.apply(fact)
    # Kept only when the known facts are the log's first N (the usual case; a clock set back
    # could make them another subset of the same size).
    prefix = not known or every[len(known) - 1] is known[-1]
    key = (loaded.digest, len(known))
    with _templates_lock:
        kept = _directories.setdefault(source, {})
        template = kept.get(key) if prefix else None
    if template is not None:
        return _memory_copy(template)[0], directory
    engine, raw = _transient(loaded, name)
    with engine.begin() as conn:
        write_directory(conn, name, directory)
    if prefix:
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        raw.backup(copy)  # (the engine's own database goes on to hold the cases)
        with _templates_lock:
            if len(kept) >= _KEPT_DIRECTORIES:
                kept.pop(next(iter(kept)))
            kept[key] = copy
    return engine, directory


def views_as_of(source: sa.Engine, loaded: LoadedRules, instant: datetime) -> Views:
    """Every view as the record stood at ``instant``: a transient view set built from only
    the facts recorded by then, in memory, with the same projector and the same queries."""
    name = f"as-of-{instant.isoformat()}"
    target = _transient(loaded, name)[0]
    Projector(
        source, target, loaded.rules, name, batch_size=2000, include=recorded_by(instant)
    ).catch_up()
    return Views(target, name, loaded.rules)


def cases_as_of(
    source: sa.Engine, loaded: LoadedRules, instant: datetime, case_ids: Collection[str]
) -> Views:
    """Only these cases (and the directory) as the record stood at ``instant``: the rows
    ``views_as_of`` gives them (a case is judged from its own facts, and the directory answers
    by log position), without judging the rest of the log — what one case's page needs."""
    name = "cases-as-of"  # (one name: the directory's rows are copied from a kept one)
    include = recorded_by(instant)
    with source.connect() as src:
        every = log.directory_log.facts(source, src)
        grouped = log.facts_of(src, list(case_ids))
    known = [f for f in every if include(f)]
    target, directory = _with_directory(source, loaded, every, known, name)
    case_facts = {
        case_id: kept
        for case_id, facts in grouped.items()
        if (kept := [f for f in facts if include(f)])
    }
    with target.begin() as conn:
        write_cases(conn, name, case_facts, loaded.rules, directory, fresh=True)
    return Views(target, name, loaded.rules)
