"""Tamper evidence: every stored event is sealed, in the same transaction that stores it.

A seal row per event holds two SHA-256 chains: the *case chain* (each event of an aggregate
hashed with the hash of the aggregate's previous event) and the *log chain* (each event hashed
with the hash of the event before it in the whole log, so that deleting a whole case breaks it
too). Changing a byte of an event, deleting or inserting a row, or swapping two rows no longer
matches the seals; ``ledger.integrity`` finds the first place where it does not.

The seals are written by the recorder itself (a subclass of the library's), after the events of
a save are inserted and in the same database transaction, under the same table lock: a save is
sealed entirely or not stored at all. The log head hash is the anchor to record elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.orm import Session
from sqlalchemy_utils.types.uuid import UUIDType

SEALS_TABLE = "ledger_seals"
GENESIS = bytes(32)

seals_metadata = sa.MetaData()
seals = sa.Table(
    SEALS_TABLE,
    seals_metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("originator_id", UUIDType(), nullable=False),
    sa.Column(
        "originator_version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
    ),
    sa.Column("case_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("log_hash", sa.LargeBinary(32), nullable=False),
    sa.Index("ledger_seals_aggregate", "originator_id", "originator_version", unique=True),
)


def event_digest(
    position: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    """What a seal commits to: the event's place in the log and every byte it stored."""
    h = hashlib.sha256()
    h.update(position.to_bytes(8, "big"))
    h.update(originator_id.bytes)
    h.update(version.to_bytes(8, "big"))
    h.update(topic.encode())
    h.update(b"\0")
    h.update(state)
    return h.digest()


def chain(previous: bytes, digest: bytes) -> bytes:
    return hashlib.sha256(previous + digest).digest()


class SealingRecorder(SQLAlchemyApplicationRecorder):
    """The library's application recorder, sealing each event it inserts."""

    def create_table(self) -> None:
        super().create_table()
        engine = self.datastore.engine
        assert engine is not None
        seals_metadata.create_all(engine, checkfirst=True)  # type: ignore[arg-type]

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        ids = super()._insert_stored_events(session, stored_events, **kwargs)
        if not stored_events:
            return ids
        log_head = session.execute(
            sa.select(seals.c.log_hash).order_by(seals.c.id.desc()).limit(1)
        ).scalar()
        log_hash: bytes = log_head or GENESIS
        case_heads = _case_heads(session, stored_events)
        rows = []
        for position, event in sorted(zip(ids, stored_events, strict=True), key=lambda x: x[0]):
            originator = event.originator_id
            assert isinstance(originator, UUID)
            digest = event_digest(
                position, originator, event.originator_version, event.topic, event.state
            )
            case_hash = chain(case_heads.get(originator, (0, GENESIS))[1], digest)
            log_hash = chain(log_hash, digest)
            case_heads[originator] = (event.originator_version, case_hash)
            rows.append(
                {
                    "id": position,
                    "originator_id": originator,
                    "originator_version": event.originator_version,
                    "case_hash": case_hash,
                    "log_hash": log_hash,
                }
            )
        session.execute(seals.insert(), rows)
        return ids


HEADS_PER_QUERY = 500


def _case_heads(
    session: Session, stored_events: Sequence[StoredEvent]
) -> dict[Any, tuple[int, bytes]]:
    """Each aggregate's last seal before this save: an aggregate whose first event here is its
    version 1 has none (the events table's key refuses a second version 1); the others are
    read in a few queries, each one index probe per aggregate, however long its history."""
    first: dict[Any, int] = {}
    for event in stored_events:
        first[event.originator_id] = min(
            event.originator_version, first.get(event.originator_id, event.originator_version)
        )
    older = [originator for originator, version in first.items() if version > 1]
    heads: dict[Any, tuple[int, bytes]] = {}
    for start in range(0, len(older), HEADS_PER_QUERY):
        ids = older[start : start + HEADS_PER_QUERY]
        last = (
            sa.select(
                seals.c.originator_id, sa.func.max(seals.c.originator_version).label("version")
            )
            .where(seals.c.originator_id.in_(ids))
            .group_by(seals.c.originator_id)
            .subquery()
        )
        for originator, version, case_hash in session.execute(
            sa.select(seals.c.originator_id, seals.c.originator_version, seals.c.case_hash).join(
                last,
                sa.and_(
                    seals.c.originator_id == last.c.originator_id,
                    seals.c.originator_version == last.c.version,
                ),
            )
        ):
            heads[originator] = (version, case_hash)
    return heads
