"""Petitioners' personal data, encrypted with a key per petitioner, and forgettable.

Name, ID number, phone and address are written into events only as ciphertext (AES-256-GCM,
``enc1:…``), each petitioner with a key of their own kept *outside* the log, in
``petitioner_keys``. When retention ends, ``forget`` destroys the key: the data becomes
unreadable everywhere at once (views show it as erased), while every event, every seal and
every statistic stays exactly as it was, and the forgetting is itself recorded on the cases.

The nonce is derived from the key and the plaintext (so the same seed writes the same bytes,
and the demo stays reproducible); it can only reveal that one petitioner's field repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.petitioners import PERSONAL_FIELDS, Petitioner

PREFIX = "enc1:"
ERASED = "（已删除）"

metadata = sa.MetaData()
keys = sa.Table(
    "petitioner_keys",
    metadata,
    sa.Column("petitioner_id", sa.String(32), primary_key=True),
    sa.Column("key", sa.LargeBinary(32), nullable=True),  # NULL once forgotten
    sa.Column("created_s", sa.Float, nullable=False),
    sa.Column("forgotten_s", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
)
appearances = sa.Table(
    "petitioner_cases",
    metadata,
    sa.Column("petitioner_id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(32), primary_key=True),
)


class PersonalData:
    def __init__(
        self, engine: sa.Engine, keygen: Callable[[], bytes] = lambda: secrets.token_bytes(32)
    ) -> None:
        self.engine = engine
        self.keygen = keygen
        metadata.create_all(engine, checkfirst=True)

    def _key(self, conn: sa.Connection, petitioner: str, *, create: bool) -> bytes | None:
        row = conn.execute(
            sa.select(keys.c.key, keys.c.forgotten_s).where(keys.c.petitioner_id == petitioner)
        ).first()
        if row is not None:
            return row[0]  # type: ignore[no-any-return]
        if not create:
            return None
        key = self.keygen()
        conn.execute(keys.insert().values(petitioner_id=petitioner, key=key, created_s=time.time()))
        return key

    def seal(self, petitioners: list[Petitioner], case_id: UUID) -> list[Petitioner]:
        """Encrypt each petitioner's personal fields with their key (created if new)."""
        for _ in range(3):
            try:
                return self._seal(petitioners, case_id)
            except sa.exc.IntegrityError:
                continue  # another registration created the same key first: use theirs
        return self._seal(petitioners, case_id)

    def _seal(self, petitioners: list[Petitioner], case_id: UUID) -> list[Petitioner]:
        sealed = []
        with self.engine.begin() as conn:
            for petitioner in petitioners:
                pid = petitioner.petitioner_id.hex
                key = self._key(conn, pid, create=True)
                if key is None:
                    raise ValueError(f"petitioner {pid}'s data was erased; register anew")
                sealed.append(seal_with(key, petitioner))
                exists = conn.execute(
                    sa.select(appearances.c.case_id).where(
                        appearances.c.petitioner_id == pid, appearances.c.case_id == case_id.hex
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        appearances.insert().values(petitioner_id=pid, case_id=case_id.hex)
                    )
        return sealed

    def is_empty(self) -> bool:
        """Whether no petitioner has ever been given a key here."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(keys.c.petitioner_id).limit(1)).first() is None

    def key_of(self, petitioner: UUID) -> bytes | None:
        """A petitioner's key, or None for a petitioner never seen; an erased petitioner's
        data cannot be sealed again (as ``seal`` refuses)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(keys.c.key).where(keys.c.petitioner_id == petitioner.hex)
            ).first()
        if row is None:
            return None
        if row[0] is None:
            raise ValueError(f"petitioner {petitioner.hex}'s data was erased; register anew")
        return row[0]  # type: ignore[no-any-return]

    def store_many(self, new_keys: dict[UUID, bytes], seen_in: list[tuple[UUID, UUID]]) -> None:
        """Bulk writing (ledger.bulk): new petitioners' keys and the cases they appear in, in
        one transaction. The caller made the keys with ``keygen`` and sealed with them."""
        now = time.time()
        with self.engine.begin() as conn:
            if new_keys:
                conn.execute(
                    keys.insert(),
                    [
                        {"petitioner_id": p.hex, "key": k, "created_s": now}
                        for p, k in new_keys.items()
                    ],
                )
            if seen_in:
                conn.execute(
                    appearances.insert(),
                    [{"petitioner_id": p.hex, "case_id": c.hex} for p, c in seen_in],
                )

    def open(self, record: dict[str, Any]) -> dict[str, Any]:
        """A stored petitioner record with its personal fields readable (or erased)."""
        pid = record.get("petitioner_id")
        if not isinstance(pid, UUID):
            return dict(record)
        with self.engine.connect() as conn:
            key = self._key(conn, pid.hex, create=False)
        opened = dict(record)
        for field in PERSONAL_FIELDS:
            value = record.get(field)
            if isinstance(value, str) and value.startswith(PREFIX):
                opened[field] = ERASED if key is None else _decrypt(key, field, value)
        return opened

    def forget(self, petitioner: UUID, reason: str) -> list[UUID]:
        """Destroy the petitioner's key; returns the cases their data appears in."""
        with self.engine.begin() as conn:
            found = conn.execute(
                keys.update()
                .where(keys.c.petitioner_id == petitioner.hex, keys.c.key.is_not(None))
                .values(key=None, forgotten_s=time.time(), reason=reason)
            ).rowcount
            if not found:
                raise LookupError(f"no personal data of petitioner {petitioner} to forget")
            return [
                UUID(hex=c)
                for (c,) in conn.execute(
                    sa.select(appearances.c.case_id).where(
                        appearances.c.petitioner_id == petitioner.hex
                    )
                )
            ]


def seal_with(key: bytes, petitioner: Petitioner) -> Petitioner:
    """The petitioner with every personal field encrypted under their key."""
    fields: dict[str, Any] = {
        f: _encrypt(key, f, getattr(petitioner, f))
        for f in PERSONAL_FIELDS
        if getattr(petitioner, f) is not None
    }
    return replace(petitioner, **fields)


def _nonce(key: bytes, field: str, plaintext: str) -> bytes:
    return hmac.new(key, f"{field}\0{plaintext}".encode(), hashlib.sha256).digest()[:12]


def _encrypt(key: bytes, field: str, plaintext: str) -> str:
    nonce = _nonce(key, field, plaintext)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), field.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def _decrypt(key: bytes, field: str, value: str) -> str:
    raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX))
    return AESGCM(key).decrypt(raw[:12], raw[12:], field.encode()).decode()
