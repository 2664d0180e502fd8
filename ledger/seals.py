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

import functools
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing_sqlalchemy.datastore import transactions
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy.orm import Session
from sqlalchemy_utils.types.uuid import UUIDType

from ledger.group_commit import GroupCommit, Save
from ledger.writer_lock import WriterLock

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


class PreparedReads(SQLAlchemyAggregateRecorder):
    """The library's recorder, reading one aggregate's events with a prepared Core statement:
    the library's ORM query cost about a millisecond of Python per call, and a command reads
    several aggregates (and, for each, its snapshots)."""

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        ahead = _read_ahead.get()
        if ahead is not None:
            answer = self._answer_from(ahead, originator_id, gt, lte, desc, limit)
            if answer is not None:
                return answer
        statement = self._select_statement(gt is not None, lte is not None, desc, limit is not None)
        params = {"originator_id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        if self.datastore.access_lock is not None:  # in-memory SQLite: the library serialises
            with self.transaction(commit=False) as session:
                rows = session.connection().execute(statement, params).all()
        else:
            rows = self._read(statement, params)
        return [_stored(r) for r in rows]

    def _read(self, statement: sa.Select[Any], params: dict[str, Any]) -> Sequence[sa.Row[Any]]:
        """A read on a plain connection: no ORM session to begin and roll back. On PostgreSQL
        one statement is its own snapshot: without a transaction the read is one round trip,
        not a BEGIN, the SELECT and a ROLLBACK. The pool hands the connection on transactional
        again."""
        engine = self.datastore.engine
        assert isinstance(engine, sa.Engine)
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            return conn.execute(statement, params).all()

    @staticmethod
    def _answer_from(
        ahead: ReadAhead, originator_id: Any, gt: Any, lte: Any, desc: bool, limit: Any
    ) -> list[StoredEvent] | None:
        """A read answered by what was read ahead (None: not one of those), once."""
        if lte is None and not desc and limit is None:
            return ahead.pop((originator_id, gt), None)
        return None

    @contextmanager
    def reading_ahead(self, after: dict[UUID, int | None]) -> Iterator[None]:
        """Read the events of several aggregates in one statement (one snapshot, one round
        trip): of each, those after the version given (a cached copy to bring up to date), or
        all of them (None: one not cached, whose snapshots need not be read then). Inside the
        block, this thread's reads of exactly those are answered from it, each once; what is
        not asked for is dropped on leaving."""
        if self.datastore.access_lock is not None:  # in-memory SQLite: reads as they come
            yield
            return
        statement = self._read_ahead_statement(tuple(v is None for v in after.values()))
        params: dict[str, Any] = {}
        for i, (aggregate, version) in enumerate(after.items()):
            params[f"o{i}"] = aggregate
            params[f"v{i}"] = version
        rows = self._read(statement, params)
        ahead: ReadAhead = {(aggregate, version): [] for aggregate, version in after.items()}
        for row in rows:
            ahead[(row[0], after[row[0]])].append(_stored(row))
        token = _read_ahead.set(ahead)
        try:
            yield
        finally:
            _read_ahead.reset(token)

    @functools.cache  # noqa: B019 (a few shapes per recorder, for the recorder's life)
    def _read_ahead_statement(self, whole: tuple[bool, ...]) -> sa.Select[Any]:
        """Of each aggregate (``o0``, ``o1``…), its events after ``v0``, ``v1``…, or all of
        them where ``whole``."""
        c = self.events_record_cls.__table__.c  # type: ignore[attr-defined]
        conditions = [
            c.originator_id == sa.bindparam(f"o{i}")
            if everything
            else (c.originator_id == sa.bindparam(f"o{i}"))
            & (c.originator_version > sa.bindparam(f"v{i}"))
            for i, everything in enumerate(whole)
        ]
        return (
            sa.select(c.originator_id, c.originator_version, c.topic, c.state)
            .where(sa.or_(*conditions))
            .order_by(c.originator_id, c.originator_version)
        )

    @functools.cache  # noqa: B019 (four statements per recorder, for the recorder's life)
    def _select_statement(self, gt: bool, lte: bool, desc: bool, limit: bool) -> sa.Select[Any]:
        table = self.events_record_cls.__table__  # type: ignore[attr-defined]
        version = table.c.originator_version
        statement = sa.select(table.c.originator_id, version, table.c.topic, table.c.state).where(
            table.c.originator_id == sa.bindparam("originator_id")
        )
        if gt:
            statement = statement.where(version > sa.bindparam("gt"))
        if lte:
            statement = statement.where(version <= sa.bindparam("lte"))
        statement = statement.order_by(version.desc() if desc else version)
        if limit:
            statement = statement.limit(sa.bindparam("limit"))
        return statement


ReadAhead = dict[tuple[Any, int | None], list[StoredEvent]]
"""Events read ahead: by aggregate and the version after which they were read (None: all)."""

_read_ahead: ContextVar[ReadAhead | None] = ContextVar("read_ahead", default=None)
"""Events read ahead for this thread by :meth:`PreparedReads.reading_ahead`."""


def reading_ahead_now() -> bool:
    """Whether this thread is inside a read-ahead (:meth:`PreparedReads.reading_ahead`)."""
    return _read_ahead.get() is not None


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        originator_id=row[0],
        originator_version=row[1],
        topic=row[2],
        state=bytes(row[3]) if isinstance(row[3], memoryview) else row[3],
    )


