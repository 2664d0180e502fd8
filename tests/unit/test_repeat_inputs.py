"""Which written cases can change a repeat judgment: only those whose petitioner rows (who,
on what matter, received, closed) are not what they were."""

from __future__ import annotations

from typing import Any

from projections.repeats import PetitionerRow, changed

VS = "live"


def row(case: str, petitioner: str, closed: float | None = None) -> PetitionerRow:
    return (case, petitioner, "土地承包", 1_000.0, closed)


def stored(*rows: PetitionerRow) -> list[tuple[Any, ...]]:
    return [(VS, *r) for r in rows]


def test_an_action_that_changes_no_petitioner_row_changes_no_repeat() -> None:
    before = [row("a", "p"), row("b", "q", 2_000.0)]
    assert changed(["a", "b"], before, stored(*before)) == set()


def test_a_closing_a_new_case_and_a_changed_petitioner_each_count() -> None:
    before = [row("a", "p"), row("b", "q"), row("c", "r")]
    after = stored(row("a", "p", 5_000.0), row("b", "q"), row("c", "s"), row("d", "p"))
    assert changed(["a", "b", "c", "d"], before, after) == {"a", "c", "d"}


def test_a_case_whose_rows_are_gone_counts() -> None:
    assert changed(["a"], [row("a", "p")], []) == {"a"}
    assert changed([], [row("a", "p")], []) == {"a"}
