"""Partner call rates shared by every worker and replica (migration 0015)."""

from sqlalchemy import Double
from sqlmodel import Field, SQLModel


class PartnerRate(SQLModel, table=True):
    """The theoretical arrival time of each partner's next call (GCRA), in epoch seconds.

    Unlogged: the state is seconds deep, and a crash that loses it loses nothing.
    """

    __tablename__ = "partner_rate"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    partner: str = Field(primary_key=True, max_length=40)
    tat: float = Field(sa_type=Double)
