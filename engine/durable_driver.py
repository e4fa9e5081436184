"""The only module that calls durable_rules' C core.

The ``durable.lang`` ``Host`` is not used: its two timer threads walk every
session every 0.2 s and touch freed sessions (DEFECT: error 307 under
concurrent use, segfaults over tens of thousands of evaluations).  Instead
each evaluation calls the C module directly, under one lock per ruleset
handle, as one uninterrupted sequence: assert all facts of a fresh session,
drain every match, delete the session.  The C core never releases the GIL, so
the lock costs nothing extra and guarantees no two sessions interleave.

DEFECT fact identity: durable_rules identifies a fact by a 32-bit FNV-1a hash
of its ``id`` and silently drops a fact whose hash is already present.  Facts
get their ids from :func:`fact_ids`, a sequence of short strings whose hashes
are pairwise distinct, so no fact is ever dropped (tested).
"""
from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import durable_rules_engine as _core

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


def fnv1a_32(text: str) -> int:
    h = _FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


class _IdPool:
    """Short ids with pairwise-distinct FNV-1a hashes, grown on demand."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._hashes: set[int] = set()
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def take(self, n: int) -> list[str]:
        if len(self._ids) < n:
            with self._lock:
                while len(self._ids) < n:
                    candidate = format(next(self._counter), "x")
                    h = fnv1a_32(candidate)
                    if h not in self._hashes:
                        self._hashes.add(h)
                        self._ids.append(candidate)
        return self._ids  # callers index it; never shrinks


_POOL = _IdPool()


def fact_ids(n: int) -> list[str]:
    """A list of at least ``n`` ids, pairwise distinct in durable_rules' hash."""
    return _POOL.take(n)


class EngineError(RuntimeError):
    """durable_rules refused or failed an evaluation."""


_session_counter = itertools.count(1)


class DurableRuleset:
    """One durable_rules ruleset handle and the lock that serialises its sessions."""

    def __init__(self, name: str, definition: dict[str, Any]):
        self.name = name
        self._lock = threading.Lock()
        try:
            self._handle = _core.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
        except Exception as exc:  # the C core raises plain Exception with a code
            raise EngineError(f"durable_rules rejected ruleset {name}: {exc}") from exc
        self._closed = False

    def run(self, facts_json: list[str], sid: str) -> list[dict[str, Any]]:
        """Assert pre-serialised facts (each carrying ``"sid": sid``) and return every match.

        ``facts_json`` holds JSON objects, or comma-separated runs of them; it
        must not be empty (DEFECT: asserting an empty list returns a garbage
        state): the evaluator always adds a context fact.
        """
        payload = "[" + ",".join(facts_json) + "]"
        matches: list[dict[str, Any]] = []
        with self._lock:
            if self._closed:
                raise EngineError(f"ruleset {self.name} was released")
            try:
                _code, state = _core.assert_facts(self._handle, payload)
                result = _core.start_action_for_state(self._handle, state)
                if result:
                    message = result[1]
                    while message:
                        matches.append(json.loads(message))
                        message = _core.complete_and_start_action(self._handle, state)
            except Exception as exc:
                raise EngineError(f"durable_rules failed on {self.name}: {exc}") from exc
            finally:
                try:
                    _core.delete_state(self._handle, sid)
                except Exception:  # pragma: no cover - nothing more can be done
                    pass
        return matches

    def close(self) -> None:
        """Free the C ruleset; waits for a running evaluation to finish."""
        with self._lock:
            if not self._closed:
                self._closed = True
                _core.delete_ruleset(self._handle)


def new_session_id() -> str:
    return f"s{next(_session_counter)}"
