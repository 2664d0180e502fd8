"""Statistical period labels, cached: a rebuild asks for them millions of times."""

from __future__ import annotations

from datetime import date

from domain.rulebook import StatisticalPeriod

_LABELS: dict[tuple[str, int], dict[date, str]] = {}


def period_label(period: StatisticalPeriod, day: date) -> str:
    """The statistical period a local day falls in, e.g. ``2025-03``."""
    labels = _LABELS.setdefault((period.kind, period.start_day), {})
    label = labels.get(day)
    if label is None:
        label = labels[day] = period.containing(day).label
    return label
