"""Evaluating prepared facts against a compiled ruleset with durable_rules."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Mapping

from engine.compiler import AS_OF_FIELD, CONTEXT_KIND, SENTINEL_RULE, CompiledRuleset, compile_ruleset, prop
from engine.durable_driver import DurableRuleset, fact_ids, new_session_id
from engine.prepare import Prepared, RequestFacts, SourceRef, prepare
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

    def close(self) -> None:
        for _, handle in self._units:
            handle.close()

    def evaluate(self, request_facts: "Mapping[str, Any] | RequestFacts", as_of: dt.date) -> Outcome:
        prep = prepare(self.ruleset, request_facts, as_of, self.compiled.guards)
        return Outcome(self.match(prep), prep.warnings)

    def match(self, prep: Prepared) -> list[Match]:
        sid = new_session_id()
        compiled = self.compiled
        total = sum(len(prep.facts.get(k, ())) for k in compiled.kinds) + 1
        ids = fact_ids(total)
        # Each kind is serialised once, with only the fields the rules read, and reused by every unit.
        serial: dict[str, str] = {}
        where: dict[str, tuple[str, int]] = {}
        n = 0
        for kind in compiled.kinds:
            wanted = compiled.fields[kind]
            stamp = kind in compiled.as_of_kinds
            rows = []
            for i, fact in enumerate(prep.facts.get(kind, ())):
                fid = ids[n]
                n += 1
                where[fid] = (kind, i)
                body = {prop(k): v for k, v in fact.items() if k in wanted}
                body["id"], body["sid"], body["kind"] = fid, sid, kind
                if stamp:
                    body[AS_OF_FIELD] = prep.as_of
                rows.append(body)
            serial[kind] = json.dumps(rows, ensure_ascii=False)[1:-1]
        context = json.dumps({"id": ids[n], "sid": sid, "kind": CONTEXT_KIND})

        matches: list[Match] = []
        for unit, handle in self._units:
            # negated kinds first (DEFECT negation), then the others, then the context fact
            chunks = [serial[kind] for kind in unit.kinds if serial[kind]]
            chunks.append(context)
            for message in handle.run(chunks, sid):
                for rname, bound in message.items():
                    if rname == SENTINEL_RULE:
                        continue
                    bindings, sources = {}, {}
                    for alias, fact in bound.items():
                        kind, i = where[fact["id"]]
                        bindings[alias] = prep.facts[kind][i]
                        sources[alias] = prep.sources[kind][i]
                    matches.append(Match(unit.rule_ids[rname], bindings, sources))
        return matches
