"""`repolicy new-notice`: next year's draft ruleset, instrument skeleton and scenarios from last year's, with
the figures the new notice must give left unset and named by validation with their file and line."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from api.cli import main
from api.scenarios import load_scenarios
from policy.registry import RULESETS_DIR

NOTICE = RULESETS_DIR / "notice" / "2021.yaml"
ORIGINAL = yaml.safe_load(NOTICE.read_text(encoding="utf-8"))


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def notice_parameters() -> dict:
    """The 2021 ruleset's parameters that cite the 2021 notice itself (read from the file)."""
    return {
        name: body
        for name, body in ORIGINAL["parameters"].items()
        if any(c["instrument"] == "notice-2021" for c in body["citations"])
    }


def draft(tmp_path: Path, year: int = 2022):
    out = tmp_path / "work"
    r = run("new-notice", "--from", "notice@2021", "--year", str(year), "--out", str(out))
    assert r.exit_code == 0, r.output
    return out, r.output


def test_the_draft_moves_the_year_and_leaves_the_notice_figures_unset(tmp_path):
    out, output = draft(tmp_path)
    text = (out / "notice-2022.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert (doc["ruleset"], doc["version"], doc["status"], doc["instrument"]) == (
        "notice",
        "2022",
        "draft",
        "notice-2022",
    )
    assert doc["effective"] == {"from": "2022-01-01", "to": "2022-12-31"}
    assert [r["id"] for r in doc["rules"]] == [r["id"] for r in ORIGINAL["rules"]]
    assert [r["when"] for r in doc["rules"]] == [r["when"] for r in ORIGINAL["rules"]]  # conditions unchanged
    expected = notice_parameters()
    assert {n for n, b in doc["parameters"].items() if b["value"] is None} == set(expected)
    for name, body in expected.items():  # listed, with last year's value
        assert re.search(rf"^  {name} \(cites .*; 2021: {re.escape(str(body['value']))}\)$", output, re.M), output
    # comments and layout of the original are kept (round-trip editing)
    original_comments = [
        line.strip() for line in NOTICE.read_text(encoding="utf-8").splitlines() if line.strip().startswith("# ----")
    ]
    assert original_comments and all(c in text for c in original_comments)


def test_validation_names_each_unset_parameter_with_its_line(tmp_path):
    out, _ = draft(tmp_path)
    ruleset, instrument = out / "notice-2022.yaml", out / "notice-2022.instrument.yaml"
    r = run("validate", str(instrument), str(ruleset))
    assert r.exit_code == 1
    assert f"OK   {instrument}: instrument notice-2022 (draft)" in r.output
    lines = ruleset.read_text(encoding="utf-8").splitlines()
    named = {}
    for m in re.finditer(rf"^  {re.escape(str(ruleset))}:(\d+):\d+: parameter `(\w+)` is not set", r.output, re.M):
        named[m.group(2)] = lines[int(m.group(1)) - 1]
    assert set(named) == set(notice_parameters())
    assert all(line.strip().startswith("value: null") for line in named.values())
    assert "problem(s)" in r.output and f"{len(named)} problem(s)" in r.output  # nothing else is wrong


def test_once_set_the_draft_validates_and_its_scenarios_load(tmp_path):
    out, _ = draft(tmp_path)
    ruleset = out / "notice-2022.yaml"
    text = ruleset.read_text(encoding="utf-8")
    for name, body in notice_parameters().items():
        value = body["value"]
        value = f'"{value}"' if isinstance(value, str) else str(value)
        text = re.sub(rf"(\n  {name}:\n    value: )null[^\n]*", rf"\g<1>{value}", text)
    ruleset.write_text(text, encoding="utf-8")
    r = run("validate", str(out / "notice-2022.instrument.yaml"), str(ruleset))
    assert r.exit_code == 0, r.output
    moved = sorted((out / "scenarios").glob("*.yaml"))
    assert moved
    date = re.compile(r"\b(\d{4})(-\d\d(?:-\d\d)?)\b")
    for path in moved:
        original = [
            o
            for o in load_scenarios(RULESETS_DIR / "scenarios" / path.name.replace("-2022.yaml", ".yaml"))
            if "notice@2021" in o.body.get("rulesets", [])
        ]
        now = load_scenarios(path)
        assert len(now) == len(original)
        for before, after in zip(original, now):
            assert "notice@2022" in after.body["rulesets"] and "notice@2021" not in after.body["rulesets"]
            # every date one year later, the December-to-January ones included
            assert date.findall(str(after.body)) == [
                (str(int(y) + 1), rest) for y, rest in date.findall(str(before.body))
            ]
            assert after.expect == [
                {**e, "period": str(int(e["period"][:4]) + 1) + e["period"][4:]} if "period" in e else e
                for e in before.expect
            ]


