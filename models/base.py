"""Shared table metadata: one naming convention so every constraint has a predictable name."""

from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import DateTime
from sqlalchemy.orm import class_mapper
from sqlmodel import Field, SQLModel

Row = TypeVar("Row", bound=SQLModel)

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


def built(table: type[Row], **values: Any) -> Row:
    """A row of `table` holding exactly `values` (defaults for the rest), built without the
    instrumented constructor, which sends an attribute event through SQLAlchemy per field and cost
    ten times as much. For rows on hot paths that are written as values, not through a session:
    a table model validates nothing on construction either way. The row still behaves as one built
    the usual way (attributes can be set; a session could add it)."""
    # `class_mapper` configures the mappers first if nothing has yet (the constructor would).
    manager = class_mapper(table).class_manager
    row: Row = cast(Row, table.model_construct(**values))
    manager.setup_instance(row)
    return row
