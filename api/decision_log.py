"""The decision log: every evaluation, its ruleset versions, its input (or only the input's digest) and its result.

Enterprise production data is sensitive (Measures Art. 13), so the input can
be kept as a digest only (``DECISION_LOG=digest``); ``off`` keeps nothing.
A write that fails (database down) is kept in memory and retried, never
silently dropped; only past ``MAX_PENDING`` rows are the oldest lost, and that
loss is counted and logged.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from typing import Any

from policy.store import Store

log = logging.getLogger(__name__)
MAX_PENDING = 10_000


def canonical_digest(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class DecisionLog:
    def __init__(self, store: Store | None, mode: str = "full"):
        if mode not in ("full", "digest", "off"):
            raise ValueError(f"DECISION_LOG must be full, digest or off, not {mode!r}")
        self.store = store if mode != "off" else None
        self.mode = mode
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.lost = 0

    def record(self, request_body: dict[str, Any], result: dict[str, Any], caller: str | None) -> None:
        if self.store is None:
            return
        row = {
            "decision_id": result["decision_id"],
            "at": dt.datetime.now(dt.timezone.utc),
            "caller": caller,
            "as_of": result["as_of"],
            "rulesets": json.dumps([{k: r[k] for k in ("id", "version", "digest")} for r in result["rulesets"]]),
            "input": json.dumps(request_body, ensure_ascii=False) if self.mode == "full" else None,
            "input_digest": canonical_digest(request_body),
            "result": json.dumps(result, ensure_ascii=False),
            "violations": len(result["violations"]),
        }
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING:
                self.lost += len(self._pending) - MAX_PENDING
                log.error("decision log: %d records lost (database unavailable)", self.lost)
                del self._pending[:len(self._pending) - MAX_PENDING]
        self.flush()

    def flush(self) -> bool:
        """Write what is pending; False (and kept for later) if the database refuses."""
        if self.store is None:
            return True
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return True
        try:
            self.store.record_decisions(batch)
            return True
        except Exception as exc:
            log.warning("decision log: %d record(s) kept for retry: %s", len(batch), exc)
            with self._lock:
                self._pending = batch + self._pending
            return False

    @property
    def pending(self) -> int:
        return len(self._pending)
