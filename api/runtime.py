"""The service without HTTP: instruments, ruleset versions and their compiled engines, as one snapshot.

Used by the API, the scenario runner and the benchmarks alike.

Built once at start-up (before gunicorn forks its workers: durable_rules
rulesets created before a fork keep working in each child, each with its own
C heap).  Evaluation reads it from many threads; :class:`api.reload.RegistryPoller`
refreshes it from the registry database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from api.evaluation_body import evaluation_body
from api.operations import OutageLog, describe_error
from api.store_seeding import seeded_store
from engine import Engine, Layout
from policy.instruments import Instrument, InstrumentError, load_instrument_text, load_instruments
from policy.model import Ruleset
from policy.loader import RulesetInvalid, load_ruleset
from policy.registry import Registry, load_directory, periods_overlap
from policy.store import Store

log = logging.getLogger(__name__)


class Runtime:
    """A registry snapshot plus one compiled :class:`Engine` per ruleset version.

    Without a store (scenario runner, benchmarks) the snapshot is fixed.  With
    a :class:`~policy.store.Store`, :meth:`refresh` rebuilds the snapshot when
    the store's generation moves: new versions are parsed and compiled first,
    then the snapshot is replaced in one assignment, so an evaluation sees
    either the old set or the new one.  Versions are immutable, so compiled
    engines are kept (any version can still be pinned) and never rebuilt.
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        registry: Registry,
        store: Store | None = None,
        engines: Mapping[str, Engine] | None = None,
        layout: Layout = Layout(),
    ):
        self.instruments = instruments
        self.layout = layout  # given to every engine compiled here (the settings' partitioning)
        self._file_instruments = dict(instruments)  # the shipped files; published revisions override them
        self._parsed_instruments: dict[str, Instrument] = {}  # digest -> instrument, parsed once
        self.store = store
        self._registry = registry
        self._engines: dict[str, Engine] = dict(engines or {})
        self._parsed: dict[str, Ruleset] = {}  # digest -> ruleset, so a version is parsed once
        self._lock = threading.Lock()
        self._generation: int | None = None
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
    def from_directories(cls, rulesets_dir: Path, instruments_dir: Path, layout: Layout = Layout()) -> Runtime:
        """The shipped rulesets only, no store (as files say: status from the YAML)."""
        instruments = load_instruments(instruments_dir)
        return cls(instruments, Registry(load_directory(rulesets_dir, instruments)), layout=layout)

    @classmethod
    def with_store(
        cls, rulesets_dir: Path, instruments_dir: Path, database_url: str, layout: Layout = Layout()
    ) -> Runtime:
        """Seed the store with the shipped rulesets (idempotent by digest), then load what it holds."""
        instruments = load_instruments(instruments_dir)
        shipped = load_directory(rulesets_dir, instruments)
        store = seeded_store(database_url, shipped)
        runtime = cls(instruments, Registry(), store, layout=layout)
        runtime.refresh()
        return runtime

    @classmethod
    def awaiting_store(
        cls, rulesets_dir: Path, instruments_dir: Path, database_url: str, layout: Layout = Layout()
    ) -> Runtime:
        """The shipped rulesets now, and the store once it answers (a database down at start-up).

        Each poll tries the database; when it answers it is seeded, its versions are loaded, and the
        ``on_store`` callbacks get it (the decision log then writes what it queued meanwhile).
        """
        runtime = cls.from_directories(rulesets_dir, instruments_dir, layout)
        runtime.pending_url = database_url
        return runtime

    def connect_pending(self) -> bool:
        """Try the database that was down at start-up; True once it is attached."""
        if self.store is not None or self.pending_url is None:
            return self.store is not None
        store = seeded_store(self.pending_url, list(self._registry.all()))  # raises while the database is down
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
        return Runtime(self.instruments, Registry(others + [candidate], statuses), engines=shared, layout=self.layout)

    def retired_by(self, candidate: Ruleset) -> list[str]:
        """The active versions activating ``candidate`` would retire: same ruleset, overlapping period."""
        return [
            r.ref
            for r in self._registry.active()
            if r.id == candidate.id and r.ref != candidate.ref and periods_overlap(r, candidate)
        ]

    def engine(self, ruleset: Ruleset) -> Engine:
        eng = self._engines.get(ruleset.ref)
        if eng is None or eng.ruleset.digest != ruleset.digest:
            with self._lock:
                eng = self._engines.get(ruleset.ref)
                if eng is None or eng.ruleset.digest != ruleset.digest:
                    eng = self._engines[ruleset.ref] = Engine(ruleset, self.layout)
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
                    log.error(
                        "instrument revision %s#%d does not load, not served: %s", row.instrument_id, row.revision, exc
                    )
                    continue
                inst = self._parsed_instruments[row.digest] = replace(inst, revision=row.revision, digest=row.digest)
            current[inst.id] = inst
        return current

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

    def evaluate(
        self,
        facts: Mapping[str, list[dict[str, Any]]],
        as_of: dt.date,
        pins: list[str] | None = None,
        decision_id: str | None = None,
        max_violations: int | None = None,
    ) -> dict[str, Any]:
        """The response body of the contract for validated facts (:func:`api.evaluation_body.evaluation_body`)."""
        return evaluation_body(self, facts, as_of, pins, decision_id, max_violations)
