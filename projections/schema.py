"""Read-model tables (SQLAlchemy Core), on the same database as the events.

Every row belongs to a *view set*: one complete set of views built under one rulebook. The
live set answers queries while another is built beside it (``petition rebuild``), and
activation switches the pointer in one transaction.

Instants are stored as seconds since the epoch (``*_s``, UTC) so that overdue arithmetic is
the same SQL on SQLite and PostgreSQL; deadlines are dates in the rulebook's time zone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex, PrimaryKeyConstraint

PROJECTION_VERSION = 8
"""The shape and meaning of the rows a fact produces. Part of every view set's digest, so views
built by an earlier projector are never read as if they were this one's (2: rm_delay_parts;
3: the delay board's totals per party, kept by the projector; 4: rm_repeats; 5: the
totals hold every case's closed custody, open or not; 6: on PostgreSQL the case tables are
partitioned by view set, and the plain tables of earlier view sets are made again, empty;
7: rm_delay_cases holds the case's number; 8: on PostgreSQL the keys are byte-ordered and
the case tables' indexes do not sort by the view set)."""

metadata = sa.MetaData()


def _key(length: int) -> sa.String:
    """A string the read models look up and sort by: on PostgreSQL compared byte by byte
    (collation "C"), so that sorting it to build an index can use abbreviated keys, where a
    locale's collation (the database's default) compares every pair through the C library.
    The keys are ids, names of view sets, periods and codes: their byte order is their order."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


ID = _key(32)
VIEW_SET = _key(80)
PERIOD = _key(16)
CODE = _key(40)
"""A clock's or a pattern's name."""
PARTY_KIND = _key(8)
"""unit, person or leader: who a delay is counted against."""


def _view_set() -> sa.Column[str]:
    return sa.Column("view_set", VIEW_SET, primary_key=True)


view_sets = sa.Table(
    "rm_view_sets",
    metadata,
    # (plain strings: a handful of rows, never sorted for an index build nor joined to the
    # view tables' byte-ordered keys)
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("rulebook_name", sa.String(80), nullable=False),
    sa.Column("rulebook_version", sa.String(40), nullable=False),
    sa.Column("rulebook_digest", sa.String(64), nullable=False),
    sa.Column("rulebook_path", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # building | ready | live | retired
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("target_position", sa.BigInteger, nullable=True),  # what a rebuild runs up to
    sa.Column("resume_after", sa.String(32), nullable=True),  # the last case a rebuild completed
    sa.Column("calendar_years", sa.Text, nullable=False),
    sa.Column("created_s", sa.Float, nullable=False),
    sa.Column("activated_s", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),  # the fact a projector could not process
)

cases = sa.Table(
    "rm_cases",
    metadata,
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("case_number", sa.String(64), nullable=False),
    sa.Column("registering_office", ID, nullable=False),
    sa.Column("matter_kind", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("category", sa.String(500), nullable=False),
    sa.Column("petitioner_kind", sa.String(8), nullable=False),
    sa.Column("headcount", sa.Integer, nullable=False),
    sa.Column("concerned_unit", ID),
    sa.Column("received_s", sa.Float, nullable=False),
    sa.Column("registered_s", sa.Float, nullable=False),
    sa.Column("registered_recorded_s", sa.Float, nullable=False),
    sa.Column("registered_position", sa.BigInteger, nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("holder_unit", ID),
    sa.Column("handler", ID),
    sa.Column("leader", ID),
    sa.Column("clock", CODE),
    sa.Column("deadline", sa.Date),
    sa.Column("deadline_end_s", sa.Float),
    sa.Column("unknown_year", sa.Integer),
    sa.Column("excluded", sa.String(40)),
    sa.Column("collective", sa.Boolean, nullable=False),
    sa.Column("confidential", sa.Boolean, nullable=False),
    sa.Column("skip_level", sa.Boolean, nullable=False),
    sa.Column("first_contact_settled", sa.Boolean, nullable=False),
    sa.Column("transfers", sa.Integer, nullable=False),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("appeals", sa.Integer, nullable=False),
    sa.Column("accepted_s", sa.Float),
    sa.Column("accepted_by", ID),
    sa.Column("replied_s", sa.Float),
    sa.Column("replied_by", ID),
    sa.Column("reply_outcome", sa.String(16)),
    sa.Column("rating", sa.String(16)),
    sa.Column("closed_s", sa.Float),
    sa.Column("last_appeal_decision", sa.String(16)),
    sa.Column("competent_unit", ID),
    sa.Column("merged_into", ID),
    sa.Column("received_period", PERIOD, nullable=False),
    sa.Column("registered_period", PERIOD),
    sa.Column("accepted_period", PERIOD),
    sa.Column("replied_period", PERIOD),
    sa.Column("closed_period", PERIOD),
    sa.Index("rm_cases_number", "view_set", "case_number"),
    sa.Index("rm_cases_holder", "view_set", "holder_unit"),
    # A period's statistics read only the cases counted in it, from the index alone: each
    # holds what its figures need (a period's entries lie together; the rows do not).
    sa.Index(
        "rm_cases_registered_period",
        *("view_set", "registered_period", "registering_office", "registered_s"),
        *("skip_level", "collective", "case_id"),
    ),
    sa.Index(
        "rm_cases_accepted_period",
        *("view_set", "accepted_period", "accepted_by", "registered_s"),
        *("skip_level", "collective", "first_contact_settled", "case_id"),
    ),
    sa.Index(
        "rm_cases_replied_period",
        *("view_set", "replied_period", "replied_by", "registered_s", "replied_s"),
        *("rating", "appeals", "case_id"),
    ),
)

case_petitioners = sa.Table(
    "rm_case_petitioners",
    metadata,
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("petitioner_id", ID, primary_key=True),
    sa.Column("category", sa.String(500), nullable=False),
    sa.Column("received_s", sa.Float, nullable=False),
    sa.Column("closed_s", sa.Float),
    # A petitioner's cases on one matter, by receipt and by closing: the cases a repeat
    # petition can repeat, and the ones a closing can make repeats (projections.repeats).
    sa.Index("rm_case_petitioners_received", "view_set", "petitioner_id", "category", "received_s"),
    sa.Index("rm_case_petitioners_closed", "view_set", "petitioner_id", "category", "closed_s"),
)

custody = sa.Table(
    "rm_custody",
    metadata,
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("holder_unit", ID),
    sa.Column("handler", ID),
    sa.Column("leader", ID),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("start_s", sa.Float, nullable=False),
    sa.Column("end_s", sa.Float),
    sa.Column("clock", CODE),
    sa.Column("deadline", sa.Date),
    sa.Column("deadline_end_s", sa.Float),
    sa.Column("unknown_year", sa.Integer),
    sa.Column("excluded", sa.String(40)),
    sa.Column("extension_days", sa.Integer, nullable=False),
    sa.Column("pause_days", sa.Integer, nullable=False),
)


def _partial_index(
    name: str, where: sa.ColumnElement[bool], table: sa.Table, *columns: str
) -> sa.Index:
    """An index of only the rows ``where`` holds, on both databases (the queries that are to
    use it name ``where`` itself: SQLite needs the very term)."""
    return sa.Index(
        name, *(table.c[c] for c in columns), postgresql_where=where, sqlite_where=where
    )


OPEN_CUSTODY = custody.c.end_s.is_(None)
"""The intervals still open: the rows of the board's partial index (named as is in queries)."""

