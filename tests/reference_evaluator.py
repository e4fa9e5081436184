"""A plain-Python evaluator of the same rules, independent of durable_rules.

It reads the validated rule model directly (nested loops over the ``when``
facts, ``any`` over the ``unless`` facts) and shares nothing with the
compiler or the durable driver but the prepared facts.  Tests compare the two
on many requests, in every fact order and from many threads: where they
disagree, the engine has hit one of durable_rules' defects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from collections.abc import Mapping

from engine.evaluator import Match, Outcome
from engine.prepare import Prepared, excluded, prepare
from policy import expr as E
from policy.model import Rule, Ruleset


def match_rule(rule: Rule, prep: Prepared, params: Mapping[str, Any]) -> list[Match]:
    reads = rule.required_fields()
    positive = rule.positive
    found: list[Match] = []

    def known(alias: str, fact: Mapping[str, Any]) -> bool:
        return all(name in fact for name in reads.get(alias, ()))

    def extend(level: int, bound: dict[str, Any], refs: dict[str, Any]) -> None:
        if level == len(positive):
            if not excluded(rule, prep, bound, params):
                found.append(Match(rule.id, dict(bound), dict(refs)))
            return
        p = positive[level]
        for fact, src in zip(prep.facts.get(p.fact, ()), prep.sources.get(p.fact, ())):
            if not known(p.alias, fact) or any(fact is other for other in bound.values()):
                continue  # a combination is of distinct facts (durable_rules' semantics, docs/rules.md §5)
            trial = {**bound, p.alias: fact}
            if p.where is None or E.holds(p.where, trial, params, prep.as_of):
                extend(level + 1, trial, {**refs, p.alias: src})

    extend(0, {}, {})
    return found


def evaluate(ruleset: Ruleset, request_facts: Mapping[str, Any], as_of: dt.date) -> Outcome:
    prep = prepare(ruleset, request_facts, as_of)
    params = ruleset.param_values
    matches: list[Match] = []
    for rule in ruleset.rules:
        matches.extend(match_rule(rule, prep, params))
    return Outcome(matches, prep.warnings)
