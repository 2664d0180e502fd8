"""Names for generated people and places: common surnames and given names, and two-syllable
place names made from syllables that read like real ones (none is meant to be a real place)."""

from __future__ import annotations

import random

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
    "建华",
    "建国",
    "志强",
    "海燕",
    "春梅",
    "国强",
    "建军",
    "丽娟",
    "晓东",
    "红霞",
    "志明",
    "德明",
    "永刚",
    "淑珍",
    "凤英",
    "学军",
    "振华",
    "晓燕",
    "卫东",
    "建平",
    "秀珍",
    "长青",
)
FIRST = "清云石临青南北东西安永宁平兴长新明泰和丰华阳山河桃柳松杉梅兰龙凤金银双白黄红柏"
SECOND = "源川门江岭屏湖口溪塘桥坪坝庄湾洲城集店铺营堡峪沟关台冈渡圩港寨田垭岗"


def person_name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES[:30] if rng.random() < 0.7 else SURNAMES)
    if rng.random() < 0.45:
        return surname + rng.choice(GIVEN_ONE)
    return surname + rng.choice(GIVEN_TWO)


def place_names(rng: random.Random, count: int, used: set[str]) -> list[str]:
    """``count`` two-syllable place names not in ``used`` (which they are added to)."""
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(FIRST) + rng.choice(SECOND)
        if name not in used:
            used.add(name)
            names.append(name)
    return names


def phone(rng: random.Random) -> str:
    return rng.choice(("13", "15", "18", "17")) + f"{rng.randrange(10**9):09d}"
