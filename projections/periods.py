"""Statistical period labels, cached: a rebuild asks for them millions of times."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from domain.rulebook import StatisticalPeriod


@lru_cache(maxsize=8192)
def period_label(period: StatisticalPeriod, day: date) -> str:
    """The statistical period a local day falls in, e.g. ``2025-03``."""
    return period.containing(day).label
