"""A demo data set: a small city's 信访 case work over two years, told as seeded stories.

The data set is *planned first, written second*. From one ``random.Random(seed)`` the planner
builds the directory (a province, a city with its petition office, supervision office,
discipline commission, functional departments, towns and villages, and the people in them)
and every action of every case, each with the instant it happened (``occurred_at``) and the
instant a clerk wrote it down (``recorded_at``). All actions of all cases are then sorted by
``recorded_at`` and written in that order through the public ``Ledger`` API, with the
ledger's clock set to each action's ``recorded_at``: the log reads like a real office's log,
and the same seed on an empty database writes byte-identical events.

Each case follows a *story*: a pattern from the domain brief (on-time handling, late
handling, passing the buck A→B→A, jurisdiction objections, 领导包案, extensions, pauses, 督办,
appeals through 复查 and 复核, repeat petitions, group visits, anonymous letters, refusals,
withdrawals, merged duplicates, corrections, backdating, cases still open at the end…). The
summary names the cases of each story by their case numbers, so a reader can go and look.
A case carries every story it tells: the planner tags what it actually planned (a reply on
day 75 is tagged ``late`` whatever story asked for it; every reply is tagged with its outcome
and its rating, or ``unrated``).

Every command is one the ``Case`` aggregate accepts; a refusal while writing means the plan
is wrong, and it is raised, never swallowed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from domain.petitioners import Petitioner
from domain.values import (
    AppealDecision,
    AppealLevel,
    Channel,
    ExtensionDecision,
    MatterKind,
    PauseReason,
    PetitionerKind,
    Rating,
    ReplyOutcome,
    Role,
    RoutingMode,
    UnitKind,
)
from ledger.application import Actor, Ledger
from ledger.settings import Settings

__all__ = ["DemoSummary", "write_demo"]

T = TypeVar("T")

# ---------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class DemoSummary:
    """What the demo wrote. ``events`` counts the facts recorded: one per command."""

    units: int
    people: int
    cases: int
    events: int
    stories: dict[str, list[str]]  # story name -> case numbers, e.g. {"ping_pong": [...]}


# ---------------------------------------------------------------------------- the setting

CITY_NAME = "清源市"
FIRST_DAY = date(2024, 1, 2)
LAST_DAY = date(2025, 12, 31)
"""Cases are received from FIRST_DAY; every action is recorded before 18:00 on LAST_DAY."""
FOUNDED = date(2023, 12, 1)
OPEN_MINUTE = 8 * 60 + 30
CLOSE_MINUTE = 17 * 60 + 30

PROVINCE = "SZF"
PROVINCE_OFFICE = "SXF"
CITY = "QY"
OFFICE = "XF"
SUPERVISION = "DC"
DISCIPLINE = "JW"

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("ZJ", "住房和城乡建设局"),
    ("RS", "人力资源和社会保障局"),
    ("MZ", "民政局"),
    ("ZR", "自然资源和规划局"),
    ("NY", "农业农村局"),
    ("SJ", "市场监督管理局"),
    ("GA", "公安局"),
    ("HB", "生态环境局"),
    ("GZ", "国有资产监督管理委员会"),
    ("YB", "医疗保障局"),
)
TOWN_POOL: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("CGZ", "城关镇", ("东关村", "南街村", "北山村")),
    ("HXZ", "河西镇", ("王家庄村", "李家湾村", "河口村")),
    ("LLX", "柳林乡", ("柳林村", "石桥村", "杨树沟村")),
    ("DHQ", "东湖区", ("湖滨村", "新塘村", "渔场村")),
    ("BSZ", "白沙镇", ("白沙村", "马坊村", "中和村")),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
GIVEN_ONE = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉鹏华红玲斌波宇浩凯健俊帆英兰梅琴云峰"
GIVEN_TWO = (
    "秀英",
    "桂英",
    "秀兰",
    "玉兰",
    "桂兰",
    "建华",
    "建国",
    "志强",
    "海燕",
    "春梅",
    "国强",
    "国华",
    "建军",
    "文华",
    "丽娟",
    "晓东",
    "红霞",
    "志明",
    "德明",
    "永刚",
    "淑珍",
    "凤英",
    "金凤",
    "玉梅",
    "学军",
    "振华",
    "晓燕",
    "卫东",
    "丽华",
    "建平",
    "秀珍",
    "明辉",
    "长青",
)
GIVEN_YOUNG = "子文思佳嘉雨欣一诗梓浩宇轩涵晨睿"

COMPANIES = (
    "清源市第二纺织厂",
    "清源机械制造有限公司",
    "宏达建筑工程有限公司",
    "清源市矿务局三矿",
    "新华印刷厂",
    "永昌物业服务有限公司",
    "清源市食品公司",
    "金山建材有限公司",
)
HARDSHIPS = ("丈夫残疾", "本人患重病", "子女上学负担重", "家中无劳动力", "因灾致贫")

# A claim's category: its weight (share of claims), the units competent for it ("TOWN" and
# "VILLAGE" are the petitioner's own town and village), and how petitioners put it.
CLAIMS: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "土地承包",
        14,
        ("NY", "TOWN"),
        (
            "反映{village}二轮承包地调整时被少分{n}亩，多次找村组未果，要求按政策补足承包地",
            "反映{village}将其承包的{n}亩耕地另行发包给他人，要求恢复承包经营权",
            "反映土地确权登记面积与实际承包面积不符，相差{n}亩，要求更正",
        ),
    ),
    (
        "征地拆迁",
        11,
        ("ZR", "ZJ", "TOWN"),
        (
            "反映{town}{village}征收其房屋，补偿标准偏低，要求按{year}年新标准补偿",
            "反映征地补偿款{m}万元至今未足额发放到户，要求公开补偿款分配明细",
            "反映{town}棚户区改造安置房迟迟未交付，已在外过渡{n}个月",
        ),
    ),
    (
        "低保救助",
        12,
        ("MZ", "TOWN"),
        (
            "反映家庭困难（{hardship}），申请低保未获批准，要求重新审核",
            "反映{village}低保评定不公开，有村干部亲属享受低保，要求复核",
            "反映因病致贫，申请临时救助后至今未发放",
        ),
    ),
    (
        "住房保障",
        8,
        ("ZJ",),
        (
            "反映公租房屋顶漏水、墙体开裂，多次报修无人处理",
            "反映申请公租房已{n}年仍未轮候到，要求说明轮候情况",
            "反映所购商品房延期交房{n}个月，要求督促开发商交房并赔偿",
        ),
    ),
    (
        "劳动工资",
        10,
        ("RS",),
        (
            "反映{company}拖欠其{n}个月工资共{m}万元，要求督促支付",
            "农民工反映{company}承建项目拖欠工资，涉及{n}人",
        ),
    ),
    (
        "社会保险",
        8,
        ("RS",),
        (
            "反映原单位{company}未足额缴纳养老保险，影响退休待遇，要求补缴",
            "反映养老金核定时视同缴费年限认定有误，少算{n}年",
        ),
    ),
    (
        "农业保险理赔",
        4,
        ("NY",),
        (
            "反映{village}棉田受灾后保险理赔每亩仅{n}元，与他人相差悬殊，要求核查",
            "反映农业保险投保后受灾未获理赔，要求说明理由",
        ),
    ),
    (
        "医疗保障",
        3,
        ("YB",),
        (
            "反映异地就医费用报销比例过低，要求按政策重新核算",
            "反映大病保险二次报销至今未到账",
        ),
    ),
    (
        "企业改制",
        8,
        ("GZ", "RS"),
        (
            "反映{company}改制时职工身份置换经济补偿金未足额发放",
            "反映{company}下岗职工安置费、医保待遇未落实",
        ),
    ),
    (
        "生态环境",
        5,
        ("HB", "TOWN"),
        (
            "反映{village}附近砖厂粉尘污染严重，影响村民生活",
            "反映{town}养殖场污水直排河道，要求查处",
        ),
    ),
    (
        "市场监管",
        3,
        ("SJ",),
        (
            "反映所购装修材料存在质量问题，商家拒不退换",
            "反映{town}农贸市场缺斤短两，要求整治",
        ),
    ),
    (
        "治安执法",
        3,
        ("GA",),
        (
            "反映邻里纠纷报警后处理不公，要求重新处理",
            "反映被他人殴打致伤，派出所久拖未结",
        ),
    ),
    ("优抚安置", 2, ("MZ",), ("伤残退役军人反映生活困难，抚恤待遇未按规定调整",)),
    (
        "村务管理",
        4,
        ("TOWN", "VILLAGE"),
        (
            "反映{village}村务不公开，集体土地租金{m}万元去向不明，要求公开账目",
            "反映{village}村委会换届选举程序违规",
        ),
    ),
)
# Reports of misconduct (检举控告): category and how the informant puts it.
REPORTS: tuple[tuple[str, str], ...] = (
    ("侵占集体资金", "举报{where}{title}{name}截留征地补偿款，要求查处"),
    ("收受财物", "举报{where}{title}{name}收受他人现金{m}万元，为他人开发土地提供便利"),
    ("优亲厚友", "举报{where}{title}{name}违规为其亲属办理低保"),
    ("违规收费", "举报{where}{title}{name}收取村民罚款不上交财务，怀疑中饱私囊"),
    ("干部作风", "举报{where}{title}{name}门难进、脸难看、事难办，对群众诉求推诿扯皮"),
)
SUGGESTIONS: tuple[tuple[str, str, str], ...] = (
    ("城市建设", "ZJ", "建议在{town}老旧小区增设停车位和电动车充电设施"),
    ("交通管理", "GA", "建议在{town}中学门口增设红绿灯和减速带"),
    ("营商环境", "SJ", "建议简化个体工商户年报流程，推行一网通办"),
    ("农村发展", "NY", "建议加大{village}高标准农田建设投入"),
    ("社会保障", "RS", "建议提高城乡居民基础养老金标准"),
    ("生态环境", "HB", "建议对{town}河道开展常态化保洁"),
)
CHANNELS: tuple[tuple[Channel, int], ...] = (
    (Channel.LETTER, 28),
    (Channel.VISIT, 30),
    (Channel.ONLINE, 24),
    (Channel.PHONE, 10),
    (Channel.MAILBOX, 8),
)
OUTCOMES: tuple[tuple[ReplyOutcome, int], ...] = (
    (ReplyOutcome.SUPPORTED, 38),
    (ReplyOutcome.EXPLAINED, 42),
    (ReplyOutcome.NOT_SUPPORTED, 20),
)
# How petitioners rate each outcome (None: they never rate it).
RATINGS: dict[ReplyOutcome, tuple[tuple[Rating | None, int], ...]] = {
    ReplyOutcome.SUPPORTED: (
        (Rating.SATISFIED, 65),
        (Rating.BASICALLY_SATISFIED, 25),
        (Rating.DISSATISFIED, 2),
        (None, 8),
    ),
    ReplyOutcome.EXPLAINED: (
        (Rating.SATISFIED, 35),
        (Rating.BASICALLY_SATISFIED, 38),
        (Rating.DISSATISFIED, 8),
        (None, 19),
    ),
    ReplyOutcome.NOT_SUPPORTED: (
        (Rating.SATISFIED, 10),
        (Rating.BASICALLY_SATISFIED, 25),
        (Rating.DISSATISFIED, 35),
        (None, 30),
    ),
}
REPLY_TEXTS: dict[ReplyOutcome, tuple[str, ...]] = {
    ReplyOutcome.SUPPORTED: (
        "经核查，反映情况属实。已责成相关单位限期解决，并将处理意见书面告知信访人。",
        "经调查核实，信访人诉求符合政策规定，予以支持，相关款项已于近日落实到位。",
    ),
    ReplyOutcome.EXPLAINED: (
        "经核查，已就相关政策规定向信访人作出解释说明，并告知其后续办理途径。",
        "经调查，信访人反映的问题部分属实，已作出解释说明并督促相关单位整改。",
    ),
    ReplyOutcome.NOT_SUPPORTED: (
        "经核查，信访人诉求缺乏政策和法律依据，不予支持，并告知其可申请复查。",
        "经调查核实，反映问题不属实，诉求不予支持；如不服，可自收到之日起30日内申请复查。",
    ),
}
RATING_COMMENTS: dict[Rating, tuple[str, ...]] = {
    Rating.SATISFIED: ("问题已解决，感谢", "办理及时，态度很好"),
    Rating.BASICALLY_SATISFIED: ("基本解决，希望后续跟进", "答复清楚，但办得慢"),
    Rating.DISSATISFIED: ("问题没有解决", "敷衍了事，推来推去"),
}
APPEAL_TEXTS: dict[AppealDecision, str] = {
    AppealDecision.UPHELD: "原处理意见认定事实清楚、适用政策正确，予以维持。",
    AppealDecision.OVERTURNED: "原处理意见认定事实不清，予以撤销，责成原办理单位重新办理。",
    AppealDecision.PARTLY: "原处理意见部分事实认定有误，对补偿数额部分予以变更。",
}
REFUSALS = (
    "该事项已经复核终结，信访人以同一事实和理由再次提出，不再受理",
    "该诉求属于应当通过诉讼途径解决的民事纠纷，依法不予受理，已告知其向人民法院起诉",
    "该事项已进入劳动仲裁程序，依法不予受理",
)

STORIES: tuple[tuple[str, float, int], ...] = (
    # (story, share of cases, minimum number of times it is told)
    ("ping_pong", 0.02, 1),
    ("transfer_chain", 0.015, 1),
    ("objection", 0.03, 4),
    ("leader_held", 0.03, 1),
    ("extension_approved", 0.02, 1),
    ("extension_beyond_max", 0.004, 1),
    ("extension_rejected", 0.007, 1),
    ("paused", 0.02, 1),
    ("supervision", 0.04, 3),
    ("late", 0.05, 1),
    ("very_late", 0.02, 1),
    ("review", 0.025, 3),
    ("rereview", 0.015, 3),
    ("repeat_petition", 0.02, 1),
    ("group_visit", 0.02, 1),
    ("anonymous", 0.03, 1),
    ("refused", 0.03, 2),
    ("withdrawn", 0.02, 1),
    ("merged_duplicate", 0.01, 1),
    ("corrected", 0.02, 3),
    ("backdated", 0.015, 2),
    ("late_registration", 0.015, 1),
    ("skip_level", 0.01, 1),
    ("open_overdue", 0.02, 1),
    ("open_due_soon", 0.015, 1),
    ("open_new", 0.02, 1),
    ("report", 0.07, 1),
    ("suggestion", 0.05, 1),
)
"""Every other case is an ordinary claim: routed, accepted and answered within the limit."""


# ---------------------------------------------------------------------------- plan records


@dataclass(frozen=True)
class UnitRef:
    """A unit of the planned directory, by code; its id is known once it is written."""

    code: str


@dataclass(frozen=True)
class PersonRef:
    """A person of the planned directory, by key."""

    key: str


@dataclass(frozen=True)
class CaseRef:
    """A planned case; its id is known once its registration is written."""

    key: int


@dataclass(frozen=True)
class Who:
    """Who acts: a directory person for a unit, or a petitioner (an id) for no unit."""

    person: PersonRef | uuid.UUID
    unit: UnitRef | None = None


@dataclass(frozen=True)
class Step:
    """One planned command."""

    case: int  # the planned case's key; -1 for the directory
    order: int  # its place within the case (or the directory)
    action: str
    who: Who
    occurred_at: datetime
    recorded_at: datetime
    arguments: dict[str, Any]


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str
    parent: str | None
    short: str


@dataclass(frozen=True)
class PersonSpec:
    key: str
    name: str
    unit: str
    role: str


@dataclass(frozen=True)
class Matter:
    """What a case is about and who is competent for it."""

    kind: str
    category: str
    summary: str
    units: tuple[str, ...]
    town: str
    village: str
    concerned_unit: str | None = None
    concerned_person: str | None = None


@dataclass
class Directory:
    units: dict[str, UnitSpec] = field(default_factory=dict)
    people: dict[str, PersonSpec] = field(default_factory=dict)
    towns: list[str] = field(default_factory=list)
    villages: dict[str, list[str]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def members(self, unit: str, *roles: str) -> list[str]:
        return [
            p.key for p in self.people.values() if p.unit == unit and (not roles or p.role in roles)
        ]

    def parent(self, unit: str) -> str | None:
        return self.units[unit].parent


# ---------------------------------------------------------------------------- the planner


class Planner:
    """Builds the whole data set as plain data, from the rng alone."""

    def __init__(self, rng: random.Random, zone: ZoneInfo) -> None:
        self.rng = rng
        self.zone = zone
        self.end = self.at(LAST_DAY, 18 * 60)
        self.used_names: set[str] = set()
        self.cases: list[CaseBuilder] = []
        self.turns: dict[str, int] = {}
        self.spare = 0  # cases left over for a story's optional extra case
        self.directory = self._plan_directory()

    # -------------------------------------------------------------- chance and time

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def weighted(self, options: Sequence[tuple[T, int]]) -> T:
        values = [o for o, _ in options]
        return self.rng.choices(values, weights=[w for _, w in options])[0]

    def turn(self, name: str, options: Sequence[T]) -> T:
        """Variants told in rotation, so every variant of a story appears."""
        i = self.turns.get(name, 0)
        self.turns[name] = i + 1
        return options[i % len(options)]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def at(self, day: date, minute: int) -> datetime:
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def day_of(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def office_time(self, day: date) -> datetime:
        """A time during office hours, on the day or the next working day after a weekend."""
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, self.rng.randint(OPEN_MINUTE, CLOSE_MINUTE))

    def any_time(self, day: date) -> datetime:
        """When a petitioner acts: any day, from morning to late evening."""
        return self.at(day, self.rng.randint(7 * 60, 22 * 60))

    def in_office_hours(self, instant: datetime) -> datetime:
        """The instant if the office is open then, else the next working morning."""
        local = instant.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if local.weekday() < 5 and OPEN_MINUTE <= minute <= CLOSE_MINUTE:
            return instant
        day = local.date()
        if minute > CLOSE_MINUTE or local.weekday() >= 5:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, self.rng.randint(OPEN_MINUTE, 11 * 60))

    def record_time(self, occurred: datetime, *, petitioner: bool) -> datetime:
        """When a fact is written down. A petitioner acting online is recorded at once; a
        clerk usually writes within minutes or hours, sometimes the next working morning."""
        if petitioner:
            return occurred + timedelta(minutes=self.rng.randint(1, 15))
        roll = self.rng.random()
        if roll < 0.7:
            recorded = occurred + timedelta(minutes=self.rng.randint(3, 90))
        elif roll < 0.93:
            recorded = occurred + timedelta(minutes=self.rng.randint(90, 5 * 60))
        else:
            recorded = occurred + timedelta(hours=18)
        local = recorded.astimezone(self.zone)
        if local.hour >= 19 or local.hour < 7 or local.weekday() >= 5:
            return self.in_office_hours(recorded)
        return recorded

    def start_day(self, span: int) -> date:
        """A receipt day leaving ``span`` days for the story before the end of the data set."""
        last = LAST_DAY - timedelta(days=span)
        return FIRST_DAY + timedelta(days=self.rng.randint(0, (last - FIRST_DAY).days))

    # -------------------------------------------------------------- names and people

    def person_name(self) -> str:
        while True:
            surname = self.rng.choice(SURNAMES[:30] if self.chance(0.7) else SURNAMES)
            roll = self.rng.random()
            if roll < 0.4:
                given = self.rng.choice(GIVEN_ONE)
            elif roll < 0.85:
                given = self.rng.choice(GIVEN_TWO)
            else:
                given = self.rng.choice(GIVEN_YOUNG) + self.rng.choice(GIVEN_ONE)
            name = surname + given
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def phone(self) -> str:
        return self.rng.choice(("13", "15", "18", "17")) + "".join(
            str(self.rng.randint(0, 9)) for _ in range(9)
        )

    def petitioner(self, town: str, village: str) -> Petitioner:
        directory = self.directory
        if self.chance(0.6):
            address = (
                f"{CITY_NAME}{directory.units[town].short}{directory.units[village].short}"
                f"{self.rng.randint(1, 9)}组"
            )
        else:
            street = self.rng.choice(("人民路", "建设路", "解放街", "文化路", "新华街"))
            address = (
                f"{CITY_NAME}{directory.units[town].short}{street}{self.rng.randint(1, 300)}号"
            )
        return Petitioner(self.uuid(), name=self.person_name(), phone=self.phone(), address=address)

    def anonymous(self) -> Petitioner:
        return Petitioner(self.uuid())

    # -------------------------------------------------------------- the directory

    def _plan_directory(self) -> Directory:
        d = Directory()
        clock = [self.at(FOUNDED, 9 * 60)]
        admin = Who(self.uuid())
        order = [0]

        def step(action: str, **arguments: Any) -> None:
            occurred = self.at(FOUNDED, 9 * 60)
            clock[0] += timedelta(seconds=self.rng.randint(5, 40))
            d.steps.append(Step(-1, order[0], action, admin, occurred, clock[0], arguments))
            order[0] += 1

        def unit(code: str, name: str, kind: UnitKind, parent: str | None, short: str) -> None:
            d.units[code] = UnitSpec(code, name, kind.value, parent, short)
            step(
                "create_unit",
                code=code,
                name=name,
                kind=kind.value,
                parent=UnitRef(parent) if parent else None,
            )

        def staff(code: str, role: Role, count: int = 1) -> None:
            for i in range(1, count + 1):
                key = f"{code}/{role.value}/{i}"
                d.people[key] = PersonSpec(key, self.person_name(), code, role.value)
                step("create_person", key=key, name=d.people[key].name)
                step("join", person=PersonRef(key), unit=UnitRef(code), role=role.value)

        unit(PROVINCE, "省人民政府", UnitKind.GOVERNMENT, None, "省政府")
        unit(PROVINCE_OFFICE, "省信访局", UnitKind.PETITION_OFFICE, PROVINCE, "省信访局")
        unit(CITY, f"{CITY_NAME}人民政府", UnitKind.GOVERNMENT, PROVINCE, "市政府")
        unit(OFFICE, f"{CITY_NAME}信访局", UnitKind.PETITION_OFFICE, CITY, "市信访局")
        unit(SUPERVISION, f"{CITY_NAME}人民政府督查室", UnitKind.SUPERVISION, CITY, "市督查室")
        unit(DISCIPLINE, f"{CITY_NAME}纪委监委", UnitKind.DISCIPLINE, CITY, "市纪委监委")
        for code, name in DEPARTMENTS:
            unit(code, f"{CITY_NAME}{name}", UnitKind.DEPARTMENT, CITY, f"市{name}")
        town_count = self.rng.randint(3, 5)
        for code, name, villages in sorted(self.rng.sample(TOWN_POOL, town_count)):
            unit(code, f"{name}人民政府", UnitKind.GOVERNMENT, CITY, name)
            d.towns.append(code)
            d.villages[code] = []
            for i, village in enumerate(villages[: self.rng.randint(2, 3)], start=1):
                vcode = f"{code}-{i:02d}"
                unit(vcode, f"{name}{village}村民委员会", UnitKind.GRASSROOTS, code, village)
                d.villages[code].append(vcode)

        staff(PROVINCE, Role.HEAD)
        staff(PROVINCE_OFFICE, Role.HEAD)
        staff(PROVINCE_OFFICE, Role.CLERK, 2)
        staff(PROVINCE_OFFICE, Role.STAFF, 2)
        staff(CITY, Role.HEAD)
        staff(CITY, Role.DEPUTY, 3)
        staff(CITY, Role.STAFF, 2)
        staff(OFFICE, Role.HEAD)
        staff(OFFICE, Role.DEPUTY)
        staff(OFFICE, Role.CLERK, 4)
        staff(SUPERVISION, Role.HEAD)
        staff(SUPERVISION, Role.STAFF, 2)
        staff(DISCIPLINE, Role.HEAD)
        staff(DISCIPLINE, Role.DEPUTY)
        staff(DISCIPLINE, Role.INSPECTOR, 3)
        for code, _ in DEPARTMENTS:
            staff(code, Role.HEAD)
            staff(code, Role.DEPUTY)
            staff(code, Role.HANDLER, self.rng.randint(2, 3))
        for town in d.towns:
            staff(town, Role.HEAD)
            staff(town, Role.DEPUTY)
            staff(town, Role.HANDLER, 2)
            staff(town, Role.CLERK)
            for village in d.villages[town]:
                staff(village, Role.HEAD)
                staff(village, Role.HANDLER)
        return d

    # -------------------------------------------------------------- who acts

    def pick(self, unit: str, *roles: Role) -> str:
        return self.rng.choice(self.directory.members(unit, *(r.value for r in roles)))

    def worker(self, unit: str) -> str:
        """Someone who does the unit's case work."""
        if unit in (OFFICE, PROVINCE_OFFICE):
            return self.pick(unit, Role.CLERK)
        if unit == DISCIPLINE:
            return self.pick(unit, Role.INSPECTOR)
        if unit in (CITY, SUPERVISION):
            return self.pick(unit, Role.STAFF)
        if unit == PROVINCE:
            return self.pick(unit, Role.HEAD)
        return self.pick(unit, Role.HANDLER)

    def leader_for(self, unit: str) -> tuple[str, str]:
        """A leader to take personal charge (包案): a deputy mayor, or the town's deputy."""
        if unit in self.directory.towns and self.chance(0.4):
            return self.pick(unit, Role.DEPUTY), unit
        return self.pick(CITY, Role.DEPUTY), CITY

    def reviewer_of(self, unit: str) -> str:
        """Who decides a 复查 of a reply by ``unit`` (the level above), and then the 复核."""
        if unit in (CITY, PROVINCE_OFFICE):
            return PROVINCE_OFFICE
        parent = self.directory.parent(unit)
        if unit in self.directory.towns or parent in (CITY, None):
            return CITY
        assert parent is not None
        return parent

    # -------------------------------------------------------------- matters

    def claim(self, category: str | None = None) -> Matter:
        if category is None:
            entry = self.weighted([(c, c[1]) for c in CLAIMS])
        else:
            entry = next(c for c in CLAIMS if c[0] == category)
        name, _, candidates, templates = entry
        town = self.rng.choice(self.directory.towns)
        village = self.rng.choice(self.directory.villages[town])
        units = tuple(town if c == "TOWN" else village if c == "VILLAGE" else c for c in candidates)
        return Matter(
            MatterKind.CLAIM.value,
            name,
            self.summary(self.rng.choice(templates), town, village),
            units,
            town,
            village,
        )

    def summary(self, template: str, town: str, village: str, **more: str) -> str:
        units = self.directory.units
        return template.format(
            town=units[town].short,
            village=units[village].short,
            n=self.rng.randint(2, 12),
            m=self.rng.randint(2, 60),
            year=self.rng.choice((2023, 2024)),
            company=self.rng.choice(COMPANIES),
            hardship=self.rng.choice(HARDSHIPS),
            **more,
        )

    def report(self) -> Matter:
        d = self.directory
        town = self.rng.choice(d.towns)
        village = self.rng.choice(d.villages[town])
        roll = self.rng.random()
        if roll < 0.55:
            concerned = village
            title, name = self.rng.choice(
                (
                    (
                        "村委会主任",
                        d.people[d.members(village, Role.HEAD.value)[0]].name,
                    ),
                    ("村会计", self.person_name()),
                    ("村民小组组长", self.person_name()),
                )
            )
        elif roll < 0.8:
            concerned = town
            deputy = "副" + d.units[town].short[-1] + "长"  # 副镇长, 副乡长, 副区长
            title = self.rng.choice((deputy, "农经站站长", "民政办主任"))
            name = (
                d.people[d.members(town, Role.DEPUTY.value)[0]].name
                if title == deputy
                else self.person_name()
            )
        else:
            concerned = self.rng.choice([c for c, _ in DEPARTMENTS])
            title, name = self.rng.choice(("科长", "工作人员", "副局长")), self.person_name()
        category, template = self.rng.choice(REPORTS)
        where = (
            d.units[concerned].short
            if concerned not in d.villages.get(town, [])
            else (d.units[town].short + d.units[concerned].short)
        )
        text = self.summary(template, town, village, where=where, title=title, name=name)
        return Matter(
            MatterKind.REPORT.value,
            category,
            text,
            (DISCIPLINE,),
            town,
            village,
            concerned_unit=concerned,
            concerned_person=f"{d.units[concerned].short}{title}{name}",
        )

    def suggestion(self) -> Matter:
        town = self.rng.choice(self.directory.towns)
        village = self.rng.choice(self.directory.villages[town])
        category, unit, template = self.rng.choice(SUGGESTIONS)
        return Matter(
            MatterKind.SUGGESTION.value,
            category,
            self.summary(template, town, village),
            (unit,),
            town,
            village,
        )

    # -------------------------------------------------------------- a new case

    def new_case(
        self,
        matter: Matter,
        day: date,
        *,
        channel: Channel | None = None,
        petitioners: list[Petitioner] | None = None,
        kind: PetitionerKind = PetitionerKind.NAMED,
        headcount: int | None = None,
        office: str = OFFICE,
    ) -> CaseBuilder:
        if channel is None:
            channel = self.weighted(CHANNELS)
        if petitioners is None:
            if kind is PetitionerKind.ANONYMOUS:
                petitioners = [self.anonymous()]
            else:
                petitioners = [self.petitioner(matter.town, matter.village)]
        if channel in (Channel.ONLINE, Channel.MAILBOX):
            received = self.any_time(day)
        else:
            received = self.office_time(day)
        builder = CaseBuilder(
            self,
            len(self.cases),
            matter=matter,
            channel=channel,
            received_at=received,
            kind=kind,
            petitioners=petitioners,
            headcount=headcount if headcount is not None else len(petitioners),
            office=office,
        )
        self.cases.append(builder)
        return builder

    def registration_time(self, channel: Channel, received: datetime) -> datetime:
        """A matter is registered the day it arrives, or the next working day if out of hours."""
        if channel in (Channel.VISIT, Channel.PHONE):
            return received + timedelta(minutes=self.rng.randint(8, 50))
        candidate = received + timedelta(minutes=self.rng.randint(40, 300))
        local = candidate.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if (
            local.weekday() < 5
            and OPEN_MINUTE <= minute <= CLOSE_MINUTE
            and local.date() == self.day_of(received)
        ):
            return candidate
        day = self.day_of(received) + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, self.rng.randint(OPEN_MINUTE, 11 * 60))

    # -------------------------------------------------------------- the whole plan

    def plan(self, cases: int) -> None:
        counts = self._counts(cases)
        sizes = {"repeat_petition": 2, "merged_duplicate": 2}
        self.spare = cases - sum(n * sizes.get(story, 1) for story, n in counts.items())
        for story, count in counts.items():
            tell: Callable[[], None] = getattr(self, f"story_{story}")
            for _ in range(count):
                tell()
        while len(self.cases) < cases:
            self.story_on_time()
        for builder in self.cases:
            builder.check()

    def _counts(self, cases: int) -> dict[str, int]:
        """How often each story is told: its share of the cases, at least its minimum."""
        sizes = {"repeat_petition": 2, "merged_duplicate": 2}
        wanted = {name: max(minimum, round(share * cases)) for name, share, minimum in STORIES}
        counts: dict[str, int] = {}
        budget = cases
        # The minimum of each story first, in the table's order, then the rest of its share.
        for name, _, minimum in STORIES:
            n = min(minimum, budget // sizes.get(name, 1))
            counts[name] = n
            budget -= n * sizes.get(name, 1)
        for name, _, _ in STORIES:
            extra = min(wanted[name] - counts[name], budget // sizes.get(name, 1))
            counts[name] += extra
            budget -= extra * sizes.get(name, 1)
        return counts

    # ================================================================ the stories

    def story_on_time(self) -> None:
        """An ordinary claim; one received in the last months is still being handled."""
        day = self.start_day(6)
        b = self.new_case(self.claim(), day)
        b.register()
        if (LAST_DAY - day).days < 110:
            self._in_progress(b)
            return
        if self.chance(0.06):
            b.route(b.unit(), days=(16, 26))
            b.tag("late_routing")
        else:
            b.route(b.unit())
        if self.chance(0.06):
            b.accept(days=(17, 28))
            b.tag("late_acceptance")
        else:
            b.accept()
        b.maybe_assign_handler()
        b.finish(reply_day=(8, 56))

    def _in_progress(self, b: CaseBuilder) -> None:
        """As far as an ordinary claim gets by the end of the data set, never overdue."""
        b.route(b.unit(), days=(0, 2))
        if (LAST_DAY - self.day_of(b.t)).days < 12:
            b.tag("open_in_progress")
            return
        b.accept(days=(1, 5))
        b.maybe_assign_handler()
        left = (LAST_DAY - self.day_of(b.t)).days
        if left > 45:  # answered, rated and closed before the end
            b.finish(reply_day=(8, min(56, left - 30)))
        else:
            b.tag("open_in_progress")

    def story_late(self) -> None:
        b = self.new_case(self.claim(), self.start_day(170))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        b.finish(reply_day=(63, 110))

    def story_very_late(self) -> None:
        b = self.new_case(self.claim(), self.start_day(290))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        if self.chance(0.5):
            b.supervise(day=(70, 95), answer="late")
        b.finish(reply_day=(125, 220))

    def story_ping_pong(self) -> None:
        matter = self.claim(self.rng.choice(("征地拆迁", "土地承包", "低保救助", "企业改制")))
        first, second = matter.units[0], matter.units[1]
        if self.chance(0.5):
            first, second = second, first
        b = self.new_case(matter, self.start_day(160))
        b.register()
        b.tag("ping_pong")
        b.route(first)
        names = self.directory.units
        if self.chance(0.7):  # bounced before anyone accepted it
            b.route(second, days=(3, 12), note=f"该事项属{names[second].short}职责，转请办理")
            b.route(first, days=(3, 15), note=f"经研究不属我单位职责，退回{names[first].short}")
            b.accept(days=(2, 10))
        else:  # accepted, then bounced anyway
            b.accept()
            b.route(second, days=(10, 25), note=f"涉及{names[second].short}职责，移交办理")
            b.route(first, days=(5, 20), note="此前已由原单位受理，退回继续办理")
        b.finish(reply_day=(30, 85))

    def story_transfer_chain(self) -> None:
        matter = self.claim(self.rng.choice(("征地拆迁", "土地承包", "村务管理")))
        b = self.new_case(matter, self.start_day(220))
        b.register()
        b.tag("transfer_chain")
        chain: list[str] = [matter.units[0]]
        pool = sorted({*matter.units, "ZR", "ZJ", "NY", "MZ", matter.town, matter.village})
        length = min(self.rng.randint(4, 6), len(pool))
        while len(chain) < length:
            nxt = self.rng.choice(pool)
            if nxt not in chain:
                chain.append(nxt)
        for i, unit in enumerate(chain):
            b.route(unit, days=(0, 3) if i == 0 else (4, 14), note="不属我单位职责，转请办理")
        b.accept(days=(2, 8))
        b.finish(reply_day=(35, 80))

    def story_objection(self) -> None:
        timely, agreed = self.turn(
            "objection", ((True, True), (False, False), (True, False), (False, True))
        )
        matter = self.claim()
        b = self.new_case(matter, self.start_day(160))
        b.register()
        first = matter.units[0]
        other = next(u for u in (*matter.units, "RS", "ZJ", "MZ") if u != first)
        b.route(first)
        if timely:
            b.object(days=(1, 3))
            b.tag("objection_timely")
        else:
            b.object(days=(20, 40))
            b.tag("objection_late")
        b.decide_objection(agreed)
        if agreed:
            b.tag("objection_agreed")
            b.route(other, days=(0, 3))
        else:
            b.tag("objection_rejected")
        b.accept(days=(1, 6))
        b.maybe_assign_handler()
        b.finish(reply_day=(20, 58))

    def story_leader_held(self) -> None:
        b = self.new_case(self.claim(), self.start_day(130))
        b.register()
        b.route(b.unit(), with_handler=True)
        b.accept()
        b.assign_lead(days=(0, 10))
        if self.chance(0.3):
            b.release_lead(days=(10, 25), note="包案领导工作调整，另行明确包案领导")
            b.assign_lead(days=(0, 2))
            b.tag("leader_handover")
        b.finish(reply_day=(25, 58))

    def story_extension_approved(self) -> None:
        b = self.new_case(self.claim(), self.start_day(150))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        days = self.rng.choice((15, 20, 30))
        b.extend(request_day=(44, 56), days=days, granted=days)
        b.tag("extension_approved")
        b.finish(reply_day=(60 + days - 12, 60 + days - 2))

    def story_extension_beyond_max(self) -> None:
        b = self.new_case(
            self.claim(self.rng.choice(("征地拆迁", "企业改制"))), self.start_day(170)
        )
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        b.extend(
            request_day=(48, 56),
            days=45,
            granted=45,
            reason="案情复杂，涉及多部门会商，申请延期45日",
        )
        b.tag("extension_beyond_max")
        b.finish(reply_day=(95, 104))

    def story_extension_rejected(self) -> None:
        b = self.new_case(self.claim(), self.start_day(150))
        b.register()
        b.route(b.unit())
        b.accept()
        b.extend(request_day=(50, 57), days=30, granted=0)
        b.tag("extension_rejected")
        b.finish(reply_day=(63, 80))

    def story_paused(self) -> None:
        matter = self.claim(self.rng.choice(("征地拆迁", "住房保障", "治安执法", "土地承包")))
        b = self.new_case(matter, self.start_day(180))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        paused = b.pause(day=(12, 35), length=(10, 45))
        b.tag("paused")
        b.finish(reply_day=(40 + paused, 57 + paused))

    def story_supervision(self) -> None:
        variant = self.turn("supervision", ("answered", "late", "ignored"))
        b = self.new_case(self.claim(), self.start_day(220))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        if variant == "answered":
            b.supervise(day=(35, 50), answer="on_time")
            b.finish(reply_day=(50, 58))
        elif variant == "late":
            b.supervise(day=(55, 70), answer="late")
            b.finish(reply_day=(90, 110))
        else:
            b.supervise(day=(60, 75), answer=None)
            if self.chance(0.5):
                b.supervise(day=(90, 100), answer=None)
            b.finish(reply_day=(115, 150))

    def story_review(self) -> None:
        self._appeal(rereview=False)

    def story_rereview(self) -> None:
        self._appeal(rereview=True)

    def _appeal(self, *, rereview: bool) -> None:
        b = self.new_case(self.claim(), self.start_day(300))
        b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        outcome = self.weighted(((ReplyOutcome.NOT_SUPPORTED, 7), (ReplyOutcome.EXPLAINED, 3)))
        b.reply(day=(20, 58), outcome=outcome)
        if self.chance(0.8):
            b.rate(Rating.DISSATISFIED)
        else:
            b.tag("unrated")
        decision = self.turn("review", tuple(AppealDecision))
        b.appeal(AppealLevel.REVIEW, decision)
        if rereview:
            b.appeal(AppealLevel.REREVIEW, self.turn("rereview", tuple(AppealDecision)))
            b.close(days=(1, 6), by_office=self.chance(0.3))
        else:
            b.close(days=(31, 45), by_office=self.chance(0.3))

    def story_repeat_petition(self) -> None:
        matter = self.claim()
        start = self.start_day(480)
        first = self.new_case(matter, start)
        person = first.petitioners[0]
        first.register()
        first.route(first.unit())
        first.accept()
        first.reply(
            day=(20, 58),
            outcome=self.rng.choice((ReplyOutcome.NOT_SUPPORTED, ReplyOutcome.EXPLAINED)),
        )
        if self.chance(0.7):
            first.rate(Rating.DISSATISFIED)
        else:
            first.tag("unrated")
        first.close(days=(3, 12))
        previous = first
        third = self.spare > 0 and self.chance(0.3)
        self.spare -= int(third)
        for again in range(2 if third else 1):
            day = self.day_of(previous.recorded) + timedelta(days=self.rng.randint(20, 90))
            repeat_matter = Matter(
                matter.kind,
                matter.category,
                ("再次" if again == 0 else "第三次") + "反映：" + matter.summary,
                matter.units,
                matter.town,
                matter.village,
            )
            b = self.new_case(
                repeat_matter,
                day,
                channel=self.rng.choice((Channel.VISIT, Channel.LETTER)),
                petitioners=[person],
            )
            b.tag("repeat_petition")
            b.register()
            b.route(matter.units[0])
            b.accept()
            if self.chance(0.5):
                b.assign_lead(days=(0, 5))
            b.finish(reply_day=(15, 50))
            previous = b

    def story_group_visit(self) -> None:
        matter = self.claim(
            self.rng.choice(("企业改制", "征地拆迁", "劳动工资", "社会保险", "土地承包"))
        )
        reps = [self.petitioner(matter.town, matter.village) for _ in range(self.rng.randint(1, 5))]
        b = self.new_case(
            matter,
            self.start_day(120),
            channel=Channel.VISIT,
            petitioners=reps,
            kind=PetitionerKind.GROUP,
            headcount=self.rng.randint(30, 200),
        )
        b.tag("group_visit")
        b.register()
        b.assign_lead(days=(0, 0))
        b.route(b.unit(), days=(0, 1), mode=RoutingMode.ASSIGN, with_handler=True)
        b.accept(days=(0, 3))
        if self.chance(0.4):
            b.supervise(day=(10, 20), answer="on_time")
        b.finish(reply_day=(15, 55))

    def story_anonymous(self) -> None:
        report = self.chance(0.7)
        matter = self.report() if report else self.suggestion()
        b = self.new_case(
            matter,
            self.start_day(110),
            channel=self.rng.choice((Channel.LETTER, Channel.LETTER, Channel.ONLINE)),
            kind=PetitionerKind.ANONYMOUS,
        )
        b.tag("anonymous")
        b.tag("report" if report else "suggestion")
        b.register()
        b.route(matter.units[0], mode=RoutingMode.TRANSFER)
        b.accept()
        if report:
            b.assign_handler()
        b.reply(
            day=(20, 75),
            outcome=self.rng.choice(tuple(ReplyOutcome)),
            delivery="匿名来信，答复意见存档",
            deliver_now=True,
        )
        b.close(days=(1, 8))

    def story_refused(self) -> None:
        b = self.new_case(self.claim(), self.start_day(60))
        b.register()
        b.tag("refused")
        if self.chance(0.4):  # refused by the office at intake
            b.refuse(days=(0, 4))
            b.close(days=(0, 3), by_office=True)
        else:
            b.route(b.unit())
            b.refuse(days=(2, 12))
            b.close(days=(0, 5))

    def story_withdrawn(self) -> None:
        b = self.new_case(self.claim(), self.start_day(90))
        b.register()
        b.tag("withdrawn")
        b.route(b.unit())
        if self.chance(0.7):
            b.accept()
            b.withdraw(days=(5, 40))
        else:
            b.withdraw(days=(2, 8))

    def story_merged_duplicate(self) -> None:
        matter = self.claim()
        target = self.new_case(matter, self.start_day(120))
        target.register()
        dup_day = self.day_of(target.recorded) + timedelta(days=self.rng.randint(1, 8))
        dup = self.new_case(
            matter,
            dup_day,
            channel=self.rng.choice((Channel.PHONE, Channel.ONLINE)),
            petitioners=list(target.petitioners),
        )
        dup.register()
        dup.tag("merged_duplicate")
        dup.merge_into(target, days=(0, 2))
        target.route(target.unit())
        target.accept()
        target.maybe_assign_handler()
        target.finish(reply_day=(20, 58))

    def story_corrected(self) -> None:
        variant = self.turn("corrected", ("received_at", "category", "rating"))
        matter = self.claim()
        b = self.new_case(matter, self.start_day(120), channel=Channel.LETTER)
        if variant == "received_at":
            b.register(delay_days=(3, 6), misdated=True)
            b.correct_received_at(days=(2, 20))
            b.tag("corrected_received_at")
            b.tag("late_registration")
        elif variant == "category":
            wrong = self.rng.choice([c[0] for c in CLAIMS if c[0] != matter.category])
            b.register(category=wrong)
            b.correct_category(days=(0, 2))
            b.tag("corrected_category")
        else:
            b.register()
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        if variant == "rating":
            b.reply(day=(15, 55), outcome=ReplyOutcome.SUPPORTED)
            version = b.rate(Rating.DISSATISFIED, comment="")
            b.correct_rating(version, Rating.SATISFIED, days=(1, 6))
            b.tag("corrected_rating")
            b.close(days=(1, 6))
        else:
            b.finish(reply_day=(15, 55))

    def story_backdated(self) -> None:
        variant = self.turn("backdated", ("reply", "accept"))
        b = self.new_case(self.claim(), self.start_day(170))
        b.register()
        b.tag("backdated")
        b.route(b.unit())
        if variant == "accept":  # the acknowledgement was written weeks after its date
            b.accept(days=(1, 3), recorded_after=(20, 40))
            b.finish(reply_day=(45, 58))
        else:  # the reply was written weeks after its date
            b.accept()
            outcome = b.reply(day=(25, 50), recorded_after=(21, 45))
            b.rate(self.weighted([(r, w) for r, w in RATINGS[outcome] if r is not None]))
            b.close(days=(1, 6))

    def story_late_registration(self) -> None:
        b = self.new_case(self.claim(), self.start_day(120), channel=Channel.LETTER)
        b.register(delay_days=(4, 12))
        b.tag("late_registration")
        b.route(b.unit())
        b.accept()
        b.finish(reply_day=(15, 55))

    def story_skip_level(self) -> None:
        """越级访: the petitioner went to the province; it sends the matter down to the city."""
        b = self.new_case(
            self.claim(),
            self.start_day(130),
            channel=self.rng.choice((Channel.VISIT, Channel.ONLINE)),
            office=PROVINCE_OFFICE,
        )
        b.register()
        b.tag("skip_level")
        b.route(OFFICE, days=(1, 5), mode=RoutingMode.TRANSFER, note="转请清源市信访局依法处理")
        b.route(b.unit(), days=(0, 3), mode=RoutingMode.ASSIGN)
        b.accept()
        b.finish(reply_day=(15, 55))

    def story_open_overdue(self) -> None:
        b = self.new_case(self.claim(), LAST_DAY - timedelta(days=self.rng.randint(80, 170)))
        b.register()
        b.tag("open_overdue")
        b.route(b.unit())
        b.accept()
        b.maybe_assign_handler()
        assert b.accepted_at is not None
        held = (LAST_DAY - self.day_of(b.accepted_at)).days
        if held > 135:
            b.supervise(day=(65, 80), answer=self.rng.choice((None, "late")))
        elif held > 90:
            b.supervise(day=(65, 80), answer=None)
        b.check_open(overdue=True)

    def story_open_due_soon(self) -> None:
        b = self.new_case(self.claim(), LAST_DAY - timedelta(days=self.rng.randint(54, 58)))
        b.register()
        b.tag("open_due_soon")
        b.route(b.unit(), days=(0, 1))
        b.accept(days=(0, 2))
        b.maybe_assign_handler()
        b.check_open(overdue=False)

    def story_open_new(self) -> None:
        b = self.new_case(self.claim(), LAST_DAY - timedelta(days=self.rng.randint(4, 20)))
        b.register()
        b.tag("open_new")
        if self.chance(0.7):
            b.route(b.unit(), days=(0, 1))
            if self.chance(0.5) and self.day_of(b.t) < LAST_DAY:
                b.accept(days=(0, 1))

    def story_report(self) -> None:
        matter = self.report()
        b = self.new_case(
            matter,
            self.start_day(130),
            channel=self.weighted(
                (
                    (Channel.LETTER, 45),
                    (Channel.ONLINE, 30),
                    (Channel.VISIT, 15),
                    (Channel.PHONE, 10),
                )
            ),
        )
        b.tag("report")
        b.register()
        b.route(DISCIPLINE, mode=RoutingMode.TRANSFER)
        b.accept(days=(1, 7))
        b.assign_handler()
        b.finish(
            reply_day=(30, 85),
            outcome=self.weighted(
                (
                    (ReplyOutcome.SUPPORTED, 4),
                    (ReplyOutcome.EXPLAINED, 3),
                    (ReplyOutcome.NOT_SUPPORTED, 3),
                )
            ),
        )

    def story_suggestion(self) -> None:
        matter = self.suggestion()
        b = self.new_case(
            matter,
            self.start_day(100),
            channel=self.weighted(
                ((Channel.ONLINE, 50), (Channel.MAILBOX, 30), (Channel.LETTER, 20))
            ),
        )
        b.tag("suggestion")
        b.register()
        b.route(matter.units[0])
        b.accept()
        b.finish(
            reply_day=(10, 40),
            outcome=self.rng.choice((ReplyOutcome.SUPPORTED, ReplyOutcome.EXPLAINED)),
        )


# ---------------------------------------------------------------------------- one case


class CaseBuilder:
    """The plan of one case: its steps, in the order the process allows them."""

    def __init__(
        self,
        planner: Planner,
        key: int,
        *,
        matter: Matter,
        channel: Channel,
        received_at: datetime,
        kind: PetitionerKind,
        petitioners: list[Petitioner],
        headcount: int,
        office: str,
    ) -> None:
        self.p = planner
        self.rng = planner.rng
        self.key = key
        self.matter = matter
        self.channel = channel
        self.received_at = received_at
        self.kind = kind
        self.petitioners = petitioners
        self.headcount = headcount
        self.office = office
        self.clerk = planner.pick(office, Role.CLERK)  # 首办负责: one clerk owns the intake
        self.steps: list[Step] = []
        self.tags: set[str] = set()
        self.t = received_at  # when the latest step happened
        self.recorded = received_at  # when the latest step was written
        self.holder = office
        self.routed_by: str | None = None
        self.handler: str | None = None
        self.accepted_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.replied_by: str | None = None
        self.leader: tuple[str, str] | None = None
        self.outcome: ReplyOutcome | None = None
        self.allowance = 60  # handling days, plus counted extension and pause days
        self.notices = 0

    # -------------------------------------------------------------- basics

    def tag(self, story: str) -> None:
        self.tags.add(story)

    def unit(self) -> str:
        """The unit competent for the matter (the first one the office thinks of)."""
        return self.matter.units[0]

    def who(self, unit: str, person: str | None = None) -> Who:
        if person is None:
            if unit == self.office:
                person = self.clerk
            elif unit == self.holder and self.handler is not None:
                person = self.handler
            else:
                person = self.p.worker(unit)
        return Who(PersonRef(person), UnitRef(unit))

    def petitioner(self) -> Who:
        return Who(self.rng.choice(self.petitioners).petitioner_id)

    def when(
        self, days: tuple[int, int], *, base: datetime | None = None, petitioner: bool = False
    ) -> datetime:
        """A time some days after ``base`` (the latest step), never before the latest step."""
        day = self.p.day_of(base or self.t) + timedelta(days=self.rng.randint(*days))
        instant = self.p.any_time(day) if petitioner else self.p.office_time(day)
        if instant <= self.t:
            instant = self.t + timedelta(minutes=self.rng.randint(5, 90))
            if not petitioner:
                instant = self.p.in_office_hours(instant)
        return instant

    def handling_day(self, days: tuple[int, int]) -> datetime:
        """A time on day N of the handling clock (counted from acceptance)."""
        assert self.accepted_at is not None
        return self.when(days, base=self.accepted_at)

    def add(
        self,
        action: str,
        who: Who,
        occurred: datetime,
        *,
        recorded: datetime | None = None,
        **arguments: Any,
    ) -> int:
        """Plan one step; returns the case version the step will produce."""
        occurred = max(occurred, self.t)
        if recorded is None:
            recorded = self.p.record_time(occurred, petitioner=who.unit is None)
            if recorded >= self.p.end:  # the last day of the data set: written at once
                recorded = occurred + timedelta(minutes=self.rng.randint(2, 10))
        recorded = max(recorded, self.recorded + timedelta(seconds=self.rng.randint(20, 300)))
        self.steps.append(
            Step(self.key, len(self.steps), action, who, occurred, recorded, arguments)
        )
        self.t, self.recorded = occurred, recorded
        return len(self.steps)

    # -------------------------------------------------------------- intake

    def register(
        self,
        *,
        delay_days: tuple[int, int] | None = None,
        misdated: bool = False,
        category: str | None = None,
    ) -> None:
        if delay_days is None:
            occurred = self.p.registration_time(self.channel, self.received_at)
        else:
            occurred = self.when(delay_days)
        received = self.received_at
        if misdated:  # the clerk typed the registration day as the day of receipt
            received = occurred - timedelta(minutes=self.rng.randint(10, 40))
        attachments = {
            Channel.LETTER: ["来信原件扫描件"],
            Channel.VISIT: ["来访登记表"],
        }.get(self.channel, [])
        self.add(
            "register",
            self.who(self.office),
            occurred,
            channel=self.channel.value,
            received_at=received,
            matter_kind=self.matter.kind,
            category=category or self.matter.category,
            summary=self.matter.summary,
            petitioner_kind=self.kind.value,
            petitioners=list(self.petitioners),
            headcount=self.headcount,
            concerned_unit=(
                UnitRef(self.matter.concerned_unit) if self.matter.concerned_unit else None
            ),
            concerned_person=self.matter.concerned_person,
            attachments=attachments,
        )
        self.t = max(self.t, received)

    def route(
        self,
        to: str,
        *,
        days: tuple[int, int] = (0, 3),
        mode: RoutingMode | None = None,
        note: str = "",
        with_handler: bool = False,
    ) -> None:
        assert to != self.holder, f"plan error: route to the holder {to}"
        if mode is None:
            from_office = self.holder in (OFFICE, PROVINCE_OFFICE)
            mode = (
                self.p.weighted(((RoutingMode.ASSIGN, 6), (RoutingMode.TRANSFER, 4)))
                if from_office
                else RoutingMode.TRANSFER
            )
        handler = self.p.pick(to, Role.HANDLER) if with_handler else None
        self.add(
            "route",
            self.who(self.holder),
            self.when(days),
            to_unit=UnitRef(to),
            mode=mode.value,
            to_handler=PersonRef(handler) if handler else None,
            note=note
            or (
                "请依法办理，并于办结后报送办理结果"
                if mode is RoutingMode.ASSIGN
                else "请依法处理并答复信访人"
            ),
        )
        self.routed_by, self.holder, self.handler = self.holder, to, handler

    def object(self, *, days: tuple[int, int]) -> None:
        self.add(
            "object_jurisdiction",
            self.who(self.holder),
            self.when(days),
            reason="该事项不属我单位法定职责，请重新交办",
        )

    def decide_objection(self, agreed: bool) -> None:
        assert self.routed_by is not None
        note = "同意异议，材料退回重新交办" if agreed else "经研究，该事项属你单位职责，请依法办理"
        self.add(
            "decide_objection",
            self.who(self.routed_by),
            self.when((1, 4)),
            agreed=agreed,
            note=note,
        )
        if agreed:
            self.holder, self.routed_by, self.handler = self.routed_by, None, None

    def accept(
        self, *, days: tuple[int, int] = (1, 8), recorded_after: tuple[int, int] | None = None
    ) -> None:
        occurred = self.when(days)
        recorded = None
        if recorded_after is not None:
            recorded = self.p.office_time(
                self.p.day_of(occurred) + timedelta(days=self.rng.randint(*recorded_after))
            )
        self.add(
            "accept",
            self.who(self.holder),
            occurred,
            recorded=recorded,
            note="已受理，并书面告知信访人",
        )
        self.accepted_at = occurred

    def refuse(self, *, days: tuple[int, int]) -> None:
        self.add("refuse", self.who(self.holder), self.when(days), reason=self.rng.choice(REFUSALS))

    def assign_handler(self) -> None:
        handlers = self.p.directory.members(self.holder, Role.HANDLER.value, Role.INSPECTOR.value)
        handler = self.rng.choice(handlers)
        head = self.p.pick(self.holder, Role.HEAD)
        self.add(
            "assign_handler",
            self.who(self.holder, head),
            self.when((0, 2)),
            handler=PersonRef(handler),
        )
        self.handler = handler

    def maybe_assign_handler(self) -> None:
        if self.handler is None and self.chance(0.5):
            self.assign_handler()

    def chance(self, p: float) -> bool:
        return self.p.chance(p)

    # -------------------------------------------------------------- leaders, clocks, 督办

    def assign_lead(self, *, days: tuple[int, int]) -> None:
        person, unit = self.p.leader_for(self.unit())
        if self.leader is not None and self.leader[0] == person:
            person, unit = self.p.pick(CITY, Role.HEAD), CITY
        self.add("assign_lead", self.who(unit, person), self.when(days), leader=PersonRef(person))
        self.leader = (person, unit)
        self.tag("leader_held")

    def release_lead(self, *, days: tuple[int, int], note: str = "问题已化解，解除包案") -> None:
        assert self.leader is not None
        person, unit = self.leader
        self.add("release_lead", self.who(unit, person), self.when(days), note=note)
        self.leader = None

    def extend(
        self,
        *,
        request_day: tuple[int, int],
        days: int,
        granted: int,
        reason: str = "需现场勘查并征求相关部门意见，申请延期",
    ) -> None:
        self.add(
            "request_extension",
            self.who(self.holder),
            self.handling_day(request_day),
            days=days,
            reason=reason,
        )
        head = self.p.pick(self.holder, Role.HEAD)
        decided = self.when((1, 3))
        if granted:
            told = decided + timedelta(hours=self.rng.randint(2, 40))
            self.add(
                "decide_extension",
                self.who(self.holder, head),
                decided,
                decision=ExtensionDecision.APPROVED.value,
                approver=PersonRef(head),
                days_granted=granted,
                petitioner_told_at=told,
            )
            self.allowance += min(granted, 30)
        else:
            self.add(
                "decide_extension",
                self.who(self.holder, head),
                decided,
                decision=ExtensionDecision.REJECTED.value,
                approver=PersonRef(head),
                days_granted=0,
            )

    def pause(self, *, day: tuple[int, int], length: tuple[int, int]) -> int:
        reason = self.rng.choice((PauseReason.HEARING, PauseReason.APPRAISAL))
        note = "组织听证" if reason is PauseReason.HEARING else "委托房屋安全鉴定"
        start = self.handling_day(day)
        self.add("pause_clock", self.who(self.holder), start, reason=reason.value, note=note)
        end = self.when(length)
        self.add("resume_clock", self.who(self.holder), end, note=f"{note}已完成，恢复办理")
        paused = (self.p.day_of(end) - self.p.day_of(start)).days
        self.allowance += paused
        return paused

    def supervise(self, *, day: tuple[int, int], answer: str | None) -> None:
        """督办 by the city's supervision office (or the petition office); and the answer."""
        by = SUPERVISION if self.chance(0.7) else OFFICE
        level = "市政府督办" if by == SUPERVISION else "市信访局督办"
        issued = self.handling_day(day) if self.accepted_at else self.when(day)
        limit = self.rng.randint(7, 15)
        deadline = self.p.day_of(issued) + timedelta(days=limit)
        supervised = self.holder
        self.add(
            "issue_supervision",
            self.who(by),
            issued,
            level=level,
            deadline=deadline,
            instructions=f"该件已超期未办结，请于{deadline.month}月{deadline.day}日前书面报送办理情况",
        )
        self.notices += 1
        if answer == "on_time":
            answered = self.when((2, limit - 3))  # a weekend may push it by two days
            self.tag("supervision_answered")
        elif answer == "late":
            answered = self.when((limit + 3, limit + 25))
            self.tag("supervision_answered_late")
        else:
            self.tag("supervision_ignored")
            return
        self.add(
            "answer_supervision",
            self.who(supervised),
            answered,
            notice_no=self.notices,
            answer="已召开专题会研究，正在落实，近期将书面答复信访人",
        )

    # -------------------------------------------------------------- reply and after

    def reply(
        self,
        *,
        day: tuple[int, int],
        outcome: ReplyOutcome | None = None,
        delivery: str | None = None,
        deliver_now: bool = False,
        recorded_after: tuple[int, int] | None = None,
    ) -> ReplyOutcome:
        assert self.accepted_at is not None, "plan error: reply before acceptance"
        if outcome is None:
            outcome = self.p.weighted(OUTCOMES)
        occurred = self.handling_day(day)
        recorded = None
        if recorded_after is not None:
            recorded = self.p.office_time(
                self.p.day_of(occurred) + timedelta(days=self.rng.randint(*recorded_after))
            )
        if delivery is None:
            delivery = (
                "网上答复"
                if self.channel in (Channel.ONLINE, Channel.MAILBOX) and self.chance(0.6)
                else self.rng.choice(("书面", "当面送达", "邮寄送达"))
            )
        delivered = occurred if deliver_now else occurred + timedelta(hours=self.rng.randint(1, 72))
        self.add(
            "reply",
            self.who(self.holder),
            occurred,
            recorded=recorded,
            outcome=outcome.value,
            text=self.rng.choice(REPLY_TEXTS[outcome]),
            delivered_at=delivered,
            delivery_method=delivery,
        )
        self.delivered_at = delivered
        self.replied_by = self.holder
        self.outcome = outcome
        self.tag(
            {
                ReplyOutcome.SUPPORTED: "reply_supported",
                ReplyOutcome.EXPLAINED: "reply_explained",
                ReplyOutcome.NOT_SUPPORTED: "reply_not_supported",
            }[outcome]
        )
        if self.matter.kind == MatterKind.CLAIM.value:
            used = (self.p.day_of(occurred) - self.p.day_of(self.accepted_at)).days
            if used > self.allowance:
                self.tag("late")
                if used > self.allowance + 60:
                    self.tag("very_late")
            else:
                self.tag("on_time")
        return outcome

    def rate(self, rating: Rating | None = None, *, comment: str | None = None) -> int:
        """The petitioner rates the reply; with no rating given, as petitioners do (or not)."""
        if rating is None:
            assert self.outcome is not None, "plan error: rating before any reply"
            rating = self.p.weighted(RATINGS[self.outcome])
            if rating is None:
                self.tag("unrated")
                return 0
        assert self.delivered_at is not None
        occurred = self.when((1, 10), base=max(self.delivered_at, self.recorded), petitioner=True)
        version = self.add(
            "rate",
            self.petitioner(),
            occurred,
            rating=rating.value,
            comment=self.rng.choice(RATING_COMMENTS[rating]) if comment is None else comment,
        )
        self.tag(
            {
                Rating.SATISFIED: "rated_satisfied",
                Rating.BASICALLY_SATISFIED: "rated_basically_satisfied",
                Rating.DISSATISFIED: "rated_dissatisfied",
            }[rating]
        )
        return version

    def close(self, *, days: tuple[int, int], by_office: bool | None = None) -> None:
        if by_office is None:
            by_office = self.chance(0.5)
        who = self.who(self.office) if by_office else self.who(self.holder)
        self.add("close", who, self.when(days), note="已答复信访人，予以办结")

    def finish(self, *, reply_day: tuple[int, int], outcome: ReplyOutcome | None = None) -> None:
        """Reply, the petitioner rates (or not), the leader is released, the case is closed."""
        self.reply(day=reply_day, outcome=outcome)
        if self.kind is PetitionerKind.ANONYMOUS:
            self.close(days=(1, 8))
            return
        self.rate()
        if self.leader is not None:
            self.release_lead(days=(0, 5))
        self.close(days=(1, 10))

    def appeal(self, level: AppealLevel, decision: AppealDecision) -> None:
        """复查 (or 复核): filed within the 30 days, decided by the level above."""
        assert self.delivered_at is not None and self.replied_by is not None
        reviewer = self.p.reviewer_of(
            self.replied_by if level is AppealLevel.REVIEW else self.holder
        )
        decider = (
            self.p.pick(reviewer, Role.STAFF)
            if reviewer in (CITY, PROVINCE_OFFICE)
            else self.p.worker(reviewer)
        )
        filed = self.when((8, 27), base=max(self.delivered_at, self.t), petitioner=True)
        reason = "对处理意见不服" if level is AppealLevel.REVIEW else "对复查意见不服，请求复核"
        self.add(
            "file_appeal",
            self.petitioner(),
            filed,
            level=level.value,
            to_unit=UnitRef(reviewer),
            reason=reason,
        )
        self.routed_by, self.holder, self.handler = self.holder, reviewer, None
        decided = self.when((15, 38))
        delivered = decided + timedelta(hours=self.rng.randint(2, 72))
        text = f"经{level.value}，" + APPEAL_TEXTS[decision]
        if level is AppealLevel.REREVIEW:
            text += "本复核意见为终结意见，同一事实和理由不再受理。"
        self.add(
            "decide_appeal",
            self.who(reviewer, decider),
            decided,
            decision=decision.value,
            text=text,
            delivered_at=delivered,
        )
        self.delivered_at = delivered
        prefix = "review" if level is AppealLevel.REVIEW else "rereview"
        suffix = {
            AppealDecision.UPHELD: "upheld",
            AppealDecision.OVERTURNED: "overturned",
            AppealDecision.PARTLY: "partly",
        }[decision]
        self.tag(f"{prefix}_{suffix}")

    def withdraw(self, *, days: tuple[int, int]) -> None:
        self.add(
            "withdraw",
            self.petitioner(),
            self.when(days, petitioner=True),
            reason="经协调已与对方达成和解，申请撤回信访事项",
        )

    def merge_into(self, target: CaseBuilder, *, days: tuple[int, int]) -> None:
        self.add(
            "merge_into",
            self.who(self.office),
            self.when(days),
            target_case=CaseRef(target.key),
            note="与该信访人此前反映的同一事项合并办理",
        )

    # -------------------------------------------------------------- corrections

    def correct_received_at(self, *, days: tuple[int, int]) -> None:
        truth = self.received_at
        self.add(
            "correct",
            self.who(self.office),
            self.when(days),
            corrects_version=1,
            field="received_at",
            new_value=truth,
            reason=(
                f"收信登记簿显示该信于{truth.astimezone(self.p.zone):%Y年%m月%d日}收到，"
                "登记时误录为登记当日"
            ),
        )

    def correct_category(self, *, days: tuple[int, int]) -> None:
        self.add(
            "correct",
            self.who(self.office),
            self.when(days),
            corrects_version=1,
            field="category",
            new_value=self.matter.category,
            reason=f"经核实，信访人反映的是{self.matter.category}问题，登记类别有误",
        )

    def correct_rating(self, version: int, rating: Rating, *, days: tuple[int, int]) -> None:
        self.add(
            "correct",
            self.who(self.office),
            self.when(days),
            corrects_version=version,
            field="rating",
            new_value=rating.value,
            reason="回访核实：信访人评价为满意，录入时误选",
        )

    # -------------------------------------------------------------- checks

    def check_open(self, *, overdue: bool) -> None:
        """An open case at the end: overdue already, or about to be."""
        assert self.accepted_at is not None
        used = (LAST_DAY - self.p.day_of(self.accepted_at)).days
        assert (used > self.allowance) if overdue else (45 <= used <= 60), (used, overdue)

    def check(self) -> None:
        last = self.steps[-1].recorded_at
        if last >= self.p.end:
            raise AssertionError(
                f"demo plan error: case {self.key} ({sorted(self.tags)}) runs past the end"
            )


# ---------------------------------------------------------------------------- writing


class DemoClock:
    """The ledger's clock during the demo: set to each action's recorded_at before it runs."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_demo(
    settings: Settings,
    *,
    seed: int = 2025,
    cases: int = 300,
    on_progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Plan a seeded data set of ``cases`` cases, then write it through the ledger."""
    if cases < 1:
        raise ValueError("cases: at least one case")
    rng = random.Random(seed)
    planner = Planner(rng, ZoneInfo(settings.timezone))
    planner.plan(cases)
    directory = planner.directory
    steps = sorted(
        [*directory.steps, *(s for b in planner.cases for s in b.steps)],
        key=lambda s: (s.recorded_at, s.case, s.order),
    )
    total = len(steps)
    clock = DemoClock(steps[0].recorded_at)
    keys = random.Random(seed ^ 0x5EED)  # petitioners' data keys, reproducible for the demo only
    ledger = Ledger(settings, clock=clock, keygen=lambda: keys.randbytes(32))
    units: dict[str, uuid.UUID] = {}
    people: dict[str, uuid.UUID] = {}
    case_ids: dict[int, uuid.UUID] = {}
    numbers: dict[int, str] = {}

    def resolve(value: Any) -> Any:
        if isinstance(value, UnitRef):
            return units[value.code]
        if isinstance(value, PersonRef):
            return people[value.key]
        if isinstance(value, CaseRef):
            if value.key not in case_ids:
                raise AssertionError(f"demo plan error: case {value.key} is not yet written")
            return case_ids[value.key]
        return value

    def actor(who: Who) -> Actor:
        person = who.person if isinstance(who.person, uuid.UUID) else people[who.person.key]
        return Actor(person, units[who.unit.code] if who.unit else None)

    try:
        for done, step in enumerate(steps, start=1):
            clock.now = step.recorded_at
            command_id = f"demo-{seed}-{done:06d}"
            arguments = {k: resolve(v) for k, v in step.arguments.items()}
            if step.action == "create_unit":
                units[step.arguments["code"]] = ledger.create_unit(
                    actor=actor(step.who),
                    occurred_at=step.occurred_at,
                    command_id=command_id,
                    **arguments,
                ).aggregate_id
            elif step.action == "create_person":
                key = arguments.pop("key")
                people[key] = ledger.create_person(
                    actor=actor(step.who),
                    occurred_at=step.occurred_at,
                    command_id=command_id,
                    **arguments,
                ).aggregate_id
            elif step.action == "join":
                ledger.update_person(
                    arguments.pop("person"),
                    "join",
                    actor=actor(step.who),
                    occurred_at=step.occurred_at,
                    command_id=command_id,
                    **arguments,
                )
            elif step.action == "register":
                result = ledger.register_case(
                    actor=actor(step.who),
                    occurred_at=step.occurred_at,
                    command_id=command_id,
                    **arguments,
                )
                case_ids[step.case] = result.aggregate_id
                assert result.case_number is not None
                numbers[step.case] = result.case_number
            else:
                ledger.act(
                    case_ids[step.case],
                    step.action,
                    actor=actor(step.who),
                    occurred_at=step.occurred_at,
                    command_id=command_id,
                    **arguments,
                )
            if on_progress is not None:
                on_progress(done, total)
    finally:
        ledger.close()

    stories: dict[str, list[str]] = {}
    for key, number in numbers.items():  # in the order the cases were registered
        for story in planner.cases[key].tags:
            stories.setdefault(story, []).append(number)
    return DemoSummary(
        units=len(directory.units),
        people=len(directory.people),
        cases=len(planner.cases),
        events=total,
        stories={name: stories[name] for name in sorted(stories)},
    )
