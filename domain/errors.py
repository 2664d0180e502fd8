"""One error hierarchy for the whole domain.

Every refusal says *what* was refused and *why*, in words a clerk can act on. Each class has a
stable ``code`` that the API turns into a problem type; the entrypoints map classes to
statuses in one place, never here.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError, ValueError):
    """A command's data is malformed or incomplete (nothing about the process)."""

    code = "invalid-input"


class ProcessRuleViolation(DomainError):
    """The action is impossible or unlawful in the 信访 process at the case's current stage."""

    code = "process-rule"


class CaseNotActive(ProcessRuleViolation):
    """The case is closed (办结), merged or withdrawn: only reopen or correct are possible."""

    code = "case-not-active"


class NoStanding(ProcessRuleViolation):
    """The actor has no standing to take this action on this case."""

    code = "no-standing"


class AppealNotAllowed(ProcessRuleViolation):
    """复查/复核 requested out of order, or after the final 复核 decision."""

    code = "appeal-not-allowed"


class TimeOutOfOrder(ProcessRuleViolation):
    """occurred_at is in the future, or before the matter was received."""

    code = "time-out-of-order"


class NotCorrectable(ProcessRuleViolation):
    """A correction names an event or field that cannot be corrected."""

    code = "not-correctable"


class NotFound(DomainError):
    """No case, unit or person with that identity."""

    code = "not-found"


class ConcurrentUpdate(DomainError):
    """Someone else changed the record first; reload it and decide again."""

    code = "concurrent-update"

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
