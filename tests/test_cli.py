"""The regulators' command line: validate, test, diff, coverage (publish/activate: see test_regulator_flow)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from helpers import not_a_violation_entries
from policy.registry import RULESETS_DIR

NOTICE = RULESETS_DIR / "notice" / "2021.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_validate_ok_and_errors(tmp_path: Path):
    ok = run("validate", str(RULESETS_DIR))
    assert ok.exit_code == 0 and "OK   " in ok.output and "notice@2021, 23 rules" in ok.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        NOTICE.read_text(encoding="utf-8").replace("severity: minor", "severity: tiny", 1), encoding="utf-8"
    )
    bad = run("validate", str(broken))
    assert bad.exit_code == 1
    line = next(n for n, text in enumerate(broken.read_text(encoding="utf-8").splitlines(), 1) if "tiny" in text)
    assert f"{broken}:{line}:15 [rule allocation.split-late]: severity 'tiny' must be one of" in bad.output


def test_diff_in_words(tmp_path: Path):
    new = tmp_path / "2021-r2.yaml"
    new.write_text(
        NOTICE.read_text(encoding="utf-8")
        .replace('version: "2021"', 'version: "2021-r2"')
        .replace("    value: 2000\n", "    value: 3000\n")
        .replace("severity: minor", "severity: major", 1),
        encoding="utf-8",
    )
    r = run("diff", str(NOTICE), str(new))
    assert r.exit_code == 0
    assert "notice@2021 -> notice@2021-r2: 2 处变化 / 2 change(s)" in r.output
    # each change in Chinese, then in English beneath it
    assert (
        "- 参数变更：capacity_floor_t_reo 2000 → 3000 t_reo_per_year\n"
        "  Parameter changed: capacity_floor_t_reo 2000 -> 3000 t_reo_per_year\n"
    ) in r.output
    assert "规则 allocation.split-late 的严重程度变更：\n    原为：轻微\n    现为：较重" in r.output
    assert "Rule allocation.split-late: severity changed:\n    before: minor\n    after:  major" in r.output


def test_test_runs_scenarios_against_an_unpublished_file(tmp_path: Path):
    candidate = tmp_path / "2021-r2.yaml"
    candidate.write_text(
        NOTICE.read_text(encoding="utf-8")
        .replace('version: "2021"', 'version: "2021-r2"')
        .replace("    value: 2000\n", "    value: 3000\n"),
        encoding="utf-8",
    )
    (tmp_path / "2021-r2.scenarios.yaml").write_text(
        """
scenarios:
  - name: 2,500 t is now under the floor
    as_of: "2021-12-31"
    rulesets: ["notice@2021-r2"]
    facts:
      groups: [{id: G1}]
      enterprises: [{id: E2, group: G1, activities: [smelting_separation], banned_process: true, separation_capacity_t_reo: 2500}]
      allocations: [{enterprise: E2, group: G1, year: 2021, activity: smelting_separation, amount_t_reo: 8}]
    expect: [{rule: eligibility.smelter-ineligible, subject: G1, period: "2021"}]
  - name: wrong expectation
    as_of: "2021-12-31"
    rulesets: ["notice@2021-r2"]
    facts:
      groups: [{id: G1}]
      enterprises: [{id: E2, group: G1, activities: [smelting_separation], banned_process: true, separation_capacity_t_reo: 2999}]
      allocations: [{enterprise: E2, group: G1, year: 2021, activity: smelting_separation, amount_t_reo: 8}]
    expect: []
""",
        encoding="utf-8",
    )
    r = run("test", str(candidate))
    assert r.exit_code == 1
    assert "PASS" in r.output and "FAIL" in r.output
    assert "+ found, not expected: eligibility.smelter-ineligible G1 2021" in r.output
    assert r.output.strip().endswith("1 passed, 1 failed")


def test_coverage_lists_every_provision():
    r = run("coverage", "--instrument", "measures-draft")
    assert r.exit_code == 0
    assert "art_17" in r.output and "out of scope: Liability of officials" in r.output
    assert "art_16__para_2" in r.output and "quota.over-production (next_year_quota_reduction)" in r.output
    assert "GAP" not in r.output


def test_coverage_shows_the_sentences_that_are_not_violations():
    """Each `not_a_violation` entry of rulesets/coverage.yaml is printed under its provision, quoted, with its reason."""
    entries = not_a_violation_entries()
    assert entries
    for inst, eid, entry in entries:
        lines = run("coverage", "--instrument", inst).output.splitlines()
        at = next(i for i, line in enumerate(lines) if line.split()[:1] == [eid])
        following = lines[at + 1 :]
        block = following[
            : next((i for i, line in enumerate(following) if not line.startswith(" " * 10)), len(following))
        ]
        assert any(
            f"not a violation: “{entry['text']}”" in line and " ".join(entry["en"].split()) in line for line in block
        ), (inst, eid)
