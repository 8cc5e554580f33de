"""Alembic migrations: static, reviewed by hand, one file per schema change, each with a downgrade."""
