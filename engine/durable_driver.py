"""The only module that calls durable_rules' C core.

The ``durable.lang`` ``Host`` is not used: its two timer threads walk every
session every 0.2 s and touch freed sessions (DEFECT: error 307 under
concurrent use, segfaults over tens of thousands of evaluations).  Instead
each evaluation calls the C module directly, as one uninterrupted sequence on
one ruleset handle: assert all facts of a fresh session, drain every match,
delete the session.  No two sessions ever interleave on a handle: each thread
gets handles of its own (created on first use, from the same definition), and
each handle keeps a lock that only :meth:`DurableRuleset.close` can contend.
One handle shared under a lock was measured to serialise threads: a thread
descheduled (GIL switch) while holding it made the others wait about a
switch interval each time (4 threads: a wait in one evaluation of three).

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

from policy import jsonio

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


class _Handle:
    """One C ruleset handle and the lock around its sessions."""

    def __init__(self, name: str, definition_json: str):
        self.lock = threading.Lock()
        self.closed = False
        try:
            self.handle = _core.create_ruleset(name, definition_json)
        except Exception as exc:  # the C core raises plain Exception with a code
            raise EngineError(f"durable_rules rejected ruleset {name}: {exc}") from exc


class DurableRuleset:
    """One durable_rules ruleset, with one C handle per thread that evaluates it.

    The first handle is created at once (so a definition durable_rules
    refuses fails at start-up, before gunicorn forks); every other thread,
    including forked workers' threads, creates its own on first use.
    """

    def __init__(self, name: str, definition: dict[str, Any]):
        self.name = name
        self._json = json.dumps(definition, ensure_ascii=False)
        self._handles: list[_Handle] = []
        self._handles_lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        self._local.handle = self._new_handle()

    def _new_handle(self) -> _Handle:
        with self._handles_lock:
            if self._closed:
                raise EngineError(f"ruleset {self.name} was released")
            handle = _Handle(f"{self.name}~t{len(self._handles)}", self._json)
            self._handles.append(handle)
        return handle

    @property
    def _handle(self) -> Any:
        """The calling thread's C handle (the one its evaluations use), for tests that inspect sessions."""
        h = getattr(self._local, "handle", None)
        if h is None:
            h = self._local.handle = self._new_handle()
        return h.handle

    def run(self, facts_json: list[str], sid: str) -> list[dict[str, Any]]:
        """Assert pre-serialised facts (each carrying ``"sid": sid``) and return every match.

        ``facts_json`` holds JSON objects, or comma-separated runs of them; it
        must not be empty (DEFECT: asserting an empty list returns a garbage
        state): the evaluator always adds a context fact.
        """
        h = getattr(self._local, "handle", None)
        if h is None:
            h = self._local.handle = self._new_handle()
        payload = "[" + ",".join(facts_json) + "]"
        matches: list[dict[str, Any]] = []
        with h.lock:
            if h.closed:
                raise EngineError(f"ruleset {self.name} was released")
            handle = h.handle
            try:
                _code, state = _core.assert_facts(handle, payload)
                result = _core.start_action_for_state(handle, state)
                if result:
                    message = result[1]
                    while message:
                        matches.append(jsonio.loads(message))
                        message = _core.complete_and_start_action(handle, state)
            except Exception as exc:
                raise EngineError(f"durable_rules failed on {self.name}: {exc}") from exc
            finally:
                try:
                    _core.delete_state(handle, sid)
                except Exception:  # pragma: no cover - nothing more can be done
                    pass
        return matches

    def close(self) -> None:
        """Free every thread's C handle; waits for a running evaluation on each to finish."""
        with self._handles_lock:
            self._closed = True
            handles = list(self._handles)
        for h in handles:
            with h.lock:
                if not h.closed:
                    h.closed = True
                    _core.delete_ruleset(h.handle)


def new_session_id() -> str:
    return f"s{next(_session_counter)}"
