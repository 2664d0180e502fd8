"""Chinese words for what the views return in code words: event types, pattern kinds,
metrics, roles. Clock names are the rulebook's own titles (``clock_titles``): rules are data,
their names too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.rulebook import RuleSet

EVENTS: dict[str, str] = {
    "Registered": "登记",
    "Routed": "转送/交办",
    "JurisdictionObjected": "管辖异议",
    "ObjectionDecided": "异议决定",
    "Accepted": "受理",
    "Refused": "不予受理",
    "HandlerAssigned": "指定承办人",
    "LeadAssigned": "领导包案",
    "LeadReleased": "包案解除",
    "ExtensionRequested": "申请延期",
    "ExtensionDecided": "延期审批",
    "ClockPaused": "中止计时",
    "ClockResumed": "恢复计时",
    "SupervisionIssued": "督办",
    "SupervisionAnswered": "督办回复",
    "Replied": "书面答复",
    "Rated": "满意度评价",
    "AppealFiled": "申请复查/复核",
    "AppealDecided": "复查/复核决定",
    "Closed": "办结",
    "Reopened": "重新办理",
    "MergedInto": "合并",
    "Withdrawn": "撤回",
    "IdentityDisclosed": "查看举报人身份（已记录）",
    "PersonalDataErased": "个人信息删除",
    "Corrected": "更正",
}

PATTERNS: dict[str, str] = {
    "ping_pong": "推诿：来回转办（A→B→A）",
    "excess_transfers": "推诿：转办次数超限",
    "late_jurisdiction_objection": "推诿：逾期提出管辖异议",
    "backdating": "补录倒签（发生时间远早于记录时间）",
    "late_registration": "迟延登记",
    "ignored_supervision": "督办逾期未回复",
    "overturned": "答复被复查/复核撤销或变更",
    "repeat": "重复信访",
}
"""The pattern lists the console shows, in this order."""

PATTERN_GROUPS: dict[str, tuple[str, ...]] = {
    "推诿": ("ping_pong", "excess_transfers", "late_jurisdiction_objection"),
    "倒签与迟登": ("backdating", "late_registration"),
    "督办被忽视": ("ignored_supervision",),
    "答复被推翻": ("overturned",),
    "重复访": ("repeat",),
}

METRICS: dict[str, str] = {
    "on_time_registration_rate": "及时登记率",
    "on_time_routing_rate": "及时转送率",
    "on_time_acceptance_rate": "及时受理率",
    "on_time_completion_rate": "按期办结率",
    "participation_rate": "参评率",
    "satisfaction_rate": "满意率",
    "repeat_petition_rate": "重复信访率",
    "skip_level_rate": "越级上访率",
    "collective_visit_rate": "集体上访率",
    "first_contact_settlement_rate": "初信初访办结率",
    "cease_rate": "息诉罢访率",
}

ROLES: dict[str, str] = {
    "registrar": "信访办登记",
    "handler": "承办单位",
    "leader": "包案领导",
    "supervisor": "督查",
    "inspector": "纪检监察",
    "assessor": "考核",
    "admin": "管理员",
}

PARTIES: dict[str, str] = {"unit": "单位", "person": "承办人", "leader": "包案领导"}

FLAGS: dict[str, str] = {
    "collective": "集体访",
    "skip_level": "越级访",
    "confidential": "保密（检举控告）",
    "repeat": "重复访",
}

DEADLINE_STATUS: dict[str, str] = {
    "running": "计时中",
    "overdue": "已超期",
    "no clock running": "无计时",
    "in force": "有效",
}


def clock_titles(rules: RuleSet) -> dict[str, str]:
    """Each clock's title as the rulebook gives it (办理, 督办 …)."""
    return {name: rule.title for name, rule in rules.rulebook.clocks.items()}


def excluded_label(excluded: str | None) -> str:
    """Why an interval counts against nobody."""
    if excluded is None:
        return ""
    if excluded == "petitioner":
        return "信访人申请期，不计入任何单位"
    if excluded.startswith("paused:"):
        return f"中止（{excluded.removeprefix('paused:')}），不计入"
    return f"不计入（{excluded}）"


def deadline_status(text: str | None) -> str:
    if text is None:
        return ""
    if text.startswith("not yet computable"):
        year = "".join(ch for ch in text if ch.isdigit())
        return f"暂无法计算：{year} 年工作日历未载入"
    if text.startswith("clock stopped") or text.startswith("not counted"):
        return "计时停止" + text[text.find("(") :].replace("(", "（").replace(")", "）")
    return DEADLINE_STATUS.get(text, text)


def pattern_detail(kind: str, detail: dict[str, Any], name: Callable[[Any], str]) -> str:
    """A pattern's detail in a sentence; ``name`` turns unit ids into names."""
    d = detail
    if kind == "ping_pong":
        trail = " → ".join(name(u) for u in d.get("trail", []))
        return f"退回 {name(d.get('returned_to'))}；转办轨迹：{trail}"
    if kind == "excess_transfers":
        return f"转办 {d.get('transfers')} 次，规则上限 {d.get('allowed')} 次"
    if kind == "late_jurisdiction_objection":
        return f"异议期限 {d.get('deadline')}，逾期后才提出"
    if kind == "backdating":
        event = EVENTS.get(str(d.get("event")), d.get("event"))
        return f"「{event}」（第 {d.get('version')} 版）发生后 {d.get('hours')} 小时才记录"
    if kind == "late_registration":
        return f"收件后 {d.get('hours')} 小时才登记"
    if kind == "ignored_supervision":
        return f"第 {d.get('notice_no')} 号督办，限 {d.get('deadline')} 前书面回复，逾期未复"
    if kind == "overturned":
        return f"{d.get('level')}{d.get('decision')}（决定单位：{name(d.get('decided_by'))}）"
    if kind == "repeat":
        return f"前案 {d.get('repeat_of')}"
    return "；".join(f"{k}: {name(v)}" for k, v in d.items())
