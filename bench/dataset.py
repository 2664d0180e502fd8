"""The benchmarks' data set: ``petition generate``'s province, written in bulk (``generate``).

Kept as a module of its own so every benchmark writes the same data the same way."""

from __future__ import annotations

from collections.abc import Callable

from generate.run import Summary, generate
from ledger.application import Ledger


def write_cases(
    ledger: Ledger,
    *,
    cases: int,
    seed: int = 1,
    years: int = 3,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write ``cases`` generated cases (about ten events each) and a directory of about a
    thousand units."""
    return generate(
        ledger,
        cases=cases,
        seed=seed,
        years=years,
        on_progress=(lambda done, total: on_progress(done)) if on_progress else None,
    )
