"""Getting at the views from an entrypoint: the live set (caught up first), or the views as
the record stood at a past instant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from domain.errors import NotFound, ProcessRuleViolation
from ledger.application import Ledger
from projections import schema
from projections.projector import Projector
from projections.queries import Views
from projections.runner import live_rules
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, load, views_as_of


def default_rules() -> LoadedRules:
    return load(DEFAULT_RULEBOOK)


def live_views(ledger: Ledger, *, catch_up: bool = True) -> Views:
    view_set, loaded = live_rules(ledger.engine, default_rules())
    if catch_up:
        Projector(
            ledger.engine, ledger.engine, loaded.rules, view_set, write_lock=ledger.write_lock
        ).catch_up()
    return Views(ledger.engine, view_set, loaded.rules)


def views_at(ledger: Ledger, instant: datetime | None, rulebook: Path | None = None) -> Views:
    """Live views for now; views built from the facts recorded by ``instant`` otherwise."""
    if instant is None and rulebook is None:
        return live_views(ledger)
    loaded = load(rulebook) if rulebook else live_rules(ledger.engine, default_rules())[1]
    return views_as_of(ledger.engine, loaded, instant or datetime.now(UTC))


BUILT = ("live", "ready", "retired")
"""View sets complete under their rulebook (not being built, not transient)."""


def built_view_sets(ledger: Ledger) -> list[dict[str, Any]]:
    """The view sets two rulebooks can be compared on, the live one first."""
    live_views(ledger)  # ensures the live set exists and is caught up
    v = schema.view_sets
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(v.c.id, v.c.rulebook_name, v.c.rulebook_version, v.c.status, v.c.position)
            .where(v.c.status.in_(BUILT))
            .order_by(v.c.status != "live", v.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def built_views(ledger: Ledger, name: str) -> Views:
    """A built view set by name, under the rulebook it was built with (its file unchanged)."""
    v = schema.view_sets
    live_views(ledger)
    with ledger.engine.connect() as conn:
        row = conn.execute(
            sa.select(v.c.rulebook_path, v.c.rulebook_digest, v.c.status).where(v.c.id == name)
        ).first()
    if row is None or row.status not in BUILT:
        raise NotFound(f"no built view set {name!r} (petition rebuild --rulebook FILE builds one)")
    try:
        loaded = load(Path(row.rulebook_path))
    except (OSError, ValueError) as e:
        raise NotFound(f"view set {name}: its rulebook cannot be read: {e}") from None
    if loaded.digest != row.rulebook_digest:
        raise ProcessRuleViolation(
            f"view set {name}: its rulebook file has changed since it was built; rebuild it"
        )
    return Views(ledger.engine, name, loaded.rules)
