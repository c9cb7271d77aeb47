"""Alembic environment: runs migrations against the URL bot.db.upgrade() configured."""

from __future__ import annotations

from alembic import context

from bot.db import make_engine
from bot.models import Base
from bot.settings import Settings

config = context.config

url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
