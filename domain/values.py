"""The vocabulary of the process: closed sets of values, each with its Chinese term.

Events store the plain string value (the Chinese term where there is one) so that the log
reads the same to a person as to a program, and an enum can grow without rewriting history.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidInput


class Channel(StrEnum):
    """How the matter arrived (信访形式)."""

    LETTER = "来信"
    VISIT = "来访"
    PHONE = "电话"
    ONLINE = "网上"
    MAILBOX = "领导信箱"


class MatterKind(StrEnum):
    """The three kinds of matter of the 2022 信访工作条例."""

    SUGGESTION = "建议意见"
    REPORT = "检举控告"  # goes to 纪检监察; the informant's identity is protected
    CLAIM = "申诉求决"  # the 60-day handling clock


class RoutingMode(StrEnum):
    """转送 passes a matter to the competent unit; 交办 assigns it with a duty to report back."""

    TRANSFER = "转送"
    ASSIGN = "交办"


class ReplyOutcome(StrEnum):
    """The written reply's outcome (处理意见)."""

    SUPPORTED = "支持"
    EXPLAINED = "解释说明"
    NOT_SUPPORTED = "不予支持"


class Rating(StrEnum):
    """The petitioner's satisfaction rating (满意度评价)."""

    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"


class AppealLevel(StrEnum):
    """复查 by the level above the replying unit, then 复核 by the level above that (final)."""

    REVIEW = "复查"
    REREVIEW = "复核"


class AppealDecision(StrEnum):
    """The reviewing unit's decision on the reply it reviewed."""

    UPHELD = "维持"
    OVERTURNED = "撤销"
    PARTLY = "部分变更"


class PauseReason(StrEnum):
    """Why a clock is stopped (中止): whether it counts is the rulebook's call, not ours."""

    HEARING = "听证"
    APPRAISAL = "鉴定"
    OTHER = "其他"


class ExtensionDecision(StrEnum):
    APPROVED = "批准"
    REJECTED = "不批准"


class PetitionerKind(StrEnum):
    NAMED = "实名"
    ANONYMOUS = "匿名"
    GROUP = "集体"


class UnitKind(StrEnum):
    """What a unit is; hierarchies differ (师/团/连, 市/乡/村, an enterprise's departments)."""

    PETITION_OFFICE = "信访部门"
    GOVERNMENT = "政府机关"
    DEPARTMENT = "职能部门"
    SUPERVISION = "督查部门"
    DISCIPLINE = "纪检监察"
    ENTERPRISE = "企业"
    GRASSROOTS = "基层单位"


class Role(StrEnum):
    """A person's role in a unit."""

    HEAD = "负责人"
    DEPUTY = "副职"
    CLERK = "信访干部"
    HANDLER = "承办人"
    INSPECTOR = "纪检干部"
    STAFF = "工作人员"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: str | E, field: str) -> E:
    """Parse a value of a closed set, naming the field and the allowed values on failure."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"{field}: {value!r} is not one of: {allowed}") from None
