"""Rulebooks: the shipped ones load, a rule change changes judgments, nonsense is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.case import Case
from domain.rulebook import EVENT_TYPES, EventMatch, RulebookError, StatisticalPeriod
from projections.rulebook_loader import (
    RULEBOOKS_DIR,
    load_calendar,
    load_rulebook,
    load_rules,
)

NATIONAL = RULEBOOKS_DIR / "2022-national.toml"
LOCAL = RULEBOOKS_DIR / "local-working-days.toml"
CALENDAR_FILE = RULEBOOKS_DIR / "calendar" / "cn-official.toml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def test_the_national_rulebook_loads_with_the_2022_defaults() -> None:
    rules = load_rules(NATIONAL)
    book = rules.rulebook
    assert (book.name, book.timezone, book.effective_from) == (
        "2022-national",
        "Asia/Shanghai",
        date(2022, 5, 1),
    )
    handling = book.clock("handling")
    assert (handling.limit_days, handling.day_unit, handling.start_day_counts) == (
        60,
        "calendar",
        False,
    )
    assert handling.roll_to_working_day
    assert (handling.max_extension_days, handling.max_extensions) == (30, 1)
    assert handling.excluded_pause_reasons == {"听证", "鉴定"}
    assert not handling.restart_on_transfer
    objection = book.clock("jurisdiction_objection")
    assert (objection.limit_days, objection.day_unit) == (5, "working")
    assert book.clock("supervision").fixed_limit is None
    assert book.clock("review_request").held_by == "petitioner"
    assert book.definitions.collective_visit_min_headcount == 5
    assert book.definitions.satisfied == {"满意", "基本满意"}
    assert book.definitions.ranking.bottom_n == 3
    assert rules.calendar.known_years == frozenset(range(2004, 2027))


def test_the_local_rulebook_loads_with_working_days_and_a_lower_threshold() -> None:
    book = load_rules(LOCAL).rulebook
    assert book.name == "local-working-days"
    assert book.clock("handling").day_unit == "working"
    assert book.clock("review_request").day_unit == "calendar"  # the petitioner's own time
    assert book.definitions.collective_visit_min_headcount == 3
    assert book.definitions.period.start_day == 21


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # 2022 defaults: Fri 09-26 + 60 calendar days -> Tue 11-25
        (NATIONAL, date(2025, 11, 25)),
        # local rule: 40 working days from Fri 09-26, over National Day and two 调休 -> Thu 11-27
        (LOCAL, date(2025, 11, 27)),
    ],
)
def test_the_same_fact_is_judged_under_either_rulebook(path: Path, expected: date) -> None:
    assert load_rules(path).deadline("handling", local("2025-09-26 10:00")) == expected


def test_every_event_type_a_rule_may_name_is_a_case_event() -> None:
    for name in EVENT_TYPES:
        event_class = getattr(Case, name)
        assert issubclass(event_class, Case.Event), name


def test_clocks_started_by_an_event() -> None:
    book = load_rulebook(NATIONAL)
    assert book.clocks_started_by("Routed") == ["acknowledgement", "jurisdiction_objection"]
    assert book.clocks_started_by("AppealFiled", "复查") == ["review_decision"]
    assert book.clocks_started_by("AppealFiled", "复核") == ["rereview_decision"]
    assert book.clocks_started_by("Rated") == []  # starts nothing


@pytest.mark.parametrize(
    ("match", "event_type", "level", "matches"),
    [
        (EventMatch.model_validate("Replied"), "Replied", None, True),  # the name alone
        (EventMatch.model_validate("Replied"), "Rated", None, False),  # another event
        (EventMatch(event="AppealFiled", level="复查"), "AppealFiled", "复查", True),  # its level
        (EventMatch(event="AppealFiled", level="复查"), "AppealFiled", "复核", False),  # not 复核
        (EventMatch(event="AppealFiled"), "AppealFiled", "复核", True),  # no level: any level
    ],
)
def test_event_match(match: EventMatch, event_type: str, level: str | None, matches: bool) -> None:
    assert match.matches(event_type, level) is matches


def test_an_unknown_clock_name_is_a_rulebook_error() -> None:
    with pytest.raises(RulebookError, match="no clock 'handlng'"):
        load_rulebook(NATIONAL).clock("handlng")


# --- deadlines through the rule set -----------------------------------------------------------

RULES = load_rules(NATIONAL)


@pytest.mark.parametrize(
    ("granted", "expected"),
    [
        ([], date(2025, 5, 6)),  # Mon 03-03 + 60 days -> Fri 05-02, 劳动节 -> Tue 05-06
        ([30], date(2025, 6, 3)),  # + 30 -> Sun 06-01, 端午节 -> Tue 06-03
        ([45], date(2025, 6, 3)),  # 45 granted, 30 count -> Tue 06-03
        ([10, 20], date(2025, 5, 12)),  # only the first of two extensions counts: 70 -> 05-12
    ],
)
def test_extensions_count_up_to_the_rulebook_maximum(granted: list[int], expected: date) -> None:
    start = local("2025-03-03 10:00")
    assert RULES.deadline("handling", start, extensions_granted=granted) == expected


@pytest.mark.parametrize(
    ("clock", "reason", "days"),
    [
        ("handling", "听证", 3),  # a hearing is excluded from handling: Mon..Wed covered
        ("handling", "鉴定", 3),  # so is an appraisal
        ("handling", "其他", 0),  # any other pause counts against the holder
        ("rereview_decision", "听证", 3),  # 复核 excludes hearings (Art 36)
        ("rereview_decision", "鉴定", 0),  # but not appraisals
        ("review_decision", "听证", 0),  # 复查 excludes nothing
    ],
)
def test_only_excluded_pauses_move_the_deadline(clock: str, reason: str, days: int) -> None:
    paused, resumed = local("2025-03-03 00:00"), local("2025-03-06 00:00")
    assert RULES.pause_days(clock, reason, paused, resumed) == days


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"notice_deadline": date(2025, 3, 15)}, date(2025, 3, 15)),  # a Sat, taken as written
        ({"notice_limit_days": 10}, date(2025, 3, 13)),  # Mon 03-03 + 10 days -> Thu 03-13
    ],
)
def test_a_supervision_notice_sets_its_own_deadline(
    kwargs: dict[str, object], expected: date
) -> None:
    issued = local("2025-03-03 10:00")
    assert RULES.deadline("supervision", issued, **kwargs) == expected  # type: ignore[arg-type]


def test_a_supervision_deadline_needs_the_notice() -> None:
    with pytest.raises(ValueError, match="from the notice"):
        RULES.deadline("supervision", local("2025-03-03 10:00"))


# --- statistical periods ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "day", "label", "first", "last"),
    [
        # calendar month
        (("month", 1), date(2025, 3, 5), "2025-03", date(2025, 3, 1), date(2025, 3, 31)),
        # 21st-to-20th month: 03-20 is the last day of the period named 2025-03
        (("month", 21), date(2025, 3, 20), "2025-03", date(2025, 2, 21), date(2025, 3, 20)),
        # ... and 03-21 the first day of 2025-04
        (("month", 21), date(2025, 3, 21), "2025-04", date(2025, 3, 21), date(2025, 4, 20)),
        # ... which crosses the year: 2024-12-25 belongs to 2025-01
        (("month", 21), date(2024, 12, 25), "2025-01", date(2024, 12, 21), date(2025, 1, 20)),
        # calendar quarter
        (("quarter", 1), date(2025, 5, 5), "2025-Q2", date(2025, 4, 1), date(2025, 6, 30)),
        # 21st-to-20th quarter: Q1 runs from 2024-12-21
        (("quarter", 21), date(2024, 12, 21), "2025-Q1", date(2024, 12, 21), date(2025, 3, 20)),
        # calendar year
        (("year", 1), date(2025, 12, 31), "2025", date(2025, 1, 1), date(2025, 12, 31)),
        # 21st-to-20th year
        (("year", 21), date(2025, 12, 20), "2025", date(2024, 12, 21), date(2025, 12, 20)),
    ],
)
def test_statistical_period_containing(
    period: tuple[str, int], day: date, label: str, first: date, last: date
) -> None:
    kind, start_day = period
    bounds = StatisticalPeriod.model_validate({"kind": kind, "start_day": start_day}).containing(
        day
    )
    assert (bounds.label, bounds.first, bounds.last) == (label, first, last)


# --- the loader refuses nonsense, naming the file and the field ----------------------------


def broken_rulebook(tmp_path: Path, old: str, new: str, source: Path = NATIONAL) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {source.name}"
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        # a required field removed from the handling clock
        (
            'limit_days = 60\nday_unit = "calendar"\n',
            "limit_days = 60\n",
            "clocks.handling.day_unit",
            "missing",
        ),
        # an unknown day unit
        (
            'limit_days = 60\nday_unit = "calendar"',
            'limit_days = 60\nday_unit = "weekday"',
            "clocks.handling.day_unit",
            "'calendar' or 'working'",
        ),
        # an unknown event type
        (
            'stops_on = ["Replied"]',
            'stops_on = ["Answered"]',
            "clocks.handling.stops_on[0].event",
            "'Answered'",
        ),
        # a negative limit
        ("limit_days = 60", "limit_days = -60", "clocks.handling.limit_days", "0 or more"),
        # a limit that is not a number of days
        ("limit_days = 60", 'limit_days = "sixty"', "clocks.handling.limit_days", "0 or more"),
        # a field nobody defined (a typo)
        ("max_extensions = 1", "max_extension = 1", "clocks.handling.max_extension", "unknown"),
        # a maximum extension without any extension allowed
        ("max_extensions = 1", "max_extensions = 0", "clocks.handling", "both be 0"),
        # a pause reason outside the vocabulary
        ('["听证", "鉴定"]', '["听证", "出差"]', "clocks.handling.excluded_pause_reasons", "出差"),
        # an appeal level on an event that has none
        (
            'starts_on = "Accepted"',
            'starts_on = { event = "Accepted", level = "复查" }',
            "clocks.handling.starts_on",
            "level applies only",
        ),
        # an instant the event does not carry
        (
            'starts_on = "Accepted"',
            'starts_on = { event = "Accepted", at = "delivered_at" }',
            "clocks.handling.starts_on",
            "Accepted has no delivered_at; only AppealDecided, Replied do",
        ),
        # a clock that stops on the event that starts it
        (
            'stops_on = ["Replied"]',
            'stops_on = ["Accepted"]',
            "clocks.handling",
            "starts and stops on Accepted",
        ),
        # the petitioner's own time charged as overdue
        (
            'held_by = "petitioner"\naccrues_overdue = false',
            'held_by = "petitioner"\naccrues_overdue = true',
            "clocks.review_request",
            "attributed to nobody",
        ),
        # a yes/no rule written as a number
        ("start_day_counts = false", "start_day_counts = 0", "start_day_counts", "boolean"),
        # a definition that refers to a clock the rulebook does not have
        (
            'clock = "handling"\ncounted_by',
            'clock = "handle"\ncounted_by',
            "definitions.on_time_completion.clock",
            "'handle' is not a clock",
        ),
        # ranking weights that do not add up to 100
        ("weight = 25", "weight = 35", "definitions.ranking", "add up to 110"),
        # a metric ranked twice
        (
            '{ metric = "skip_level_rate"',
            '{ metric = "repeat_petition_rate"',
            "definitions.ranking",
            "more than once: repeat_petition_rate",
        ),
        # a collective visit of one person
        (
            "collective_visit_min_headcount = 5",
            "collective_visit_min_headcount = 1",
            "definitions.collective_visit_min_headcount",
            "greater than or equal to 2",
        ),
        # a satisfied rating that is not a rated one
        (
            'rated = ["满意", "基本满意", "不满意"]',
            'rated = ["满意", "不满意"]',
            "definitions",
            "基本满意 is not among the rated",
        ),
        # a statistical month starting on a day some months lack
        ("start_day = 1", "start_day = 31", "definitions.period.start_day", "less than or equal"),
        # a time zone that does not exist
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"', "timezone", "time zone"),
    ],
)
def test_the_loader_names_the_file_and_the_field(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    path = broken_rulebook(tmp_path, old, new)
    with pytest.raises(RulebookError) as caught:
        load_rulebook(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"{field}" in message
    assert problem in message
    assert isinstance(caught.value, ValueError)


def test_a_missing_rulebook_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match=r"nowhere\.toml: file not found"):
        load_rulebook(tmp_path / "nowhere.toml")


def test_a_rulebook_that_is_not_toml_is_named(tmp_path: Path) -> None:
    path = broken_rulebook(tmp_path, 'name = "2022-national"', "name = 2022-national")
    with pytest.raises(RulebookError, match=r"broken\.toml: not valid TOML"):
        load_rulebook(path)


def test_a_rulebook_naming_a_missing_calendar_file_is_refused(tmp_path: Path) -> None:
    path = broken_rulebook(tmp_path, 'calendar = "calendar/cn-official.toml"', 'calendar = "x"')
    with pytest.raises(RulebookError, match="file not found"):
        load_rules(path)


def write_calendar(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # a 调休 working weekend that is a Monday
        (
            "[years.2025]\nholidays = []\nworking_weekends = [2025-01-27]\n",
            "years.2025: working_weekends: 2025-01-27 is a Monday",
        ),
        # a holiday filed under the wrong year
        (
            "[years.2025]\nholidays = [2024-10-01]\nworking_weekends = []\n",
            "years.2025: holidays: 2024-10-01 is not in 2025",
        ),
        # a year without its list of working weekends
        ("[years.2025]\nholidays = []\n", "years.2025.working_weekends: missing"),
        # a date that is not a date
        (
            '[years.2025]\nholidays = ["Jan 1"]\nworking_weekends = []\n',
            "years.2025.holidays[0]",
        ),
        # a year that is not a year
        ("[years.25]\nholidays = []\nworking_weekends = []\n", "years.25: not a four-digit"),
        # no years at all
        ("", "years: missing"),
        # something other than years
        ("[holidays]\n", "holidays: unknown field"),
    ],
)
def test_the_calendar_loader_names_the_year_and_the_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write_calendar(tmp_path, text)
    with pytest.raises(RulebookError) as caught:
        load_calendar(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_a_hand_written_year_extends_the_calendar(tmp_path: Path) -> None:
    # an operator adds 2027 by hand (illustrative dates): the year becomes known
    path = write_calendar(
        tmp_path,
        "[years.2027]\nholidays = [2027-01-01]\nworking_weekends = [2027-01-02]\n",
    )
    calendar = load_calendar(path)
    assert calendar.is_working_day(date(2027, 1, 1)) is False  # Fri, a holiday
    assert calendar.is_working_day(date(2027, 1, 2)) is True  # Sat, worked
    assert calendar.is_working_day(date(2027, 1, 4)) is True  # Mon, ordinary
