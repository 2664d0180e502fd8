"""Verifying the log against its seals: the first place where it does not match, and how.

Problems, in the words an inspector would use:

- ``changed``: an event's bytes (or its place) are not what was sealed;
- ``missing``: a sealed event is gone (deleted);
- ``inserted``: an event is there that was never sealed (written around the ledger);
- ``reordered``: an event sits at another position than the one it was sealed at;
- ``chain-broken``: the seals themselves were edited (a hash does not follow from the one
  before it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy_utils.types.uuid import UUIDType

from ledger.seals import GENESIS, SEALS_TABLE, chain, event_digest

EVENTS_TABLE = "ledger_events"


@dataclass(frozen=True)
class Problem:
    kind: str
    position: int
    aggregate_id: UUID | None
    version: int | None
    detail: str

    def __str__(self) -> str:
        where = f"position {self.position}"
        if self.aggregate_id is not None:
            where += f" (aggregate {self.aggregate_id}, version {self.version})"
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True)
class Report:
    events: int
    head: bytes
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


Row = tuple[int, UUID, int, str, bytes]
Seal = tuple[int, UUID, int, bytes, bytes]


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, bytes | memoryview):
        return UUID(bytes=bytes(value))
    return UUID(str(value))


def _select(conn: sa.Connection, table: str, columns: str, aggregate: UUID | None) -> Iterator[Any]:
    """All rows in position order, or one aggregate's in version order."""
    query = f"SELECT {columns} FROM {table}"
    if aggregate is None:
        result = conn.execute(sa.text(query + " ORDER BY id"))
    else:
        result = conn.execute(
            sa.text(query + " WHERE originator_id = :a ORDER BY originator_version").bindparams(
                sa.bindparam("a", type_=UUIDType())
            ),
            {"a": aggregate},
        )
    yield from result.yield_per(5000)


def stored_rows(conn: sa.Connection, aggregate: UUID | None = None) -> Iterator[Row]:
    """Every stored event in position order (or one aggregate's, in version order)."""
    columns = "id, originator_id, originator_version, topic, state"
    for position, originator, version, topic, state in _select(
        conn, EVENTS_TABLE, columns, aggregate
    ):
        yield position, _uuid(originator), version, topic, bytes(state)


def stored_seals(conn: sa.Connection, aggregate: UUID | None = None) -> Iterator[Seal]:
    columns = "id, originator_id, originator_version, case_hash, log_hash"
    for position, originator, version, case_hash, log_hash in _select(
        conn, SEALS_TABLE, columns, aggregate
    ):
        yield position, _uuid(originator), version, bytes(case_hash), bytes(log_hash)


def verify_rows(rows: Iterable[Row], seals: Iterable[Seal], *, whole_log: bool = True) -> Report:
    """Walk events and seals together; stop at the first problem. ``whole_log``: the rows
    are the whole log in position order (both chains are checked); otherwise they are one
    aggregate's events in version order (its case chain is checked)."""
    event_iter, seal_iter = iter(rows), iter(seals)
    event, seal = next(event_iter, None), next(seal_iter, None)
    log_hash = GENESIS
    case_hashes: dict[UUID, tuple[int, bytes]] = {}
    count = 0
    while event is not None or seal is not None:
        if event is None or (seal is not None and seal[0] < event[0] and whole_log):
            assert seal is not None
            return Report(
                count,
                log_hash,
                Problem("missing", seal[0], seal[1], seal[2], "a sealed event is no longer stored"),
            )
        position, originator, version, topic, state = event
        if seal is None or (whole_log and event[0] < seal[0]):
            return Report(
                count,
                log_hash,
                Problem("inserted", position, originator, version, "this event was never sealed"),
            )
        sealed_position, sealed_originator, sealed_version, case_hash, sealed_log = seal
        if (originator, version) != (sealed_originator, sealed_version):
            return Report(
                count,
                log_hash,
                Problem(
                    "reordered",
                    position,
                    originator,
                    version,
                    f"position {sealed_position} was sealed for version {sealed_version} of "
                    f"aggregate {sealed_originator}",
                ),
            )
        if position != sealed_position:
            return Report(
                count,
                log_hash,
                Problem(
                    "reordered",
                    position,
                    originator,
                    version,
                    f"this event was sealed at position {sealed_position}",
                ),
            )
        digest = event_digest(position, originator, version, topic, state)
        previous_version, previous_case = case_hashes.get(originator, (0, GENESIS))
        if chain(previous_case, digest) != case_hash:
            if version != previous_version + 1:
                return Report(
                    count,
                    log_hash,
                    Problem(
                        "missing",
                        position,
                        originator,
                        version,
                        f"the aggregate jumps from version {previous_version} to {version}",
                    ),
                )
            return Report(
                count,
                log_hash,
                Problem(
                    "changed",
                    position,
                    originator,
                    version,
                    "its bytes are not the bytes that were sealed",
                ),
            )
        if whole_log:
            if chain(log_hash, digest) != sealed_log:
                return Report(
                    count,
                    log_hash,
                    Problem(
                        "chain-broken",
                        position,
                        originator,
                        version,
                        "the log chain does not follow from the previous seal",
                    ),
                )
            log_hash = sealed_log
        case_hashes[originator] = (version, case_hash)
        count += 1
        event, seal = next(event_iter, None), next(seal_iter, None)
    return Report(count, log_hash, None)


