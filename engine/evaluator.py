"""Evaluating prepared facts against a compiled ruleset with durable_rules."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from engine.compiler import AS_OF_FIELD, CONTEXT_KIND, SENTINEL_RULE, CompiledRuleset, Unit, compile_ruleset
from engine.durable_driver import DurableRuleset, fact_ids, new_session_id
from engine.prepare import Prepared, RequestFacts, SourceRef, prepare
from policy import jsonio
from policy.model import Ruleset


@dataclass(frozen=True)
class Match:
    """One firing of one rule: the facts bound to each alias of its ``when``."""

    rule: str
    bindings: Mapping[str, Mapping[str, Any]]  # alias -> condition-level fact
    sources: Mapping[str, tuple[SourceRef, ...]]  # alias -> request facts behind it


@dataclass
class Outcome:
    """What one ruleset found in one request."""

    matches: list[Match]
    warnings: list[dict]


class Engine:
    """A ruleset compiled and loaded into durable_rules, ready to evaluate.

    Create once per ruleset version; :meth:`evaluate` is safe to call from
    many threads at once.  :meth:`close` frees the C handles.
    """

    _instances = 0

    def __init__(self, ruleset: Ruleset):
        Engine._instances += 1
        self.ruleset = ruleset
        self.compiled: CompiledRuleset = compile_ruleset(ruleset, f"{ruleset.ref}~{Engine._instances}")
        self._units = [(u, DurableRuleset(u.name, u.definition)) for u in self.compiled.units]
        self._large_units = [(u, DurableRuleset(u.name, u.definition)) for u in self.compiled.large_units]

    def close(self) -> None:
        for _, handle in self._units + self._large_units:
            handle.close()

    def evaluate(self, request_facts: Mapping[str, Any] | RequestFacts, as_of: dt.date) -> Outcome:
        prep = prepare(self.ruleset, request_facts, as_of, self.compiled.guards)
        return Outcome(self.match(prep), prep.warnings)

    def match(self, prep: Prepared) -> list[Match]:
        sid = new_session_id()
        compiled = self.compiled
        total = sum(len(prep.facts.get(k, ())) for k in compiled.kinds) + 1
        ids = fact_ids(total)
        # Each kind is serialised once, with only the fields the rules read, and reused by every unit.
        rows: dict[str, list[dict[str, Any]]] = {}
        serial: dict[str, str] = {}
        where: dict[str, tuple[str, int]] = {}
        n = 0
        for kind in compiled.kinds:
            names = compiled.props[kind]
            stamp = kind in compiled.as_of_kinds
            kind_rows = rows[kind] = []
            for i, fact in enumerate(prep.facts.get(kind, ())):
                fid = ids[n]
                n += 1
                where[fid] = (kind, i)
                body = {names[k]: v for k, v in fact.items() if k in names}
                body["id"], body["sid"], body["kind"] = fid, sid, kind
                if stamp:
                    body[AS_OF_FIELD] = prep.as_of
                kind_rows.append(body)
            serial[kind] = jsonio.dumps_text(kind_rows)[1:-1]
        context = jsonio.dumps_text({"id": ids[n], "sid": sid, "kind": CONTEXT_KIND})

        large = total >= partition_min_facts()
        matches: list[Match] = []
        # DEFECT: a rule whose condition holds through two branches of an `or` fires once per branch
        # (found by the oracle), and so may the variants of a split rule (compiler.rule_variants):
        # a combination of facts is one match of a rule.
        seen: set[tuple] = set()
        for unit, handle in self._large_units if large else self._units:
            sessions = _partitions(unit, prep, rows) if unit.partition else None
            if sessions is None:
                # negated kinds first (DEFECT negation), then the others, then the context fact
                sessions = [[serial[kind] for kind in unit.kinds if serial[kind]]]
            for chunks in sessions:
                chunks.append(context)
                for message in handle.run(chunks, sid):
                    for rname, bound in message.items():
                        if rname == SENTINEL_RULE:
                            continue
                        key = (unit.rule_ids[rname], tuple(sorted((a, f["id"]) for a, f in bound.items())))
                        if key in seen:
                            continue
                        seen.add(key)
                        bindings, sources = {}, {}
                        for alias, fact in bound.items():
                            kind, i = where[fact["id"]]
                            bindings[alias] = prep.facts[kind][i]
                            sources[alias] = prep.sources[kind][i]
                        matches.append(Match(unit.rule_ids[rname], bindings, sources))
        return matches


_DEFAULT_MIN_FACTS = 4000  # below this, one session per unit costs less than partitioning
_DEFAULT_PARTITION_FACTS = 1000  # facts per session of a partitioned unit: below durable_rules' superlinear range


def partition_min_facts() -> int:
    """Facts in a request from which the large layout (partitioned join units) is used.

    ``REPOLICY_PARTITION_MIN_FACTS`` overrides it (0: always) and
    ``REPOLICY_PARTITION_FACTS`` the facts per session, so the differential
    tests can run the large layout, split into many sessions, on small random
    requests.
    """
    value = os.environ.get("REPOLICY_PARTITION_MIN_FACTS")
    return int(value) if value else _DEFAULT_MIN_FACTS


def partition_facts() -> int:
    """Target number of facts per session of a partitioned unit (see :func:`partition_min_facts`)."""
    value = os.environ.get("REPOLICY_PARTITION_FACTS")
    return max(1, int(value)) if value else _DEFAULT_PARTITION_FACTS


def _partitions(unit: Unit, prep: Prepared, rows: Mapping[str, list[dict[str, Any]]]) -> list[list[str]] | None:
    """The unit's facts split into sessions by the hash of their join-key values, or None for one session.

    Sound by :func:`engine.compiler.partition_key`: facts that can be bound
    together have equal key values, hence the same hash; a fact missing a key
    field can match nothing and is left out.  Each session keeps the unit's
    kind order (negated kinds first).
    """
    assert unit.partition is not None
    size = sum(len(rows[kind]) for kind in unit.kinds)
    parts = -(-size // partition_facts())
    if parts <= 1:
        return None
    buckets: list[dict[str, list[dict[str, Any]]]] = [{} for _ in range(parts)]
    for kind in unit.kinds:
        fields = unit.partition[kind]
        for fact, row in zip(prep.facts.get(kind, ()), rows[kind]):
            try:
                key = tuple([fact[f] for f in fields])
            except KeyError:
                continue
            if None in key:
                continue
            buckets[hash(key) % parts].setdefault(kind, []).append(row)
    sessions = []
    for bucket in buckets:
        chunks = [jsonio.dumps_text(bucket[kind])[1:-1] for kind in unit.kinds if kind in bucket]
        if chunks:
            sessions.append(chunks)
    return sessions
