"""Evaluating prepared facts against a compiled ruleset with durable_rules."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Mapping

from engine.compiler import AS_OF_FIELD, CONTEXT_KIND, SENTINEL_RULE, CompiledRuleset, compile_ruleset, prop
from engine.durable_driver import DurableRuleset, fact_ids, new_session_id
from engine.prepare import Prepared, SourceRef, prepare
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

    def evaluate(self, request_facts: Mapping[str, Any], as_of: dt.date) -> Outcome:
        prep = prepare(self.ruleset, request_facts, as_of)
        return Outcome(self.match(prep), prep.warnings)

    def match(self, prep: Prepared) -> list[Match]:
        sid = new_session_id()
        # Serialise each fact once (in engine form) and reuse it in every unit.
        total = sum(len(prep.facts.get(k, ())) for k in self.compiled.kinds) + 1
        ids = fact_ids(total)
        serial: dict[str, list[str]] = {}
        where: dict[str, tuple[str, int]] = {}
        n = 0
        sid_json = json.dumps(sid)
        for kind in self.compiled.kinds:
            out = []
            stamp = kind in self.compiled.as_of_kinds
            for i, fact in enumerate(prep.facts.get(kind, ())):
                body = {prop(k): v for k, v in fact.items()}
                if stamp:
                    body[AS_OF_FIELD] = prep.as_of
                fid = ids[n]
                n += 1
                where[fid] = (kind, i)
                text = json.dumps(body, ensure_ascii=False)
                out.append(f'{{"id":"{fid}","sid":{sid_json},"kind":"{kind}",{text[1:]}' if len(body)
                           else f'{{"id":"{fid}","sid":{sid_json},"kind":"{kind}"}}')
            serial[kind] = out
        context = f'{{"id":"{ids[n]}","sid":{sid_json},"kind":"{CONTEXT_KIND}"}}'

        matches: list[Match] = []
        for unit, handle in self._units:
            facts_json: list[str] = []
            for kind in unit.kinds:  # negated kinds first (DEFECT negation)
                facts_json.extend(serial[kind])
            facts_json.append(context)
            for message in handle.run(facts_json, sid):
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
