"""Rules on computed fields fire: a field read only through another computed field is computed, and
an equality on one of several computed fields of a list is not tested on the submitted fact.

Each case is checked by the engine, the reference and the independent oracle (``tests/oracle.py``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from policy.analysis import analyse
from rules_helpers import both, ruleset_from

FIXTURE = Path(__file__).parent / "fixtures" / "computed-chain.yaml"

RULE = """
  - id: {rid}
    title: {{zh: 测, en: t}}
    severity: minor
    when: [{{fact: reports, as: r, where: "{where}"}}]
    subject: {{type: group, id: r.reporter}}
    message: {{zh: "{{subject}}", en: "{{subject}}"}}
    citations: [{{instrument: notice-2021, eid: para_7}}]
"""

COMPUTED = """
computed:
  - {list: reports, as: r, field: k, value: "choose(r.year > 2000, 1, 2)"}
  - {list: reports, as: r, field: k2, value: "r.k + 1"}
  - {list: reports, as: r, field: other, value: "r.year + 1"}
"""

REPORTS = {
    "groups": [{"id": "G1"}, {"id": "G2"}],
    "reports": [
        {"reporter": "G1", "level": "group", "period": "2021-03"},
        {"reporter": "G2", "level": "group", "period": "1999-03"},
    ],
}


def fired(rs, facts=REPORTS, as_of=dt.date(2022, 1, 31)):
    return sorted(subject for _, subject in both(rs, facts, as_of))


def test_a_computed_field_read_only_by_another_is_computed(instruments):
    rs = ruleset_from(COMPUTED + "rules:" + RULE.format(rid="second", where="r.k2 == 2"), instruments)
    assert [c.field for c in analyse(rs).computed] == ["k", "k2"]
    assert fired(rs) == ["G1"]


def test_equality_on_one_of_several_computed_fields_matches(instruments):
    rs = ruleset_from(COMPUTED + "rules:" + RULE.format(rid="eq", where="r.k == 1"), instruments)
    assert fired(rs) == ["G1"]
    rs = ruleset_from(
        COMPUTED + "rules:" + RULE.format(rid="eq2", where="r.k2 == 3 and r.level == 'group'"), instruments
    )
    assert fired(rs) == ["G2"]


def test_a_derived_list_filtering_on_a_computed_field_gets_it(instruments):
    body = (
        COMPUTED
        + """
derived:
  early:
    from: reports
    as: f
    where: f.k == 1
    group_by: [reporter]
    count: n
rules:
  - id: counted
    title: {zh: 测, en: t}
    severity: minor
    when: [{fact: early, as: d, where: d.n >= 1}]
    subject: {type: group, id: d.reporter}
    message: {zh: "{subject}", en: "{subject}"}
    citations: [{instrument: notice-2021, eid: para_7}]
"""
    )
    rs = ruleset_from(body, instruments)
    assert [c.field for c in analyse(rs).computed] == ["k"]
    assert fired(rs) == ["G1"]


def test_repolicy_test_runs_the_firing_scenarios():
    result = CliRunner().invoke(main, ["test", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("2 passed, 0 failed")
    assert "chain.second-level" not in result.output  # nothing expected was missing


def test_repolicy_test_warns_of_a_rule_that_fires_in_no_scenario(tmp_path: Path):
    text = FIXTURE.read_text(encoding="utf-8")
    start = text.index('  - name: "2021年报送')
    end = text.index('  - name: "企业报送')
    candidate = tmp_path / "only-equality.yaml"
    candidate.write_text(text[:start] + text[end:], encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(candidate)])
    assert result.exit_code == 0, result.output
    assert "warning: 1 of 2 rules fire in no passing scenario: chain.second-level (a rule" in result.output


def test_a_rule_depends_on_the_computed_fields_behind_the_one_it_reads(instruments):
    """Its sign-off fingerprint covers `k` too: changing how `k` is computed changes what `k2 == 2` means."""
    from policy.review import rule_dependencies, rule_digest

    rs = ruleset_from(COMPUTED + "rules:" + RULE.format(rid="second", where="r.k2 == 2"), instruments)
    assert rule_dependencies(rs, rs.rules[0])["computed"] == ["reports.k", "reports.k2"]
    changed = ruleset_from(
        COMPUTED.replace("1, 2)", "1, 3)") + "rules:" + RULE.format(rid="second", where="r.k2 == 2"), instruments
    )
    assert rule_digest(rs, rs.rules[0]) != rule_digest(changed, changed.rules[0])
