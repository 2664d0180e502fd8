"""A read-model table made by an earlier projector version gets what this one needs: the
indexes added since, and, if its columns changed, the table again (its rows belong to view
sets the runner refuses, and a rebuild writes them again)."""

from __future__ import annotations

import sqlalchemy as sa

from projections import schema


def test_a_view_table_of_an_earlier_shape_is_made_again(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        schema.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE rm_delay_cases"))
            conn.execute(
                sa.text(
                    "CREATE TABLE rm_delay_cases (view_set VARCHAR(80) NOT NULL, "
                    "case_id VARCHAR(32) NOT NULL, kind VARCHAR(8) NOT NULL, party VARCHAR(32), "
                    "overdue_s FLOAT NOT NULL, ended_s FLOAT NOT NULL)"
                )
            )
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
        with engine.begin() as conn:
            # as an earlier version made it: the period alone, not the figures it now covers
            conn.execute(sa.text("DROP INDEX rm_cases_accepted_period"))
            conn.execute(
                sa.text(
                    "CREATE INDEX rm_cases_accepted_period ON rm_cases (view_set, accepted_period)"
                )
            )
            conn.execute(sa.text("CREATE INDEX rm_cases_retired ON rm_cases (view_set, rating)"))
        schema.create_all(engine)
        found = {
            i["name"]: list(i["column_names"]) for i in sa.inspect(engine).get_indexes("rm_cases")
        }
        wanted = next(i for i in schema.cases.indexes if i.name == "rm_cases_accepted_period")
        assert found["rm_cases_accepted_period"] == [c.name for c in wanted.columns]
        assert len(found["rm_cases_accepted_period"]) > 2
        assert "rm_cases_retired" not in found
    finally:
        engine.dispose()
