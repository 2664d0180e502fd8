"""Statistical period labels, cached: a rebuild asks for them millions of times."""

from __future__ import annotations

from datetime import date

from domain.rulebook import StatisticalPeriod


class PeriodLabels(dict[date, str]):
    """Local day -> the label of the statistical period it falls in (e.g. ``2025-03``), each
    day worked out once: ``labels[day]`` is a dictionary lookup once the day is known."""

    def __init__(self, period: StatisticalPeriod) -> None:
        super().__init__()
        self.period = period

    def __missing__(self, day: date) -> str:
        label = self[day] = self.period.containing(day).label
        return label


_LABELS: dict[tuple[str, int], PeriodLabels] = {}


def period_labels(period: StatisticalPeriod) -> PeriodLabels:
    """The labels of ``period``'s kind of periods (shared by every rule set counting so)."""
    key = (period.kind, period.start_day)
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = PeriodLabels(period)
    return labels
