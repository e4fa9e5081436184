"""Regression tests for the engine bugs the independent oracle and the generated rulesets found.

Each case is checked against the oracle (tests/oracle.py), and against the engine's own reference.
"""

from __future__ import annotations

import datetime as dt

import oracle
from engine import Engine
from rules_helpers import ruleset_from

AS_OF = dt.date(2022, 1, 31)


def one_rule(instruments, when: str, subject: str):
    """A ruleset of one rule with the given `when` facts (YAML flow items, one per line)."""
    items = "".join(f"      - {item}\n" for item in when.strip().splitlines())
    return ruleset_from(
        f"""
rules:
  - id: r
    title: {{zh: 测, en: t}}
    severity: minor
    when:
{items}    subject: {{type: enterprise, id: {subject}}}
    message: {{zh: "{{subject}}", en: "{{subject}}"}}
    citations: [{{instrument: notice-2021, eid: para_7}}]
""",
        instruments,
    )


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
    rs = one_rule(
        instruments,
        """{fact: enterprises, as: e, where: "'mining' in e.activities or 'smelting_separation' in e.activities"}""",
        "e.id",
    )
    facts = {"enterprises": [{"id": "E1", "activities": ["mining", "smelting_separation"]}]}
    assert engine_and_oracle(rs, facts) == [("r", (("e", (("enterprises", 0),)),))]


def test_a_self_join_pairs_distinct_facts(instruments):
    """The reference paired a fact with itself where durable_rules never does: the language now says
    a combination is of distinct facts (docs/rules.md §5), and the reference and the unknowns search agree."""
    import reference_evaluator as reference
    from engine.unknowns import unknowns

    rs = one_rule(
        instruments,
        """
{fact: reports, as: a}
{fact: reports, as: b, where: "b.reporter == a.reporter and b.period == a.period"}""",
        "a.reporter",
    )
    one = {"reports": [{"reporter": "E1", "level": "enterprise", "period": "2021-03"}]}
    assert engine_and_oracle(rs, one) == []
    assert reference.evaluate(rs, one, AS_OF).matches == []
    two = {"reports": one["reports"] * 2}
    assert len(engine_and_oracle(rs, two)) == 2
    assert len(reference.evaluate(rs, two, AS_OF).matches) == 2
    assert unknowns(rs, {"reports": [{"reporter": "E1", "level": "enterprise"}]}, AS_OF)[0] == []


def test_an_or_mixing_a_join_test_and_a_constant_test_holds_through_either(instruments):
    """durable_rules never matched a joined fact through the constant branch of such an `or`."""
    rs = one_rule(
        instruments,
        """
{fact: allocations, as: a}
{fact: enterprises, as: b, where: "b.id == a.enterprise and (b.separation_capacity_t_reo != a.amount_t_reo or b.designated)"}""",
        "a.enterprise",
    )
    allocation = {"enterprise": "E2", "year": 2021, "activity": "mining", "amount_t_reo": 10}
    through_constant = {
        "enterprises": [{"id": "E2", "separation_capacity_t_reo": 10, "designated": True}],
        "allocations": [allocation],
    }
    assert len(engine_and_oracle(rs, through_constant)) == 1
    through_both = {
        "enterprises": [{"id": "E2", "separation_capacity_t_reo": 5, "designated": True}],
        "allocations": [allocation],
    }
    assert len(engine_and_oracle(rs, through_both)) == 1  # one match, not one per branch
    neither = {
        "enterprises": [{"id": "E2", "separation_capacity_t_reo": 10, "designated": False}],
        "allocations": [allocation],
    }
    assert engine_and_oracle(rs, neither) == []
    own_unknown = {"enterprises": [{"id": "E2", "designated": True}], "allocations": [allocation]}
    assert len(engine_and_oracle(rs, own_unknown)) == 1  # its own field unknown: the other branch decides


def test_an_unless_with_an_or_mixing_a_join_test_and_a_constant_test_blocks_through_either(instruments):
    """The same durable_rules defect in an `unless` fact: a production of 10 t did not block through
    the constant branch `z.amount_t_reo > 0`, so the rule fired."""
    rs = ruleset_from(
        """
rules:
  - id: r
    title: {zh: 测, en: t}
    severity: minor
    when: [{fact: enterprises, as: a}]
    unless:
      - {fact: production, as: z, where: "z.enterprise == a.id and (z.amount_t_reo == a.separation_capacity_t_reo or z.amount_t_reo > 5)"}
    subject: {type: enterprise, id: a.id}
    message: {zh: "{subject}", en: "{subject}"}
    citations: [{instrument: notice-2021, eid: para_7}]
""",
        instruments,
    )
    production = {"enterprise": "E0", "period": "2021-12", "activity": "mining"}
    enterprise = {"id": "E0", "separation_capacity_t_reo": 0}
    blocked_by_constant = {"enterprises": [enterprise], "production": [{**production, "amount_t_reo": 10}]}
    assert engine_and_oracle(rs, blocked_by_constant) == []
    blocked_by_join = {"enterprises": [enterprise], "production": [{**production, "amount_t_reo": 0}]}
    assert engine_and_oracle(rs, blocked_by_join) == []
    not_blocked = {"enterprises": [enterprise], "production": [{**production, "amount_t_reo": 3}]}
    assert len(engine_and_oracle(rs, not_blocked)) == 1
