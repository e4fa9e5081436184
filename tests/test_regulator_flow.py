"""docs/regulators.md's worked example, run as written: the CLI against a real server (gunicorn)."""

from __future__ import annotations

import json
import re

import pytest

from helpers import ROOT, dev_server, repolicy, wait_until
from servers import Server

DOC = (ROOT / "docs" / "regulators.md").read_text(encoding="utf-8")


def settles(server: Server, body: dict, ok, limit: float = 5.0) -> bool:
    """Every worker shows the change within ``limit`` seconds (each polls the registry)."""

    def every_answer_ok() -> bool:
        results = [server.request("POST", "/v1/evaluate", body)[1] for _ in range(6)]
        return all(ok([(v["ruleset"], v["rule"]) for v in r["violations"]]) for r in results)

    return wait_until(every_answer_ok, limit, interval=0.1)


@pytest.fixture()
def server(tmp_path):
    s = dev_server(tmp_path)
    yield s
    s.stop()


def test_worked_example_as_written(tmp_path, server):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "rulesets").symlink_to(ROOT / "rulesets")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    # 1. copy and edit the two lines the guide shows
    text = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
    text = text.replace('version: "2021"', 'version: "2021-floor3000"', 1)
    text = re.sub(r"(capacity_floor_t_reo:\n    value: )2000", r"\g<1>3000", text)
    (work / "notice-2021-floor3000.yaml").write_text(text, encoding="utf-8")

    r = repolicy("validate", "work/notice-2021-floor3000.yaml", cwd=tmp_path)  # 2.
    assert r.returncode == 0 and r.stdout.strip() in DOC
    (work / "notice-2021-floor3000.scenarios.yaml").write_text(
        (ROOT / "docs" / "examples" / "notice-2021-floor3000.scenarios.yaml").read_text(encoding="utf-8")
    )
    r = repolicy("test", "work/notice-2021-floor3000.yaml", cwd=tmp_path)  # 3.
    assert r.returncode == 0 and r.stdout.strip().endswith("2 passed, 0 failed")
    assert all(line in DOC for line in r.stdout.strip().splitlines())
    r = repolicy("diff", "rulesets/notice/2021.yaml", "work/notice-2021-floor3000.yaml", cwd=tmp_path)  # 4.
    assert r.returncode == 0 and all(line in DOC for line in r.stdout.strip().splitlines())

    smelter = json.loads((ROOT / "examples" / "late-report-and-small-smelter.json").read_text())
    smelter["facts"]["enterprises"][0]["separation_capacity_t_reo"] = 2500
    status, first = server.request("POST", "/v1/evaluate", smelter)
    assert status == 200 and "eligibility.smelter-ineligible" not in [v["rule"] for v in first["violations"]]

    r = repolicy("impact", "work/notice-2021-floor3000.yaml", server=server, cwd=tmp_path)  # 5.
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 would change" in r.stdout and "+ notice eligibility.smelter-ineligible group:G1 2021 (" in r.stdout
    assert "floor_t_reo=3000" in r.stdout
    r = repolicy("impact", "work/notice-2021-floor3000.yaml", "--format", "json", server=server, cwd=tmp_path)
    report = json.loads(r.stdout)
    assert (report["decisions_changed"], report["findings_added"], report["findings_removed"]) == (1, 1, 0)
    assert report["by_rule"] == [
        {"ruleset": "notice", "rule": "eligibility.smelter-ineligible", "added": 1, "removed": 0, "restated": 0}
    ]

    r = repolicy(
        "publish",
        "work/notice-2021-floor3000.yaml",
        "--comment",
        "floor raised to 3,000 t",
        server=server,
        cwd=tmp_path,
    )  # 6.
    assert r.returncode == 0 and r.stdout.startswith("published: notice@2021-floor3000 (draft) sha256:")
    # 7. maker-checker (on under repolicy-serve): refused until a legal reviewer other than the publisher signs
    r = repolicy("activate", "notice@2021-floor3000", "--comment", "in force from today", server=server, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.splitlines()[0] in DOC
    assert "awaiting sign-off: eligibility.smelter-ineligible (sha256:" in r.stdout
    r = repolicy(
        "approve",
        "notice@2021-floor3000",
        "eligibility.smelter-ineligible",
        "--comment",
        "3,000 t as para 3(2) now reads",
        server=server,
        cwd=tmp_path,
        token="dev-legal",
    )
    assert r.returncode == 0 and r.stdout.strip() in DOC, r.stdout + r.stderr
    r = repolicy("activate", "notice@2021-floor3000", "--comment", "in force from today", server=server, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "activated notice@2021-floor3000; retired notice@2021"  # 8.
    assert r.stdout.strip() in DOC
    assert settles(server, smelter, lambda found: ("notice@2021-floor3000", "eligibility.smelter-ineligible") in found)

    r = repolicy("activate", "notice@2021", "--comment", "rollback", server=server, cwd=tmp_path)  # 9.
    assert r.stdout.strip() == "activated notice@2021; retired notice@2021-floor3000" and r.stdout.strip() in DOC
    assert settles(
        server, smelter, lambda found: not any(rule == "eligibility.smelter-ineligible" for _, rule in found)
    )

    status, audit = server.request("GET", "/v1/audit", headers={"Authorization": "Bearer dev-legal"})  # 10.
    assert [e["action"] for e in audit["entries"] if e["actor"] == "dev-regulator"] == [
        "publish",
        "retire",
        "activate",
        "retire",
        "activate",
    ]


def test_a_broken_version_is_refused_by_the_server_with_its_line(tmp_path, server):
    text = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace('version: "2021"', 'version: "2021-bad"').replace("severity: minor", "severity: tiny", 1)
    )
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if "severity: minor" in text_line)
    r = repolicy("publish", str(bad), server=server, cwd=tmp_path)
    assert (
        r.returncode == 1
        and "422" in r.stdout
        and f":{line}:15 [rule allocation.split-late]: severity 'tiny'" in r.stdout
    )
