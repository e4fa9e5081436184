"""Alembic's environment: the store's metadata, and the connection :func:`policy.migrations.upgrade` gives
(or, from the ``alembic`` command line, the ``sqlalchemy.url`` of alembic.ini or ``REPOLICY_DATABASE_URL``)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from policy.store import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite"
    )  # SQLite alters by copying
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("REPOLICY_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: set REPOLICY_DATABASE_URL (or sqlalchemy.url in alembic.ini)")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def run_migrations_offline() -> None:
    context.configure(
        url=os.environ.get("REPOLICY_DATABASE_URL") or config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
