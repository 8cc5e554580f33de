"""Shared table metadata: one naming convention so every constraint has a predictable name."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Set before any table is declared: constraint names are fixed when a table is built.
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


# Requests run as this database role (created by migration 0003), under row-level security.
APPLICATION_ROLE = "triage_app"


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(*, default_now: bool = True, nullable: bool = False, **kwargs: Any) -> Any:
    """A timezone-aware timestamp column."""
    if default_now:
        kwargs["default_factory"] = utcnow
    elif nullable:
        kwargs["default"] = None
    return Field(sa_type=DateTime(timezone=True), nullable=nullable, **kwargs)
