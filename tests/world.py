"""A small city for the stories: a petition office, departments, a government, the province.

Every test that needs people and units builds this world through the ledger itself, so the
directory's own commands are exercised on both databases too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.petitioners import Petitioner
from ledger.application import Actor, CommandResult, Ledger


@dataclass
class World:
    ledger: Ledger
    office: UUID  # 市信访局
    housing: UUID  # 住建局
    labour: UUID  # 人社局
    city: UUID  # 市政府 (decides 复查)
    province: UUID  # 省信访局 (decides 复核)
    supervision: UUID  # 市督查室
    clerk: UUID  # 王芳, 信访干部 at the office
    housing_handler: UUID  # 李明, 承办人 at 住建局
    housing_head: UUID  # 赵局长
    labour_handler: UUID  # 张伟
    city_reviewer: UUID  # 孙科长 at 市政府
    province_reviewer: UUID
    supervisor: UUID
    leader: UUID  # 陈副市长, takes personal charge (包案)
    petitioner: Petitioner
    _counter: int = 0

    def as_(self, person: UUID, unit: UUID | None) -> Actor:
        return Actor(person, unit)

    @property
    def at_office(self) -> Actor:
        return Actor(self.clerk, self.office)

    @property
    def at_housing(self) -> Actor:
        return Actor(self.housing_handler, self.housing)

    @property
    def as_petitioner(self) -> Actor:
        return Actor(self.petitioner.petitioner_id, None)

    def command_id(self) -> str:
        self._counter += 1
        return f"cmd-{self._counter}"

    def register(
        self, received: datetime, *, registered_after: timedelta = timedelta(hours=2), **over: Any
    ) -> CommandResult:
        """Register a housing claim received at ``received``; ``over`` changes any field."""
        fields: dict[str, Any] = {
            "channel": "来信",
            "received_at": received,
            "matter_kind": "申诉求决",
            "category": "住房保障",
            "summary": "公租房屋顶漏水，多次报修无人处理",
            "petitioner_kind": "实名",
            "petitioners": [self.petitioner],
            "headcount": 1,
        }
        fields.update(over)
        return self.ledger.register_case(
            actor=self.at_office,
            occurred_at=received + registered_after,
            command_id=self.command_id(),
            **fields,
        )

    def act(
        self, case_id: UUID, action: str, actor: Actor, occurred_at: datetime, **arguments: Any
    ) -> CommandResult:
        return self.ledger.act(
            case_id,
            action,
            actor=actor,
            occurred_at=occurred_at,
            command_id=self.command_id(),
            **arguments,
        )


def build_world(ledger: Ledger, founded: datetime) -> World:
    admin = Actor(uuid4(), None)
    n = 0

    def cid() -> str:
        nonlocal n
        n += 1
        return f"setup-{n}"

    def unit(name: str, code: str, kind: str, parent: UUID | None = None) -> UUID:
        return ledger.create_unit(
            actor=admin,
            occurred_at=founded,
            command_id=cid(),
            name=name,
            code=code,
            kind=kind,
            parent=parent,
        ).aggregate_id

    def person(name: str, unit_id: UUID, role: str) -> UUID:
        person_id = ledger.create_person(
            actor=admin, occurred_at=founded, command_id=cid(), name=name
        ).aggregate_id
        ledger.update_person(
            person_id,
            "join",
            actor=admin,
            occurred_at=founded,
            command_id=cid(),
            unit=unit_id,
            role=role,
        )
        return person_id

    province = unit("省信访局", "SXF", "信访部门")
    city = unit("市人民政府", "SZF", "政府机关", province)
    office = unit("市信访局", "XF", "信访部门", city)
    housing = unit("市住建局", "ZJ", "职能部门", city)
    labour = unit("市人社局", "RS", "职能部门", city)
    supervision = unit("市政府督查室", "DC", "督查部门", city)
    return World(
        ledger=ledger,
        office=office,
        housing=housing,
        labour=labour,
        city=city,
        province=province,
        supervision=supervision,
        clerk=person("王芳", office, "信访干部"),
        housing_handler=person("李明", housing, "承办人"),
        housing_head=person("赵建国", housing, "负责人"),
        labour_handler=person("张伟", labour, "承办人"),
        city_reviewer=person("孙丽", city, "工作人员"),
        province_reviewer=person("周强", province, "工作人员"),
        supervisor=person("吴敏", supervision, "工作人员"),
        leader=person("陈志华", city, "副职"),
        petitioner=Petitioner(uuid4(), name="张秀英", phone="13800000000"),
    )