class SnapshotRecorder(PreparedReads):
    """Snapshots (of case-number sequences), read the same way."""

    @staticmethod
    def _answer_from(
        ahead: ReadAhead, originator_id: Any, gt: Any, lte: Any, desc: bool, limit: Any
    ) -> list[StoredEvent] | None:
        # every event of it was read ahead: no snapshot is needed to rebuild it
        return [] if lte is None and (originator_id, None) in ahead else None


class SealingRecorder(PreparedReads, SQLAlchemyApplicationRecorder):
    """The library's application recorder, sealing each event it inserts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Grouped where writers queue for the store's shared writer lock (an SQLite file: the
        # factory gives its datastore one, ledger.persistence), nowhere else.
        shared_lock = isinstance(self.datastore.write_lock, WriterLock)
        self._group = GroupCommit(self._begin_group, self._write_group) if shared_lock else None

    def create_table(self) -> None:
        super().create_table()
        engine = self.datastore.engine
        assert engine is not None
        seals_metadata.create_all(engine, checkfirst=True)  # type: ignore[arg-type]

    GROUP_AT_MOST = 200
    """A save of more events than this is written alone (a bulk import's batch): a group relies
    on each save's events going in as one statement, which the store takes back whole."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Session | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        """As the library does; on an SQLite file, through the process's group commit
        (:mod:`ledger.group_commit`) unless the caller is inside a transaction of its own."""
        group = self._group
        if (
            group is None
            or session is not None
            or any(v is not None for v in kwargs.values())  # (a tracking record: the caller's)
            or len(stored_events) > self.GROUP_AT_MOST
            or _in_transaction()
        ):
            return super().insert_events(stored_events, session=session, **kwargs)
        save = group.submit(stored_events)
        if save.alone:
            return super().insert_events(stored_events)
        if save.refused is not None:
            raise IntegrityError(save.refused) from save.refused
        return save.ids

    def _begin_group(self) -> AbstractContextManager[Session]:
        """A group's transaction: it waits for the store's writer lock, and commits on leaving."""
        return self.transaction(commit=True)

    def _write_group(self, session: Session, saves: list[Save]) -> None:
        """The saves of a group, in the transaction the group holds. SQLite takes back a
        refused statement alone and keeps the transaction: a save whose events the store
        refuses (its case moved on meanwhile) is refused by itself, and nothing of it was
        written."""
        conn = session.connection()
        for save in saves:
            try:
                ids = self._insert_rows(conn, save.events)
            except sa.exc.IntegrityError as refused:
                save.refused = refused
                continue
            self._seal(conn, ids, save.events)
            save.ids = ids

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        """Insert the events (as the library does: table lock on PostgreSQL, ids in order,
        NOTIFY) with one Core statement instead of ORM objects, then seal them."""
        if not stored_events:
            return []
        conn = session.connection()
        if conn.dialect.name == "postgresql" and len(stored_events) <= self.FUSED_AT_MOST:
            if len({e.originator_id for e in stored_events}) == len(stored_events):
                return self._store_sealed_postgres(conn, stored_events)
            return self._insert_and_seal_postgres(conn, stored_events)
        ids = self._insert_rows(conn, stored_events)
        self._seal(conn, ids, stored_events)
        return ids

    FUSED_AT_MOST = 100
    """A save of up to this many events (a command's) goes in as one statement string of the
    driver's: on PostgreSQL with the table lock, the NOTIFY and the reading of the heads it is
    sealed on; on SQLite as a multi-row insert (a bulk batch would pass SQLite's limit of bound
    values, and keeps SQLAlchemy's insert)."""

    def _events_table(self) -> str:
        name = self.events_table_name
        return name if self.schema_name is None else f"{self.schema_name}.{name}"

    def _lock_and_notify(self) -> str:
        """PostgreSQL: the library's table lock and NOTIFY (delivered at commit), as statements
        to send first: every writer waits for this lock, so what is done holding it is short."""
        return f"LOCK TABLE {self._events_table()} IN EXCLUSIVE MODE; NOTIFY {self.channel_name}; "

    def _stored(
        self, stored_events: Sequence[StoredEvent], returning: str
    ) -> tuple[str, dict[str, Any]]:
        """PostgreSQL: ``stored AS (INSERT … RETURNING …)``, the events' insert as a CTE with
        the driver's parameters."""
        params: dict[str, Any] = {}
        values = []
        for i, e in enumerate(stored_events):
            values.append(f"(%(o{i})s::uuid, %(v{i})s, %(t{i})s, %(s{i})s)")
            params[f"o{i}"] = str(e.originator_id)
            params[f"v{i}"] = e.originator_version
            params[f"t{i}"] = e.topic
            params[f"s{i}"] = e.state
        insert = (
            f"INSERT INTO {self._events_table()} (originator_id, originator_version, topic, state)"
        )
        return f"stored AS ({insert} VALUES {', '.join(values)} RETURNING {returning})", params

    def _store_sealed_postgres(
        self, conn: sa.Connection, stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """A save that holds at most one event of each aggregate (a command's, nearly always):
        lock, NOTIFY, insert and seal in one statement string, the seals computed by the
        database (``sha256``, byte for byte the digest and chains of :func:`event_digest` and
        :func:`chain`, which :mod:`ledger.integrity` checks them with). The table lock is then
        held for one round trip and the commit; with the seals computed here between two
        round trips, it was also held while this thread waited for the interpreter's lock
        behind the process's other requests."""
        stored, params = self._stored(
            stored_events, "id, originator_id, originator_version, topic, state"
        )
        # (Each statement of the string has its own snapshot: the heads are read after the
        # lock is held, so they are the last writer's, whose seals are committed.)
        found = conn.exec_driver_sql(
            f"{self._lock_and_notify()}WITH RECURSIVE {stored}, "
            f"digested AS (SELECT row_number() OVER (ORDER BY id) AS n, id, originator_id, "
            f"originator_version, {_PG_DIGEST} AS digest FROM stored), "
            # the log chain, event after event in the order of their positions
            f"logged (n, log_hash) AS (SELECT 0::bigint, coalesce(({_LOG_HEAD}), {_PG_GENESIS}) "
            "UNION ALL SELECT d.n, sha256(l.log_hash || d.digest) "
            "FROM logged l JOIN digested d ON d.n = l.n + 1), "
            f"sealed AS (INSERT INTO {SEALS_TABLE} "
            "(id, originator_id, originator_version, case_hash, log_hash) "
            "SELECT d.id, d.originator_id, d.originator_version, "
            f"sha256(coalesce(({_pg_case_head('d.originator_id')}), {_PG_GENESIS}) || d.digest), "
            "l.log_hash "
            "FROM digested d JOIN logged l USING (n)) "
            "SELECT id, originator_id, originator_version FROM stored",
            params,
        ).all()
        return _in_order({(str(o), v): i for i, o, v in found}, stored_events)

    def _insert_and_seal_postgres(
        self, conn: sa.Connection, stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """Lock, NOTIFY, insert and read the log's and the aggregates' last hashes in one round
        trip, then the seals: every writer waits for the table lock, which is held from the
        first of these statements to the commit, so what happens while holding it is two round
        trips and the commit instead of four and the commit. For a save with several events of
        one aggregate, each chained on the one before (the year's first registration at an
        office starts its numbering and issues a number)."""
        stored, params = self._stored(stored_events, "id, originator_id, originator_version")
        params["older"] = [str(i) for i in _older(stored_events)]
        # Each statement of the string has its own snapshot: the heads are read after the
        # lock is held, so they are the last writer's (whose seals are committed).
        found = conn.exec_driver_sql(
            f"{self._lock_and_notify()}WITH {stored} "
            "SELECT 0, id, originator_id, originator_version, NULL FROM stored "
            f"UNION ALL SELECT 1, NULL, NULL, NULL, ({_LOG_HEAD}) "
            f"UNION ALL SELECT 2, v.n, v.id, NULL, ({_pg_case_head('v.id')}) "
            "FROM unnest(%(older)s::uuid[]) WITH ORDINALITY AS v(id, n)",
            params,
        ).all()
        position: dict[tuple[str, int], int] = {}
        log_head: bytes | None = None
        heads: dict[Any, bytes] = {}
        for kind, number, originator, version, hash_ in found:
            if kind == 0:  # an event stored, at its position in the log
                position[(str(originator), version)] = number
            elif kind == 1:  # the log's last hash (none in an empty log)
                log_head = bytes(hash_) if hash_ is not None else None
            elif hash_ is not None:  # an aggregate's last case hash
                heads[UUID(str(originator))] = bytes(hash_)
        ids = _in_order(position, stored_events)
        _insert_seals(conn, ids, stored_events, log_head, heads)
        return ids

    def _insert_rows(self, conn: sa.Connection, stored_events: Sequence[StoredEvent]) -> list[int]:
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.cursor()  # (lock and NOTIFY: one round trip)
            try:
                cursor.execute(self._lock_and_notify())
            finally:
                cursor.close()
        elif len(stored_events) <= self.FUSED_AT_MOST:
            return self._insert_rows_sqlite(conn, stored_events)
        ids: list[int] = list(
            conn.execute(
                self._insert_statement(),
                [
                    {
                        "originator_id": e.originator_id,
                        "originator_version": e.originator_version,
                        "topic": e.topic,
                        "state": e.state,
                    }
                    for e in stored_events
                ],
            ).scalars()
        )
        return ids

    def _insert_rows_sqlite(
        self, conn: sa.Connection, stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """A command's events as one statement the driver takes as it is: SQLAlchemy's insert
        returning the ids in order cost more of a command's time than SQLite's insert. The
        store's writer lock is held, so the rows get the next ids in the order given (an
        integer primary key with nothing above the largest), and the ids sorted are theirs in
        order. (SQLite has no table lock or NOTIFY to send.)"""
        values = ", ".join(["(?, ?, ?, ?)"] * len(stored_events))
        params = tuple(
            value
            for e in stored_events
            for value in (_uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state)
        )
        found = conn.exec_driver_sql(
            f"INSERT INTO {self.events_table_name} "
            f"(originator_id, originator_version, topic, state) VALUES {values} RETURNING id",
            params,
        ).all()
        return sorted(row[0] for row in found)

    @functools.cache  # noqa: B019 (one statement per recorder)
    def _insert_statement(self) -> sa.Insert:
        table = self.events_record_cls.__table__  # type: ignore[attr-defined]
        return table.insert().returning(table.c.id, sort_by_parameter_order=True)  # type: ignore[no-any-return]

    @staticmethod
    def _seal(conn: sa.Connection, ids: list[int], stored_events: Sequence[StoredEvent]) -> None:
        log_head, case_heads = _heads(conn, stored_events)
        _insert_seals(conn, ids, stored_events, log_head, case_heads)


def _insert_seals(
    conn: sa.Connection,
    ids: list[int],
    stored_events: Sequence[StoredEvent],
    log_head: bytes | None,
    case_heads: dict[Any, bytes],
) -> None:
    """The seals of events just inserted at ``ids``, chained on the heads before them."""
    log_hash: bytes = log_head or GENESIS
    rows: list[tuple[int, UUID, int, bytes, bytes]] = []
    for position, event in sorted(zip(ids, stored_events, strict=True), key=lambda x: x[0]):
        originator = event.originator_id
        assert isinstance(originator, UUID)
        digest = event_digest(
            position, originator, event.originator_version, event.topic, event.state
        )
        case_hash = chain(case_heads.get(originator, GENESIS), digest)
        log_hash = chain(log_hash, digest)
        case_heads[originator] = case_hash
        rows.append((position, originator, event.originator_version, case_hash, log_hash))
    if conn.dialect.name == "sqlite":  # (the driver's statement: UUIDType keeps 16 bytes)
        conn.exec_driver_sql(_SQLITE_INSERT_SEALS, [(r[0], r[1].bytes, *r[2:]) for r in rows])
    else:
        columns = ("id", "originator_id", "originator_version", "case_hash", "log_hash")
        conn.execute(seals.insert(), [dict(zip(columns, r, strict=True)) for r in rows])


_SQLITE_INSERT_SEALS = (
    f"INSERT INTO {SEALS_TABLE} (id, originator_id, originator_version, case_hash, log_hash) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


HEADS_PER_QUERY = 500

_LOG_HEAD = f"SELECT log_hash FROM {SEALS_TABLE} ORDER BY id DESC LIMIT 1"
"""The log's last hash (no row in an empty log)."""


# PostgreSQL: one backward probe of the (originator, version) index per aggregate, whatever
# the table's statistics say (with stale ones, a GROUP BY over an IN list was planned as a scan
# of every seal: 0.4 s a save at 3.5 M seals, growing with the log).
def _pg_case_head(aggregate: str) -> str:
    """The last case hash of the aggregate the SQL expression ``aggregate`` names."""
    return (
        f"SELECT s.case_hash FROM {SEALS_TABLE} s WHERE s.originator_id = {aggregate} "
        "ORDER BY s.originator_version DESC LIMIT 1"
    )


_PG_DIGEST = (
    "sha256(int8send(id) || uuid_send(originator_id) || int8send(originator_version) "
    "|| convert_to(topic, 'UTF8') || '\\x00'::bytea || state)"
)
""":func:`event_digest` in SQL (``int8send``: eight bytes, most significant first)."""

_PG_GENESIS = f"'\\x{GENESIS.hex()}'::bytea"


def _in_order(
    position: dict[tuple[str, int], int], stored_events: Sequence[StoredEvent]
) -> list[int]:
    """The events' positions, in their order (``position``: by aggregate id and version)."""
    return [position[(str(e.originator_id), e.originator_version)] for e in stored_events]


_PG_EACH_HEAD = (
    f"SELECT v.n, ({_pg_case_head('v.id')}) "
    "FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS v(id, n)"
)
_PG_HEADS = sa.text(f"{_PG_EACH_HEAD} ORDER BY n")


# PostgreSQL: the log's head and the first aggregates' heads in one round trip (row 0: the log).
_PG_LOG_AND_HEADS = sa.text(f"SELECT 0 AS n, ({_LOG_HEAD}) UNION ALL {_PG_EACH_HEAD} ORDER BY n")


def _heads(
    conn: sa.Connection, stored_events: Sequence[StoredEvent]
) -> tuple[bytes | None, dict[Any, bytes]]:
    """The log's last hash, and each aggregate's last case hash, before this save."""
    older = _older(stored_events)
    if conn.dialect.name != "postgresql":
        return _sqlite_heads(conn, older)
    first = older[:HEADS_PER_QUERY]
    found = conn.execute(_PG_LOG_AND_HEADS, {"ids": [str(i) for i in first]}).all()
    log_head = bytes(found[0][1]) if found[0][1] is not None else None
    heads = {i: bytes(h) for i, (_, h) in zip(first, found[1:], strict=True) if h is not None}
    for start in range(HEADS_PER_QUERY, len(older), HEADS_PER_QUERY):  # a few hundred a query
        ids = older[start : start + HEADS_PER_QUERY]
        found = conn.execute(_PG_HEADS, {"ids": [str(i) for i in ids]}).all()
        heads.update((i, bytes(h)) for i, (_, h) in zip(ids, found, strict=True) if h is not None)
    return log_head, heads


def _older(stored_events: Sequence[StoredEvent]) -> list[Any]:
    """The aggregates saved here that had events before. One whose first event here is its
    version 1 has none (the events table's key refuses a second version 1)."""
    first: dict[Any, int] = {}
    for event in stored_events:
        version = first.get(event.originator_id)
        if version is None or event.originator_version < version:
            first[event.originator_id] = event.originator_version
    return [originator for originator, version in first.items() if version > 1]


# SQLite: the same probes, as plain statements on the transaction's connection (in process,
# tens of microseconds each; a bulk save touches thousands of aggregates, a command one or
# two). Built with SQLAlchemy (a GROUP BY over an IN list, joined back) the probe was half of
# a command's save in Python, most of it the statement's cache key.
_SQLITE_CASE_HEAD = (
    f"SELECT case_hash FROM {SEALS_TABLE} WHERE originator_id = ? "
    "ORDER BY originator_version DESC LIMIT 1"
)


def _sqlite_heads(
    conn: sa.Connection, older: Sequence[Any]
) -> tuple[bytes | None, dict[Any, bytes]]:
    # (executed as the driver takes them, but through SQLAlchemy: an error is its error, which
    # the store and the API know, not the driver's)
    row = conn.exec_driver_sql(_LOG_HEAD).first()
    log_head = bytes(row[0]) if row is not None else None
    heads: dict[Any, bytes] = {}
    for originator in older:
        # UUIDType keeps a UUID as its 16 bytes where the database has no uuid type
        row = conn.exec_driver_sql(_SQLITE_CASE_HEAD, (originator.bytes,)).first()
        if row is not None:
            heads[originator] = bytes(row[0])
    return log_head, heads


def _in_transaction() -> bool:
    """Whether this thread's caller already holds one of the store's transactions (its save
    then belongs to it, not to a group)."""
    try:
        transactions.get()
    except LookupError:
        return False
    return True