@settings(max_examples=4, deadline=None)
@given(st.integers(min_value=2022, max_value=2040))
def test_any_later_year(tmp_path_factory, year):
    out, _ = draft(tmp_path_factory.mktemp("y"), year)
    doc = yaml.safe_load((out / f"notice-{year}.yaml").read_text(encoding="utf-8"))
    assert doc["effective"] == {"from": f"{year}-01-01", "to": f"{year}-12-31"} and doc["version"] == str(year)
    skeleton = yaml.safe_load((out / f"notice-{year}.instrument.yaml").read_text(encoding="utf-8"))
    assert skeleton["id"] == f"notice-{year}" and skeleton["text_available"] is False


def test_the_year_must_come_after(tmp_path):
    r = run("new-notice", "--from", "notice@2021", "--year", "2021", "--out", str(tmp_path / "w"))
    assert r.exit_code == 1 and "must come after" in r.output
    r = run("new-notice", "--from", "notice@1999", "--year", "2022", "--out", str(tmp_path / "w"))
    assert r.exit_code == 1 and "no ruleset notice@1999" in r.output


def test_a_year_in_batches_gets_a_skeleton_per_notice_and_its_batch_figures_unset(tmp_path):
    """notice@2023 cites two notices (工信部联原〔2023〕23号 and 〔2023〕245号, one per batch): each gets its own
    skeleton; each batch keeps its place under the new year's id, as the moved scenarios name it, and the figures
    only its own notice gives (number, date, working days, totals) are left unset and listed."""
    source = yaml.safe_load((RULESETS_DIR / "notice" / "2023.yaml").read_text(encoding="utf-8"))
    out = tmp_path / "work"
    r = run("new-notice", "--from", "notice@2023", "--year", "2024", "--out", str(out))
    assert r.exit_code == 0, r.output
    skeletons = sorted(p.name for p in out.glob("*.instrument.yaml"))
    assert skeletons == ["notice-2024-1.instrument.yaml", "notice-2024-3.instrument.yaml"]
    doc = yaml.safe_load((out / "notice-2024.yaml").read_text(encoding="utf-8"))
    assert list(doc["batches"]) == [bid.replace("2023", "2024") for bid in source["batches"]]
    for bid, before in source["batches"].items():
        after = doc["batches"][bid.replace("2023", "2024")]
        assert after["notice"] is None and after["issued_on"] is None and after["split_working_days"] is None
        assert all(v is None for v in (after.get("totals") or {}).values())
        assert {c["instrument"] for c in after["citations"]} == {
            c["instrument"].replace("2023", "2024") for c in before["citations"]
        }
        for key in ("notice", "split_working_days"):
            assert f"  batches.{bid.replace('2023', '2024')}.{key} (cites " in r.output
    scenario_batches = set(
        re.findall(
            r'batch: "([^"]+)"',
            (out / "scenarios").joinpath("notice-2023-batches-2024.yaml").read_text(encoding="utf-8"),
        )
    )
    assert scenario_batches and scenario_batches <= set(doc["batches"])
    # validation: every instrument the draft cites is there; what is left is the totals, each on its line
    r = run("validate", *(str(out / s) for s in skeletons), str(out / "notice-2024.yaml"))
    problems = re.findall(r"^  .*notice-2024\.yaml:\d+:\d+: (.*)$", r.output, re.M)
    assert r.exit_code == 1 and problems and all("the total of" in p for p in problems), r.output
