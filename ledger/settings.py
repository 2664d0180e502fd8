"""Settings from the environment: one DATABASE_URL drives the event store and the read models."""

from __future__ import annotations

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

    sqlite_views_file: bool = Field(
        default=False,
        validation_alias=AliasChoices("LEDGER_SQLITE_VIEWS_FILE", "sqlite_views_file"),
        description="On a SQLite file, keep the read models in a file of their own beside it "
        "(NAME.views.sqlite3), so that the projector's writes never hold the lock the "
        "commands' writes wait for (SQLite has one writer per file; ADR 18).",
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
        """With ``sqlite_views_file``, the SQLite file beside the store's that holds the
        views; None when they are in the store's own database."""
        path = self.sqlite_path()
        if path is None or not self.sqlite_views_file or path.name in ("", ":memory:"):
            return None
        return views_file(path)

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
