"""The service without HTTP: instruments, ruleset versions, their compiled engines, evaluation.

Used by the API, the scenario runner and the benchmarks alike.

Built once at start-up (before gunicorn forks its workers: durable_rules
rulesets created before a fork keep working in each child, each with its own
C heap).  Evaluation reads it from many threads.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from engine.evaluator import Engine
from engine.prepare import RequestFacts
from policy import results
from policy.facts import FACT_LISTS
from policy.force import Timing, binding
from policy.ids import new_id
from policy.instruments import Instrument, InstrumentError, load_instrument_text, load_instruments
from policy.model import Ruleset
from policy.loader import RulesetInvalid, load_ruleset
from policy.registry import Registry, load_directory, periods_overlap
from policy.store import Store, VersionConflict

log = logging.getLogger(__name__)


def version_record(rs: Ruleset, author: str, comment: str | None = None) -> dict[str, Any]:
    """The store row of a validated ruleset version."""
    def day(n: int | None) -> str | None:
        return dt.date.fromordinal(n).isoformat() if n else None
    return {"ruleset_id": rs.id, "version": rs.version, "status": rs.status, "instrument": rs.instrument,
            "legal_status": rs.instrument_status, "effective_from": day(rs.effective_from),
            "effective_to": day(rs.effective_to), "source": rs.source, "digest": rs.digest,
            "author": author, "comment": comment}


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

    def __init__(self, logger: logging.Logger, what: str, repeat_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
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
                self.logger.warning("%s still unavailable after %.0f s: %s%s", self.what, now - self.since,
                                    error, detail)
            else:
                self.logger.debug("%s still unavailable: %s%s", self.what, error, detail)

    def succeeded(self, detail: str = "") -> None:
        """One successful attempt: logs the recovery if there was an outage."""
        with self._lock:
            if self.since is None:
                return
            took, self.since = self.clock() - self.since, None
        self.logger.info("%s available again after %.1f s%s", self.what, took, detail)


def fact_years(facts: Mapping[str, list[dict[str, Any]]]) -> set[int]:
    """Years the request's dated facts concern (for choosing annual rulesets)."""
    years: set[int] = set()
    for name, lst in FACT_LISTS.items():
        if lst.time_field is None:
            continue
        for fact in facts.get(name) or ():
            value = fact.get(lst.time_field)
            if value is not None:
                years.add(int(str(value)[:4]))
    return years


def _forget_connections_after_fork(store: Store) -> None:
    """A forked child (gunicorn worker) opens its own database connections.

    The store was seeded in the parent, so its pool holds open connections; a
    child using them would share the parent's sockets (two processes
    interleaving one PostgreSQL session).  ``dispose(close=False)`` drops them
    from the child's pool without closing the parent's sockets.
    """
    ref = weakref.ref(store)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.engine.dispose(close=False)
    os.register_at_fork(after_in_child=forget)


def _seeded_store(database_url: str, shipped: list[Ruleset]) -> Store:
    """The store at ``database_url`` holding the shipped rulesets (idempotent by digest)."""
    store = Store(database_url)
    for rs in shipped:
        try:
            store.add_version(**version_record(rs, author="shipped", comment=f"shipped file {rs.path}"))
        except VersionConflict as exc:
            log.warning("%s: %s; the registry's version is kept", rs.path, exc)
    _forget_connections_after_fork(store)
    return store