# By party, its open intervals first (end_s NULL): who-delayed-what for one party reads
# its open intervals by key, and the rest of its history from the kept totals. Only the
# intervals with such a party: a leader in charge (包案) is named in one of 28 intervals, a
# handler in one of 9 (a rebuild's index build at 100k events: 0.49-0.54 -> 0.41-0.46 s).
# A query for a party names it (``=``, ``IN``, ``IS NOT NULL``), which both databases take
# to imply the predicate.
for _column in ("holder_unit", "handler", "leader"):
    _partial_index(
        f"rm_custody_{_column.removesuffix('_unit')}",
        custody.c[_column].is_not(None),
        custody,
        "view_set",
        _column,
        "end_s",
    )

# The open intervals, for the board: a partial index (at 1M cases 3 MB and under a second to
# build, where one of every interval by its end took 333 MB and 12 s).
_partial_index("rm_custody_open", OPEN_CUSTODY, custody, "view_set", "start_s")

SORTED_ON_POSTGRESQL = "sorted_on_postgresql"
"""An index's ``info`` key: its key columns on PostgreSQL, where the rest of its columns are
held beside the key (``INCLUDE``), not sorted by: a sort by a period and a clock breaks most
of its ties on the columns after them, and at 1M cases each of the two on-time indexes took
3.9 s to build so against 2.75 s (6.4 against 4.1 s on one core). The queries read them
from the index alone either way; SQLite has no such columns, and sorts by every one."""

