"""What petitions are about, and how often: the shares the generator draws from, as data.

The categories are the ones the seeds (DOMAIN.md's ``seeds/``) keep returning to — land
contracting, subsistence allowance and relief, housing allocation, wages and pensions,
insurance claims, enterprise restructuring and lay-offs, reports of cadre misconduct and
corruption — with weights that put the rural land and livelihood matters first, as the
county-level seeds describe. Competent units are keys of a county's departments (see
``hierarchy.DEPARTMENTS``), ``TOWN`` for the petitioner's township, ``ENTERPRISE`` for a state
enterprise of the city.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.values import Channel, MatterKind, Rating, ReplyOutcome


@dataclass(frozen=True)
class Category:
    name: str
    weight: int
    competent: tuple[str, ...]  # the first is where the office sends it; the others are its
    # neighbours in 推诿 (where a case is passed to, and back from)
    summaries: tuple[str, ...]


KINDS: tuple[tuple[MatterKind, int], ...] = (
    (MatterKind.CLAIM, 80),
    (MatterKind.REPORT, 12),
    (MatterKind.SUGGESTION, 8),
)

CHANNELS: tuple[tuple[Channel, int], ...] = (
    (Channel.LETTER, 26),
    (Channel.VISIT, 30),
    (Channel.ONLINE, 28),
    (Channel.PHONE, 9),
    (Channel.MAILBOX, 7),
)

CLAIMS: tuple[Category, ...] = (
    Category(
        "土地承包",
        16,
        ("NY", "TOWN", "ZR"),
        (
            "反映{village}二轮承包地调整时被少分{n}亩，要求按政策补足承包地",
            "反映村组将其承包的{n}亩耕地另行发包给他人，要求恢复承包经营权",
            "反映土地确权登记面积与实际承包面积不符，相差{n}亩，要求更正",
        ),
    ),
    Category(
        "征地拆迁",
        11,
        ("ZR", "ZJ", "TOWN"),
        (
            "反映{town}征收其房屋补偿标准偏低，要求按新标准补偿",
            "反映征地补偿款{m}万元至今未足额发放到户，要求公开分配明细",
            "反映棚户区改造安置房迟迟未交付，已在外过渡{n}个月",
        ),
    ),
    Category(
        "低保救助",
        13,
        ("MZ", "TOWN"),
        (
            "反映家庭困难（{hardship}），申请低保未获批准，要求重新审核",
            "反映{village}低保评定不公开，有村干部亲属享受低保",
            "反映因病致贫，申请临时救助后至今未发放",
        ),
    ),
    Category(
        "住房保障",
        8,
        ("ZJ", "TOWN"),
        (
            "反映申请公租房已{n}年仍未轮候到，要求说明轮候情况",
            "反映公租房屋顶漏水、墙体开裂，多次报修无人处理",
            "反映危房改造补助未到位，房屋仍无法居住",
        ),
    ),
    Category(
        "劳动工资",
        10,
        ("RS", "ZJ"),
        (
            "反映{company}拖欠其{n}个月工资共{m}万元，要求督促支付",
            "农民工反映{company}承建项目拖欠工资，涉及{n}人",
        ),
    ),
    Category(
        "养老待遇",
        7,
        ("RS", "ENTERPRISE"),
        (
            "反映原单位{company}未足额缴纳养老保险，影响退休待遇，要求补缴",
            "反映养老金核定时视同缴费年限认定有误，少算{n}年",
        ),
    ),
    Category(
        "保险理赔",
        5,
        ("YB", "NY"),
        (
            "反映农业保险受灾后理赔每亩仅{n}元，与他人相差悬殊，要求核查",
            "反映大病保险二次报销至今未到账",
            "反映异地就医费用报销比例过低，要求按政策重新核算",
        ),
    ),
    Category(
        "企业改制",
        8,
        ("ENTERPRISE", "RS"),
        (
            "反映{company}改制时职工身份置换经济补偿金未足额发放",
            "反映{company}下岗职工安置费、医保待遇未落实",
            "反映{company}破产清算时拖欠职工集资款{m}万元",
        ),
    ),
    Category(
        "村务管理",
        6,
        ("TOWN", "MZ"),
        (
            "反映{village}村务不公开，集体土地租金{m}万元去向不明，要求公开账目",
            "反映{village}村委会换届选举程序违规",
        ),
    ),
    Category(
        "生态环境",
        5,
        ("HB", "TOWN"),
        (
            "反映{village}附近砖厂粉尘污染严重，影响村民生活",
            "反映{town}养殖场污水直排河道，要求查处",
        ),
    ),
    Category(
        "治安执法",
        4,
        ("GA", "TOWN"),
        (
            "反映邻里纠纷报警后处理不公，要求重新处理",
            "反映被他人殴打致伤，派出所久拖未结",
        ),
    ),
    Category(
        "市场监管",
        3,
        ("SJ", "TOWN"),
        (
            "反映所购装修材料存在质量问题，商家拒不退换",
            "反映{town}农贸市场缺斤短两，要求整治",
        ),
    ),
    Category(
        "优抚安置",
        2,
        ("MZ", "RS"),
        ("伤残退役军人反映生活困难，抚恤待遇未按规定调整",),
    ),
)

REPORTS: tuple[tuple[str, str], ...] = (
    ("侵占集体资金", "举报{where}{title}截留征地补偿款，要求查处"),
    ("收受财物", "举报{where}{title}收受他人现金{m}万元，为他人谋取利益"),
    ("优亲厚友", "举报{where}{title}违规为其亲属办理低保"),
    ("违规收费", "举报{where}{title}收取村民罚款不上交财务"),
    ("干部作风", "举报{where}{title}对群众诉求推诿扯皮、吃拿卡要"),
)
REPORT_TITLES = ("村委会主任", "村会计", "镇长", "副镇长", "站长", "科长", "副局长")

SUGGESTIONS: tuple[tuple[str, str, str], ...] = (
    ("城市建设", "ZJ", "建议在{town}老旧小区增设停车位和充电设施"),
    ("交通管理", "GA", "建议在{town}中学门口增设红绿灯和减速带"),
    ("营商环境", "SJ", "建议简化个体工商户年报流程，推行一网通办"),
    ("农村发展", "NY", "建议加大{village}高标准农田建设投入"),
    ("社会保障", "RS", "建议提高城乡居民基础养老金标准"),
    ("生态环境", "HB", "建议对{town}河道开展常态化保洁"),
)

COMPANIES = (
    "第二纺织厂",
    "机械制造有限公司",
    "建筑工程有限公司",
    "矿务局三矿",
    "印刷厂",
    "物业服务有限公司",
    "食品公司",
    "建材有限公司",
)
HARDSHIPS = ("丈夫残疾", "本人患重病", "子女上学负担重", "家中无劳动力", "因灾致贫")

OUTCOMES: tuple[tuple[ReplyOutcome, int], ...] = (
    (ReplyOutcome.SUPPORTED, 38),
    (ReplyOutcome.EXPLAINED, 42),
    (ReplyOutcome.NOT_SUPPORTED, 20),
)
RATINGS: dict[ReplyOutcome, tuple[tuple[Rating | None, int], ...]] = {
    # How petitioners rate each outcome; None: they never rate it.
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
REPLY_TEXTS: dict[ReplyOutcome, str] = {
    ReplyOutcome.SUPPORTED: "经核查，反映情况属实，诉求予以支持，已责成相关单位限期解决。",
    ReplyOutcome.EXPLAINED: "经核查，已就相关政策规定向信访人作出解释说明，并告知后续办理途径。",
    ReplyOutcome.NOT_SUPPORTED: "经核查，诉求缺乏政策和法律依据，不予支持；如不服，可申请复查。",
}
REFUSALS = (
    "该事项已经复核终结，信访人以同一事实和理由再次提出，不再受理",
    "该诉求属于应当通过诉讼途径解决的民事纠纷，已告知其向人民法院起诉",
    "该事项已进入劳动仲裁程序，依法不予受理",
)
