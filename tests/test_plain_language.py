"""Rules written out in plain Chinese and English for legal reviewers (policy/plain.py, rulesets/vocabulary.yaml)."""

from __future__ import annotations

import pytest

from policy import plain
from policy.functions import parse_date


def test_every_name_the_shipped_rules_use_has_words(shipped):
    assert {ref: plain.missing_words(rs) for ref, rs in shipped.items() if plain.missing_words(rs)} == {}


def test_vocabulary_is_bilingual():
    voc = plain.load_vocabulary()
    for section in ("facts", "fields", "operators", "functions", "units"):
        for name, words in getattr(voc, section).items():
            assert words.get("zh") and words.get("en"), f"{section}.{name}"
            assert ("not_zh" in words) == ("not_en" in words), f"{section}.{name}: a negation in both languages"


def test_over_quota_rule_reads_as_article_16(shipped):
    rs = shipped["measures@draft"]
    text = plain.render_rule(rs, rs.rule("quota.over-production"))
    assert text["zh"] == (
        "当存在年度产量合计；并且存在年度指标合计，满足：年度指标合计的企业为年度产量合计的企业，"
        "且年度指标合计的年度为年度产量合计的年度，且年度指标合计的生产活动类别为年度产量合计的生产活动类别，"
        "且年度指标合计的数量（吨REO）小于年度产量合计的数量（吨REO）时，即构成违规。"
    )
    assert text["en"].startswith(
        "It is a violation when there is an annual production total; and there is an "
        "annual quota total such that the annual quota total's enterprise is"
    )
    assert text["en"].endswith(
        "the annual quota total's amount (t REO) is less than the annual production total's amount (t REO)."
    )


def test_negation_parameters_and_enum_values(shipped):
    rs = shipped["notice@2021"]
    smelter = plain.render_rule(rs, rs.rule("eligibility.smelter-ineligible"))
    # the parameter shows its label and value with its unit; a yes/no field reads as a statement
    assert "企业的冶炼分离产能（吨REO）小于冶炼分离产能下限" in smelter["zh"] and "（2,000吨REO/年）" in smelter["zh"]
    assert "企业使用国家明令禁止的工艺" in smelter["zh"] and "或企业被责令停产" in smelter["zh"]
    assert "(2,000 t REO a year)" in smelter["en"]
    mine = plain.render_rule(rs, rs.rule("eligibility.mine-ineligible"))
    assert "企业未持有采矿许可证" in mine["zh"] and "the enterprise holds no mining licence" in mine["en"]
    assert "年度指标合计的生产活动类别为稀土开采" in mine["zh"]  # 'mining' shown by its label
    late = plain.render_rule(rs, rs.rule("reporting.group-monthly-missing"))
    assert "报送未报送" in late["zh"] and "早于评判日" in late["zh"] and "（2021-08-24）" in late["zh"]
    absent = plain.render_rule(rs, rs.rule("quota.production-without-quota"))
    assert (
        "并且不存在满足以下条件的指标分解（单批）" in absent["zh"]
        and "there is no allocation (one batch) such that" in absent["en"]
    )


def test_not_of_an_or_reads_positively(shipped):
    """``not (a or b)`` is written as "not a and not b" (De Morgan), never as a double negative."""
    from policy import expr as E

    rs = shipped["notice@2021"]
    rule = rs.rule("eligibility.mine-ineligible")
    [e] = [p for p in rule.patterns if p.alias == "e"]
    assert (e.fact, e.negated) == ("enterprises", False)  # what "the enterprise" below names
    scope = E.Scope(rs.fact_fields_by_alias(rule), {})
    node = E.parse("not (e.mining_license or e.ordered_to_suspend)", scope)
    assert plain.render_condition(rs, rule, node, "zh") == "企业未持有采矿许可证，且企业未被责令停产"
    assert (
        plain.render_condition(rs, rule, node, "en")
        == "the enterprise holds no mining licence and the enterprise was not ordered to suspend production"
    )


def test_a_match_is_explained_with_its_values(shipped):
    rs = shipped["measures@draft"]
    rule = rs.rule("quota.over-production")
    bindings = {
        "produced": {"enterprise": "E1", "year": 2021, "activity": "mining", "amount_t_reo": 5320},
        "quota": {"enterprise": "E1", "year": 2021, "activity": "mining", "amount_t_reo": 5000},
    }
    text = plain.explain_match(rs, rule, bindings)
    assert "年度指标合计的年度（2021）为年度产量合计的年度（2021）" in text["zh"]
    assert text["zh"].endswith("年度指标合计的数量（吨REO）（5,000）小于年度产量合计的数量（吨REO）（5,320）")
    assert text["en"].endswith(
        "the annual quota total's amount (t REO) (5,000) is less than "
        "the annual production total's amount (t REO) (5,320)"
    )


@pytest.mark.parametrize("lang,expected", [("zh", "未知"), ("en", "unknown")])
def test_unknown_values_are_said_so(shipped, lang, expected):
    rs = shipped["notice@2021"]
    rule = rs.rule("reporting.group-monthly-missing")
    bindings = {"r": {"level": "group", "submitted": False, "due_on": parse_date("2021-10-11")}}
    text = plain.explain_match(rs, rule, bindings, as_of=None)[lang]
    assert "2021-10-11" in text and expected in text  # as_of not given: unknown
