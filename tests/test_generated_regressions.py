"""Regression tests for the engine bugs the independent oracle and the generated rulesets found.

Each case is checked against the oracle (tests/oracle.py), and against the engine's own reference.
"""
from __future__ import annotations

import datetime as dt

import oracle
from engine import Engine
from rules_helpers import ruleset_from

AS_OF = dt.date(2022, 1, 31)


def engine_and_oracle(rs, facts, as_of=AS_OF):
    eng = Engine(rs)
    try:
        got = oracle.engine_matches(eng.evaluate(facts, as_of).matches)
    finally:
        eng.close()
    want = oracle.matches(rs, facts, as_of)
    assert got == want
    return got


def test_an_or_holding_through_two_branches_is_one_match(instruments):
    """durable_rules fired once per true branch of an `or`: two identical matches of one enterprise."""
    rs = ruleset_from("""
rules:
  - id: either
    title: {zh: 测, en: t}
    severity: minor
    when: [{fact: enterprises, as: e, where: "'mining' in e.activities or 'smelting_separation' in e.activities"}]
    subject: {type: enterprise, id: e.id}
    message: {zh: "{subject}", en: "{subject}"}
    citations: [{instrument: notice-2021, eid: para_7}]
""", instruments)
    facts = {"enterprises": [{"id": "E1", "activities": ["mining", "smelting_separation"]}]}
    assert engine_and_oracle(rs, facts) == [("either", (("e", (("enterprises", 0),)),))]
