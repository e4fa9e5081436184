"""The decision log: every evaluation, its ruleset versions, its input (or only the input's digest) and its result.

Enterprise production data is sensitive (Measures Art. 13), so the input can
be kept as a digest only (``DECISION_LOG=digest``); ``off`` keeps nothing.

This module runs the threads and holds the parts together; each part is tested alone:

- :mod:`api.decision_encoding` (the encoder): the request path queues the bytes it already has (the
  body as received, the response as sent); the row stores them and digests the received bytes;
- :mod:`api.decision_queue` (the queue): rows waiting for the database, bounded, findable in flight;
- :mod:`api.decision_writer` (the writer): one transaction or row by row, the retry schedule, and the
  quarantine of a record that cannot be stored;
- :mod:`api.decision_spool`: the local disk files of the durable mode.

Everything is configured by the constructor's arguments (the app passes the settings); nothing is read
when this module is imported.

Two ways to commit (``REPOLICY_DECISION_LOG_COMMIT``):

- ``durable`` (the default): :meth:`DecisionLog.record` returns a :class:`Ticket`, and the response is
  sent only once the ticket says the decision is on local disk: a spool thread appends what accumulated
  to this process's spool segment with one fsync (group commit, :mod:`api.decision_spool`), then queues
  the rows for the database as below.  A crash (even SIGKILL) loses no answered decision: what the
  database did not get is replayed from the spool.  Costs a disk write per group on the answer's path.
- ``async``: the response does not wait for anything; a crash loses the rows still queued in memory
  (up to ``max_pending`` a worker while the database is down).

Evaluation must not wait on the database: :meth:`DecisionLog.record` only
queues the row, and one writer thread per process writes what has
accumulated in one transaction (it wakes as soon as a row arrives, so under
load batches grow by themselves).  While the database is down rows stay
queued and the writer retries with backoff; nothing is silently dropped:
only past ``max_pending`` rows are the oldest lost, and that loss is counted,
logged at ERROR and shown by ``/readyz`` (:meth:`DecisionLog.status`).
A record that cannot be written (its body or result does not serialise, e.g. a lone surrogate in a
string, or the database refuses that row alone) does not stop the writer and does not hold back the
others: it is quarantined, i.e. kept aside in ``quarantine-<pid>.jsonl`` in the spool folder (escaped
so that any text can be stored), counted (``/readyz``, ``/metrics``) and logged at ERROR with its
decision id.  The writer thread catches everything: it never dies.
Rows still queued when the process stops are written by :func:`close_all`
(run at exit, and from gunicorn's ``worker_exit`` hook); what cannot be
written then is logged at ERROR with the decision ids.

The writer is started by the first :meth:`record` in each process: gunicorn
creates the app in its master and forks workers, and a thread does not
survive a fork.  A child forgets the rows queued in its parent (the parent
writes them), so a row is never written twice.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from api.operations import OutageLog
from api import decision_spool
from api.decision_encoding import canonical_digest, queued, read_shape, table_row
from api.decision_queue import DecisionQueue
from api.decision_writer import Backoff, Quarantine, insert
from policy.store import Store

log = logging.getLogger(__name__)

# Defaults of the constructor's arguments (the app passes the configured values: nothing is read here)
MAX_PENDING = 10000
BATCH_ROWS = 500  # rows per transaction: a backlog after an outage is written in bounded transactions
RETRY_MIN, RETRY_MAX = 0.2, 5.0  # seconds of backoff
SHUTDOWN_SECONDS = 5.0
SCAN_SECONDS = 2.0  # durable mode: how often a writer looks for spool segments a crash left behind

_instances: weakref.WeakSet[DecisionLog] = weakref.WeakSet()

__all__ = ["DecisionLog", "DecisionNotRecorded", "Ticket", "close_all", "canonical_digest"]


class DecisionNotRecorded(RuntimeError):
    """Durable mode: the decision could not be put on disk (in time); its answer must not be sent."""


class Ticket:
    """A decision on its way to the spool: :meth:`wait` returns once it is on disk, or raises."""

    __slots__ = ("_done", "error")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.error: BaseException | None = None

    def done(self, error: BaseException | None = None) -> None:
        self.error = error
        self._done.set()

    @property
    def is_done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> None:
        if not self._done.wait(timeout):
            raise DecisionNotRecorded(f"not on disk after {timeout:g} s")
        if self.error is not None:
            raise DecisionNotRecorded(str(self.error)) from self.error


class DecisionLog:
    """Queue of decision rows and the background writer that moves them to the store; in durable mode
    also the spool thread that puts each decision on disk before its answer is sent."""

    def __init__(
        self,
        store: Store | None,
        mode: str = "full",
        max_pending: int = MAX_PENDING,
        retry_max: float = RETRY_MAX,
        awaiting: bool = False,
        spool_dir: Path | None = None,
        durable: bool = False,
        shutdown_seconds: float = SHUTDOWN_SECONDS,
    ):
        if mode not in ("full", "digest", "off"):
            raise ValueError(f"DECISION_LOG must be full, digest or off, not {mode!r}")
        if durable and spool_dir is None:
            raise ValueError("the durable decision log needs a spool folder")
        self.store = store if mode != "off" else None
        self.mode = mode
        # A database down at start-up: rows are queued (up to max_pending) until attach() gives the store.
        self.awaiting = awaiting and self.store is None and mode != "off"
        self.max_pending = max_pending
        self.retry_max = retry_max
        self.shutdown_seconds = shutdown_seconds
        self.lost = 0
        self.written = 0
        self.unrecorded = 0  # decisions made without a database to record them in
        self.shutdown_seconds = shutdown_seconds
        self.quarantine = Quarantine(spool_dir, _count_quarantined)  # records that cannot be written
        self.spool_dir = spool_dir
        self.durable = durable and mode != "off"
        self.spool_only = 0  # durable mode: rows dropped from memory while the database was down, kept on disk
        if self.awaiting:
            log.warning("decision log: database unavailable at start-up; decisions are queued until it answers")
        elif self.store is None and mode != "off":
            log.warning(
                "decision log: no database (unavailable at start-up?): decisions are not recorded; /readyz counts them"
            )
        self._lost_logged_at = 0.0
        self._init_threading()
        _instances.add(self)

    def _init_threading(self) -> None:
        """Fresh locks, queue and no writer: at construction and in a forked child."""
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()  # one write at a time: rows leave the queue in order, once
        self._queue = DecisionQueue(self.max_pending)
        self._writer: threading.Thread | None = None
        self._closing = False
        self.outage = OutageLog(log, "decision log database")
        self._to_spool: list[tuple[dict[str, Any], Ticket]] = []
        self._spooler: threading.Thread | None = None
        self._segment: decision_spool.Segment | None = None  # (a parent's segment is the parent's)
        self._segment_of: dict[str, decision_spool.Segment] = {}  # queued row -> the segment holding it
        self._rotate = False
        self._last_scan = time.monotonic()

    # ------------------------------------------------------------------ request path
    def record(
        self,
        request_body: Any,
        result: dict[str, Any],
        caller: str | None,
        *,
        body_bytes: bytes | None = None,
        response_bytes: bytes | None = None,
    ) -> Ticket | None:
        """Queue one decision for writing; never waits on the database.  Durable mode: returns the ticket
        to wait on before answering (the decision is on disk once it is done).

        ``body_bytes`` (the request body as received) and ``response_bytes`` (the response body as sent),
        when given, are what is stored and digested (see :mod:`api.decision_encoding`): neither the body
        nor the result is serialised again.
        """
        if self.store is None and not self.awaiting:
            if self.mode != "off":
                self.unrecorded += 1
            return None
        row = queued(
            decision_id=result["decision_id"],
            at=dt.datetime.now(dt.UTC),
            caller=caller,
            result=result,
            keep_input=self.mode == "full",
            body=request_body,
            body_bytes=body_bytes,
            response_bytes=response_bytes,
        )
        if self.durable:
            ticket = Ticket()
            with self._cond:
                if self._closing:
                    ticket.done(DecisionNotRecorded("the decision log is closing"))
                    return ticket
                self._to_spool.append((row, ticket))
                if self._spooler is None:
                    self._spooler = threading.Thread(target=self._spool_run, name="decision-spool", daemon=True)
                    self._spooler.start()
                self._cond.notify_all()
            return ticket
        with self._cond:
            self._queue.append(row)
            self._trim()
            self._start_writer()
            self._cond.notify_all()
        return None

    def _start_writer(self) -> None:
        """(caller holds the condition's lock)"""
        if self._writer is None and not self._closing:
            self._writer = threading.Thread(target=self._run, name="decision-log-writer", daemon=True)
            self._writer.start()

    def find(self, decision_id: str) -> dict[str, Any] | None:
        """A decision of this process not yet in the store (queued, or being written), as the store reads it."""
        with self._cond:
            row = self._queue.find(decision_id)
        return read_shape(row) if row is not None else None

    @property
    def pending(self) -> int:
        """Rows not yet in the store: queued plus the batch being written."""
        with self._cond:
            return len(self._queue)

    def status(self) -> dict[str, Any]:
        """What ``/readyz`` shows: rows waiting, rows lost, and the outage if the writes fail."""
        body: dict[str, Any] = {
            "decision_log_pending": self.pending,
            "decision_log_lost": self.lost,
            "decision_log_quarantined": self.quarantine.count,
        }
        if self.durable:
            body["decision_log_commit"] = "durable"
            if self.spool_only:
                body["decision_log_spool_only"] = self.spool_only
        if self.outage.down or self.awaiting:
            body["decision_log_error"] = "database unavailable; records kept for retry"
        if self.unrecorded:
            body["decision_log_unrecorded"] = self.unrecorded
        return body

    def attach(self, store: Store) -> None:
        """The database that was down at start-up answers: write what was queued meanwhile, and go on."""
        if not self.awaiting:
            return
        with self._cond:
            self.store, self.awaiting = store, False
            self._cond.notify_all()
        log.info("decision log: database reached; %d queued decision(s) to write", self.pending)

    # ------------------------------------------------------------------ writing
    def flush(self, wait: float | None = None) -> bool:
        """Write everything queued now, in this thread; False (rows kept for later) if the database refuses.

        ``wait`` bounds the wait for a write already in progress in another thread (None: as long as it takes).
        """
        if self.store is None:
            return not self.pending  # awaiting a database: rows kept
        while True:
            done, ok = self._write_batch(wait)
            if not ok:
                return False
            if done:
                return True

    @property
    def quarantined(self) -> int:
        """Records kept aside because they could not be written."""
        return self.quarantine.count

    def _run(self) -> None:
        """The writer thread: wait for rows, write them, back off while the database is down."""
        backoff = Backoff(RETRY_MIN, self.retry_max)
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._queue.waiting or self._closing, timeout=SCAN_SECONDS if self.durable else None
                )
                if self._closing:
                    return  # close() writes the rest
            if self.durable and time.monotonic() - self._last_scan >= SCAN_SECONDS:
                self._last_scan = time.monotonic()
                try:
                    self.replay_spool()
                except Exception:
                    log.exception("decision log: replaying the spool failed; tried again later")
                if not self._queue.waiting:
                    continue
            if backoff.delay:
                with self._cond:  # back off, but leave at once for close()
                    if self._cond.wait_for(lambda: self._closing, timeout=backoff.delay):
                        return
            try:
                _, ok = self._write_batch()
            except Exception:  # a defect here must not stop the log: say so, keep the rows, go on
                log.exception("decision log: writing a batch failed; records kept for retry")
                ok = False
            backoff.after(ok)

    def _write_batch(self, wait: float | None = None) -> tuple[bool, bool]:
        """Write up to BATCH_ROWS queued rows in one transaction: (queue now empty, write succeeded)."""
        if self.store is None:  # awaiting the database: keep the rows, back off
            return False, False
        if not self._write_lock.acquire(timeout=-1 if wait is None else wait):
            return False, False  # another write hangs (a database that does not answer)
        try:
            with self._cond:
                batch = self._queue.take(BATCH_ROWS)
            if not batch:
                return True, True
            batch[:] = self._serialise(batch)  # once: a retried batch is already text
            try:
                self._insert(batch)
            except Exception as exc:  # the batch went back to the queue: nothing is lost here
                with self._cond:
                    self._queue.put_back()
                    self._trim()
                    pending = self._queue.waiting
                self.outage.failed(exc, f"; {pending} decision record(s) kept for retry")
                return False, False
            with self._cond:
                self._queue.written()
                self.written += len(batch)
                empty = not self._queue.waiting
                segments = [self._segment_of.pop(r["decision_id"], None) for r in batch]
            for segment in segments:
                if segment is not None:
                    segment.written()
            self.outage.succeeded(f"; {len(batch)} decision record(s) written")
            return empty, True
        finally:
            self._write_lock.release()

    def _serialise(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The batch as table rows; a record that does not serialise is quarantined, the others go on."""
        rows = []
        for row in batch:
            try:
                rows.append(table_row(row))
            except Exception as exc:
                self.quarantine.keep(row, exc)
        return rows

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        """One transaction, else row by row (see :func:`api.decision_writer.insert`)."""
        assert self.store is not None
        insert(self.store, batch, self.quarantine)

    # ------------------------------------------------------------------ durable mode: the spool
    def _spool_run(self) -> None:
        """The spool thread: put what accumulated on disk with one fsync, then release the answers."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._to_spool or self._closing)
                batch, self._to_spool = self._to_spool, []
                if not batch and self._closing:
                    return
            try:
                self._spool(batch)
            except Exception as exc:  # never dies; the answers waiting on these are refused (503)
                log.exception(
                    "decision spool: writing %d decision(s) failed: %s",
                    len(batch),
                    ", ".join(row["decision_id"] for row, _ in batch),
                )
                for _, ticket in batch:
                    if not ticket.is_done:
                        ticket.done(exc)

    def _spool(self, batch: list[tuple[dict[str, Any], Ticket]]) -> None:
        lines, rows, tickets = [], [], []
        for row, ticket in batch:
            try:
                serialised = table_row(row)
                lines.append(decision_spool._encoded(serialised))
            except Exception as exc:
                kept = self.quarantine.keep(row, exc)
                ticket.done(None if kept else exc)
                continue
            rows.append(serialised)
            tickets.append(ticket)
        if not lines:
            return
        segment = self._segment
        if segment is None or self._rotate or segment.size >= decision_spool.SEGMENT_BYTES:
            self._rotate = False
            if segment is not None:
                segment.close()
            segment = self._segment = decision_spool.Segment(self.spool_dir)
        segment.append(lines)  # raises: the answers are refused (see _spool_run)
        with self._cond:
            for r in rows:
                self._segment_of[r["decision_id"]] = segment
                self._queue.append(r)
            self._trim()
            self._start_writer()
            self._cond.notify_all()
        for ticket in tickets:
            ticket.done()

    def replay_spool(self, at_start: bool = False) -> int:
        """Write into the database what spool segments left behind by a crash (or dropped from memory)
        hold; rows already there are skipped.  ``at_start``: every segment no process holds."""
        if self.spool_dir is None or self.store is None:
            return 0
        return decision_spool.replay(self.spool_dir, self._insert, at_start, BATCH_ROWS)

    def _trim(self) -> None:
        """Drop the oldest rows beyond max_pending (caller holds the condition's lock); counted and logged."""
        lost = self._queue.overflow()
        if not lost:
            return
        if self.durable:  # still on disk: replayed from the spool once the database answers
            for decision_id in lost:
                self._segment_of.pop(decision_id, None)
            self.spool_only += len(lost)
            self._rotate = True  # unlocks the segment holding them, for replay
            now = time.monotonic()
            if now - self._lost_logged_at >= 60 or self.spool_only == len(lost):
                self._lost_logged_at = now
                log.warning(
                    "decision log: %d record(s) in all kept on disk only (database unavailable, over "
                    "%d pending); replayed from the spool later",
                    self.spool_only,
                    self.max_pending,
                )
            return
        self.lost += len(lost)
        now = time.monotonic()
        if now - self._lost_logged_at >= 60 or self.lost == len(lost):
            self._lost_logged_at = now
            log.error(
                "decision log: %d record(s) lost in all (database unavailable, over %d pending); latest lost: %s",
                self.lost,
                self.max_pending,
                ", ".join(lost[-5:]),
            )

    # ------------------------------------------------------------------ shutdown
    def close(self, timeout: float | None = None) -> bool:
        """Stop the writer and write what is queued, retrying for up to ``timeout`` seconds.

        True when nothing is left; otherwise the rows left are logged at ERROR (with their ids) and counted lost.
        ``timeout``: by default the ``shutdown_seconds`` given at construction.
        """
        timeout = self.shutdown_seconds if timeout is None else timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            writer, spooler = self._writer, self._spooler
        if spooler is not None and spooler is not threading.current_thread():
            spooler.join(timeout)  # puts on disk what is waiting for it first
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout)
        if self.store is None and not self.pending:
            self._close_segment()
            return True
        deadline = time.monotonic() + timeout
        while not self.flush(wait=max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline or self.store is None:  # never reached a database: no use waiting
                with self._cond:  # a batch still in a hung write is reported too: it may not commit
                    left = self._queue.drain()
                    on_disk = self.durable and all(i in self._segment_of for i in left)
                    if not on_disk:
                        self.lost += len(left)
                if on_disk:
                    self._close_segment()
                    log.warning(
                        "decision log: %d record(s) could not be written before exit (database "
                        "unavailable); kept in the spool, replayed at the next start: %s",
                        len(left),
                        ", ".join(left),
                    )
                    return False

                log.error(
                    "decision log: %d record(s) could not be written before exit (database unavailable): %s",
                    len(left),
                    ", ".join(left),
                )
                return False
            time.sleep(min(RETRY_MIN, max(0.0, deadline - time.monotonic())))
        self._close_segment()
        return True

    def _close_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.close()


def close_all(timeout: float | None = None) -> None:
    """Write every decision log's queue before the process exits (gunicorn ``worker_exit``, atexit)."""
    for decision_log in list(_instances):
        try:
            decision_log.close(timeout)
        except Exception:  # pragma: no cover - exiting anyway; say why
            log.exception("decision log: flushing at exit failed")


def _count_quarantined() -> None:
    from api.metrics import observe_quarantined

    observe_quarantined()


def _after_fork_in_child() -> None:
    for decision_log in list(_instances):
        decision_log._init_threading()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_all)
