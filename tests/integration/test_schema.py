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
        assert "rm_delay_cases_worst" in {
            i["name"] for i in inspector.get_indexes("rm_delay_cases")
        }
    finally:
        engine.dispose()