def verify(engine: sa.Engine, aggregate: UUID | None = None) -> Report:
    """Check the whole store (both chains), or one aggregate's events (its case chain)."""
    with engine.connect() as conn:
        return verify_rows(
            stored_rows(conn, aggregate),
            stored_seals(conn, aggregate),
            whole_log=aggregate is None,
        )


BUNDLE_FORMAT = "petition-ledger-bundle"
BUNDLE_VERSION = 1


def export_bundle(engine: sa.Engine, out: IO[str]) -> Report:
    """Write the whole log with its seals as JSON lines: a header, then one line per event.
    The bundle verifies on another machine with nothing but this module."""
    report = verify(engine)
    out.write(
        json.dumps(
            {
                "format": BUNDLE_FORMAT,
                "version": BUNDLE_VERSION,
                "events": report.events,
                "head": report.head.hex(),
                "verified": report.ok,
            }
        )
        + "\n"
    )
    with engine.connect() as conn:
        seals = stored_seals(conn)
        for (position, originator, version, topic, state), seal in zip(
            stored_rows(conn), seals, strict=False
        ):
            out.write(
                json.dumps(
                    {
                        "id": position,
                        "originator_id": originator.hex,
                        "version": version,
                        "topic": topic,
                        "state": base64.b64encode(state).decode(),
                        "seal_id": seal[0],
                        "seal_originator_id": seal[1].hex,
                        "seal_version": seal[2],
                        "case_hash": seal[3].hex(),
                        "log_hash": seal[4].hex(),
                    }
                )
                + "\n"
            )
    return report


def verify_bundle(lines: Iterable[str]) -> Report:
    """Verify an exported bundle: its events against its seals, and its head."""
    iterator = iter(lines)
    header = json.loads(next(iterator))
    if header.get("format") != BUNDLE_FORMAT:
        raise ValueError("not a petition-ledger bundle")
    records = [json.loads(line) for line in iterator if line.strip()]
    rows = [
        (
            r["id"],
            UUID(hex=r["originator_id"]),
            r["version"],
            r["topic"],
            base64.b64decode(r["state"]),
        )
        for r in records
    ]
    seals = [
        (
            r["seal_id"],
            UUID(hex=r["seal_originator_id"]),
            r["seal_version"],
            bytes.fromhex(r["case_hash"]),
            bytes.fromhex(r["log_hash"]),
        )
        for r in records
    ]
    report = verify_rows(rows, seals)
    if report.ok and report.head.hex() != header["head"]:
        return Report(
            report.events,
            report.head,
            Problem(
                "chain-broken",
                rows[-1][0] if rows else 0,
                None,
                None,
                "the bundle's head does not match its header",
            ),
        )
    return report


def restore_bundle(engine: sa.Engine, lines: Iterable[str], *, batch: int = 1000) -> Report:
    """Load a verified bundle into an empty store, keeping every event's position, so the
    restored log verifies with the same head and rebuilds the same views."""
    lines = list(lines)
    report = verify_bundle(lines)
    if not report.ok:
        raise ValueError(f"the bundle does not verify: {report.problem}")
    with engine.begin() as conn:
        if conn.execute(sa.text(f"SELECT count(*) FROM {EVENTS_TABLE}")).scalar():
            raise ValueError("the store is not empty: restore only into an empty store")
        insert_event = sa.text(
            f"INSERT INTO {EVENTS_TABLE} (id, originator_id, originator_version, topic, state) "
            "VALUES (:id, :originator_id, :version, :topic, :state)"
        ).bindparams(sa.bindparam("originator_id", type_=UUIDType()))
        insert_seal = sa.text(
            f"INSERT INTO {SEALS_TABLE} (id, originator_id, originator_version, case_hash, "
            "log_hash) VALUES (:id, :originator_id, :version, :case_hash, :log_hash)"
        ).bindparams(sa.bindparam("originator_id", type_=UUIDType()))
        records = [json.loads(line) for line in lines[1:] if line.strip()]
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            conn.execute(
                insert_event,
                [
                    {
                        "id": r["id"],
                        "originator_id": UUID(hex=r["originator_id"]),
                        "version": r["version"],
                        "topic": r["topic"],
                        "state": base64.b64decode(r["state"]),
                    }
                    for r in chunk
                ],
            )
            conn.execute(
                insert_seal,
                [
                    {
                        "id": r["seal_id"],
                        "originator_id": UUID(hex=r["seal_originator_id"]),
                        "version": r["seal_version"],
                        "case_hash": bytes.fromhex(r["case_hash"]),
                        "log_hash": bytes.fromhex(r["log_hash"]),
                    }
                    for r in chunk
                ],
            )
        if conn.dialect.name == "postgresql" and records:
            conn.execute(
                sa.text(
                    f"SELECT setval('{EVENTS_TABLE}_id_seq', (SELECT max(id) FROM {EVENTS_TABLE}))"
                )
            )
    return verify(engine)
