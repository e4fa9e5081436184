"""The decision spool: local files where a decision is on disk (fsync) before its response is sent.

Used by the decision log in its durable mode (the default, ``REPOLICY_DECISION_LOG_COMMIT=durable``).
Each process appends to a segment of its own, ``seg-<pid>-<n>.jsonl``, one JSON line per decision (the
table row), by group commit: whatever accumulated while the previous ``fsync`` ran is written with one
``write`` and one ``fsync``.  A process holds an exclusive ``flock`` on the segment it appends to;
once rotated (past ``SEGMENT_BYTES``) a segment is unlocked, and it is deleted when every row in it is
in the database.

What a crash leaves (a segment whose rows were not all written to the database) is replayed into the
database: at start-up (the gunicorn master, before forking), and by every worker's writer every few
seconds (a worker killed with SIGKILL: its lock went with it).  Replaying a row that is already there is
harmless (the decision id is the key), so a segment may be replayed by anyone who can lock it.  A torn
last line (a crash during a write that was never acknowledged) is skipped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import orjson

log = logging.getLogger(__name__)

SEGMENT_BYTES = 4 * 1024 * 1024
REPLAY_AGE = 30.0  # seconds: an unlocked segment of a live process is left to it for this long
_counter = iter(range(1, 1 << 62))


def _encoded(row: dict[str, Any]) -> bytes:
    """A table row as one JSON line (UTF-8, by orjson; raises for text UTF-8 cannot hold, e.g. a lone
    surrogate, which the caller quarantines)."""
    return orjson.dumps({**row, "at": row["at"].isoformat()}) + b"\n"


def _decoded(line: bytes) -> dict[str, Any]:
    row = orjson.loads(line)
    row["at"] = dt.datetime.fromisoformat(row["at"])
    return row


class Segment:
    """One spool file of this process: open and locked while appended to, then closed."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"seg-{os.getpid()}-{next(_counter)}.jsonl"
        self.fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.size = 0
        self.outstanding = 0  # rows in the file not yet in the database
        self._lock = threading.Lock()

    def append(self, lines: list[bytes]) -> None:
        """Write the lines and fsync: on disk when this returns."""
        assert self.fd is not None
        data = b"".join(lines)
        with self._lock:
            self.outstanding += len(lines)
        os.write(self.fd, data)
        os.fsync(self.fd)
        self.size += len(data)

    def close(self) -> None:
        """Stop appending (unlocks); deleted now if everything in it is in the database."""
        with self._lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            self._unlink_if_done()

    def written(self, rows: int = 1) -> None:
        """``rows`` of this segment are in the database."""
        with self._lock:
            self.outstanding -= rows
            self._unlink_if_done()

    def _unlink_if_done(self) -> None:
        if self.fd is None and self.outstanding <= 0:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass  # replayed and removed by another process meanwhile


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replayable(path: Path, at_start: bool) -> bool:
    """An orphan (its process is gone, or this is start-up), or a closed segment old enough (its rows
    may have been dropped from the memory of a process whose database was down for long).  The segment a
    process appends to is locked, and skipped by :func:`replay` whatever this says."""
    try:
        pid = int(path.name.split("-")[1])
        age = time.time() - path.stat().st_mtime
    except (IndexError, ValueError, OSError):
        return False
    return at_start or not _pid_alive(pid) or age >= REPLAY_AGE


def _rows(fd: int, path: Path) -> Iterator[dict[str, Any]]:
    with os.fdopen(os.dup(fd), "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                log.warning(
                    "decision spool: %s ends with an incomplete line (a write cut by a crash, never "
                    "acknowledged); skipped",
                    path.name,
                )
                return
            try:
                yield _decoded(line)
            except (ValueError, KeyError) as exc:
                log.error("decision spool: %s line %d cannot be read (%s); left in the file", path.name, number, exc)
                raise


def replay(
    folder: Path, write: Callable[[list[dict[str, Any]]], None], at_start: bool = False, batch_rows: int = 500
) -> int:
    """Write the rows of every replayable segment in ``folder`` with ``write`` (which must accept rows
    already in the database), deleting each segment once written; returns the rows replayed.  A segment
    another process holds, or whose rows ``write`` refuses (an exception), stays for a later replay."""
    if not folder.is_dir():
        return 0
    total = 0
    for path in sorted(folder.glob("seg-*.jsonl")):
        if not _replayable(path, at_start):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process appends to it, or another replays it
            if not path.exists():
                continue  # removed meanwhile
            batch: list[dict[str, Any]] = []
            count = 0
            for row in _rows(fd, path):
                batch.append(row)
                if len(batch) >= batch_rows:
                    write(batch)
                    count += len(batch)
                    batch = []
            if batch:
                write(batch)
                count += len(batch)
            path.unlink(missing_ok=True)
            total += count
            if count:
                log.info("decision spool: %d decision(s) of %s replayed into the database", count, path.name)
        except Exception as exc:
            log.warning("decision spool: replay of %s failed (%s); kept for a later attempt", path.name, exc)
            break  # the database is likely down: try again later
        finally:
            os.close(fd)
    return total