class Runtime:
    """A registry snapshot plus one compiled :class:`Engine` per ruleset version.

    Without a store (scenario runner, benchmarks) the snapshot is fixed.  With
    a :class:`~policy.store.Store`, :meth:`refresh` rebuilds the snapshot when
    the store's generation moves: new versions are parsed and compiled first,
    then the snapshot is replaced in one assignment, so an evaluation sees
    either the old set or the new one.  Versions are immutable, so compiled
    engines are kept (any version can still be pinned) and never rebuilt.
    """

    def __init__(self, instruments: Mapping[str, Instrument], registry: Registry, store: Store | None = None,
                 engines: Mapping[str, Engine] | None = None):
        self.instruments = instruments
        self._file_instruments = dict(instruments)  # the shipped files; published revisions override them
        self._parsed_instruments: dict[str, Instrument] = {}  # digest -> instrument, parsed once
        self.store = store
        self._registry = registry
        self._engines: dict[str, Engine] = dict(engines or {})
        self._parsed: dict[str, Ruleset] = {}  # digest -> ruleset, so a version is parsed once
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._poller_pid: int | None = None
        self.last_refresh_error: str | None = None
        self.registry_outage = OutageLog(log, "registry database")
        self.pending_url: str | None = None  # a database unreachable at start-up, tried at every poll
        self.on_store: list[Callable[[Store], None]] = []  # told when that database is reached
        for rs in registry.all():
            self.engine(rs)
            self._parsed[rs.digest] = rs

    @property
    def registry(self) -> Registry:
        return self._registry

    @classmethod
    def from_directories(cls, rulesets_dir: Path, instruments_dir: Path) -> Runtime:
        """The shipped rulesets only, no store (as files say: status from the YAML)."""
        instruments = load_instruments(instruments_dir)
        return cls(instruments, Registry(load_directory(rulesets_dir, instruments)))

    @classmethod
    def with_store(cls, rulesets_dir: Path, instruments_dir: Path, database_url: str) -> Runtime:
        """Seed the store with the shipped rulesets (idempotent by digest), then load what it holds."""
        instruments = load_instruments(instruments_dir)
        shipped = load_directory(rulesets_dir, instruments)
        store = _seeded_store(database_url, shipped)
        runtime = cls(instruments, Registry(), store)
        runtime.refresh()
        return runtime

    @classmethod
    def awaiting_store(cls, rulesets_dir: Path, instruments_dir: Path, database_url: str) -> Runtime:
        """The shipped rulesets now, and the store once it answers (a database down at start-up).

        Each poll tries the database; when it answers it is seeded, its versions are loaded, and the
        ``on_store`` callbacks get it (the decision log then writes what it queued meanwhile).
        """
        runtime = cls.from_directories(rulesets_dir, instruments_dir)
        runtime.pending_url = database_url
        return runtime

    def connect_pending(self) -> bool:
        """Try the database that was down at start-up; True once it is attached."""
        if self.store is not None or self.pending_url is None:
            return self.store is not None
        store = _seeded_store(self.pending_url, list(self._registry.all()))  # raises while the database is down
        self.store, self.pending_url = store, None
        self.refresh(force=True)
        log.info("registry database reached: %d version(s) loaded", len(self._registry.all()))
        for callback in self.on_store:
            callback(store)
        return True

    def with_candidate(self, candidate: Ruleset, activate: bool = False) -> Runtime:
        """A store-less runtime seeing the current versions plus ``candidate`` (for its tests and previews).

        With ``activate``, the candidate is active and the active versions of its ruleset whose periods
        overlap it are retired, as activation would do (``retired_by(candidate)`` names them).
        It shares this runtime's compiled engines; close only the candidate's engine afterwards.
        """
        current = self._registry
        others = [r for r in current.all() if r.ref != candidate.ref]
        replaced = set(self.retired_by(candidate)) if activate else set()
        statuses = {r.ref: "retired" if r.ref in replaced else current.status(r.ref) for r in others}
        if activate:
            statuses[candidate.ref] = "active"
        shared = {ref: e for ref, e in self._engines.items() if ref != candidate.ref}
        return Runtime(self.instruments, Registry(others + [candidate], statuses), engines=shared)

    def retired_by(self, candidate: Ruleset) -> list[str]:
        """The active versions activating ``candidate`` would retire: same ruleset, overlapping period."""
        return [r.ref for r in self._registry.active()
                if r.id == candidate.id and r.ref != candidate.ref and periods_overlap(r, candidate)]

    def engine(self, ruleset: Ruleset) -> Engine:
        eng = self._engines.get(ruleset.ref)
        if eng is None or eng.ruleset.digest != ruleset.digest:
            with self._lock:
                eng = self._engines.get(ruleset.ref)
                if eng is None or eng.ruleset.digest != ruleset.digest:
                    eng = self._engines[ruleset.ref] = Engine(ruleset)
        return eng

    def refresh(self, force: bool = False) -> bool:
        """Pick up the store's changes; True when a new snapshot was installed."""
        if self.store is None:
            return False
        gen = self.store.generation()
        if gen == self._generation and not force:
            return False
        with self._lock:
            self.instruments = self._current_instruments()  # before the rulesets, which cite them
            rows = self.store.all_versions()
            rulesets, statuses = [], {}
            for row in rows:
                rs = self._parsed.get(row.digest)
                if rs is None:
                    try:
                        rs = load_ruleset(row.source, f"registry:{row.ref}", self.instruments)
                    except RulesetInvalid as exc:  # validated at publication; instruments may have changed since
                        log.error("registry version %s no longer validates, not served: %s", row.ref, exc)
                        continue
                    self._parsed[row.digest] = rs
                rulesets.append(rs)
                statuses[rs.ref] = row.status
        for rs in rulesets:  # compile before switching
            self.engine(rs)
        self._registry = Registry(rulesets, statuses)
        self._generation = gen
        return True

    def _current_instruments(self) -> dict[str, Instrument]:
        """The shipped instrument files, each replaced by its newest published revision if there is one."""
        assert self.store is not None
        current = dict(self._file_instruments)
        for row in self.store.current_instruments():
            inst = self._parsed_instruments.get(row.digest)
            if inst is None:
                try:
                    inst = load_instrument_text(row.source, f"registry:{row.instrument_id}#{row.revision}")
                except InstrumentError as exc:  # validated at publication; kept out rather than served wrong
                    log.error("instrument revision %s#%d does not load, not served: %s", row.instrument_id,
                              row.revision, exc)
                    continue
                inst = self._parsed_instruments[row.digest] = replace(inst, revision=row.revision,
                                                                      digest=row.digest)
            current[inst.id] = inst
        return current

    def start_polling(self, interval: float, also: Callable[[], Any] | None = None) -> None:
        """Poll the store in a daemon thread of this process (threads do not survive a fork).

        ``also`` runs after each poll (e.g. purging decisions past their retention period).
        """
        if (self.store is None and self.pending_url is None) or self._poller_pid == os.getpid():
            return
        self._poller_pid = os.getpid()

        def loop() -> None:
            while True:
                time.sleep(interval)
                self.poll_once()
                if also is not None:
                    try:
                        also()
                    except Exception as exc:  # pragma: no cover - the callback logs its own failures
                        log.warning("after-poll task failed: %s", exc)

        threading.Thread(target=loop, name="registry-poller", daemon=True).start()

    def poll_once(self) -> None:
        """One poll of the store: refresh, or keep serving the last snapshot while the store is down.

        The outage is logged at its start, at most once a minute while it lasts, and at its end.
        """
        try:
            if self.store is None:
                self.connect_pending()
            else:
                self.refresh()
        except Exception as exc:  # the store is down: keep serving the last snapshot
            self.last_refresh_error = describe_error(exc)
            self.registry_outage.failed(exc, "; serving the last snapshot")
        else:
            self.last_refresh_error = None
            self.registry_outage.succeeded()

    def evaluate(self, facts: Mapping[str, list[dict[str, Any]]], as_of: dt.date,
                 pins: list[str] | None = None, decision_id: str | None = None,
                 max_violations: int | None = None) -> dict[str, Any]:
        """Evaluate validated facts; the response body of the contract.

        ``max_violations``: at most that many violations are rendered and returned, the first in the
        contract's order; the summary still counts all, and ``truncated`` says how many were left out.

        ``decision_id`` lets the caller choose the id beforehand, so a request that fails can still be
        named in its error response and log; by default a fresh one.  An exception from a ruleset's
        engine carries a note naming the ruleset version.
        """
        registry = self._registry  # one snapshot for the whole evaluation
        chosen, warnings = registry.select(pins, fact_years(facts), as_of)
        pinned = set(pins or ())
        violations: list[dict[str, Any]] = []
        tally: dict[str, int] = {}
        non_binding = 0  # violations found under a draft (pinned), rendered or not
        used = []
        request = RequestFacts(facts)  # normalised once, shared by the rulesets
        groups = {e["id"]: e.get("group") for e in facts.get("enterprises") or ()}
        for rs in chosen:
            try:
                outcome = self.engine(rs).evaluate(request, as_of)
            except Exception as exc:
                exc.add_note(f"while evaluating {rs.ref} (digest {rs.digest})")
                raise
            timing = Timing(rs, self.instruments.get(rs.instrument), as_of, rs.ref in pinned)
            matches = [m for m in outcome.matches if timing.admits(m.rule, m.bindings)]
            found_before = sum(tally.values())
            violations.extend(results.violations(rs, matches, self.instruments, groups, as_of.toordinal(),
                                                 limit=max_violations, tally=tally))
            if not binding(rs):
                non_binding += sum(tally.values()) - found_before
            for w in outcome.warnings:
                if w not in warnings:
                    warnings.append(w)
            # "status" is the legal status of the instrument the version encodes (draft / in_force),
            # "lifecycle" the version's state in the registry (draft / active / retired).
            used.append({"id": rs.id, "version": rs.version, "status": rs.instrument_status, "digest": rs.digest,
                         "instrument": rs.instrument, "lifecycle": registry.status(rs.ref)})
        violations = results.sort_violations(violations)[:max_violations]
        found = sum(tally.values())
        body: dict[str, Any] = {
            "decision_id": decision_id or new_id(),
            "as_of": as_of.isoformat(),
            "rulesets": used,
            "violations": violations,
            "summary": results.summary(violations, tally, non_binding),
        }
        if found > len(violations):
            body["truncated"] = {"violations_returned": len(violations), "violations_found": found,
                                 "reason": "max_violations"}
        if warnings:
            body["warnings"] = warnings
        return body
