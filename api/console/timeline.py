"""The custody timeline (责任链时间轴) of one case, laid out for an inline SVG.

A pure function of what the API returns for the case — its responsibility chain and its
history — and the instant it is seen at: one row per holder, a bar per custody interval, the
overdue part in red (the chain's own ``overdue_s``, at the end of the interval: lateness is
the projections' judgment, never recomputed here), each deadline as a line across the rows
it bound, pauses shaded, and the events that moved the clocks marked on top. Drawn on the
server: no script, no charting library, and what the inspector sees is what the test reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.console.labels import EVENTS, excluded_label

WIDTH = 980
LABEL_W = 180
RIGHT_PAD = 20
TOP = 64  # axis labels and the event lane
ROW_H = 34
BAR_H = 18
BOTTOM = 28

MARKED_EVENTS = frozenset(
    {
        "Routed",
        "Accepted",
        "JurisdictionObjected",
        "ObjectionDecided",
        "LeadAssigned",
        "LeadReleased",
        "ExtensionRequested",
        "ExtensionDecided",
        "ClockPaused",
        "ClockResumed",
        "SupervisionIssued",
        "SupervisionAnswered",
        "Replied",
        "AppealFiled",
        "AppealDecided",
        "Closed",
        "Reopened",
    }
)
PETITIONERS_ROW = "信访人期间（不计任何单位）"
NOBODY = "（无持有单位）"


@dataclass(frozen=True)
class Bar:
    row: int
    x: float
    width: float
    late_x: float
    late_width: float
    excluded: bool
    label: str
    title: str


@dataclass(frozen=True)
class Deadline:
    x: float
    y1: float
    y2: float
    label: str
    title: str
    missed: bool
    label_left: bool  # near the right edge: the label goes on the line's left


@dataclass(frozen=True)
class Marker:
    x: float
    kind: str  # the event type, for its shape and colour
    label: str
    title: str


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    width: int
    height: int
    label_w: int
    rows: list[tuple[float, str]] = field(default_factory=list)  # (y of the row, holder)
    bars: list[Bar] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    now_x: float | None = None
    now_label: str = ""
    row_h: int = ROW_H
    bar_h: int = BAR_H
    top: int = TOP

    @property
    def overdue_bars(self) -> int:
        return sum(1 for b in self.bars if b.late_width > 0)


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f}"


def layout(
    chain: list[dict[str, Any]],
    history: list[dict[str, Any]],
    now: datetime,
    zone: ZoneInfo,
    clocks: dict[str, str],
) -> Timeline | None:
    """The timeline of a case from its chain and history (JSON-shaped, as the API returns
    them: names, ISO instants), seen at ``now``; ``clocks`` are the rulebook's clock titles.
    None if nobody ever held it."""
    if not chain:
        return None

    def local(t: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return t.astimezone(zone).strftime(fmt)

    intervals = []
    for row in chain:
        start = _instant(row["from"])
        assert start is not None
        end = _instant(row["to"]) or now
        holder = row["holder_unit"] or (
            PETITIONERS_ROW if row["excluded"] == "petitioner" else NOBODY
        )
        intervals.append((row, start, max(end, start), holder))
    open_case = any(row["to"] is None for row in chain)
    deadline_ends = [d for row in chain if (d := _instant(row.get("deadline_end"))) is not None]
    t0 = min(start for _, start, _, _ in intervals)
    t1 = max([end for _, _, end, _ in intervals] + deadline_ends + ([now] if open_case else []))
    span = max((t1 - t0).total_seconds(), 3600.0) * 1.03
    plot_w = WIDTH - LABEL_W - RIGHT_PAD

    def x(t: datetime) -> float:
        return round(LABEL_W + (t - t0).total_seconds() / span * plot_w, 1)

    holders = list(dict.fromkeys(holder for *_, holder in intervals))
    row_of = {h: i for i, h in enumerate(holders)}
    timeline = Timeline(width=WIDTH, height=TOP + ROW_H * len(holders) + BOTTOM, label_w=LABEL_W)
    timeline.rows = [(TOP + i * ROW_H, h) for i, h in enumerate(holders)]

    for row, start, end, holder in intervals:
        overdue = float(row.get("overdue_s") or 0.0)
        late_start = max(start, end - timedelta(seconds=overdue))
        clock = clocks.get(row["clock"], row["clock"] or "无时限")
        who = "，".join(p for p in (row["handler"], row["leader"] and f"包案 {row['leader']}") if p)
        title = (
            f"{holder}{'（' + who + '）' if who else ''}\n{row['stage']} · {clock}\n"
            f"{local(start)} → {local(end) if row['to'] else '至今（' + local(now) + '）'}\n"
            f"用时 {row['time_used_days']} 天"
            + (f"，期限 {row['deadline']}" if row["deadline"] else "")
            + (f"，超期 {row['overdue_days']} 天" if overdue > 0 else "")
            + (f"\n{excluded_label(row['excluded'])}" if row["excluded"] else "")
            + (f"\n含延期 {row['extension_days']} 天" if row["extension_days"] else "")
            + (f"\n含中止 {row['pause_days']} 天" if row["pause_days"] else "")
        )
        bx, ex = x(start), x(end)
        lx = x(late_start)
        timeline.bars.append(
            Bar(
                row=row_of[holder],
                x=bx,
                width=max(ex - bx, 1.5),
                late_x=lx,
                late_width=round(ex - lx, 1) if overdue > 0 else 0.0,
                excluded=row["excluded"] is not None,
                label=row["stage"] if ex - bx > 48 else "",
                title=title,
            )
        )

    # A deadline as one line across the rows of the intervals it bound.
    bound: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row, _, _, holder in intervals:
        if row["clock"] and row.get("deadline_end"):
            bound.setdefault((row["clock"], row["deadline_end"]), []).append(
                {"row": row_of[holder], "missed": float(row.get("overdue_s") or 0) > 0, **row}
            )
    for (clock, end_text), rows in bound.items():
        line_at = datetime.fromisoformat(end_text)
        first, last = min(r["row"] for r in rows), max(r["row"] for r in rows)
        extension = max(r["extension_days"] for r in rows)
        pause = max(r["pause_days"] for r in rows)
        name = clocks.get(clock, clock)
        notes = (f"，含延期 {extension} 天" if extension else "") + (
            f"，含中止 {pause} 天" if pause else ""
        )
        timeline.deadlines.append(
            Deadline(
                x=x(line_at),
                y1=TOP + first * ROW_H + 2,
                y2=TOP + (last + 1) * ROW_H - 2,
                label=f"{name}期限 {rows[0]['deadline']}" + (" ⟂延" if extension else ""),
                title=f"{name}期限：{rows[0]['deadline']} 24:00{notes}",
                missed=any(r["missed"] for r in rows),
                label_left=x(line_at) > WIDTH - 160,
            )
        )

    paused_at: datetime | None = None
    for event in history:
        when = _instant(event["occurred_at"])
        if when is None or event["type"] not in MARKED_EVENTS:
            continue
        label = EVENTS.get(event["type"], event["type"])
        detail = _event_detail(event)
        timeline.markers.append(
            Marker(
                x=x(min(max(when, t0), t1)),
                kind=event["type"],
                label=label,
                title=f"{label}{'：' + detail if detail else ''}\n{local(when)}"
                + (f"（{event['actor_unit']}）" if event.get("actor_unit") else ""),
            )
        )
        if event["type"] == "ClockPaused":
            paused_at = when
        elif event["type"] == "ClockResumed" and paused_at is not None:
            timeline.bands.append(
                Band(
                    x=x(paused_at),
                    width=max(x(when) - x(paused_at), 1.5),
                    title=f"中止 {local(paused_at)} → {local(when)}",
                )
            )
            paused_at = None
    if paused_at is not None:
        timeline.bands.append(
            Band(x=x(paused_at), width=max(x(now) - x(paused_at), 1.5), title="中止至今")
        )

    timeline.ticks = _ticks(t0, t0 + timedelta(seconds=span), zone, x)
    if open_case or t0 <= now <= t1:
        timeline.now_x = x(min(now, t1))
        timeline.now_label = f"截至 {local(now)}"
    return timeline


def _event_detail(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    parts = []
    for key in ("to_unit", "mode", "days", "days_granted", "decision", "reason", "level"):
        value = data.get(key)
        if value not in (None, ""):
            parts.append(f"{value}天" if key in ("days", "days_granted") else str(value))
    if "deadline" in data and event["type"] == "SupervisionIssued":
        parts.append(f"限 {data['deadline']}")
    return " ".join(parts)


def _ticks(t0: datetime, t1: datetime, zone: ZoneInfo, x: Any) -> list[Tick]:
    """Month starts on a long axis, Mondays on a middling one, days on a short one."""
    span_days = (t1 - t0).total_seconds() / 86400
    start = t0.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    ticks: list[Tick] = []
    if span_days > 75:
        step_months = max(1, round(span_days / 30 / 10))
        month = start.replace(day=1)
        while month <= t1:
            if month >= t0:
                ticks.append(Tick(x(month), month.strftime("%Y-%m")))
            year, m = divmod(month.month - 1 + step_months, 12)
            month = month.replace(year=month.year + year, month=m + 1)
        return ticks
    step = 1 if span_days <= 12 else 7 if span_days <= 75 else 14
    day = start
    if step == 7:
        day -= timedelta(days=day.weekday())
    while day <= t1:
        if day >= t0:
            ticks.append(Tick(x(day), day.strftime("%m-%d")))
        day += timedelta(days=step)  # wall-clock arithmetic: midnight stays midnight
    return ticks
