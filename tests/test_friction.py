"""Friction a regulator and a new user met, each fixed: day numbers on rule pages, YAML syntax errors as
tracebacks, coverage of an instrument nobody listed, the server variables missing from --help, times
without a zone, English status codes on the Chinese coverage page."""

from __future__ import annotations

import datetime as dt
import json
import re

import yaml
from click.testing import CliRunner

from api.cli import main
from helpers import NEW_NOTICE, ROOT, auth, log_in, ruleset_citing
from policy.registry import RULESETS_DIR
from policy.store import Store

NOTICE = RULESETS_DIR / "notice" / "2021.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_date_parameter_is_shown_as_a_date_on_the_rule_page(client):
    written = yaml.safe_load(NOTICE.read_text(encoding="utf-8"))["parameters"]["notice_date"]["value"]
    view = client.get("/v1/rules/notice@2021/reporting.group-monthly-late", headers=auth("legal")).json
    [param] = [p for p in view["parameters"] if p["name"] == "notice_date"]
    assert param["value"] == str(written) and param["type"] == "date"
    log_in(client, "legal-token-1")
    page = client.get("/ui/rules/notice@2021/reporting.group-monthly-late").get_data(as_text=True)
    assert f"= {written}" in page
    assert str(dt.date.fromisoformat(str(written)).toordinal()) not in page


def test_an_ascii_colon_in_law_text_is_reported_with_line_column_and_hint(tmp_path):
    original = NOTICE.read_text(encoding="utf-8")
    # the first plain (unquoted) Chinese text of the file, with an ASCII colon and space put after its 6th character
    found = re.search(r"^(      zh: )([\u4e00-\u9fff]{6})([^:\n]+)$", original, re.M)
    assert found, "no plain Chinese text line in the notice ruleset"
    text = original.replace(found.group(0), f"{found.group(1)}{found.group(2)}: {found.group(3)}", 1)
    path = tmp_path / "notice.yaml"
    path.write_text(text, encoding="utf-8")
    r = run("validate", str(path))
    assert r.exit_code == 1 and (r.exception is None or isinstance(r.exception, SystemExit))
    [line] = [x for x in r.output.splitlines() if x.startswith(f"  {path}:")]
    where = re.match(rf"  {re.escape(str(path))}:(\d+):(\d+): YAML syntax: .*\(hint: .*full-width colon", line)
    assert where, r.output
    assert f"{found.group(2)}: " in text.splitlines()[int(where.group(1)) - 1]


def test_a_broken_scenario_file_is_reported_not_a_traceback(tmp_path):
    scenarios = tmp_path / "x.scenarios.yaml"
    scenarios.write_text("scenarios:\n  - name: 通知: 第一条\n    facts: {}\n", encoding="utf-8")
    r = run("test", str(NOTICE), str(scenarios))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.startswith(f"FAIL {scenarios}:2:") and "hint:" in r.output


def test_coverage_of_an_instrument_not_in_coverage_yaml_lists_its_provisions_as_gaps(tmp_path):
    (tmp_path / "notice-test.yaml").write_text(NEW_NOTICE, encoding="utf-8")
    doc = yaml.safe_load(NEW_NOTICE)
    eids = [p["eid"] for p in doc["provisions"]] + [c["eid"] for p in doc["provisions"] for c in p.get("children", [])]
    r = run("coverage", "--instrument", "notice-test", str(tmp_path / "notice-test.yaml"))
    assert r.exit_code == 1
    assert sorted(re.findall(r"^  (\S+) .* GAP", r.output, re.M)) == sorted(eids)
    # a ruleset not yet published counts: it implements para_1
    (tmp_path / "rules.yaml").write_text(ruleset_citing("notice-test", "para_1"), encoding="utf-8")
    r = run("coverage", "--instrument", "notice-test", str(tmp_path / "notice-test.yaml"), str(tmp_path / "rules.yaml"))
    assert re.search(r"^  para_1 .* implemented by test-notice@1 quota.over-production$", r.output, re.M), r.output
    assert sorted(re.findall(r"^  (\S+) .* GAP", r.output, re.M)) == sorted(e for e in eids if e != "para_1")


def test_coverage_allows_partly_implemented_with_a_note(tmp_path):
    (tmp_path / "notice-test.yaml").write_text(NEW_NOTICE, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(ruleset_citing("notice-test", "para_1"), encoding="utf-8")
    note = {"zh": "“无指标生产”由其他规则集判断。", "en": "production without quota is judged elsewhere"}
    (tmp_path / "coverage.yaml").write_text(
        yaml.safe_dump(
            {
                "instruments": {
                    "notice-test": {
                        "partly_implemented": {"para_1": note},
                        "out_of_scope": {
                            e: {"zh": "测试。", "en": "test"} for e in ("para_2", "para_2__item_1", "para_2__item_2")
                        },
                    }
                }
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    r = run(
        "coverage",
        "--instrument",
        "notice-test",
        "--coverage",
        str(tmp_path / "coverage.yaml"),
        str(tmp_path / "notice-test.yaml"),
        str(tmp_path / "rules.yaml"),
    )
    assert r.exit_code == 0, r.output
    assert f"partly implemented by test-notice@1 quota.over-production; not implemented: {note['en']}" in r.output


def test_the_server_variables_are_in_help_and_in_the_guide():
    r = run("--help")
    guide = (ROOT / "docs" / "regulators.md").read_text(encoding="utf-8")
    for variable in ("REPOLICY_SERVER", "REPOLICY_TOKEN"):
        assert variable in r.output and f"`{variable}`" in guide
    assert "REPOLICY_TOKEN" in run("publish", "--help").output


def test_decision_times_read_back_for_impact_carry_their_time_zone(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    at = dt.datetime(2026, 11, 28, 9, 14, 3, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    store.record_decisions(
        [
            {
                "decision_id": "d1",
                "at": at,
                "caller": "c",
                "as_of": "2021-12-31",
                "rulesets": "[]",
                "input": json.dumps({"facts": {}}),
                "input_digest": "x",
                "result": "{}",
                "violations": 0,
            }
        ]
    )
    [decision] = store.recent_decisions()
    read = dt.datetime.fromisoformat(decision["at"])
    assert read.utcoffset() is not None and read == at


def test_the_chinese_coverage_page_shows_statuses_in_chinese(client):
    log_in(client, "legal-token-1")
    zh = client.get("/ui/coverage/notice-2021").get_data(as_text=True)
    cells = re.findall(r'<td class="coverage-[a-z_]+">([^<]*)</td>', zh)
    assert cells and not any(re.search(r"[a-z_]{3,}", c) for c in cells)
    assert "out_of_scope" not in re.sub(r'class="[^"]*"', "", zh) and "implemented" not in re.sub(
        r'class="[^"]*"', "", zh
    )
    en = client.get("/ui/coverage/notice-2021?lang=en").get_data(as_text=True)
    assert "out of scope" in en
