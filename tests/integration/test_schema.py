"""A read-model table made by an earlier projector version gets what this one needs: the
indexes added since, and, if its columns changed, the table again (its rows belong to view
sets the runner refuses, and a rebuild writes them again)."""

from __future__ import annotations

import sqlalchemy as sa

from projections import schema


def made_as_before(engine: sa.Engine, table: str, create: str) -> None:
    """``table`` as an earlier projector version made it (``create``)."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(sa.text(create))


def index_made_as_before(engine: sa.Engine, name: str, create: str) -> None:
    """Index ``name`` as an earlier projector version made it (``create``)."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP INDEX {name}"))
        conn.execute(sa.text(create))


def test_a_view_table_of_an_earlier_shape_is_made_again(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        schema.create_all(engine)
        made_as_before(
            engine,
            "rm_delay_cases",
            "CREATE TABLE rm_delay_cases (view_set VARCHAR(80) NOT NULL, "
            "case_id VARCHAR(32) NOT NULL, kind VARCHAR(8) NOT NULL, party VARCHAR(32), "
            "overdue_s FLOAT NOT NULL, ended_s FLOAT NOT NULL)",
        )
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX rm_clock_runs_notices_open"))
        schema.create_all(engine)
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("rm_delay_cases")}
        assert columns == {c.name for c in schema.delay_cases.columns}
        assert "rm_clock_runs_notices_open" in {
            i["name"] for i in inspector.get_indexes("rm_clock_runs")
        }
        assert "rm_delay_cases_overdue" in {
            i["name"] for i in inspector.get_indexes("rm_delay_cases")
        }
    finally:
        engine.dispose()


def test_a_view_index_of_an_earlier_shape_is_made_again_and_a_retired_one_dropped(
    database_url: str,
) -> None:
    engine = sa.create_engine(database_url)
    try:
        schema.create_all(engine)
        # as an earlier version made it: the period alone, not the figures it now covers
        index_made_as_before(
            engine,
            "rm_cases_accepted_period",
            "CREATE INDEX rm_cases_accepted_period ON rm_cases (view_set, accepted_period)",
        )
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE INDEX rm_cases_retired ON rm_cases (view_set, rating)"))
        schema.create_all(engine)
        found = {
            i["name"]: list(i["column_names"]) for i in sa.inspect(engine).get_indexes("rm_cases")
        }
        wanted = next(i for i in schema.cases.indexes if i.name == "rm_cases_accepted_period")
        assert found["rm_cases_accepted_period"] == schema.index_columns(
            wanted, engine.dialect.name
        )
        assert len(found["rm_cases_accepted_period"]) > 2
        assert "rm_cases_retired" not in found
    finally:
        engine.dispose()


def test_a_party_index_made_whole_by_an_earlier_version_is_made_partial(
    database_url: str,
) -> None:
    """The custody's party indexes hold only the intervals with such a party; one an earlier
    version made of every interval (the same columns) is made again."""
    engine = sa.create_engine(database_url)
    try:
        schema.create_all(engine)
        index_made_as_before(
            engine,
            "rm_custody_leader",
            "CREATE INDEX rm_custody_leader ON rm_custody (view_set, leader, end_s)",
        )
        schema.create_all(engine)
        dialect = engine.dialect.name
        found = {i["name"]: i for i in sa.inspect(engine).get_indexes("rm_custody")}
        for name in ("rm_custody_holder", "rm_custody_handler", "rm_custody_leader"):
            where = found[name]["dialect_options"].get(f"{dialect}_where")
            assert where is not None, name
            assert "IS NOT NULL" in str(where).upper(), (name, str(where))
    finally:
        engine.dispose()


def test_on_postgresql_a_case_table_holds_one_view_set_and_byte_ordered_keys(
    database_url: str,
) -> None:
    """A partition holds one view set: its indexes leave the view set out and its key has it
    last; ids, periods and codes compare byte by byte. A case table of an earlier version
    (the database's collation) is made again."""
    engine = sa.create_engine(database_url)
    try:
        schema.create_all(engine)
        if engine.dialect.name != "postgresql":
            indexes = sa.inspect(engine).get_indexes("rm_custody")
            assert all(i["column_names"][0] == "view_set" for i in indexes)
            return
        made_as_before(
            engine,
            "rm_patterns",
            "CREATE TABLE rm_patterns (view_set VARCHAR(80) NOT NULL, "
            "case_id VARCHAR(32) NOT NULL, seq INTEGER NOT NULL, kind VARCHAR(40) NOT "
            "NULL, unit VARCHAR(32), person VARCHAR(32), at_s FLOAT NOT NULL, "
            "detail TEXT NOT NULL, PRIMARY KEY (view_set, case_id, seq)) "
            "PARTITION BY LIST (view_set)",
        )
        schema.create_all(engine)
        inspector = sa.inspect(engine)
        held: dict[str, list[str]] = {}
        for table in schema.CASE_TABLES:
            for index in inspector.get_indexes(table.name):
                assert "view_set" not in index["column_names"], (table.name, index["name"])
                assert index["include_columns"][0] == "view_set", (table.name, index["name"])
                held[str(index["name"])] = index["column_names"] + index["include_columns"][1:]
        # the on-time rates' indexes sort by period and clock only, and hold the rest
        on_time = ["cancelled", "deadline_end_s", "started_s", "stopped_s", "unit", "case_id"]
        assert held["rm_clock_runs_deadline_period"] == ["deadline_period", "clock", *on_time]
        assert held["rm_clock_runs_started_period"] == ["started_period", "clock", *on_time]
        assert held["rm_custody_holder"] == ["holder_unit", "end_s"]
        key = inspector.get_pk_constraint("rm_patterns")["constrained_columns"]
        assert key == ["case_id", "seq", "view_set"]
        collations = {
            c["name"]: getattr(c["type"], "collation", None)
            for c in inspector.get_columns("rm_patterns")
        }
        assert collations["case_id"] == collations["kind"] == collations["view_set"] == "C"
        assert collations["detail"] is None
    finally:
        engine.dispose()
