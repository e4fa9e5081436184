"""The scenario library (rulesets/scenarios/*.yaml), written from the legal texts, run as tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.scenarios import describe, exercising, load_library, run_scenario

SCENARIOS = load_library()


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
        for rule in rs.rules:
            violating, compliant = exercising(SCENARIOS, ref, rule)
            if not violating:
                problems.append(f"{ref} {rule.id}: no violating scenario")
            if not compliant:
                problems.append(f"{ref} {rule.id}: no compliant scenario on {sorted(c.eid for c in rule.citations)}")
    assert not problems, "\n".join(problems)


def test_every_shipped_rule_fires_in_a_passing_scenario(runtime, shipped):
    """What `repolicy test` warns about (a rule tested only where nothing happens), for the shipped rulesets."""
    from api.scenarios import never_fired

    outcomes = [run_scenario(runtime, s) for s in SCENARIOS]
    assert {ref: never_fired(rs, outcomes) for ref, rs in shipped.items()} == {ref: [] for ref in shipped}
