"""The decision log's queue: decisions waiting for the database, oldest first, bounded, and findable.

No threads and no lock of its own: the decision log calls it holding its condition's lock (one lock for
the queue, the spool hand-over and shutdown), so the queue alone is a plain data structure to test.
A batch taken for writing stays "in flight" (still counted and findable) until it is written or put back,
so a decision is never invisible between the queue and the database.
"""

from __future__ import annotations

import collections
from typing import Any
from collections.abc import Iterator


class DecisionQueue:
    def __init__(self, max_pending: int):
        self.max_pending = max_pending
        self._rows: collections.deque[dict[str, Any]] = collections.deque()
        self._inflight: list[dict[str, Any]] = []

    def __len__(self) -> int:
        """Decisions not yet in the database: queued plus in flight."""
        return len(self._rows) + len(self._inflight)

    @property
    def waiting(self) -> int:
        """Queued, not counting the batch in flight."""
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """In flight first, then queued: the order they reach the database."""
        return iter((*self._inflight, *self._rows))

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def overflow(self) -> list[str]:
        """Drop the oldest queued rows beyond ``max_pending``; their decision ids (the caller says what that
        loss means: lost, or kept on disk only)."""
        over = min(len(self) - self.max_pending, len(self._rows))
        return [self._rows.popleft()["decision_id"] for _ in range(max(0, over))]

    def take(self, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` of the oldest rows, now in flight (the same list: the writer may replace its items)."""
        self._inflight = [self._rows.popleft() for _ in range(min(n, len(self._rows)))]
        return self._inflight

    def put_back(self) -> None:
        """The batch in flight was not written: back to the front of the queue, in order."""
        self._rows.extendleft(reversed(self._inflight))
        self._inflight = []

    def written(self) -> None:
        """The batch in flight is in the database."""
        self._inflight = []

    def drain(self) -> list[str]:
        """Empty the queue (giving up, at exit); the ids of every row not written, in flight ones included."""
        left = [r["decision_id"] for r in self]
        self._rows.clear()
        return left

    def find(self, decision_id: str) -> dict[str, Any] | None:
        for row in self:
            if row["decision_id"] == decision_id:
                return row
        return None
