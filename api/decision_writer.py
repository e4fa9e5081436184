"""The decision log's writer: batches into the store, with retry after connection trouble, and the
quarantine where a record that cannot be stored is kept aside so that it never stops the others.

- :func:`connection_trouble` tells a database that cannot be reached (keep the batch, retry later) from
  one that refuses these rows (find the row it refuses, quarantine it, write the others).
- :class:`Backoff` is the retry schedule: at once after a success, then doubling from ``minimum`` up to
  ``maximum`` seconds while writes fail.
- :class:`Quarantine` keeps a record aside: counted, logged at ERROR with its decision id, and appended
  (escaped so that any text can be stored, fsynced) to ``quarantine-<pid>.jsonl`` in its folder.
- :func:`insert` writes one batch: one transaction, else row by row.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any
from collections.abc import Callable

from policy.store import IntegrityError, InterfaceError, OperationalError

from api.decision_encoding import escaped

log = logging.getLogger("api.decision_log")


def connection_trouble(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (retry later), as opposed to
    refusing these rows (quarantine the one refused, write the others)."""
    return isinstance(exc, (OperationalError, InterfaceError, OSError)) or bool(
        getattr(exc, "connection_invalidated", False)
    )


class Backoff:
    """Seconds to wait before the next write: 0 after a success, doubling while writes fail."""

    def __init__(self, minimum: float, maximum: float):
        self.minimum, self.maximum = minimum, maximum
        self.delay = 0.0

    def after(self, ok: bool) -> float:
        self.delay = 0.0 if ok else min(max(2 * self.delay, self.minimum), self.maximum)
        return self.delay


class Quarantine:
    """Records that cannot be written, kept aside (on disk when there is a folder)."""

    def __init__(self, folder: Path | None, on_kept: Callable[[], None] = lambda: None):
        self.folder = folder
        self.count = 0
        self._on_kept = on_kept
        self._lock = threading.Lock()

    def keep(self, row: dict[str, Any], exc: BaseException) -> bool:
        """Count, log and (with a folder) append the record; True if it is on disk."""
        with self._lock:
            self.count += 1
        self._on_kept()
        where = "memory only (no spool folder)"
        if self.folder is not None:
            entry = {
                "decision_id": row.get("decision_id"),
                "at": str(row.get("at")),
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "record": json.loads(escaped({k: v for k, v in row.items() if k not in ("decision_id", "at")})),
            }
            path = self.folder / f"quarantine-{os.getpid()}.jsonl"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="ascii") as out:
                    out.write(json.dumps(entry, ensure_ascii=True) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                where = str(path)
            except Exception as write_error:
                where = f"nowhere: {write_error}"
        log.error(
            "decision log: record %s cannot be written (%s: %s); quarantined in %s",
            row.get("decision_id"),
            type(exc).__name__,
            str(exc)[:300],
            where,
            extra={"decision_id": row.get("decision_id")},
        )
        return self.folder is not None and not where.startswith(("memory", "nowhere"))


def insert(store: Any, batch: list[dict[str, Any]], quarantine: Quarantine) -> None:
    """Write table rows in one transaction; if the database refuses it (a row already there after a commit
    whose acknowledgement was lost, or one row it cannot store), row by row: a row it refuses is
    quarantined.  Connection trouble propagates (the caller keeps the batch for retry)."""
    try:
        store.record_decisions(batch)
        return
    except Exception as exc:
        if connection_trouble(exc):
            raise
    for row in batch:
        try:
            store.record_decisions([row])
        except Exception as exc:
            if connection_trouble(exc):
                raise
            if isinstance(exc, IntegrityError) and store.decision(row["decision_id"]) is not None:
                continue  # written before (its acknowledgement was lost)
            quarantine.keep(row, exc)
