"""The service without HTTP: instruments, ruleset versions, their compiled engines, evaluation.

Used by the API, the scenario runner and the benchmarks alike.

Built once at start-up (before gunicorn forks its workers: durable_rules
rulesets created before a fork keep working in each child, each with its own
C heap).  Evaluation reads it from many threads.
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping

from engine.evaluator import Engine
from engine.prepare import RequestFacts
from policy import results
from policy.facts import FACT_LISTS
from policy.instruments import Instrument, load_instruments
from policy.model import Ruleset
from policy.registry import Registry, load_directory


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


class Runtime:
    """Registry plus one compiled :class:`Engine` per ruleset version."""

    def __init__(self, instruments: Mapping[str, Instrument], registry: Registry):
        self.instruments = instruments
        self.registry = registry
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        for rs in registry.all():
            self.engine(rs)

    @classmethod
    def from_directories(cls, rulesets_dir: Path, instruments_dir: Path) -> "Runtime":
        instruments = load_instruments(instruments_dir)
        return cls(instruments, Registry(load_directory(rulesets_dir, instruments)))

    def engine(self, ruleset: Ruleset) -> Engine:
        eng = self._engines.get(ruleset.ref)
        if eng is None:
            with self._lock:
                eng = self._engines.get(ruleset.ref)
                if eng is None:
                    eng = self._engines[ruleset.ref] = Engine(ruleset)
        return eng

    def evaluate(self, facts: Mapping[str, list[dict[str, Any]]], as_of: dt.date,
                 pins: list[str] | None = None) -> dict[str, Any]:
        """Evaluate validated facts; the response body of the contract."""
        chosen, warnings = self.registry.select(pins, fact_years(facts))
        violations: list[dict[str, Any]] = []
        used = []
        request = RequestFacts(facts)  # normalised once, shared by the rulesets
        groups = {e["id"]: e.get("group") for e in facts.get("enterprises") or ()}
        for rs in chosen:
            outcome = self.engine(rs).evaluate(request, as_of)
            violations.extend(results.violations(rs, outcome.matches, self.instruments, groups))
            for w in outcome.warnings:
                if w not in warnings:
                    warnings.append(w)
            # "status" is the legal status of the instrument the version encodes (draft / in_force),
            # "lifecycle" the version's state in the registry (draft / active / retired).
            used.append({"id": rs.id, "version": rs.version, "status": rs.instrument_status, "digest": rs.digest,
                         "instrument": rs.instrument, "lifecycle": rs.status})
        violations = results.sort_violations(violations)
        body: dict[str, Any] = {
            "decision_id": uuid.uuid4().hex,
            "as_of": as_of.isoformat(),
            "rulesets": used,
            "violations": violations,
            "summary": results.summary(violations),
        }
        if warnings:
            body["warnings"] = warnings
        return body
