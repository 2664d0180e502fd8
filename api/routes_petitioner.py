"""The petitioner's own view (条例 Art 21): with the receipt code (查询码) from registration,
and nothing else, a petitioner follows their case and rates the reply. They see nothing about
anyone else: no names of officials, no other cases."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from api.deps import LedgerDep
from api.routes_cases import receipt_hash
from api.security import Unauthenticated
from domain.case import Case
from domain.errors import NotFound
from ledger.application import Actor, Ledger

router = APIRouter(prefix="/petitioner")

ReceiptCode = Annotated[str, Header(alias="X-Receipt-Code", max_length=120)]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: str = Field(max_length=8, description="满意, 基本满意 or 不满意")
    comment: str = Field(default="", max_length=2000)


def _case(ledger: Ledger, code: str) -> Case:
    """The case a receipt code belongs to; every failure looks the same to the caller."""
    number, _, secret = code.rpartition(".")
    try:
        case = ledger.get_case(ledger.find_case_id(number))
    except (NotFound, ValueError):
        raise Unauthenticated("the receipt code is not valid") from None
    expected = case.receipt_hash or ""
    if not secret or not hmac.compare_digest(expected, receipt_hash(secret)):
        raise Unauthenticated("the receipt code is not valid")
    return case


@router.get("/case", operation_id="petitionerCase")
def progress(ledger: LedgerDep, code: ReceiptCode) -> dict[str, Any]:
    """Where the matter stands, and the reply when there is one."""
    case = _case(ledger, code)
    reply = next((e for e in reversed(ledger.history(case.id)) if e.type == "Replied"), None)
    rated = case.replies > 0 and case.rated_replies >= case.replies
    return {
        "case_number": case.case_number,
        "stage": case.stage.value,
        "received_at": case.received_at.isoformat(),
        "registered_at": case.registered_at.isoformat(),
        "reply": None
        if reply is None
        else {
            "outcome": reply.data["outcome"],
            "text": reply.data["text"],
            "delivered_at": reply.data["delivered_at"].isoformat(),
        },
        "can_rate": case.replies > 0 and not rated,
    }


@router.post("/case/rating", operation_id="petitionerRate")
def rate(body: RatingIn, ledger: LedgerDep, code: ReceiptCode) -> dict[str, Any]:
    """满意度评价 of the reply, by the petitioner holding the receipt code."""
    case = _case(ledger, code)
    result = ledger.act(
        case.id,
        "rate",
        actor=Actor(case.petitioner_ids[0], None),
        occurred_at=datetime.now(UTC),
        command_id=f"petitioner:{uuid4().hex}",
        rating=body.rating,
        comment=body.comment,
    )
    return {"case_number": case.case_number, "version": result.version}
