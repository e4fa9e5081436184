"""The registry database made ready for a process: the shipped rulesets seeded into it, and its
connections forgotten by forked children (gunicorn workers).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import weakref
from typing import Any

from policy.model import Ruleset
from policy.store import Store, VersionConflict

log = logging.getLogger(__name__)


def version_record(rs: Ruleset, author: str, comment: str | None = None) -> dict[str, Any]:
    """The store row of a validated ruleset version."""

    def day(n: int | None) -> str | None:
        return dt.date.fromordinal(n).isoformat() if n else None

    return {
        "ruleset_id": rs.id,
        "version": rs.version,
        "status": rs.status,
        "instrument": rs.instrument,
        "legal_status": rs.instrument_status,
        "effective_from": day(rs.effective_from),
        "effective_to": day(rs.effective_to),
        "source": rs.source,
        "digest": rs.digest,
        "author": author,
        "comment": comment,
    }


def forget_connections_after_fork(store: Store) -> None:
    """A forked child (gunicorn worker) opens its own database connections.

    The store was seeded in the parent, so its pool holds open connections; a
    child using them would share the parent's sockets (two processes
    interleaving one PostgreSQL session).  ``dispose(close=False)`` drops them
    from the child's pool without closing the parent's sockets.
    """
    ref = weakref.ref(store)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.engine.dispose(close=False)

    os.register_at_fork(after_in_child=forget)


def seeded_store(database_url: str, shipped: list[Ruleset]) -> Store:
    """The store at ``database_url`` holding the shipped rulesets (idempotent by digest)."""
    store = Store(database_url)
    for rs in shipped:
        try:
            store.add_version(**version_record(rs, author="shipped", comment=f"shipped file {rs.path}"))
        except VersionConflict as exc:
            log.warning("%s: %s; the registry's version is kept", rs.path, exc)
    forget_connections_after_fork(store)
    return store
