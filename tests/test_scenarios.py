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
    fired: dict[str, int] = {}
    for s in SCENARIOS:
        for e in s.expect:
            fired[e["rule"]] = fired.get(e["rule"], 0) + 1
    pinned = {rs for s in SCENARIOS for rs in s.body.get("rulesets", [])}
    missing = [f"{ref} {r.id}" for ref, rs in shipped.items() if ref in pinned for r in rs.rules
               if r.id not in fired]
    assert not missing, f"rules no scenario shows violated: {missing}"
