"""Settings from the environment: one DATABASE_URL drives the event store and the read models."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "petition-ledger.sqlite3"


class Settings(BaseSettings):
    """``DATABASE_URL``: ``sqlite:///path`` (the embedded default, created on first run) or
    ``postgresql+psycopg2://user@host:port/db`` for deployment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{DEFAULT_SQLITE_PATH}")
    timezone: str = Field(default="Asia/Shanghai", alias="LEDGER_TIMEZONE")
    views_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LEDGER_VIEWS_DATABASE_URL", "views_database_url"),
        description="A read-only copy of the database (a PostgreSQL streaming replica) that "
        "serves the views; commands, the projector and access checks stay on DATABASE_URL.",
    )

    sqlite_views_file: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("LEDGER_SQLITE_VIEWS_FILE", "sqlite_views_file"),
        description="On a SQLite file, keep the read models in a file of their own beside it "
        "(NAME.views.sqlite3), so that the projector's writes never hold the lock the "
        "commands' writes wait for (SQLite has one writer per file; ADR 18). Unset: apart, "
        "except for a store that already holds its read models in its own file (made before "
        "this was the default), which keeps them there; 1 or 0 forces either layout.",
    )

    @field_validator("database_url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg2://")):
            raise ValueError(
                "DATABASE_URL must be sqlite:///PATH or postgresql+psycopg2://USER@HOST:PORT/DB, "
                f"got {url!r}"
            )
        return url

    @model_validator(mode="after")
    def _replica_of_postgresql(self) -> Settings:
        url = self.views_database_url
        if url is not None and (not url.startswith("postgresql+psycopg2://") or self.is_sqlite):
            raise ValueError(
                "LEDGER_VIEWS_DATABASE_URL is a PostgreSQL replica of a PostgreSQL "
                "DATABASE_URL (postgresql+psycopg2://USER@HOST:PORT/DB)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_views_path(self) -> Path | None:
        """The SQLite file beside the store's that holds the views; None when they are in the
        store's own database (PostgreSQL, an in-memory store, ``sqlite_views_file`` off, or a
        store that already keeps them: see :func:`keeps_views_inside`). Looks at the files,
        so a ledger asks once, before it writes anything."""
        path = self.sqlite_path()
        if path is None or path.name in ("", ":memory:"):
            return None
        apart = self.sqlite_views_file
        if apart is None:
            apart = not keeps_views_inside(path)
        return views_file(path) if apart else None

    def projection_url(self) -> str:
        """Where the projector writes the views and the store-side reads find them."""
        path = self.sqlite_views_path()
        return self.database_url if path is None else f"sqlite:///{path}"

    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL."""
        if not self.is_sqlite:
            return None
        return Path(self.database_url.removeprefix("sqlite:///"))


def views_file(store: Path) -> Path:
    """The file the read models of the SQLite store ``store`` are kept in, when apart."""
    return store.with_name(f"{store.stem}.views{store.suffix}")


def database_files(database: Path) -> list[Path]:
    """A SQLite database's file and its WAL and shared-memory files."""
    return [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]


def sqlite_files(store: Path) -> list[Path]:
    """Every file of the SQLite store ``store``: its own and its views file's (what a reset
    deletes: a views file left behind would describe a log that is gone, and the projector
    refuses it)."""
    return [*database_files(store), *database_files(views_file(store))]


def keeps_views_inside(store: Path) -> bool:
    """Whether the SQLite store ``store`` keeps its read models in its own file: it holds
    them (it was projected before the views had a file of their own by default) and no views
    file stands beside it. Such a store keeps that layout rather than project every view
    again from zero into a new file (343 s at 100k cases); ``LEDGER_SQLITE_VIEWS_FILE=1``
    moves them (the new file is projected from the log; the old tables stay, unread)."""
    if views_file(store).exists() or not store.exists():
        return False
    try:
        with closing(sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (VIEW_SETS_TABLE,),
            ).fetchone()
    except sqlite3.DatabaseError:
        return False  # not a database (yet): the store's own open says what is wrong
    return found is not None


VIEW_SETS_TABLE = "rm_view_sets"
"""The read models' table of view sets (``projections.schema.view_sets``): its presence says
a file holds read models."""
