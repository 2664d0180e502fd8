"""Load a rulebook TOML file and the calendar data it counts with.

    rules = load_rules(RULEBOOKS_DIR / "2022-national.toml")
    rules.deadline("handling", accepted_at)

The rulebook's ``calendar`` field names the calendar data file, relative to the rulebook
file. Every problem is raised as one :class:`~domain.rulebook.RulebookError` that names the
file, the field path (``clocks.handling.day_unit``) and what is wrong or missing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from domain.calendar import WorkingCalendar, YearSchedule
from domain.rulebook import Rulebook, RulebookError, RuleSet

M = TypeVar("M", bound=BaseModel)

RULEBOOKS_DIR = Path(__file__).resolve().parents[1] / "rulebooks"
"""The rulebooks shipped with the source tree."""


def load_rules(rulebook_path: Path) -> RuleSet:
    """The rulebook at ``rulebook_path`` with the calendar it names."""
    rulebook = load_rulebook(rulebook_path)
    calendar = load_calendar(rulebook_path.parent / rulebook.calendar)
    return RuleSet(rulebook=rulebook, calendar=calendar)


def load_rulebook(path: Path) -> Rulebook:
    return _validate(Rulebook, _read_toml(path), path)


def load_calendar(path: Path) -> WorkingCalendar:
    """Calendar data: ``[years.YYYY]`` tables of ``holidays`` and ``working_weekends``."""
    data = _read_toml(path)
    unknown = sorted(set(data) - {"years"})
    if unknown:
        raise RulebookError(f"{path}: {unknown[0]}: unknown field (expected only [years.YYYY])")
    years = data.get("years")
    if not isinstance(years, Mapping) or not years:
        raise RulebookError(f"{path}: years: missing (expected at least one [years.YYYY] table)")
    schedules = []
    for key, table in years.items():
        if not (key.isdigit() and len(key) == 4):
            raise RulebookError(f"{path}: years.{key}: not a four-digit year")
        if not isinstance(table, Mapping):
            raise RulebookError(f"{path}: years.{key}: expected a table")
        schedule = _validate(YearSchedule, {"year": int(key), **table}, path, f"years.{key}")
        schedules.append(schedule)
    return WorkingCalendar.from_schedules(*schedules)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise RulebookError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise RulebookError(f"{path}: not valid TOML: {error}") from None


def _validate(model: type[M], data: object, path: Path, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        # a field's own error is enough: drop the knock-on error of the field containing it
        locs = [e["loc"] for e in errors]
        specific = [
            e
            for e in errors
            if not any(len(o) > len(e["loc"]) and o[: len(e["loc"])] == e["loc"] for o in locs)
        ]
        problems = [_describe(e, prefix) for e in specific]
        raise RulebookError(f"{path}: " + "; ".join(problems)) from None


def _describe(error: ErrorDetails, prefix: str) -> str:
    """One validation problem as ``field.path: what is wrong (got value)``."""
    parts = [prefix] if prefix else []
    for item in error["loc"]:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif not str(item).startswith("function-"):
            parts.append(str(item))
    message = str(error["msg"]).removeprefix("Value error, ")
    if not parts:  # a rule across the whole file: the message names its fields
        return message
    field = ".".join(parts)
    if error["type"] == "missing":
        return f"{field}: missing (required)"
    if error["type"] == "extra_forbidden":
        return f"{field}: unknown field"
    if isinstance(error["input"], Mapping):  # a rule across fields: the message says it
        return f"{field}: {message}"
    return f"{field}: {message} (got {error['input']!r})"
