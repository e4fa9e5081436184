"""Operating the service: naming a database error safely, and logging a dependency's outage once.

Used by the registry poller (:mod:`api.runtime`) and the decision log alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


def describe_error(exc: BaseException) -> str:
    """One line naming a database error without the statement or its parameters.

    SQLAlchemy's message quotes the SQL and its bound values, and a decision
    row's values are enterprise production data (Measures Art. 13): the
    driver's own message (``exc.orig``) says what went wrong without them.
    """
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else type(cause).__name__}"


class OutageLog:
    """Logs a dependency's outage at its transitions, not at every failed attempt.

    A poller or writer retrying every second against a database that went away
    would otherwise print the same warning thousands of times and bury
    everything else.  The first failure is a WARNING (with the error), repeats
    are at most one WARNING per ``repeat_every`` seconds (DEBUG in between),
    and the first success afterwards is one INFO line with the outage's length.
    """

    def __init__(
        self, logger: logging.Logger, what: str, repeat_every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.logger, self.what, self.repeat_every, self.clock = logger, what, repeat_every, clock
        self.since: float | None = None
        self._last_logged = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, detail: str = "") -> None:
        """One failed attempt; ``detail`` is appended to the message (e.g. what is kept for retry)."""
        now = self.clock()
        error = describe_error(exc)
        with self._lock:
            if self.since is None:
                self.since = self._last_logged = now
                self.logger.warning("%s unavailable: %s%s", self.what, error, detail)
            elif now - self._last_logged >= self.repeat_every:
                self._last_logged = now
                self.logger.warning(
                    "%s still unavailable after %.0f s: %s%s", self.what, now - self.since, error, detail
                )
            else:
                self.logger.debug("%s still unavailable: %s%s", self.what, error, detail)

    def succeeded(self, detail: str = "") -> None:
        """One successful attempt: logs the recovery if there was an outage."""
        with self._lock:
            if self.since is None:
                return
            took, self.since = self.clock() - self.since, None
        self.logger.info("%s available again after %.1f s%s", self.what, took, detail)