_ON_TIME = ("cancelled", "deadline_end_s", "started_s", "stopped_s", "unit", "case_id")
"""What an on-time rate reads of a clock run."""

clock_runs = sa.Table(
    "rm_clock_runs",
    metadata,
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("clock", CODE, nullable=False),
    sa.Column("notice_no", sa.Integer, nullable=False),
    sa.Column("held_by", sa.String(16), nullable=False),
    sa.Column("unit", ID),
    sa.Column("accrues_overdue", sa.Boolean, nullable=False),
    sa.Column("started_s", sa.Float, nullable=False),
    sa.Column("stopped_s", sa.Float),
    sa.Column("ended_by", sa.String(40)),
    sa.Column("cancelled", sa.Boolean, nullable=False),
    sa.Column("deadline", sa.Date),
    sa.Column("deadline_end_s", sa.Float),
    sa.Column("unknown_year", sa.Integer),
    sa.Column("extension_days", sa.Integer, nullable=False),
    sa.Column("pause_days", sa.Integer, nullable=False),
    sa.Column("late", sa.Boolean),
    sa.Column("started_period", PERIOD, nullable=False),
    sa.Column("stopped_period", PERIOD),
    sa.Column("deadline_period", PERIOD),
    sa.Index("rm_clock_runs_unit", "view_set", "unit", "clock"),
    # The on-time rates: one clock's runs counted in a period, from the index alone. The
    # period leads: led by the view set, SQLite's planner takes this covering index for a
    # case's runs (view set and case id, a key it must otherwise look up rows from). On
    # PostgreSQL what the rates read of a run is held, not sorted by (:func:`index_columns`).
    sa.Index(
        "rm_clock_runs_deadline_period",
        *("deadline_period", "clock", "view_set", *_ON_TIME),
        info={SORTED_ON_POSTGRESQL: ("deadline_period", "clock")},
    ),
    sa.Index(
        "rm_clock_runs_started_period",
        *("started_period", "clock", "view_set", *_ON_TIME),
        info={SORTED_ON_POSTGRESQL: ("started_period", "clock")},
    ),
)

NOTICE = clock_runs.c.held_by == sa.literal_column("'supervised_unit'")
"""A 督办 notice's clock, which runs against the supervised unit: the rows of a partial index,
so queries name it as a literal (SQLite uses a partial index only for its own term)."""

# The 督办 notices (most clocks are a case's own), running or not, for the board and the
# ignored-supervision pattern: at 1M cases 3 MB and under a second to build, where one of
# every clock run took 403 MB and 14 s.
_partial_index("rm_clock_runs_notices_open", NOTICE, clock_runs, "view_set", "stopped_s")

