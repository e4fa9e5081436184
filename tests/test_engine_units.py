"""How rules are grouped into durable rulesets (units), against error 303 (docs/engine.md).

durable_rules fails an assert with error 303 once a fact passes 65 alpha
branches of one ruleset; the compiler sizes units by the branches each kind
gets (an ``or`` counts once per disjunct).  Generated rulesets of many
threshold rules on one list must compile into units within the budget and
find what the plain-Python reference finds; and no unit carries a ``$not``
(``unless`` is tested in Python).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compiler import PATTERNS_PER_KIND, compile_ruleset
from rules_helpers import both, ruleset_from

RULE = """
  - id: r{i}
    title: {{zh: 测, en: t}}
    severity: minor
    when: [{{fact: production, as: p, where: "{where}"}}]
    subject: {{type: enterprise, id: p.enterprise}}
    message: {{zh: "{{subject}}", en: "{{subject}}"}}
    citations: [{{instrument: notice-2021, eid: para_7}}]
"""


def _branches(definition: dict) -> int:
    """Alpha branches on ``production`` in one unit's definition: one per rule, two with an ``$or``."""
    rules = [json.dumps(rule) for rule in definition.values()]
    return sum(1 + text.count('"$or"') for text in rules if '"production"' in text)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.integers(40, 140), with_or=st.booleans(), amounts=st.lists(st.integers(0, 200), min_size=1, max_size=6))
def test_many_rules_on_one_kind_stay_under_error_303(instruments, rules, with_or, amounts):
    body = "rules:" + "".join(
        RULE.format(
            i=i, where=f"p.amount_t_reo > {i} or p.amount_t_reo < {-i - 1}" if with_or else f"p.amount_t_reo > {i}"
        )
        for i in range(rules)
    )
    rs = ruleset_from(body, instruments)
    compiled = compile_ruleset(rs, "units-test")
    for unit in compiled.units:
        assert _branches(unit.definition) <= PATTERNS_PER_KIND
    assert sum(len(set(u.rule_ids.values())) for u in compiled.units) == rules
    facts = {
        "enterprises": [{"id": "E1"}],
        "production": [
            {"enterprise": "E1", "period": f"2021-{m + 1:02d}", "activity": "mining", "amount_t_reo": a}
            for m, a in enumerate(amounts)
        ],
    }
    fired = both(rs, facts)  # raises on error 303; equal to the reference
    assert len(fired) == sum(1 for a in amounts for i in range(rules) if a > i)


def test_no_unit_negates_and_shipped_rulesets_need_one_session(shipped):
    for rs in shipped.values():
        compiled = compile_ruleset(rs, "units-shipped")
        assert len(compiled.units) == 1, rs.ref
        assert "$not" not in json.dumps([u.definition for u in compiled.units + compiled.large_units])
        assert set(compiled.unless) == {r.id for r in rs.rules if r.negative}
