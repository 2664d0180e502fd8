"""Facts as projectors read them: stored rows decoded straight from the events table.

Projectors do not go through the library's per-event objects (the slow path, see
EVENTSOURCING-NOTES.md): they read (position, aggregate id, version, topic, state) rows and
decode the JSON once. Old event versions are upcast with the event classes' own upcasters, so
the projection sees what the aggregate sees. Ids stay 32-character hex strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from eventsourcing.utils import resolve_topic

from domain.provenance import STORED_PROVENANCE

# Stored topics of the aggregates a projector reads; anything else (case-number sequences,
# snapshots) is skipped.
CASE_TOPIC_PREFIX = "domain.case:Case."
DIRECTORY_TOPIC_PREFIXES = ("domain.directory:Unit.", "domain.directory:Person.")


@dataclass(slots=True)
class Fact:
    """One stored event: where it is in the log, whose it is, what it says."""

    position: int
    aggregate_id: str
    version: int
    kind: str  # "Case", "Unit" or "Person"
    type: str  # the event class name, e.g. "Accepted"
    recorded_at: datetime
    occurred_at: datetime
    actor: str | None
    actor_unit: str | None
    on_behalf_of: str | None
    command_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def originator_version(self) -> int:
        return self.version

    def __getattr__(self, name: str) -> Any:
        """Fields of the event itself read like attributes (so the aggregate's own evolve
        functions can fold facts)."""
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None


_datetime = datetime.fromisoformat


def _decode_value(d: dict[str, Any]) -> Any:
    kind = d.get("_type_")
    if kind is None or len(d) != 2:
        return {k: _revive(v) if type(v) in _CONTAINERS else v for k, v in d.items()}
    value = d["_data_"]
    if kind == "uuid_hex":
        return value
    if kind == "datetime_iso":
        return datetime.fromisoformat(value)
    if kind == "date_iso":
        return date.fromisoformat(value)
    if kind == "decimal_str":
        return Decimal(value)
    raise ValueError(f"stored value of unknown type {kind!r}")


_CONTAINERS = (dict, list)


def _revive(value: Any) -> Any:
    """Turn the library's ``{"_type_": …, "_data_": …}`` wrappers back into values."""
    if type(value) is dict:
        return _decode_value(value)
    if type(value) is list:
        return [_revive(v) for v in value]
    return value


def hex_id(value: Any) -> str:
    """A stored aggregate id as 32 hex digits, whatever the driver returned."""
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, str):
        return value.replace("-", "")
    return value.hex  # type: ignore[no-any-return]


def kind_of(topic: str) -> str | None:
    if topic.startswith(CASE_TOPIC_PREFIX):
        return "Case"
    for prefix in DIRECTORY_TOPIC_PREFIXES:
        if topic.startswith(prefix):
            return prefix.split(":")[1].rstrip(".")
    return None


@dataclass(frozen=True, slots=True)
class _Topic:
    """What a stored topic tells the decoder, worked out once per topic."""

    kind: str
    event_type: str
    event_class: Any
    class_version: int


@cache
def _topic(topic: str) -> _Topic | None:
    kind = kind_of(topic)
    if kind is None:
        return None
    cls = resolve_topic(topic)
    return _Topic(kind, topic.rsplit(".", 1)[1], cls, getattr(cls, "class_version", 1))


_FIELDS = frozenset(f.name for f in fields(Fact))
_DROPPED = tuple(k for k in STORED_PROVENANCE if k not in _FIELDS and k != "timestamp")


def decode(row: Sequence[Any]) -> Fact | None:
    """(id, originator_id, originator_version, topic, state) → a Fact, or None if the row is
    not a case or directory event."""
    position, originator_id, version, topic, state = row
    meta = _topic(topic)
    if meta is None:
        return None
    data = orjson.loads(state)
    # Only wrapped values (ids, instants) and lists need a second look; most values are
    # plain strings and numbers as orjson made them. An id or an instant, most of what is
    # wrapped, is unwrapped here rather than in a call (an event holds four or five).
    for key, value in data.items():
        if type(value) is dict:
            kind = value.get("_type_")
            if kind == "uuid_hex" and len(value) == 2:
                data[key] = value["_data_"]
            elif kind == "datetime_iso" and len(value) == 2:
                data[key] = _datetime(value["_data_"])
            else:
                data[key] = _decode_value(value)
        elif type(value) is list and value:
            data[key] = [_revive(v) for v in value]
    stored_version = data.pop("class_version", 1)
    while stored_version < meta.class_version:  # old events read as the aggregate reads them
        getattr(meta.event_class, f"upcast_v{stored_version}_v{stored_version + 1}")(data)
        stored_version += 1
    pop = data.pop
    fact = Fact(
        position,
        hex_id(originator_id),
        version,
        meta.kind,
        meta.event_type,
        pop("timestamp"),
        pop("occurred_at"),
        pop("actor"),
        pop("actor_unit"),
        pop("on_behalf_of"),
        pop("command_id"),
        data,
    )
    for key in _DROPPED:
        pop(key, None)
    return fact


def decode_all(rows: Iterable[Sequence[Any]]) -> Iterator[Fact]:
    for row in rows:
        fact = decode(row)
        if fact is not None:
            yield fact


def with_corrections(facts: Sequence[Fact]) -> list[Fact]:
    """The case's facts as corrected: each ``Corrected`` patches one field of the fact it
    names (the latest correction wins); the corrections themselves are kept in sequence."""
    patched = list(facts)
    if all(f.type != "Corrected" for f in facts):
        return patched
    by_version = {f.version: i for i, f in enumerate(patched)}
    for f in facts:
        if f.type != "Corrected":
            continue
        i = by_version.get(f.data["corrects_version"])
        if i is None:
            continue
        target = patched[i]
        name, value = f.data["field"], f.data["new_value"]
        if name == "occurred_at":
            patched[i] = replace(target, occurred_at=value, data=dict(target.data))
        else:
            patched[i] = replace(target, data={**target.data, name: value})
    return patched