patterns = sa.Table(
    "rm_patterns",
    metadata,
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("kind", CODE, nullable=False),
    sa.Column("unit", ID),
    sa.Column("person", ID),
    sa.Column("at_s", sa.Float, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("rm_patterns_kind", "view_set", "kind"),
)

delay_parts = sa.Table(
    "rm_delay_parts",
    metadata,
    # What the delay board adds up that no longer moves: per case, party kind (unit, person,
    # leader), party and stage, the overdue seconds of the case's *closed* custody intervals
    # (and stopped 督办 notice runs) with that party, where there are any (the parts with
    # none, nineteen in twenty, add nothing to ``rm_delay_cases``' row per party: a view set
    # built before they were left out still has them, and reads the same). ``ended_s`` is
    # the case's last closed end, so a board asked for an earlier instant knows which cases
    # it must read from the intervals instead.
    sa.Column("view_set", VIEW_SET, nullable=False),
    sa.Column("case_id", ID, nullable=False),
    sa.Column("kind", PARTY_KIND, nullable=False),
    sa.Column("party", ID),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("overdue_s", sa.Float, nullable=False),
    sa.Column("ended_s", sa.Float, nullable=False),
    sa.Index("rm_delay_parts_case", "view_set", "case_id"),
    sa.Index("rm_delay_parts_ended", "view_set", "ended_s"),
)

delay_cases = sa.Table(
    "rm_delay_cases",
    metadata,
    # The same per party (added up over the stages), ``settled`` when nothing of the case is
    # open any more: the board's worst cases of a party, read in order from the index, and
    # what an open interval adds to (is the case already overdue with that party?).
    sa.Column("view_set", VIEW_SET, nullable=False),
    sa.Column("case_id", ID, nullable=False),
    sa.Column("kind", PARTY_KIND, nullable=False),
    sa.Column("party", ID),
    sa.Column("overdue_s", sa.Float, nullable=False),
    sa.Column("ended_s", sa.Float, nullable=False),
    sa.Column("settled", sa.Boolean, nullable=False),
    # The case's number, so that a party's overdue cases are listed from this table alone.
    sa.Column("case_number", sa.String(64), nullable=False),
    # By case, holding what the board reads of an open case's closed time (so that SQLite
    # prefers it to walking the worst-first index over every case of the kind).
    sa.Index("rm_delay_cases_by_case", "view_set", "case_id", "kind", "party", "overdue_s"),
    # The cases a board asked for an earlier instant takes out of the totals.
    sa.Index("rm_delay_cases_ended", "view_set", "kind", "ended_s"),
)

OVERDUE = delay_cases.c.overdue_s > sa.literal_column("0")
"""The rows the worst-first index holds. A literal, not a bound value: SQLite uses a partial
index only for a query whose WHERE holds the index's own term."""

# A party's overdue cases worst first, holding all that who-delayed-what lists of them: one
# range of the index answers it, with no row of the table (or of rm_cases) read per case.
# Only the overdue rows (about one in ten): the rest are never listed.
_partial_index(
    "rm_delay_cases_overdue",
    OVERDUE,
    delay_cases,
    *("view_set", "kind", "party", "overdue_s", "case_id", "ended_s", "case_number"),
)

delay_totals = sa.Table(
    "rm_delay_totals",
    metadata,
    # Per party, the closed custody of every case added up: how many cases it held, how many
    # of them overdue, and the overdue time in microseconds (integers: the projector adds a
    # re-judged case's new parts and subtracts its old ones, and integer sums come back
    # exactly to where they were). A board request reads one row per party, not per case.
    _view_set(),
    sa.Column("kind", PARTY_KIND, primary_key=True),
    sa.Column("party", ID, primary_key=True),
    sa.Column("cases_held", sa.BigInteger, nullable=False),
    sa.Column("cases_overdue", sa.BigInteger, nullable=False),
    sa.Column("overdue_us", sa.BigInteger, nullable=False),
)

delay_stage_totals = sa.Table(
    "rm_delay_stage_totals",
    metadata,
    # The same overdue time per party and stage (clock), for the board's breakdown.
    _view_set(),
    sa.Column("kind", PARTY_KIND, primary_key=True),
    sa.Column("party", ID, primary_key=True),
    sa.Column("stage", sa.String(40), primary_key=True),
    sa.Column("overdue_us", sa.BigInteger, nullable=False),
)

repeats = sa.Table(
    "rm_repeats",
    metadata,
    # 重复访: the earlier case each repeat petition repeats (``projections.repeats``), with
    # the repeat's receipt, so a list of repeats reads latest first from the index.
    _view_set(),
    sa.Column("case_id", ID, primary_key=True),
    sa.Column("earlier_case_id", ID, nullable=False),
    sa.Column("received_s", sa.Float, nullable=False),
    sa.Index("rm_repeats_earlier", "view_set", "earlier_case_id"),
    sa.Index("rm_repeats_received", "view_set", "received_s"),
)

units = sa.Table(
    "rm_units",
    metadata,
    _view_set(),
    sa.Column("unit_id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("code", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("parent", ID),
    sa.Column("merged_into", ID),
)

people = sa.Table(
    "rm_people",
    metadata,
    _view_set(),
    sa.Column("person_id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

memberships = sa.Table(
    "rm_memberships",
    metadata,
    _view_set(),
    sa.Column("person_id", ID, primary_key=True),
    sa.Column("unit_id", ID, primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
)

CASE_TABLES = (cases, case_petitioners, custody, clock_runs, patterns, delay_parts, delay_cases)
for _table in CASE_TABLES:  # on PostgreSQL, a partition per view set (projections.partitions)
    _table.dialect_kwargs["postgresql_partition_by"] = "LIST (view_set)"


def _one_view_set_per_table(dialect: str, table: sa.Table | None) -> bool:
    return dialect == "postgresql" and table in CASE_TABLES


def index_columns(index: sa.Index, dialect: str) -> list[str]:
    """The key columns of ``index`` on ``dialect``. On PostgreSQL a case table's partition
    holds one view set, so its indexes do not sort by it: a constant leading key made every
    comparison of a sort reach past it (at 1M cases, a fifth of a rebuild's time went to
    building indexes). They still hold it, unsorted (:func:`included_columns`)."""
    names = [c.name for c in index.columns]
    if dialect == "postgresql" and SORTED_ON_POSTGRESQL in index.info:
        return list(index.info[SORTED_ON_POSTGRESQL])
    if _one_view_set_per_table(dialect, index.table):
        return [name for name in names if name != "view_set"]
    return names


def included_columns(index: sa.Index, dialect: str) -> list[str]:
    """What ``index`` holds beside its keys: on PostgreSQL, a case table's view set, which
    every query names, so that those the index covers are still answered from it alone, and
    the columns an index is not sorted by there (:data:`SORTED_ON_POSTGRESQL`)."""
    keys = index_columns(index, dialect)
    held = [c.name for c in index.columns if c.name not in keys]
    if _one_view_set_per_table(dialect, index.table) and "view_set" not in held:
        held.insert(0, "view_set")
    return held


def key_columns(table: sa.Table, dialect: str) -> list[str]:
    """The columns of ``table``'s primary key on ``dialect``: on PostgreSQL a partitioned
    table's key must hold the view set, but last (see :func:`index_columns`)."""
    names = [c.name for c in table.primary_key.columns]
    if _one_view_set_per_table(dialect, table) and "view_set" in names:
        names.remove("view_set")
        names.append("view_set")
    return names


@compiles(CreateIndex, "postgresql")
def _create_index(create: CreateIndex, compiler: Any, **kw: Any) -> str:
    index, table = create.element, create.element.table
    if table is None or not _one_view_set_per_table("postgresql", table):
        return str(compiler.visit_create_index(create, **kw))
    return index_statement(index, table.name, str(index.name))


def index_statement(index: sa.Index, table_name: str, name: str) -> str:
    """``CREATE INDEX`` of a case table's index on PostgreSQL (on the parent or on one view
    set's table), with its predicate if it is partial."""
    columns = ", ".join(index_columns(index, "postgresql"))
    included = included_columns(index, "postgresql")
    include = f" INCLUDE ({', '.join(included)})" if included else ""
    where = index.dialect_options["postgresql"]["where"]
    predicate = "" if where is None else f" WHERE {_postgresql_sql(where)}"
    return f"CREATE INDEX {name} ON {table_name} ({columns}){include}{predicate}"


def _postgresql_sql(clause: sa.ClauseElement) -> str:
    dialect = postgresql.psycopg2.dialect()  # type: ignore[no-untyped-call]
    kwargs = {"literal_binds": True, "include_table": False}
    return str(clause.compile(dialect=dialect, compile_kwargs=kwargs))


@compiles(PrimaryKeyConstraint, "postgresql")
def _primary_key(constraint: PrimaryKeyConstraint, compiler: Any, **kw: Any) -> str:
    table = constraint.table
    if not _one_view_set_per_table("postgresql", table):
        return str(compiler.visit_primary_key_constraint(constraint, **kw))
    return f"PRIMARY KEY ({', '.join(key_columns(table, 'postgresql'))})"


TOTAL_TABLES = (delay_totals, delay_stage_totals)
"""Added up over many cases: kept by adding what a written case brings and taking away what
its earlier rows brought (``projections.delay_totals``)."""
RELATION_TABLES = (repeats,)
"""Between cases: re-decided for every case related to one written (``projections.repeats``)."""
DIRECTORY_TABLES = (units, people, memberships)
VIEW_TABLES = (*CASE_TABLES, *TOTAL_TABLES, *RELATION_TABLES, *DIRECTORY_TABLES)


def create_all(engine: sa.Engine) -> None:
    """Create the tables and indexes that are missing: a table made by an earlier version
    gets the indexes added since (``create_all`` alone creates indexes only with tables),
    and a view table whose columns changed is made again, empty. Its rows are derived from
    the log and belong to view sets of an earlier projection version, which the runner
    refuses to read anyway (the version is in every view set's digest): ``petition rebuild``
    writes them again."""
    inspector = sa.inspect(engine)
    existing = set(inspector.get_table_names())
    plain = _plain_case_tables(engine, existing)
    for table in VIEW_TABLES:
        if table.name in existing:
            found = {_shape(c["name"], c["type"]) for c in inspector.get_columns(table.name)}
            wanted = {_shape(c.name, c.type.dialect_impl(engine.dialect)) for c in table.columns}
            if found != wanted or table.name in plain:
                table.drop(engine)
    metadata.create_all(engine, checkfirst=True)
    tables = [t for t in metadata.sorted_tables if t.name in existing]  # (a table just made
    for table in tables:  # has all its indexes)
        if table in VIEW_TABLES:
            _drop_changed_indexes(engine, table, inspector)
    create_indexes(engine, tables)


def create_indexes(engine: sa.Engine, tables: list[sa.Table]) -> None:
    """The tables' indexes that are missing, built one after another."""
    with _index_builder(engine) as conn:
        for table in tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
                conn.commit()


SQLITE_SORT_KIB = 2 * 1024
"""SQLite page cache of the connection building indexes, which is also how much of an index's
keys it sorts at a time: in runs this small, written out and merged, the sorting is done by
helper threads (:func:`_index_builder`)."""


@contextmanager
def small_cache(conn: sa.Connection) -> Iterator[None]:
    """SQLite: ``conn`` reads through a page cache of :data:`SQLITE_SORT_KIB` (its pages
    given back after, its own size restored), for a pass over whole tables that would
    otherwise fill a pooled connection's cache and keep it (a rebuild's count of the totals
    at 0.9M events took the process from 187 to 230 MiB so), and for building indexes
    (:func:`_index_builder`)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    own = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_SORT_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(own or 0)}")
        conn.exec_driver_sql("PRAGMA shrink_memory")


@contextmanager
def _index_builder(engine: sa.Engine) -> Iterator[sa.Connection]:
    """The connection missing indexes are built through. SQLite sorts an index's keys in the
    page cache: through the pool's connections (64 MiB each, kept while pooled) a rebuild's
    index phase took the process from 153 to 365 MiB at 0.9M events, against 212 at 0.1M.
    So on SQLite the connection sorts in :data:`SQLITE_SORT_KIB` runs, with a helper thread
    per core sorting them while it reads on (a rebuild's first build at 0.9M events: 19.0 s
    on one core, 13.7 s so; with no helpers, 32 MiB runs took 19.0 s and 2 MiB 17.4 s), and
    gives the pages back after, its own settings restored (not closed: an in-memory
    database is its one connection)."""
    with engine.connect() as conn, small_cache(conn):
        if engine.dialect.name != "sqlite":
            yield conn
            return
        helpers = conn.exec_driver_sql("PRAGMA threads").scalar()
        conn.exec_driver_sql(f"PRAGMA threads = {os.cpu_count() or 1}")
        try:
            yield conn
        finally:
            conn.exec_driver_sql(f"PRAGMA threads = {int(helpers or 0)}")


def _shape(name: str, type_: Any) -> tuple[str, str | None]:
    """What ``create_all`` compares of a column: its name, and its collation (PostgreSQL's
    key columns became byte-ordered)."""
    return name, getattr(type_, "collation", None)


def _plain_case_tables(engine: sa.Engine, existing: set[str]) -> set[str]:
    """On PostgreSQL, the case tables made before they were partitioned by view set."""
    names = [t.name for t in CASE_TABLES if t.name in existing]
    if engine.dialect.name != "postgresql" or not names:
        return set()
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' "
                    "AND relname = ANY(:names) AND pg_table_is_visible(oid)"
                ),
                {"names": names},
            ).scalars()
        )


def _drop_changed_indexes(engine: sa.Engine, table: sa.Table, inspector: Any) -> None:
    """Drop a view table's indexes whose columns changed, or which became partial or whole
    (made again after), or that are no longer defined: an index is derived, like the rows,
    and a stale one only costs writes."""
    dialect = engine.dialect.name
    wanted = {
        i.name: (
            index_columns(i, dialect),
            included_columns(i, dialect),
            i.dialect_options[dialect]["where"] is not None,
        )
        for i in table.indexes
    }
    with engine.begin() as conn:
        for found in inspector.get_indexes(table.name):
            name = found["name"]
            if not name or not name.startswith("rm_") or found.get("duplicates_constraint"):
                continue
            shape = (
                list(found["column_names"]),
                list(found.get("include_columns") or []),
                found.get("dialect_options", {}).get(f"{dialect}_where") is not None,
            )
            if wanted.get(name) != shape:
                # (the name is the database's own, of a table this module defines)
                conn.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
