"""Helpers for projection tests: project the live view set, dump a view set's rows."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa

from ledger.application import Ledger
from projections import schema
from projections.projector import Projector
from projections.queries import Views
from projections.viewsets import LoadedRules, ensure_live


def project(ledger: Ledger, loaded: LoadedRules, *, batch_size: int = 500) -> Views:
    view_set = ensure_live(ledger.engine, loaded)
    Projector(
        ledger.engine, ledger.engine, loaded.rules, view_set, batch_size=batch_size
    ).catch_up()
    return Views(ledger.engine, view_set, loaded.rules)


def dump(engine: sa.Engine, view_set: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view of a view set (without the view set's name), sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in schema.VIEW_TABLES:
            columns = [c for c in table.c if c.name != "view_set"]
            rows = conn.execute(sa.select(*columns).where(table.c.view_set == view_set)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def events_digest(ledger: Ledger) -> str:
    """A digest of every stored event row, byte for byte."""
    digest = hashlib.sha256()
    with ledger.engine.connect() as conn:
        for row in conn.execute(
            sa.text(
                "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
                "ORDER BY id"
            )
        ):
            digest.update(
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode()
            )
    return digest.hexdigest()
