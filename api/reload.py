"""Hot reload: a thread of the serving process that polls the registry database and refreshes the runtime.

One poller per process (threads do not survive a fork: gunicorn's workers start their own on their
first request).  It stops when told, and waits for its thread: :meth:`RegistryPoller.stop` on the
app's poller (``app.extensions["repolicy_poller"]``), which the tests' fixtures call for every app they
make, and :func:`stop_all` at interpreter exit as a backstop.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any
from collections.abc import Callable, Collection

from api.runtime import Runtime

log = logging.getLogger(__name__)

_running: weakref.WeakSet[RegistryPoller] = weakref.WeakSet()
_last = [0]  # the serial of the newest poller


class RegistryPoller:
    """Every ``interval`` seconds: :meth:`Runtime.poll_once`, then ``also`` (e.g. purging old decisions)."""

    def __init__(self, runtime: Runtime, interval: float, also: Callable[[], Any] | None = None):
        self.runtime, self.interval, self.also = runtime, interval, also
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        _last[0] += 1
        self.serial = _last[0]  # pollers made after a point can be told apart (:func:`stop_serials`)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def start(self) -> None:
        """Start the thread in this process, once (a no-op without a database to poll, or if running)."""
        if self._pid == os.getpid() or (self.runtime.store is None and self.runtime.pending_url is None):
            return  # the common case, on every request: no lock taken
        with self._lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="registry-poller", daemon=True)
            self._thread.start()
            _running.add(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and wait for the thread (an ongoing poll finishes first).  Idempotent."""
        self._stop.set()
        thread = self._thread
        if thread is not None and self._pid == os.getpid() and thread is not threading.current_thread():
            thread.join(timeout)
        _running.discard(self)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.runtime.poll_once()
            if self.also is not None:
                try:
                    self.also()
                except Exception as exc:  # pragma: no cover - the callback logs its own failures
                    log.warning("after-poll task failed: %s", exc)


def last_serial() -> int:
    """The serial of the newest poller made in this process (0: none yet)."""
    return _last[0]


def stop_serials(serials: Collection[int]) -> int:
    """Stop the running pollers with these serials (a test fixture's finaliser); how many were stopped."""
    stopped = 0
    for poller in list(_running):
        if poller.serial in serials:
            poller.stop()
            stopped += 1
    return stopped


def stop_all() -> None:
    """Stop every poller of this process (interpreter exit)."""
    for poller in list(_running):
        poller.stop()


atexit.register(stop_all)
