"""Rules that can never fire are refused at validation, with file, line and rule id; a computed field
nobody reads is a warning (docs/rules.md §9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from helpers import auth
from policy.liveness import contradiction
from policy.loader import RulesetInvalid
from rules_helpers import HEADER, ruleset_from


def rule(where: str, fact: str = "reports") -> str:
    return f"""
  - id: dead
    title: {{zh: 测, en: t}}
    severity: minor
    when:
      - fact: {fact}
        as: r
        where: "{where}"
    subject: {{type: enterprise, id: r.{"reporter" if fact == "reports" else "enterprise"}}}
    message: {{zh: "{{subject}}", en: "{{subject}}"}}
    citations: [{{instrument: notice-2021, eid: para_7}}]
"""


def refused(body: str, instruments) -> list:
    with pytest.raises(RulesetInvalid) as info:
        ruleset_from(body, instruments)
    return info.value.issues


def line_of(body: str, text: str) -> int:
    return next(n for n, line in enumerate((HEADER + body).splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    "where, shown",
    [
        ("r.year > 2021 and r.year < 2020", "r.year > 2021 and r.year < 2020"),
        ("r.year == 2021 and r.year != 2021", "r.year == 2021 and r.year != 2021"),
        ("r.level == 'group' and r.level == 'enterprise'", "r.level == 'group' and r.level == 'enterprise'"),
        ("not (r.year <= 2021 or r.year >= 2021)", "r.year > 2021 and r.year < 2021"),
    ],
)
def test_a_condition_contradicting_itself_is_refused(instruments, where, shown):
    body = "rules:" + rule(where)
    issues = refused(body, instruments)
    assert [(i.rule, i.line) for i in issues] == [("dead", line_of(body, "- fact: reports"))]
    assert f"`{shown}` contradict each other" in issues[0].message


@pytest.mark.parametrize("value", ["r.year / 0", "r.year / (params.n - 2)", "year_of(date_of(2021, 2, 30))"])
def test_a_comparison_on_a_computed_field_that_never_has_a_value_is_refused(instruments, value):
    body = f"""
parameters:
  n: {{value: 2, label: {{zh: 数, en: n}}, citations: [{{instrument: notice-2021, eid: para_7}}]}}
computed:
  - {{list: reports, as: r, field: k, value: "{value}"}}
  - {{list: reports, as: r, field: k2, value: "r.k + 1"}}
rules:""" + rule("r.k2 > 1 or r.k2 < 1")
    issues = refused(body, instruments)
    assert len(issues) == 1 and issues[0].rule == "dead"
    assert "can never fire" in issues[0].message and "always unknown" in issues[0].message


def test_an_or_with_one_live_branch_and_other_conditions_pass(instruments):
    body = """
computed:
  - {list: reports, as: r, field: k, value: "r.year / 0"}
rules:""" + rule("r.k > 1 or r.year > 2020")
    assert ruleset_from(body, instruments).rules[0].id == "dead"
    ruleset_from("rules:" + rule("r.year >= 2021 and r.year <= 2021 and r.year != 2020"), instruments)


def test_a_computed_field_nobody_reads_is_a_warning(instruments, tmp_path: Path):
    body = """
computed:
  - {list: reports, as: r, field: k, value: "r.year + 1"}
  - {list: reports, as: r, field: unused, value: "r.year + 2"}
rules:""" + rule("r.k == 2022")
    rs = ruleset_from(body, instruments)
    [warning] = rs.extra["warnings"]
    assert "`reports.unused` is read by no rule" in warning.message
    assert warning.line == line_of(body, "field: unused")
    path = tmp_path / "warn.yaml"
    path.write_text(HEADER + body, encoding="utf-8")
    out = CliRunner().invoke(main, ["validate", str(path)])
    assert out.exit_code == 0 and f"warning: {path}:{warning.line}:5: computed field `reports.unused`" in out.output


def test_validate_and_publish_report_a_dead_rule_with_file_line_and_rule(tmp_path: Path, client):
    body = "rules:" + rule("r.year > 2021 and r.year < 2020")
    path = tmp_path / "dead.yaml"
    path.write_text(HEADER + body, encoding="utf-8")
    out = CliRunner().invoke(main, ["validate", str(path)])
    assert out.exit_code == 1
    assert f"{path}:{line_of(body, '- fact: reports')}:9 [rule dead]: the rule can never fire" in out.output
    r = client.post("/v1/rulesets?file=dead.yaml", data=(HEADER + body).encode(), headers=auth("regulator"))
    assert r.status_code == 422
    [issue] = r.json["issues"]
    assert (issue["file"], issue["line"], issue["rule"]) == ("dead.yaml", line_of(body, "- fact: reports"), "dead")


def test_contradiction_on_intervals():
    assert contradiction([(">", 5), ("<", 5)]) and contradiction([(">=", 5), ("<", 5)])
    assert not contradiction([(">=", 5), ("<=", 5)]) and not contradiction([(">", 1), ("<", 3)])
    assert contradiction([("==", 1), ("==", 2)]) and not contradiction([("!=", 1), ("!=", 2)])
    assert contradiction([("==", 4), (">", 4)]) and not contradiction([("==", 4), (">=", 4)])
