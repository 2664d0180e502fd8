"""Getting at the views from an entrypoint: the live set (caught up first), or the views as
the record stood at a past instant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ledger.application import Ledger
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
