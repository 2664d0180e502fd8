"""The life of each case, told as the commands people give, with the instants they give them.

A case's story is a generator of ``Command``s in the order they happen, each with the instant
it happened (``occurred_at``) and the instant a clerk wrote it down (``recorded_at``, never
earlier than the story's previous command). Stories are drawn lazily: the next command of a
case is planned only when its previous one is written, so a province's worth of open cases
costs a generator frame each, not a plan in memory.

What happens to a case is drawn feature by feature, so features combine as they do in life: a
claim may be registered late, passed between units (推诿: A→B→A, a chain of transfers, a
jurisdiction objection), held by a leader (领导包案), extended, paused, supervised (督办,
answered, answered late or ignored), answered on time or late (how late depends on the unit:
some units are chronic delayers), rated, appealed to 复查 and 复核, withdrawn or refused. A new
arrival may be a repeat petition (重复访: a petitioner whose earlier case on the same matter
closed unsatisfied), a duplicate registration merged into the open case, a group visit
(集体访) or a skip-level petition (越级访) to the city or the province. Reports of misconduct
(检举控告) go to the county's discipline commission, often anonymously.

Every command is one the ``Case`` aggregate accepts; a refusal while recording means the story
is wrong, and it is raised, never swallowed.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from uuid import UUID
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
from generate import matters
from generate.hierarchy import Hierarchy, Level
from generate.names import person_name, phone, place_names
from ledger.application import Actor, Ledger
from ledger.bulk import Command

T = TypeVar("T")

OPEN_MINUTE, CLOSE_MINUTE = 8 * 60 + 30, 17 * 60 + 30
HANDLING_DAYS = 60  # 条例 Art 34: what the units plan for (the rulebook judges it)
REPEAT_WINDOW_DAYS = 170  # a repeat comes back within the national rulebook's 180 days
LAST_ARRIVAL_DAYS_BEFORE_END = 14  # so that every arrival is registered within the data set

# Shares (of the cases a feature can apply to). Each is a plain probability; "× unit" ones are
# scaled by the holding unit's own tendency to delay.
P = {
    "repeat": 0.05,  # a new arrival is an earlier petitioner back on the same matter
    "duplicate": 0.01,  # registered again while the first is open, and merged into it
    "group": 0.03,
    "skip_level_city": 0.025,
    "skip_level_province": 0.01,
    "co_petitioners": 0.04,
    "anonymous_report": 0.5,
    "late_registration": 0.03,  # of letters
    "misdated_registration": 0.004,  # registered with the receipt day wrong, corrected later
    "wrong_category": 0.004,  # corrected later
    "refused_at_intake": 0.012,
    "late_routing": 0.04,
    "ping_pong": 0.03,
    "transfer_chain": 0.012,
    "objection": 0.025,
    "refused_by_unit": 0.015,
    "withdrawn": 0.015,
    "late_acceptance": 0.05,  # × unit
    "handler": 0.6,
    "leader_held": 0.05,
    "extension": 0.035,
    "extension_beyond_max": 0.1,  # of extensions
    "extension_rejected": 0.12,  # of extensions
    "pause": 0.01,
    "late_reply": 0.08,  # × unit
    "very_late_reply": 0.015,  # × unit
    "supervised_if_late": 0.5,
    "supervised": 0.02,
    "backdated": 0.01,
    "review_if_unhappy": 0.45,
    "rereview_if_upheld": 0.35,
    "late_review": 0.05,
}


def weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


@dataclass
class Closed:
    """A case closed with its petitioner unsatisfied: who may come back, and with what."""

    petitioner: Petitioner
    category: matters.Category
    county: Level
    township: str
    summary: str
    closed_on: date


@dataclass
class Open:
    """A case just registered: a second registration of the same matter is merged into it."""

    case_id: UUID
    office: str
    petitioners: list[Petitioner]
    category: matters.Category
    county: Level
    township: str
    summary: str
    registered_on: date


class Planner:
    """Arrivals over a period and the stories of the cases they bring."""

    def __init__(
        self,
        hierarchy: Hierarchy,
        rng: random.Random,
        *,
        seed: int,
        zone: ZoneInfo,
        first_day: date,
        last_day: date,
    ) -> None:
        self.h = hierarchy
        self.rng = rng
        self.seed = seed
        self.zone = zone
        self.first_day = first_day
        self.last_day = last_day
        self.end = self.at(last_day + timedelta(days=1), 0)
        self.tags: Counter[str] = Counter()
        self.examples: dict[str, list[UUID]] = {}
        self._tags_of: dict[str, list[str]] = {}  # command id -> the tags it makes true
        self.unhappy: deque[Closed] = deque(maxlen=5000)
        self.recent: deque[Open] = deque(maxlen=500)
        # Some units delay far more than others: that is what the views must show.
        self.tendency = {code: rng.lognormvariate(0, 0.6) for code in hierarchy.units}
        self.villages = {
            t: place_names(rng, 3, set()) for county in hierarchy.counties for t in county.townships
        }
        self.county_weights = [county.weight for county in hierarchy.counties]

    # ------------------------------------------------------------------ arrivals

    def arrivals(self, cases: int) -> Iterator[tuple[datetime, Iterator[Command]]]:
        """``cases`` arrivals spread over the period (weekdays busier, a slow rise over the
        years), in order of receipt, each with its story."""
        last_arrival = self.last_day - timedelta(days=LAST_ARRIVAL_DAYS_BEFORE_END)
        days = [
            self.first_day + timedelta(days=i)
            for i in range((last_arrival - self.first_day).days + 1)
        ]
        weights = [
            (1.0 if d.weekday() < 5 else 0.35) * (1 + 0.06 * (d - self.first_day).days / 365)
            for d in days
        ]
        total = sum(weights)
        done, cumulative = 0, 0.0
        for day, weight in zip(days, weights, strict=True):
            cumulative += weight
            count = round(cases * cumulative / total) - done
            minutes = sorted(self.rng.randint(7 * 60, 22 * 60 - 1) for _ in range(count))
            for minute in minutes:
                received = self.at(day, minute)
                yield received, self.story(done, received)
                done += 1

    def story(self, number: int, received: datetime) -> Iterator[Command]:
        rng = self.rng
        if self.unhappy and rng.random() < P["repeat"]:
            found = self._repeat_candidate(received)
            if found is not None:
                return self._claim(number, received, repeat=found)
        if self.recent and rng.random() < P["duplicate"]:
            found_open = self._duplicate_candidate(received)
            if found_open is not None:
                return self._duplicate(number, received, found_open)
        kind = weighted(rng, matters.KINDS)
        if kind is MatterKind.REPORT:
            return self._report(number, received)
        if kind is MatterKind.SUGGESTION:
            return self._suggestion(number, received)
        return self._claim(number, received)

    def _repeat_candidate(self, received: datetime) -> Closed | None:
        today = self.day_of(received)
        while self.unhappy and (today - self.unhappy[0].closed_on).days > REPEAT_WINDOW_DAYS:
            self.unhappy.popleft()
        for i, candidate in enumerate(self.unhappy):
            if (today - candidate.closed_on).days >= 10:
                del self.unhappy[i]
                return candidate
        return None

    def _duplicate_candidate(self, received: datetime) -> Open | None:
        today = self.day_of(received)
        while self.recent and (today - self.recent[0].registered_on).days > 8:
            self.recent.popleft()
        return self.recent.popleft() if self.recent else None

    # ------------------------------------------------------------------ time

    def at(self, day: date, minute: int) -> datetime:
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def day_of(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def office_time(self, day: date) -> datetime:
        """During office hours, on the day or the next weekday."""
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, self.rng.randint(OPEN_MINUTE, CLOSE_MINUTE))

    def in_office_hours(self, instant: datetime) -> datetime:
        """The instant if an office is open then, else a little after it next opens."""
        local = instant.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if local.weekday() < 5 and OPEN_MINUTE <= minute <= CLOSE_MINUTE - 60:
            return instant
        day = local.date() + timedelta(days=int(minute > CLOSE_MINUTE - 60))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, OPEN_MINUTE + self.rng.randint(0, 120))

    def any_time(self, day: date) -> datetime:
        return self.at(day, self.rng.randint(7 * 60, 22 * 60))

    def record_time(self, occurred: datetime, *, petitioner: bool) -> datetime:
        """When a fact is written down: a petitioner's own action at once; a clerk's within
        minutes or hours, sometimes the next working morning (never two days late, which is
        what the backdating stories do on purpose)."""
        rng = self.rng
        if petitioner:
            return occurred + timedelta(minutes=rng.randint(1, 15))
        roll = rng.random()
        if roll < 0.72:
            return occurred + timedelta(minutes=rng.randint(3, 90))
        if roll < 0.95:
            later = occurred + timedelta(minutes=rng.randint(90, 300))
            if self.day_of(later) == self.day_of(occurred):
                return later
        day = self.day_of(occurred) + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        morning = self.at(day, rng.randint(OPEN_MINUTE, 11 * 60))
        if morning - occurred < timedelta(hours=40):
            return morning
        return occurred + timedelta(minutes=rng.randint(30, 120))

    # ------------------------------------------------------------------ the stories

    def _county(self) -> Level:
        return self.rng.choices(self.h.counties, weights=self.county_weights)[0]

    def _claim(
        self, number: int, received: datetime, *, repeat: Closed | None = None
    ) -> Iterator[Command]:
        rng = self.rng
        if repeat is not None:
            county, township, category = repeat.county, repeat.township, repeat.category
            summary = "再次反映：" + repeat.summary.removeprefix("再次反映：")
            petitioners, kind = [repeat.petitioner], PetitionerKind.NAMED
            channel = weighted(rng, ((Channel.VISIT, 5), (Channel.LETTER, 3), (Channel.ONLINE, 2)))
        else:
            county = self._county()
            township = rng.choice(county.townships)
            category = weighted(rng, [(c, c.weight) for c in matters.CLAIMS])
            summary = self._summary(rng.choice(category.summaries), county, township)
            channel = weighted(rng, matters.CHANNELS)
            kind = PetitionerKind.NAMED
            if rng.random() < P["group"]:
                kind, channel = PetitionerKind.GROUP, Channel.VISIT
                petitioners = [self._petitioner(township) for _ in range(rng.randint(1, 5))]
            elif rng.random() < P["co_petitioners"]:
                petitioners = [self._petitioner(township) for _ in range(rng.randint(2, 3))]
            else:
                petitioners = [self._petitioner(township)]
        office = county.office
        skip = rng.random()
        if repeat is None and skip < P["skip_level_province"]:
            office = self.h.province.office if self.h.province else office
        elif repeat is None and skip < P["skip_level_province"] + P["skip_level_city"]:
            assert county.parent is not None
            office = county.parent.office
        d = Draft(self, number, received, office, county, channel)
        competent = [self._competent(c, county, township) for c in category.competent]
        d.tag("claim")
        if repeat is not None:
            d.tag("repeat_petition")
        if kind is PetitionerKind.GROUP:
            d.tag("group_visit")
        headcount = len(petitioners)
        if kind is PetitionerKind.GROUP:  # some below the national threshold of 5, not local 3
            headcount = max(headcount, rng.choice((3, 4, rng.randint(5, 300), rng.randint(5, 60))))
        wrong = rng.random() < P["wrong_category"]
        yield d.register(
            matter_kind=MatterKind.CLAIM,
            category=rng.choice(matters.CLAIMS).name if wrong else category.name,
            summary=summary,
            petitioner_kind=kind,
            petitioners=petitioners,
            headcount=headcount,
        )
        self.recent.append(
            Open(d.case_id, office, petitioners, category, county, township, summary, d.today())
        )
        if wrong and d.category_written != category.name:
            yield d.correct_category(category.name)
        if d.misdated:
            yield d.correct_received_at()
        if kind is PetitionerKind.GROUP:
            yield d.assign_lead(days=(0, 1))
        if office != county.office:  # 越级: sent down to the county's office
            d.tag("skip_level")
            yield d.route(county.office, days=(1, 5), mode=RoutingMode.ASSIGN)
        if rng.random() < P["refused_at_intake"]:
            d.tag("refused")
            yield d.refuse(days=(0, 4))
            yield d.close(days=(0, 3), by_office=True)
            return
        first = competent[0]
        late_routing = rng.random() < P["late_routing"]
        if late_routing:
            d.tag("late_routing")
        yield d.route(
            first,
            days=(16, 25) if late_routing else (0, 3),
            with_handler=kind is PetitionerKind.GROUP,
            mode=RoutingMode.ASSIGN if kind is PetitionerKind.GROUP else None,
        )
        pattern = rng.random()
        others = [u for u in competent[1:] if u != first]
        others = others or [u for u in county.departments.values() if u != first]
        if pattern < P["ping_pong"]:
            if rng.random() < 0.7:  # bounced before anyone accepted it
                yield d.route(others[0], days=(3, 12))
                d.tag("ping_pong")
                yield d.route(first, days=(3, 15))
            else:  # accepted, then bounced anyway
                yield from d.accept(days=(1, 8))
                yield d.route(others[0], days=(10, 25))
                d.tag("ping_pong")
                yield d.route(first, days=(5, 20))
        elif pattern < P["ping_pong"] + P["transfer_chain"]:
            d.tag("transfer_chain")
            pool = [u for u in {*competent, *county.departments.values()} if u != first]
            for unit in sorted(rng.sample(sorted(pool), rng.randint(2, 4))):
                yield d.route(unit, days=(4, 14))
        elif pattern < P["ping_pong"] + P["transfer_chain"] + P["objection"]:
            timely = rng.random() < 0.6
            d.tag("objection_timely" if timely else "objection_late")
            yield d.object(days=(1, 4) if timely else (9, 30))
            agreed = rng.random() < 0.5
            yield d.decide_objection(agreed)
            if agreed:
                yield d.route(others[0], days=(0, 3))
        if d.stage == "routed" and rng.random() < P["refused_by_unit"]:
            d.tag("refused")
            yield d.refuse(days=(2, 12))
            yield d.close(days=(0, 5))
            return
        if rng.random() < P["withdrawn"]:
            d.tag("withdrawn")
            if d.stage == "routed" and rng.random() < 0.3:
                yield d.withdraw(days=(2, 8))
                return
            yield from d.accept(days=(1, 8))
            yield d.withdraw(days=(5, 40))
            return
        yield from d.accept(
            days=(16, 30) if rng.random() < P["late_acceptance"] * d.tendency() else (1, 8)
        )
        if d.handler is None and rng.random() < P["handler"]:
            yield d.assign_handler()
        leader_held = rng.random() < (0.5 if repeat is not None else P["leader_held"])
        if d.leader is None and leader_held:
            yield d.assign_lead(days=(0, 10))
        yield from self._handle(d)
        yield from self._after_reply(d)
        if d.unhappy and d.closed and kind is not PetitionerKind.GROUP:
            self.unhappy.append(
                Closed(petitioners[0], category, county, township, summary, d.today())
            )

    def _handle(self, d: Draft) -> Iterator[Command]:
        """From acceptance to the reply: extensions, pauses, 督办, and how late the unit is."""
        rng = self.rng
        tendency = d.tendency()
        if rng.random() < P["extension"]:
            beyond = rng.random() < P["extension_beyond_max"]
            rejected = not beyond and rng.random() < P["extension_rejected"]
            days = 45 if beyond else rng.choice((15, 20, 30))
            d.tag("extension_rejected" if rejected else "extension_approved")
            if beyond:
                d.tag("extension_beyond_max")
            yield from d.extend(request_day=(44, 56), days=days, granted=0 if rejected else days)
        if rng.random() < P["pause"]:
            d.tag("paused")
            yield from d.pause(day=(12, 35), length=(10, 45))
        roll = rng.random()
        if roll < P["very_late_reply"] * tendency:
            lateness, span = "very_late", (d.allowance + 60, d.allowance + 180)
        elif roll < (P["very_late_reply"] + P["late_reply"]) * tendency:
            lateness, span = "late", (d.allowance + 2, d.allowance + 50)
        else:
            lateness, span = "on_time", (8, d.allowance - 2)
        reply_day = rng.randint(*span)
        if lateness != "on_time" and rng.random() < P["supervised_if_late"]:
            if reply_day - 1 > d.allowance + 1:  # 督办 once the deadline has passed
                yield from d.supervise(
                    day=(d.allowance + 1, reply_day - 1),
                    answer=weighted(rng, (("on_time", 5), ("late", 3), (None, 2))),
                )
        elif reply_day > 45 and rng.random() < P["supervised"]:  # answered before the reply
            yield from d.supervise(day=(25, reply_day - 18), answer="on_time")
        backdated = rng.random() < P["backdated"]
        if backdated:
            d.tag("backdated")
        yield d.reply(day=(reply_day, reply_day), recorded_after=(21, 45) if backdated else None)

    def _after_reply(self, d: Draft) -> Iterator[Command]:
        """Rating, 复查 and 复核, release of the leader, closing."""
        rng = self.rng
        rating = d.rating_for_outcome()
        if rating is not None and d.kind is not PetitionerKind.ANONYMOUS:
            yield d.rate(rating)
        unhappy = rating is Rating.DISSATISFIED or (
            rating is None and d.outcome is ReplyOutcome.NOT_SUPPORTED
        )
        d.unhappy = unhappy
        appealable = d.matter_kind is MatterKind.CLAIM and d.kind is not PetitionerKind.ANONYMOUS
        if unhappy and appealable and rng.random() < P["review_if_unhappy"]:
            decision = weighted(
                rng,
                (
                    (AppealDecision.UPHELD, 70),
                    (AppealDecision.OVERTURNED, 15),
                    (AppealDecision.PARTLY, 15),
                ),
            )
            yield from d.appeal(AppealLevel.REVIEW, decision)
            if (
                decision is AppealDecision.UPHELD
                and rng.random() < P["rereview_if_upheld"]
                and d.holder != self._top_government()
            ):
                yield from d.appeal(
                    AppealLevel.REREVIEW,
                    weighted(rng, ((AppealDecision.UPHELD, 85), (AppealDecision.PARTLY, 15))),
                )
            d.unhappy = decision is AppealDecision.UPHELD
        if d.leader is not None:
            yield d.release_lead(days=(0, 5))
        yield d.close(days=(1, 10))

    def _top_government(self) -> str:
        assert self.h.province is not None
        return self.h.province.government

    def _duplicate(self, number: int, received: datetime, target: Open) -> Iterator[Command]:
        """The same petitioner on the same matter, registered again while the first case is
        open: merged into it."""
        rng = self.rng
        d = Draft(
            self,
            number,
            received,
            target.office,
            target.county,
            rng.choice((Channel.PHONE, Channel.ONLINE)),
        )
        d.tag("merged_duplicate")
        yield d.register(
            matter_kind=MatterKind.CLAIM,
            category=target.category.name,
            summary=target.summary,
            petitioner_kind=PetitionerKind.NAMED,
            petitioners=target.petitioners,
            headcount=len(target.petitioners),
        )
        yield d.merge_into(target.case_id, days=(0, 2))

    def _report(self, number: int, received: datetime) -> Iterator[Command]:
        """检举控告: to the county's discipline commission; the informant often anonymous."""
        rng = self.rng
        county = self._county()
        township = rng.choice(county.townships)
        concerned = rng.choice((township, township, *county.departments.values()))
        category, template = rng.choice(matters.REPORTS)
        title = rng.choice(matters.REPORT_TITLES)
        where = self.h.units[concerned].short
        anonymous = rng.random() < P["anonymous_report"]
        channel = weighted(
            rng,
            ((Channel.LETTER, 45), (Channel.ONLINE, 30), (Channel.VISIT, 15), (Channel.PHONE, 10)),
        )
        d = Draft(self, number, received, county.office, county, channel)
        d.tag("report")
        if anonymous:
            d.tag("anonymous")
        yield d.register(
            matter_kind=MatterKind.REPORT,
            category=category,
            summary=self._summary(template, county, township, where=where, title=title),
            petitioner_kind=PetitionerKind.ANONYMOUS if anonymous else PetitionerKind.NAMED,
            petitioners=[Petitioner(self.uuid()) if anonymous else self._petitioner(township)],
            headcount=1,
            concerned_unit=self.h.id(concerned),
            concerned_person=f"{where}{title}{person_name(rng)}",
        )
        yield d.route(county.discipline, mode=RoutingMode.TRANSFER)
        yield from d.accept(days=(1, 7))
        yield d.assign_handler()
        yield from self._handle(d)
        yield from self._after_reply(d)

    def _suggestion(self, number: int, received: datetime) -> Iterator[Command]:
        rng = self.rng
        county = self._county()
        township = rng.choice(county.townships)
        category, key, template = rng.choice(matters.SUGGESTIONS)
        channel = weighted(rng, ((Channel.ONLINE, 50), (Channel.MAILBOX, 30), (Channel.LETTER, 20)))
        d = Draft(self, number, received, county.office, county, channel)
        d.tag("suggestion")
        yield d.register(
            matter_kind=MatterKind.SUGGESTION,
            category=category,
            summary=self._summary(template, county, township),
            petitioner_kind=PetitionerKind.NAMED,
            petitioners=[self._petitioner(township)],
            headcount=1,
        )
        yield d.route(county.departments[key])
        yield from d.accept(days=(1, 6))
        d.outcome_choices = ((ReplyOutcome.SUPPORTED, 50), (ReplyOutcome.EXPLAINED, 50))
        yield d.reply(day=(10, 40))
        yield from self._after_reply(d)

    # ------------------------------------------------------------------ parts

    def _competent(self, key: str, county: Level, township: str) -> str:
        if key == "TOWN":
            return township
        if key == "ENTERPRISE":
            assert county.parent is not None
            return self.rng.choice(county.parent.enterprises)
        return county.departments[key]

    def _summary(self, template: str, county: Level, township: str, **more: str) -> str:
        rng = self.rng
        return template.format(
            town=self.h.units[township].short,
            village=rng.choice(self.villages[township]) + "村",
            n=rng.randint(2, 12),
            m=rng.randint(2, 60),
            company=self.h.units[county.government].short.removesuffix("政府")
            + rng.choice(matters.COMPANIES),
            hardship=rng.choice(matters.HARDSHIPS),
            **more,
        )

    def uuid(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def _petitioner(self, township: str) -> Petitioner:
        rng = self.rng
        village = rng.choice(self.villages[township])
        return Petitioner(
            self.uuid(),
            name=person_name(rng),
            phone=phone(rng),
            address=f"{self.h.units[township].short}{village}村{rng.randint(1, 12)}组",
        )

    @staticmethod
    def case_of(command: Command) -> UUID:
        """The case a story's command acts on (its first command registers it)."""
        if command.target is not None:
            return command.target
        assert command.actor.unit is not None
        return Ledger.case_id_for(command.actor.unit, command.command_id)

    def tag_command(self, command: Command, tags: list[str]) -> None:
        self._tags_of[command.command_id] = tags

    def given(self, command: Command, case_id: UUID) -> None:
        """The command was written: the story tags it carries now count."""
        for tag in self._tags_of.pop(command.command_id, ()):
            self.tags[tag] += 1
            examples = self.examples.setdefault(tag, [])
            if len(examples) < 3:
                examples.append(case_id)

    def dropped(self, command: Command) -> None:
        """The command falls after the data set's end: its tags never came true."""
        self._tags_of.pop(command.command_id, None)


class Draft:
    """One case being told: who holds it, what has happened, and the story's clock."""

    def __init__(
        self,
        planner: Planner,
        number: int,
        received: datetime,
        office: str,
        county: Level,
        channel: Channel,
    ) -> None:
        self.p = planner
        self.rng = planner.rng
        self.h = planner.h
        self.number = number
        self.received = received
        self.office = office
        self.county = county
        self.channel = channel
        self.clerk = self.rng.choice(self.h.members(office, Role.CLERK))  # 首办负责
        self.steps = 0
        self.case_id = Ledger.case_id_for(self.h.id(office), self.command_id(1))
        self.t = received  # when the latest step happened
        self.recorded = received  # when the latest step was written
        self.holder = office
        self.routed_by: str | None = None
        self.handler: UUID | None = None
        self.leader: tuple[UUID, str] | None = None
        self.stage = "registered"
        self.kind = PetitionerKind.NAMED
        self.matter_kind = MatterKind.CLAIM
        self.petitioners: list[Petitioner] = []
        self.accepted_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.replied_by: str | None = None
        self.outcome: ReplyOutcome | None = None
        self.outcome_choices: Sequence[tuple[ReplyOutcome, float]] = matters.OUTCOMES
        self.allowance = HANDLING_DAYS
        self.notices = 0
        self.rated_version = 0
        self.misdated = False
        self.category_written = ""
        self.unhappy = False
        self.closed = False
        self.tags: set[str] = set()
        self.new_tags: list[str] = []

    # ------------------------------------------------------------------ basics

    def tag(self, name: str) -> None:
        """The story this case tells; it counts once the next command is written."""
        if name not in self.tags:
            self.tags.add(name)
            self.new_tags.append(name)

    def today(self) -> date:
        return self.p.day_of(self.t)

    def tendency(self) -> float:
        return self.p.tendency[self.holder]

    def worker(self, unit: str) -> UUID:
        """Who does the unit's case work: the case's clerk at its office, its handler where it
        is held, else someone whose job it is."""
        if unit == self.office:
            return self.clerk
        if unit == self.holder and self.handler is not None:
            return self.handler
        kind = self.h.units[unit].kind
        role = {
            UnitKind.PETITION_OFFICE: Role.CLERK,
            UnitKind.DISCIPLINE: Role.INSPECTOR,
            UnitKind.SUPERVISION: Role.STAFF,
        }.get(UnitKind(kind), Role.HANDLER)
        people = self.h.members(unit, role) or self.h.members(unit, Role.STAFF)
        return self.rng.choice(people)

    def who(self, unit: str, person: UUID | None = None) -> Actor:
        return Actor(person or self.worker(unit), self.h.id(unit))

    def petitioner(self) -> Actor:
        return Actor(self.rng.choice(self.petitioners).petitioner_id, None)

    def when(
        self, days: tuple[int, int], *, base: datetime | None = None, petitioner: bool = False
    ) -> datetime:
        """Some days after ``base`` (default: the latest step), never before the latest step."""
        day = self.p.day_of(base or self.t) + timedelta(days=self.rng.randint(*days))
        instant = self.p.any_time(day) if petitioner else self.p.office_time(day)
        if instant <= self.t:
            instant = self.t + timedelta(minutes=self.rng.randint(5, 90))
        return instant

    def command(
        self,
        action: str,
        actor: Actor,
        occurred: datetime,
        *,
        recorded: datetime | None = None,
        **arguments: Any,
    ) -> Command:
        occurred = max(occurred, self.t)
        if recorded is None:
            recorded = self.p.record_time(occurred, petitioner=actor.unit is None)
        recorded = max(recorded, self.recorded + timedelta(seconds=self.rng.randint(20, 300)))
        self.steps += 1
        self.t, self.recorded = occurred, recorded
        command = Command(
            "case",
            action,
            None if action == "register" else self.case_id,
            actor,
            occurred,
            recorded,
            self.command_id(self.steps),
            arguments,
        )
        if self.new_tags:
            self.p.tag_command(command, self.new_tags)
            self.new_tags = []
        return command

    def command_id(self, step: int) -> str:
        return f"gen-{self.p.seed}-{self.number}-{step}"

    # ------------------------------------------------------------------ intake and routing

    def register(
        self,
        *,
        matter_kind: MatterKind,
        category: str,
        summary: str,
        petitioner_kind: PetitionerKind,
        petitioners: list[Petitioner],
        headcount: int,
        concerned_unit: UUID | None = None,
        concerned_person: str | None = None,
    ) -> Command:
        rng = self.rng
        self.kind, self.petitioners = petitioner_kind, list(petitioners)
        self.matter_kind = matter_kind
        self.category_written = category
        if self.channel in (Channel.ONLINE, Channel.MAILBOX):  # any hour; the duty clerk
            received = self.received
            occurred = received + timedelta(minutes=rng.randint(10, 120))
        else:  # letters, visits and calls come in office hours
            received = self.p.in_office_hours(self.received)
            self.received = self.t = received
            occurred = received + timedelta(minutes=rng.randint(8, 50))
            if self.channel is Channel.LETTER:
                occurred += timedelta(minutes=rng.randint(0, 120))
        if self.channel is Channel.LETTER and rng.random() < P["late_registration"]:
            occurred = self.p.office_time(self.p.day_of(received) + timedelta(rng.randint(3, 10)))
            self.misdated = rng.random() < P["misdated_registration"] / P["late_registration"]
            if self.misdated:  # the clerk typed the registration day as the day of receipt
                received = occurred - timedelta(minutes=rng.randint(10, 40))
                self.tag("misdated_registration")
            else:
                self.tag("late_registration")
        return self.command(
            "register",
            self.who(self.office),
            occurred,
            channel=self.channel.value,
            received_at=received,
            matter_kind=matter_kind.value,
            category=category,
            summary=summary,
            petitioner_kind=petitioner_kind.value,
            petitioners=list(petitioners),
            headcount=headcount,
            concerned_unit=concerned_unit,
            concerned_person=concerned_person,
            attachments={Channel.LETTER: ["来信原件扫描件"], Channel.VISIT: ["来访登记表"]}.get(
                self.channel, []
            ),
        )

    def route(
        self,
        to: str,
        *,
        days: tuple[int, int] = (0, 3),
        mode: RoutingMode | None = None,
        with_handler: bool = False,
    ) -> Command:
        assert to != self.holder, f"story error: route to the holder {to}"
        if mode is None:
            from_office = self.h.units[self.holder].kind == UnitKind.PETITION_OFFICE
            mode = (
                weighted(self.rng, ((RoutingMode.ASSIGN, 6), (RoutingMode.TRANSFER, 4)))
                if from_office
                else RoutingMode.TRANSFER
            )
        handler = self.rng.choice(self.h.members(to, Role.HANDLER)) if with_handler else None
        from_office = self.h.units[self.holder].kind == UnitKind.PETITION_OFFICE
        note = (
            "请依法办理，并于办结后报送办理结果"
            if mode is RoutingMode.ASSIGN
            else "请依法处理并答复信访人"
            if from_office
            else "经研究不属我单位职责，转请办理"
        )
        command = self.command(
            "route",
            self.who(self.holder),
            self.when(days),
            to_unit=self.h.id(to),
            mode=mode.value,
            to_handler=handler,
            note=note,
        )
        self.routed_by, self.holder, self.handler = self.holder, to, handler
        if self.stage != "accepted":
            self.stage = "routed"
        return command

    def object(self, *, days: tuple[int, int]) -> Command:
        self.stage = "objected"
        return self.command(
            "object_jurisdiction",
            self.who(self.holder),
            self.when(days),
            reason="该事项不属我单位法定职责，请重新交办",
        )

    def decide_objection(self, agreed: bool) -> Command:
        assert self.routed_by is not None
        command = self.command(
            "decide_objection",
            self.who(self.routed_by),
            self.when((1, 4)),
            agreed=agreed,
            note="同意异议，材料退回重新交办"
            if agreed
            else "经研究，该事项属你单位职责，请依法办理",
        )
        if agreed:
            self.holder, self.routed_by, self.handler = self.routed_by, None, None
            self.stage = "registered"
        else:
            self.stage = "routed"
        return command

    def accept(self, *, days: tuple[int, int]) -> Iterator[Command]:
        if self.stage == "accepted":
            return
        occurred = self.when(days)
        self.stage = "accepted"
        self.accepted_at = occurred
        yield self.command(
            "accept", self.who(self.holder), occurred, note="已受理，并书面告知信访人"
        )

    def refuse(self, *, days: tuple[int, int]) -> Command:
        self.stage = "refused"
        return self.command(
            "refuse",
            self.who(self.holder),
            self.when(days),
            reason=self.rng.choice(matters.REFUSALS),
        )

    def assign_handler(self) -> Command:
        kind = self.h.units[self.holder].kind
        role = Role.INSPECTOR if kind == UnitKind.DISCIPLINE else Role.HANDLER
        handler = self.rng.choice(
            self.h.members(self.holder, role) or self.h.members(self.holder, Role.STAFF)
        )
        head = self.h.members(self.holder, Role.HEAD)[0]
        command = self.command(
            "assign_handler", self.who(self.holder, head), self.when((0, 2)), handler=handler
        )
        self.handler = handler
        return command

    # ------------------------------------------------------------------ leaders, clocks, 督办

    def assign_lead(self, *, days: tuple[int, int]) -> Command:
        """领导包案: a deputy head of the county (or of the township concerned)."""
        unit = self.county.government
        if self.holder in self.county.townships and self.rng.random() < 0.4:
            unit = self.holder  # the township's own deputy head
        leader = self.rng.choice(self.h.members(unit, Role.DEPUTY))
        self.leader = (leader, unit)
        self.tag("leader_held")
        return self.command("assign_lead", self.who(unit, leader), self.when(days), leader=leader)

    def release_lead(self, *, days: tuple[int, int]) -> Command:
        assert self.leader is not None
        leader, unit = self.leader
        self.leader = None
        return self.command(
            "release_lead", self.who(unit, leader), self.when(days), note="问题已化解，解除包案"
        )

    def handling_day(self, days: tuple[int, int]) -> datetime:
        assert self.accepted_at is not None
        return self.when(days, base=self.accepted_at)

    def extend(self, *, request_day: tuple[int, int], days: int, granted: int) -> Iterator[Command]:
        yield self.command(
            "request_extension",
            self.who(self.holder),
            self.handling_day(request_day),
            days=days,
            reason="需现场勘查并征求相关部门意见，申请延期",
        )
        head = self.h.members(self.holder, Role.HEAD)[0]
        decided = self.when((1, 3))
        if granted:
            yield self.command(
                "decide_extension",
                self.who(self.holder, head),
                decided,
                decision=ExtensionDecision.APPROVED.value,
                approver=head,
                days_granted=granted,
                petitioner_told_at=decided + timedelta(hours=self.rng.randint(2, 40)),
            )
            self.allowance += min(granted, 30)
        else:
            yield self.command(
                "decide_extension",
                self.who(self.holder, head),
                decided,
                decision=ExtensionDecision.REJECTED.value,
                approver=head,
                days_granted=0,
            )

    def pause(self, *, day: tuple[int, int], length: tuple[int, int]) -> Iterator[Command]:
        reason = self.rng.choice((PauseReason.HEARING, PauseReason.APPRAISAL))
        note = "组织听证" if reason is PauseReason.HEARING else "委托鉴定"
        start = self.handling_day(day)
        yield self.command(
            "pause_clock", self.who(self.holder), start, reason=reason.value, note=note
        )
        end = self.when(length)
        yield self.command("resume_clock", self.who(self.holder), end, note=f"{note}已完成")
        self.allowance += (self.p.day_of(end) - self.p.day_of(start)).days

    def supervise(self, *, day: tuple[int, int], answer: str | None) -> Iterator[Command]:
        """督办 by the county's supervision office (or its petition office), and the answer."""
        by = self.county.supervision if self.rng.random() < 0.7 else self.county.office
        if by == self.holder:
            by = self.county.supervision
        issued = self.handling_day(day)
        limit = self.rng.randint(7, 15)
        deadline = self.p.day_of(issued) + timedelta(days=limit)
        supervised = self.holder
        if answer is None:
            self.tag("supervision_ignored")
        yield self.command(
            "issue_supervision",
            self.who(by),
            issued,
            level="县级督办",
            deadline=deadline,
            instructions=f"请于{deadline.month}月{deadline.day}日前书面报送办理情况",
        )
        self.notices += 1
        if answer is None:
            return
        self.tag("supervision_answered" if answer == "on_time" else "supervision_answered_late")
        answered = self.when((1, limit - 3) if answer == "on_time" else (limit + 3, limit + 25))
        yield self.command(
            "answer_supervision",
            self.who(supervised),
            answered,
            notice_no=self.notices,
            answer="已召开专题会研究，正在落实，近期将书面答复信访人",
        )

    # ------------------------------------------------------------------ reply and after

    def reply(
        self, *, day: tuple[int, int], recorded_after: tuple[int, int] | None = None
    ) -> Command:
        rng = self.rng
        outcome = weighted(rng, self.outcome_choices)
        occurred = self.handling_day(day)
        recorded = None
        if recorded_after is not None:
            recorded = self.p.office_time(
                self.p.day_of(occurred) + timedelta(days=rng.randint(*recorded_after))
            )
        assert self.accepted_at is not None
        used = (self.p.day_of(occurred) - self.p.day_of(self.accepted_at)).days
        if used > self.allowance + 60:  # tagged as it came out, whatever was planned
            self.tag("very_late")
        self.tag("late" if used > self.allowance else "on_time")
        delivered = occurred + timedelta(hours=rng.randint(1, 72))
        online = self.channel in (Channel.ONLINE, Channel.MAILBOX) and rng.random() < 0.6
        command = self.command(
            "reply",
            self.who(self.holder),
            occurred,
            recorded=recorded,
            outcome=outcome.value,
            text=matters.REPLY_TEXTS[outcome],
            delivered_at=delivered,
            delivery_method="网上答复" if online else rng.choice(("书面", "当面送达", "邮寄送达")),
        )
        self.stage = "replied"
        self.delivered_at = delivered
        self.replied_by = self.holder
        self.outcome = outcome
        return command

    def rating_for_outcome(self) -> Rating | None:
        assert self.outcome is not None
        return weighted(self.rng, matters.RATINGS[self.outcome])

    def rate(self, rating: Rating) -> Command:
        assert self.delivered_at is not None
        occurred = self.when((1, 10), base=max(self.delivered_at, self.t), petitioner=True)
        self.tag("rated")
        return self.command("rate", self.petitioner(), occurred, rating=rating.value, comment="")

    def appeal(self, level: AppealLevel, decision: AppealDecision) -> Iterator[Command]:
        """复查 (or 复核): asked within the 30 days, decided by the government above."""
        assert self.delivered_at is not None
        reviewer = self.h.reviewer_of(self.holder)
        filed = self.when((5, 27), base=max(self.delivered_at, self.t), petitioner=True)
        yield self.command(
            "file_appeal",
            self.petitioner(),
            filed,
            level=level.value,
            to_unit=self.h.id(reviewer),
            reason="对处理意见不服" if level is AppealLevel.REVIEW else "对复查意见不服，请求复核",
        )
        self.routed_by, self.holder, self.handler = self.holder, reviewer, None
        late = self.rng.random() < P["late_review"]
        decided = self.when((35, 60) if late else (12, 28))
        delivered = decided + timedelta(hours=self.rng.randint(2, 72))
        self.tag("review" if level is AppealLevel.REVIEW else "rereview")
        if decision is not AppealDecision.UPHELD:
            self.tag("overturned")
        yield self.command(
            "decide_appeal",
            self.who(reviewer, self.rng.choice(self.h.members(reviewer, Role.STAFF))),
            decided,
            decision=decision.value,
            text=f"经{level.value}，原处理意见"
            + ("予以维持。" if decision is AppealDecision.UPHELD else "予以变更。"),
            delivered_at=delivered,
        )
        self.delivered_at = delivered

    def close(self, *, days: tuple[int, int], by_office: bool | None = None) -> Command:
        if by_office is None:
            by_office = self.rng.random() < 0.4
        self.closed = True
        return self.command(
            "close",
            self.who(self.office if by_office else self.holder),
            self.when(days),
            note="已答复信访人，予以办结",
        )

    def withdraw(self, *, days: tuple[int, int]) -> Command:
        return self.command(
            "withdraw",
            self.petitioner(),
            self.when(days, petitioner=True),
            reason="经协调已达成和解，申请撤回信访事项",
        )

    def merge_into(self, target: UUID, *, days: tuple[int, int]) -> Command:
        return self.command(
            "merge_into",
            self.who(self.office),
            self.when(days),
            target_case=target,
            note="与该信访人此前反映的同一事项合并办理",
        )

    # ------------------------------------------------------------------ corrections

    def correct_category(self, category: str) -> Command:
        self.tag("corrected")
        return self.command(
            "correct",
            self.who(self.office),
            self.when((0, 2)),
            corrects_version=1,
            field="category",
            new_value=category,
            reason=f"经核实，信访人反映的是{category}问题，登记类别有误",
        )

    def correct_received_at(self) -> Command:
        self.tag("corrected")
        return self.command(
            "correct",
            self.who(self.office),
            self.when((2, 20)),
            corrects_version=1,
            field="received_at",
            new_value=self.received,
            reason="收信登记簿显示该信早于登记日收到，登记时误录为登记当日",
        )
