"""The change between two versions in words (policy/diff.py): every change in Chinese and in English, the
machine names (parameter names, rule ids) as written in both, the figures the same in both."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ROOT
from policy.diff import diff
from policy.loader import load_ruleset

NOTICE = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
CJK = re.compile(r"[\u4e00-\u9fff]")
SEVERITY_ZH = {"critical": "特别严重", "serious": "严重", "major": "较重", "minor": "轻微"}


@settings(max_examples=25, deadline=None)
@given(
    floor=st.integers(0, 10**7).filter(lambda n: n != 2000),
    tolerance=st.one_of(st.none(), st.integers(0, 10**4)),
    severity=st.sampled_from(sorted(SEVERITY_ZH)),
)
def test_each_change_is_said_in_both_languages(instruments, floor, tolerance, severity):
    old = load_ruleset(NOTICE, "old.yaml", instruments)
    text = NOTICE.replace("    value: 2000\n", f"    value: {floor}\n", 1)
    was_tolerance = old.parameters["reporting_tolerance_t_reo"].value
    if tolerance is not None:
        text = re.sub(
            r"(reporting_tolerance_t_reo:\n(?:    .*\n)*?    value: )\S+", rf"\g<1>{tolerance}", text, count=1
        )
    was_severity = old.rule("allocation.split-late").severity
    text = re.sub(r"(id: allocation\.split-late\n(?:.*\n)*?\s+severity: )\w+", rf"\g<1>{severity}", text, count=1)
    new = load_ruleset(text, "new.yaml", instruments)
    lines = diff(old, new)
    assert all(set(line) == {"zh", "en"} and CJK.search(line["zh"]) for line in lines)
    assert not any(re.search(r"\b(Parameter|Rule|changed|before|after)\b", line["zh"]) for line in lines)
    floor_line = next(line for line in lines if "capacity_floor_t_reo" in line["en"])
    assert floor_line["zh"] == f"参数变更：capacity_floor_t_reo 2000 → {floor} t_reo_per_year"
    assert floor_line["en"] == f"Parameter changed: capacity_floor_t_reo 2000 -> {floor} t_reo_per_year"
    changed = tolerance is not None and tolerance != was_tolerance
    assert changed == any("reporting_tolerance_t_reo" in line["zh"] for line in lines)
    severity_lines = [line for line in lines if "allocation.split-late" in line["en"]]
    if severity == was_severity:
        assert not severity_lines
    else:
        assert severity_lines[0]["zh"] == (
            f"规则 allocation.split-late 的严重程度变更：\n    原为：{SEVERITY_ZH[was_severity]}\n"
            f"    现为：{SEVERITY_ZH[severity]}"
        )
    assert len(lines) == 1 + changed + (severity != was_severity)
