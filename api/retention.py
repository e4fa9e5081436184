"""Decision retention: decisions older than the configured period are deleted, at most once an hour.

Decisions are kept to reproduce a finding years later, so by default nothing is
deleted (``DECISION_RETENTION_DAYS`` unset or 0).  Where the period is set (e.g.
to the archive period the authority applies to enterprise data, Measures Art. 13),
each process purges from its registry poller; the delete is idempotent, so
several workers doing it is harmless.  Each purge is logged with its count.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from policy.store import Store

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, store: Store | None, days: float | None, every_s: float = 3600.0):
        self.store = store if days else None
        self.days = days
        self.every_s = every_s
        self._last = float("-inf")
        self.purged = 0

    def attach(self, store: Store) -> None:
        """A database that was down at start-up answers."""
        if self.days:
            self.store = store

    def cutoff(self, now: dt.datetime | None = None) -> dt.datetime:
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=float(self.days or 0))

    def maybe_purge(self) -> int:
        """Purge if the period is set and the last purge is over ``every_s`` ago; the rows deleted."""
        if self.store is None or time.monotonic() - self._last < self.every_s:
            return 0
        self._last = time.monotonic()
        try:
            n = self.store.purge_decisions(self.cutoff())
        except Exception as exc:  # database down: try again next time
            log.warning("decision retention: purge failed (%s)", type(exc).__name__)
            self._last = float("-inf")
            return 0
        if n:
            log.info("decision retention: %d decision(s) older than %s days deleted", n, self.days)
        self.purged += n
        return n
