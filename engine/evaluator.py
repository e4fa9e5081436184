"""Evaluating prepared facts against a compiled ruleset with durable_rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from engine.compiler import AS_OF_FIELD, CONTEXT_KIND, SENTINEL_RULE, CompiledRuleset, Unit, Unless, compile_ruleset
from engine.durable_driver import DurableRuleset, fact_ids, new_session_id
from engine.prepare import Prepared, RequestFacts, SourceRef, prepare
from policy import jsonio
from policy.functions import UnknownValue
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


@dataclass(frozen=True)
class Layout:
    """How a request is split among durable_rules sessions: from ``partition_min_facts`` facts in a request
    (0: always) the large layout (partitioned join units) is used, with about ``partition_facts`` facts per
    session.  Below the threshold one session per unit costs less than partitioning; the session size
    keeps durable_rules below its superlinear range.  The service's settings choose them; the
    differential tests force the large layout, split into many sessions, on small random requests."""

    partition_min_facts: int = 4000
    partition_facts: int = 1000

    def __post_init__(self) -> None:
        if self.partition_min_facts < 0 or self.partition_facts < 1:
            raise ValueError(f"partition_min_facts must be >= 0 and partition_facts >= 1: {self}")


class Engine:
    """A ruleset compiled and loaded into durable_rules, ready to evaluate.

    Create once per ruleset version; :meth:`evaluate` is safe to call from
    many threads at once.  :meth:`close` frees the C handles.
    """

    _instances = 0

    def __init__(self, ruleset: Ruleset, layout: Layout = Layout()):
        Engine._instances += 1
        self.ruleset = ruleset
        self.layout = layout
        self.compiled: CompiledRuleset = compile_ruleset(ruleset, f"{ruleset.ref}~{Engine._instances}")
        self._units = [(u, DurableRuleset(u.name, u.definition)) for u in self.compiled.units]
        self._large_units = [(u, DurableRuleset(u.name, u.definition)) for u in self.compiled.large_units]

    def close(self) -> None:
        for _, handle in self._units + self._large_units:
            handle.close()

    def evaluate(
        self, request_facts: Mapping[str, Any] | RequestFacts, as_of: dt.date, layout: Layout | None = None
    ) -> Outcome:
        """The rule matches in the request; ``layout`` overrides the engine's for this call."""
        prep = prepare(self.ruleset, request_facts, as_of, self.compiled.guards)
        return Outcome(self.match(prep, layout or self.layout), prep.warnings)

    def match(self, prep: Prepared, layout: Layout | None = None) -> list[Match]:
        layout = layout or self.layout
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
            names = tuple(compiled.props[kind].items())  # the fields read, fewer than a fact has
            stamp = kind in compiled.as_of_kinds
            kind_rows = rows[kind] = []
            for i, fact in enumerate(prep.facts.get(kind, ())):
                fid = ids[n]
                n += 1
                where[fid] = (kind, i)
                body = {engine_name: fact[name] for name, engine_name in names if name in fact}
                body["id"], body["sid"], body["kind"] = fid, sid, kind
                if stamp:
                    body[AS_OF_FIELD] = prep.as_of
                kind_rows.append(body)
            serial[kind] = jsonio.dumps_text(kind_rows)[1:-1]
        context = jsonio.dumps_text({"id": ids[n], "sid": sid, "kind": CONTEXT_KIND})

        large = total >= layout.partition_min_facts
        matches: list[Match] = []
        # DEFECT: a rule whose condition holds through two branches of an `or` fires once per branch
        # (found by the oracle), and so may the variants of a split rule (compiler.rule_variants):
        # a combination of facts is one match of a rule (only such rules, ``Unit.repeats``, are checked).
        seen: set[tuple] = set()
        blocked = _Blockers(compiled.unless, prep, self.ruleset.param_values)
        for unit, handle in self._large_units if large else self._units:
            sessions = _partitions(unit, prep, rows, layout.partition_facts) if unit.partition else None
            if sessions is None:
                sessions = [[serial[kind] for kind in unit.kinds if serial[kind]]]
            for chunks in sessions:
                chunks.append(context)
                for message in handle.run(chunks, sid):
                    for rname, bound in message.items():
                        if rname == SENTINEL_RULE:
                            continue
                        rule = unit.rule_ids[rname]
                        if rule in unit.repeats:
                            key = (rule, tuple(sorted((a, f["id"]) for a, f in bound.items())))
                            if key in seen:
                                continue
                            seen.add(key)
                        bindings, sources = {}, {}
                        for alias, fact in bound.items():
                            kind, i = where[fact["id"]]
                            bindings[alias] = prep.facts[kind][i]
                            sources[alias] = prep.sources[kind][i]
                        if blocked(rule, bindings):
                            continue
                        matches.append(Match(rule, bindings, sources))
        return matches


class _Blockers:
    """The ``unless`` test of one evaluation, in Python (DEFECT negation: see engine.compiler).

    A match is blocked when some fact of an ``unless`` kind is known to satisfy
    its condition with the bound facts (unknown is not true, as in the
    reference evaluator).  Candidates come from an index of the kind's facts on
    the fields the condition equates with bound facts' fields, built once per
    evaluation on first use (a fact missing such a field, or a match whose
    bound field is missing, cannot make the equality true); the condition's
    other conjuncts are then tested on each candidate.
    """

    def __init__(self, unless: Mapping[str, tuple[Unless, ...]], prep: Prepared, params: Mapping[str, Any]):
        self._unless = unless
        self._prep = prep
        self._params = params
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[tuple, list[dict[str, Any]]]] = {}

    def _index(self, kind: str, fields: tuple[str, ...]) -> dict[tuple, list[dict[str, Any]]]:
        index = self._indexes.get((kind, fields))
        if index is None:
            index = self._indexes[(kind, fields)] = {}
            for fact in self._prep.facts.get(kind, ()):
                try:
                    key = tuple([fact[f] for f in fields])
                except KeyError:
                    continue
                index.setdefault(key, []).append(fact)
        return index

    def __call__(self, rule: str, bindings: Mapping[str, Mapping[str, Any]]) -> bool:
        for unless in self._unless.get(rule, ()):
            if unless.keys:
                try:
                    key = tuple([bindings[alias][f] for _, alias, f in unless.keys])
                except KeyError:
                    continue  # an equality on an unknown value is not true: no fact blocks
                if not all(v == v for v in key):
                    continue  # NaN equals nothing (the index would find it by identity)
                candidates = self._index(unless.kind, tuple(own for own, _, _ in unless.keys)).get(key, ())
            else:
                candidates = self._prep.facts.get(unless.kind, ())
            if unless.rest is None:  # the keys are the whole condition, and they hold for every candidate
                if candidates:
                    return True
                continue
            scope = dict(bindings)
            for fact in candidates:
                scope[unless.alias] = fact
                try:
                    if unless.rest(scope, self._params, self._prep.as_of):
                        return True
                except UnknownValue:
                    pass
        return False


def _partitions(
    unit: Unit, prep: Prepared, rows: Mapping[str, list[dict[str, Any]]], partition_facts: int
) -> list[list[str]] | None:
    """The unit's facts split into sessions by the hash of their join-key values, or None for one session.

    Sound by :func:`engine.compiler.partition_key`: facts that can be bound
    together have equal key values, hence the same hash; a fact missing a key
    field can match nothing and is left out.  Each session keeps the unit's
    kind order (negated kinds first).
    """
    assert unit.partition is not None
    size = sum(len(rows[kind]) for kind in unit.kinds)
    parts = -(-size // partition_facts)
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
