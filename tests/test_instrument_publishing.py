"""Instruments published like rulesets: validated, stored with a digest as immutable revisions, audited,
served at once; rulesets citing provisions an instrument lacks are refused; metadata-only instruments."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import NEW_NOTICE, ROOT, auth, log_in, ruleset_citing, token_config


@pytest.fixture(name="client")
def registry_client(fresh_client):
    """Every test here on a registry of its own."""
    return fresh_client


METADATA_ONLY = """\
id: notice-meta
title: {zh: 关于下达某批次稀土指标的通知, en: Notice issuing a batch of rare-earth quotas}
short_title: {zh: 某批次通知, en: Batch notice}
issuer: {zh: 工业和信息化部、自然资源部, en: 'MIIT, MNR'}
document_number: 工信部联原〔2099〕2号
date: 2099-12-14
status: in_force
complete: false
source: the document number and date as announced; the text is not public
text_available: false
provisions:
- eid: para_1
  kind: paragraph
  label: {zh: 通知第一条, en: Notice para. 1}
"""


OVER_QUOTA = {
    "as_of": "2099-12-31",
    "rulesets": ["test-notice@1"],
    "facts": {
        "enterprises": [{"id": "E1", "activities": ["mining"]}],
        "allocations": [{"enterprise": "E1", "year": 2099, "activity": "mining", "amount_t_reo": 10}],
        "production": [{"enterprise": "E1", "period": "2099-03", "activity": "mining", "amount_t_reo": 11}],
    },
}

YAML = {"Content-Type": "application/yaml"}


def publish(client, text: str, role: str = "regulator", file: str = "notice-test.yaml"):
    return client.post(
        f"/v1/instruments?file={file}&comment=first", data=text.encode("utf-8"), headers={**auth(role), **YAML}
    )


def test_publishing_stores_the_text_with_its_digest_and_serves_it(client):
    r = publish(client, NEW_NOTICE)
    assert r.status_code == 201, r.json
    assert r.json["id"] == "notice-test" and r.json["revision"] == 1 and r.json["created"] is True
    assert r.json["digest"] == "sha256:" + hashlib.sha256(NEW_NOTICE.encode("utf-8")).hexdigest()
    got = client.get("/v1/instruments/notice-test/provisions/para_2__item_2", headers=auth("legal"))
    assert got.status_code == 200 and got.json["text"] == "按时上报数据。"
    stored = client.get("/v1/instruments/notice-test/revisions/1?format=yaml", headers=auth("legal"))
    assert stored.get_data(as_text=True) == NEW_NOTICE
    audit = client.get("/v1/audit", headers=auth("legal")).json["entries"]
    entry = [e for e in audit if e["action"] == "publish-instrument"]
    assert entry == [
        {
            **entry[0],
            "actor": "regulator-user",
            "ruleset": "notice-test@1",
            "digest_before": None,
            "digest_after": r.json["digest"],
            "detail": "first",
        }
    ]
    assert entry[0]["at"].endswith("+00:00")


def test_republishing_the_same_text_changes_nothing(client):
    assert publish(client, NEW_NOTICE).status_code == 201
    again = publish(client, NEW_NOTICE)
    assert again.status_code == 200 and again.json["created"] is False and again.json["revision"] == 1


def test_only_a_regulator_publishes(client):
    assert publish(client, NEW_NOTICE, role="legal").status_code == 403
    assert client.post("/v1/instruments", data=NEW_NOTICE.encode(), headers=YAML).status_code == 401
    assert client.get("/v1/instruments/notice-test", headers=auth("legal")).status_code == 404


def test_a_correction_is_a_new_revision_and_the_old_text_stays(client):
    assert publish(client, NEW_NOTICE).status_code == 201
    corrected = NEW_NOTICE.replace("按时上报数据。", "按时上报生产数据。")
    r = publish(client, corrected)
    assert r.status_code == 201 and r.json["revision"] == 2
    current = client.get("/v1/instruments/notice-test/provisions/para_2__item_2", headers=auth("legal")).json
    assert current["text"] == "按时上报生产数据。"
    assert client.get("/v1/instruments/notice-test", headers=auth("legal")).json["revision"] == 2
    revisions = client.get("/v1/instruments/notice-test/revisions", headers=auth("legal")).json["revisions"]
    assert [(x["revision"], x["digest"]) for x in revisions] == [
        (1, "sha256:" + hashlib.sha256(NEW_NOTICE.encode()).hexdigest()),
        (2, "sha256:" + hashlib.sha256(corrected.encode()).hexdigest()),
    ]
    old = client.get("/v1/instruments/notice-test/revisions/1", headers=auth("legal")).json
    assert "按时上报数据。" in old["source"]


def test_an_invalid_instrument_is_refused_with_its_line(client):
    broken = NEW_NOTICE.replace("    text: 按时上报数据。", "    text: 按时上报数据。\n    color: red")
    r = publish(client, broken)
    assert r.status_code == 422 and r.json["error"] == "invalid_instrument"
    [issue] = r.json["issues"]
    assert issue["file"] == "notice-test.yaml" and "unknown keys color" in issue["message"]
    assert broken.splitlines()[issue["line"] - 1].strip() == "- eid: para_2__item_2"


def test_a_yaml_syntax_error_in_an_instrument_gives_line_column_and_hint(client):
    broken = NEW_NOTICE.replace("text: 任何单位和个人不得无指标和超指标生产。", "text: 各稀土集团: 不得超指标生产。")
    r = publish(client, broken)
    assert r.status_code == 422
    [issue] = r.json["issues"]
    assert broken.splitlines()[issue["line"] - 1].strip().startswith("text: 各稀土集团: ")
    assert (
        issue["message"] == "YAML syntax: mapping values are not allowed here" and "full-width colon" in issue["hint"]
    )


def test_a_ruleset_citing_a_provision_the_instrument_lacks_is_refused(client):
    assert publish(client, NEW_NOTICE).status_code == 201
    text = ruleset_citing("notice-test", "para_3")
    r = client.post("/v1/rulesets?file=test-notice.yaml", data=text, headers=auth("regulator"))
    assert r.status_code == 422, r.json
    [issue] = r.json["issues"]
    assert issue["file"] == "test-notice.yaml" and issue["rule"] == "quota.over-production"
    assert "notice-test has no provision 'para_3'" in issue["message"]
    assert text.splitlines()[issue["line"] - 1].strip().startswith("- {instrument: notice-test, eid: para_3}")


def test_a_ruleset_citing_a_published_instrument_cites_its_text(client):
    assert publish(client, NEW_NOTICE).status_code == 201
    r = client.post("/v1/rulesets", data=ruleset_citing("notice-test", "para_2__item_1"), headers=auth("regulator"))
    assert r.status_code == 201, r.json
    body = client.post("/v1/evaluate", json=OVER_QUOTA).json
    [violation] = body["violations"]
    assert violation["citations"][0]["text"] == "按指标组织生产。"


def test_a_revision_dropping_a_cited_provision_is_refused(client):
    assert publish(client, NEW_NOTICE).status_code == 201
    assert (
        client.post("/v1/rulesets", data=ruleset_citing("notice-test", "para_1"), headers=auth("regulator")).status_code
        == 201
    )
    dropped = NEW_NOTICE.replace(
        "- eid: para_1\n  kind: paragraph\n  label: {zh: 通知第一条, en: Notice para. 1}\n"
        "  text: 任何单位和个人不得无指标和超指标生产。\n"
        "  text_en: No entity or individual may produce without or over quota.\n",
        "",
    )
    r = publish(client, dropped)
    assert r.status_code == 422 and r.json["error"] == "citations_orphaned"
    [issue] = r.json["issues"]
    assert issue["file"] == "registry:test-notice@1" and issue["rule"] == "quota.over-production"
    assert client.get("/v1/instruments/notice-test", headers=auth("legal")).json["revision"] == 1


def test_a_metadata_only_instrument_is_cited_as_text_not_available(client):
    r = publish(client, METADATA_ONLY, file="notice-meta.yaml")
    assert r.status_code == 201 and r.json["text_available"] is False, r.json
    meta = client.get("/v1/instruments/notice-meta", headers=auth("legal")).json
    assert meta["document_number"] == "工信部联原〔2099〕2号" and meta["text_available"] is False
    assert (
        client.post("/v1/rulesets", data=ruleset_citing("notice-meta", "para_1"), headers=auth("regulator")).status_code
        == 201
    )
    [violation] = client.post("/v1/evaluate", json=OVER_QUOTA).json["violations"]
    citation = violation["citations"][0]
    assert (
        citation["text_available"] is False and "不可得" in citation["text"] and "not available" in citation["text_en"]
    )
    log_in(client, "legal-token-1")
    page = client.get("/ui/instruments/notice-meta?lang=en").get_data(as_text=True)
    assert "Text not available" in page and "工信部联原〔2099〕2号" in page


def test_a_metadata_only_instrument_may_not_carry_text(client):
    with_text = METADATA_ONLY + "  text: 某条文。\n"
    r = publish(client, with_text, file="notice-meta.yaml")
    assert r.status_code == 422 and "text_available: false" in r.json["issues"][0]["message"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=200))
def test_any_text_gets_an_answer_not_a_crash(client, body):
    r = client.post("/v1/instruments", data=body.encode("utf-8"), headers={**auth("regulator"), **YAML})
    assert r.status_code in (201, 200, 422), r.get_data(as_text=True)
    if r.status_code == 422:  # refused: with at least one issue, each with its line and message
        issues = r.json["issues"]
        assert issues and all(i["line"] >= 1 and i["message"] for i in issues), issues


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_validate_checks_instrument_files_and_rulesets_citing_them(tmp_path):
    (tmp_path / "notice-test.yaml").write_text(NEW_NOTICE, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(ruleset_citing("notice-test", "para_2__item_1"), encoding="utf-8")
    r = cli("validate", "notice-test.yaml", "rules.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "OK   notice-test.yaml: instrument notice-test (in_force), 4 provisions",
        "OK   rules.yaml: test-notice@1, 1 rules, 0 parameters",
    ]
    (tmp_path / "rules.yaml").write_text(ruleset_citing("notice-test", "para_9"), encoding="utf-8")
    r = cli("validate", "notice-test.yaml", "rules.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "[rule quota.over-production]: notice-test has no provision 'para_9'" in r.stdout


def test_validate_reports_a_broken_instrument_with_its_line_not_a_traceback(tmp_path):
    doc = yaml.safe_load(NEW_NOTICE)
    doc["status"] = "in force"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    r = cli("validate", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stdout.splitlines()[0] == "FAIL bad.yaml: 1 problem(s)" and "bad status 'in force'" in r.stdout


def test_two_gunicorn_workers_serve_a_published_instrument_within_5_seconds(tmp_path):
    """Published through one worker, read through whichever worker answers: both within 5 s."""
    import time

    from servers import Server

    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
            "REPOLICY_RELOAD_INTERVAL": "0.5",
            "REPOLICY_TOKENS": token_config(),
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
        },
        workers=2,
    )
    try:

        def served() -> int | None:
            status, body = server.request("GET", "/v1/instruments/notice-test", headers=auth("legal"))
            return body.get("revision") if status == 200 else None

        assert served() is None
        status, body = server.request(
            "POST", "/v1/instruments", NEW_NOTICE.encode("utf-8"), {**auth("regulator"), **YAML}
        )
        assert status == 201, body
        start, since = time.monotonic(), None
        while time.monotonic() - start < 8:
            if all(served() == 1 for _ in range(6)):  # several requests, so both workers answer
                since = since or time.monotonic()
                if time.monotonic() - since >= 1.5:  # longer than a poll: no worker still on the old set
                    break
            else:
                since = None
            time.sleep(0.05)
        assert since is not None and since - start <= 5.0
        # every worker now validates rulesets against it: publishing one citing it succeeds wherever it lands
        for version in ("1", "2", "3"):
            status, body = server.request(
                "POST",
                "/v1/rulesets",
                ruleset_citing("notice-test", "para_1", version).encode(),
                {**auth("regulator"), **YAML},
            )
            assert status == 201, body
    finally:
        server.stop()
