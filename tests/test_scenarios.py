"""The scenario suite (tests/scenarios/*.yaml), written from the legal texts, run as tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.scenarios import describe, load_scenarios, run_scenario

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIOS = [s for path in sorted(SCENARIO_DIR.glob("*.yaml")) for s in load_scenarios(path)]


@pytest.fixture(scope="module")
def runtime(app):
    return app.extensions["repolicy"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{Path(s.file).stem}:{s.line}" for s in SCENARIOS])
def test_scenario(runtime, scenario):
    outcome = run_scenario(runtime, scenario)
    assert outcome.passed, describe(outcome)


def test_every_rule_has_a_violating_and_a_compliant_scenario(shipped):
    """Violating: a scenario of the rule's ruleset expects it.  Compliant: a scenario of that ruleset
    exercising one of the rule's provisions (its `source`) expects no violation of it."""
    problems = []
    for ref, rs in shipped.items():
        mine = [s for s in SCENARIOS if s.body.get("rulesets") == [ref]]
        for rule in rs.rules:
            eids = {c.eid for c in rule.citations}
            violating = [s for s in mine if any(e["rule"] == rule.id for e in s.expect)]
            compliant = [s for s in mine if (s.source or {}).get("eid") in eids
                         and not any(e["rule"] == rule.id for e in s.expect)]
            if not violating:
                problems.append(f"{ref} {rule.id}: no violating scenario")
            if not compliant:
                problems.append(f"{ref} {rule.id}: no compliant scenario on {sorted(eids)}")
    assert not problems, "\n".join(problems)
