"""The store's schema as Alembic migrations, and the upgrade every start runs.

``upgrade(engine)`` brings a database to the newest revision (``head``): a new database gets every table;
a database made by a release before migrations existed (tables created by ``create_all``, no
``alembic_version`` table) is recognised and adopted at the baseline revision (``0001``, which only creates
the tables such a database lacks), then upgraded.  Several processes starting at once on one database
(gunicorn workers, several instances) run it one at a time: a PostgreSQL advisory lock held for the
upgrade's transaction, a file lock beside a SQLite file.  Adding a migration: README, "Database migrations".
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
from pathlib import Path
from collections.abc import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema of the last release without migrations (its ``create_all``)
_PG_LOCK_KEY = 0x7265706F6C6963  # "repolic": the advisory lock every instance takes to upgrade
_LEGACY_MARKER = "ruleset_versions"  # a table every release has created


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration for this package (no ini file needed); ``connection`` is used as is."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision (read once a process: every store opened compares its database with it)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()  # type: ignore[return-value]


def current(connection: Connection) -> str | None:
    """The revision a database is at (None: not under migrations, or empty)."""
    return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Bring the database to ``head`` (one process at a time); a no-op on a database already there."""
    target = head()
    with _sqlite_file_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # released at the end of this transaction
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        at = current(conn)
        if at == target:
            return
        cfg = alembic_config(conn)
        if at is None and inspect(conn).has_table(_LEGACY_MARKER):
            log.warning(
                "database made before migrations (no alembic_version): adopting it at the baseline "
                "revision %s, then upgrading to %s",
                BASELINE,
                target,
            )
            command.upgrade(cfg, BASELINE)
        command.upgrade(cfg, "head")
        log.info("database schema upgraded from %s to %s", at or "nothing", target)
