"""A ruleset that does not validate is rejected with file, line, column and rule id."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policy.loader import RulesetInvalid, load_ruleset
from policy.registry import RULESETS_DIR

# A frozen ruleset (an early notice@2021) the edits below break in known places.
NOTICE = (Path(__file__).resolve().parent / "fixtures" / "ruleset-sample.yaml").read_text(encoding="utf-8")


def issues_of(text: str, instruments) -> list:
    with pytest.raises(RulesetInvalid) as exc:
        load_ruleset(text, "rulesets/notice/2021.yaml", instruments)
    return exc.value.issues


def line_of(text: str, needle: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_every_ruleset_file_is_loaded_under_the_name_its_path_gives(shipped):
    """Every YAML file under rulesets/ that holds rules is loaded (none skipped), as <id>@<version> from its
    path rulesets/<id>/<version>.yaml, which its own `ruleset:` and `version:` repeat; nothing else is."""
    on_disk = set()
    for path in RULESETS_DIR.glob("*/*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "rules" in doc:
            assert (doc["ruleset"], str(doc["version"])) == (path.parent.name, path.stem), path
            on_disk.add(f"{path.parent.name}@{path.stem}")
    assert set(shipped) == on_disk
    assert {"measures@draft", "measures@2025", "notice@2021", "regulation@2024"} <= on_disk


def test_fixture_is_valid(instruments):
    assert len(load_ruleset(NOTICE, "fixture.yaml", instruments).rules) == 3


def test_unknown_field_in_a_rule(instruments):
    text = NOTICE.replace("    severity: minor\n", "    severity: minor\n    severty: major\n", 1)
    [issue] = issues_of(text, instruments)
    assert issue.rule == "reporting.group-monthly-late"
    assert issue.line == line_of(text, "severty: major")
    assert "unknown field `severty`" in issue.message and "severity" in issue.hint
    assert str(issue).startswith(f"rulesets/notice/2021.yaml:{issue.line}:")


def test_citation_to_missing_eid(instruments):
    text = NOTICE.replace("eid: para_3__item_2}\n\n  - id: reporting", "eid: para_3__item_9}\n\n  - id: reporting")
    [issue] = issues_of(text, instruments)
    assert issue.rule == "eligibility.smelting-capacity-below-floor"
    assert "no provision 'para_3__item_9'" in issue.message
    assert issue.line == line_of(text, "para_3__item_9")


def test_duplicate_rule_id(instruments):
    text = NOTICE.replace("id: reporting.group-monthly-missing", "id: reporting.group-monthly-late")
    [issue] = issues_of(text, instruments)
    assert "duplicate rule id" in issue.message and issue.rule == "reporting.group-monthly-late"


def test_bad_operator_and_type_mismatch(instruments):
    text = NOTICE.replace("r.submitted_on > r.due_on", "r.submitted_on => r.due_on")
    [issue] = issues_of(text, instruments)
    assert "cannot read the condition" in issue.message and issue.rule == "reporting.group-monthly-late"
    text = NOTICE.replace("r.submitted_on > r.due_on", "r.submitted_on > r.level")
    [issue] = issues_of(text, instruments)
    assert "cannot compare date" in issue.message
    text = NOTICE.replace("a.activity == 'smelting_separation'", "a.activity == 'smelting'")
    [issue] = issues_of(text, instruments)
    assert "'smelting' is not a possible value" in issue.message


def test_unknown_fact_field_with_hint(instruments):
    text = NOTICE.replace("e.separation_capacity_t_reo <", "e.capacity <")
    [issue] = issues_of(text, instruments)
    assert "has no field 'capacity'" in issue.message and "separation_capacity_t_reo" in issue.hint


def test_every_issue_is_listed_at_once(instruments):
    text = NOTICE.replace("severity: minor", "severity: low").replace("severity: major", "severity: high")
    issues = issues_of(text, instruments)
    assert {i.rule for i in issues} == {
        "reporting.group-monthly-late",
        "reporting.group-monthly-missing",
        "eligibility.smelting-capacity-below-floor",
    }


def test_yaml_syntax_error_has_a_line(instruments):
    text = NOTICE.replace("    severity: minor\n", "    severity: [minor\n", 1)
    [issue] = issues_of(text, instruments)
    assert issue.message.startswith("YAML syntax") and issue.line > 1


def test_anchors_and_aliases_are_refused(instruments):
    text = NOTICE.replace(
        "title: {zh: 稀土集团月度生产数据逾期上报, en: Group's monthly production report filed late}",
        "title: &t {zh: 稀土集团月度生产数据逾期上报, en: Group's monthly production report filed late}",
    ).replace("title: {zh: 稀土集团月度生产数据逾期未报, en: Group's monthly production report not filed}", "title: *t")
    [issue] = issues_of(text, instruments)
    assert "aliases" in issue.message


def test_unless_may_not_read_unknowable_fields(instruments):
    text = (
        Path(RULESETS_DIR / "measures" / "draft.yaml")
        .read_text(encoding="utf-8")
        .replace("and quota.activity == produced.activity\n    subject", "and quota.ore_type == 'rock'\n    subject")
    )
    [issue] = issues_of(text, instruments)
    assert "may be unknown" in issue.message and issue.rule == "quota.production-without-quota"


def test_message_placeholder_must_exist(instruments):
    text = NOTICE.replace("逾期{days_late}天", "逾期{days_overdue}天")
    [issue] = issues_of(text, instruments)
    assert "{days_overdue}" in issue.message


def test_yaml_one_one_booleans_are_text(instruments):
    # `on:` is not the boolean true here (YAML 1.1 trap): it stays an unknown key named "on"
    text = NOTICE.replace("  - list: reports", "  - on: reports\n    list: reports")
    [issue] = issues_of(text, instruments)
    assert "unknown field `on`" in issue.message


def test_subject_type_from_a_field_must_be_a_subject_type_enum(instruments):
    text = NOTICE.replace("subject: {type: group, id: r.reporter}", "subject: {type: r.period, id: r.reporter}", 1)
    issues = issues_of(text, instruments)
    assert any("does not give a subject type" in i.message for i in issues)


INTERPRETATION = """    interpretation:
      question: {zh: 两个条件是择一还是并存？, en: "Either condition or both?"}
      reading: {zh: 择一即可, en: Either suffices}
      alternative: {zh: 两者须同时具备, en: Both must hold}
      reason: {zh: 文义以“和”并列, en: The text joins them with a plain conjunction}
"""


def test_interpretation_is_loaded_on_its_rule(instruments):
    text = NOTICE.replace("    severity: minor\n", "    severity: minor\n" + INTERPRETATION, 1)
    rule = next(
        r for r in load_ruleset(text, "fixture.yaml", instruments).rules if r.id == "reporting.group-monthly-late"
    )
    [entry] = rule.interpretations
    assert entry.reading == {"zh": "择一即可", "en": "Either suffices"}
    assert entry.alternative["en"] == "Both must hold" and entry.citation is None


def test_interpretation_without_a_reason_is_refused_with_its_line(instruments):
    broken = INTERPRETATION.replace(
        "      reason: {zh: 文义以“和”并列, en: The text joins them with a plain conjunction}\n", ""
    )
    text = NOTICE.replace("    severity: minor\n", "    severity: minor\n" + broken, 1)
    [issue] = issues_of(text, instruments)
    assert issue.rule == "reporting.group-monthly-late"
    assert issue.message == "an interpretation lacks `reason`"
    assert issue.line == line_of(text, "interpretation:") + 1
