"""Changing a parameter on a rule's page: the YAML edited in place, a new draft, its checks, sign-off, activation.

The edit is checked against the file itself (only the version and the value lines differ, comments and
layout kept); the flow through the pages runs on a real app with a SQLite registry, maker-checker on, the
forms sent with their CSRF tokens as a browser sends them.
"""

from __future__ import annotations

import difflib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ROOT, TOKENS, auth, log_in, smelter_2500, token_config, wait_until
from policy.loader import load_ruleset
from policy.param_edit import EditError, edit_parameters, parse_value, shown

NOTICE = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
RULE = "/ui/rules/notice@2021/eligibility.smelter-ineligible"


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:2] in ("- ", "+ ")]


@settings(max_examples=30, deadline=None)
@given(
    value=st.integers(0, 10**9) | st.floats(0, 1e9, allow_nan=False).map(lambda f: round(f, 3)),
    version=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
)
def test_only_the_version_and_the_value_change(instruments, value, version):
    edited = edit_parameters(NOTICE, version, {"capacity_floor_t_reo": value})
    assert _changed_lines(NOTICE, edited) == [
        '- version: "2021"',
        f'+ version: "{version}"',
        "-     value: 2000",
        f"+     value: {value!r}",
    ]
    rs = load_ruleset(edited, "edited.yaml", instruments)
    assert (rs.version, rs.parameters["capacity_floor_t_reo"].value) == (version, value)


def test_a_date_parameter_is_written_as_a_date(instruments):
    rs = load_ruleset(NOTICE, "n.yaml", instruments)
    edited = edit_parameters(NOTICE, "2021-d", {"notice_date": parse_value(rs.parameters["notice_date"], "2021-09-01")})
    again = load_ruleset(edited, "e.yaml", instruments)
    assert shown(again.parameters["notice_date"]) == "2021-09-01"
    assert len(_changed_lines(NOTICE, edited)) == 4


@pytest.mark.parametrize(
    "name, text",
    [("capacity_floor_t_reo", "three thousand"), ("notice_date", "2021-02-30"), ("capacity_floor_t_reo", "nan")],
)
def test_a_value_of_the_wrong_type_is_refused(instruments, name, text):
    rs = load_ruleset(NOTICE, "n.yaml", instruments)
    with pytest.raises(EditError) as refused:
        parse_value(rs.parameters[name], text)
    # said in English and in Chinese (the rule page shows its reader's), naming the parameter in both
    words = refused.value.words
    assert words["en"] == str(refused.value) and re.search(r"[\u4e00-\u9fff]", words["zh"])
    assert name in words["en"] and name in words["zh"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from api import create_app

    db = tmp_path_factory.mktemp("edit") / "r.db"
    return create_app(
        {"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config(), "MAKER_CHECKER": True}
    )


def _token(role: str) -> str:
    return next(tok for tok, r in TOKENS.items() if r == role)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _smelter_facts(capacity: int) -> dict:
    """A group's smelter of ``capacity`` t REO a year with a banned process, allocated 800 t for 2021."""
    facts = smelter_2500(designated=True)["facts"]
    facts["enterprises"][0]["separation_capacity_t_reo"] = capacity
    return facts


def test_a_regulator_changes_the_floor_on_the_rule_page_and_it_goes_through_sign_off(app):
    # a decision recorded before: a 2,500 t smelter with a banned process, which a 3,500 t floor bars
    caller = app.test_client()
    request = smelter_2500(designated=True)
    assert caller.post("/v1/evaluate", json=request).status_code == 200
    app.extensions["repolicy_decisions"].flush()

    regulator = app.test_client()
    log_in(regulator, _token("regulator"))
    page = regulator.get(RULE).get_data(as_text=True)
    assert 'id="param-capacity_floor_t_reo" value="2000"' in page
    legal = app.test_client()
    log_in(legal, _token("legal"))
    assert 'id="edit-form"' not in legal.get(RULE).get_data(as_text=True)  # only a regulator edits

    # a value of the wrong type: the page says so, nothing is stored
    answer = regulator.post(
        RULE + "/parameters",
        data={"csrf_token": _csrf(page), "version": "2021-bad", "param-capacity_floor_t_reo": "lots"},
    )
    refusal = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "capacity_floor_t_reo：&#39;lots&#39; 不是数字" in refusal
    answer = regulator.post(
        RULE + "/parameters?lang=en",
        data={"csrf_token": _csrf(page), "version": "2021-bad", "param-capacity_floor_t_reo": "lots"},
    )
    assert answer.status_code == 400 and "is not a number" in answer.get_data(as_text=True)
    assert regulator.get("/v1/rulesets/notice/2021-bad", headers=auth("regulator")).status_code == 404
    # without the form's CSRF token: refused
    assert (
        regulator.post(
            RULE + "/parameters", data={"version": "2021-x", "param-capacity_floor_t_reo": "3000"}
        ).status_code
        == 400
    )

    answer = regulator.post(
        RULE + "/parameters",
        data={
            "csrf_token": _csrf(page),
            "version": "2021-floor3500",
            "comment": "floor raised",
            "param-capacity_floor_t_reo": "3500",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    draft_url = answer.headers["Location"]
    stored = regulator.get("/v1/rulesets/notice/2021-floor3500", headers=auth("regulator")).json
    assert stored["status"] == "draft" and stored["author"] == "regulator-user"
    assert _changed_lines(NOTICE, stored["source"]) == [
        '- version: "2021"',
        '+ version: "2021-floor3500"',
        "-     value: 2000",
        "+     value: 3500",
    ]

    def draft_with_impact() -> str | None:  # the impact job runs in the background: its counts, once done
        page = regulator.get(draft_url).get_data(as_text=True)
        return page if 'id="impact-counts"' in page else None

    draft = wait_until(draft_with_impact)
    assert draft, "the impact job did not finish"
    assert "参数变更：capacity_floor_t_reo 2000 → 3500" in draft
    in_english = regulator.get(draft_url.replace("lang=zh", "lang=en")).get_data(as_text=True)
    assert "Parameter changed: capacity_floor_t_reo 2000 -&gt; 3500" in in_english
    assert "参数变更" not in in_english
    assert "eligibility.smelter-ineligible" in re.search(r'id="draft-rules">(.*?)</ul>', draft, re.S).group(1)
    counts = re.search(r'id="impact-counts">(.*?)</p>', draft, re.S).group(1)
    assert re.search(r"结论改变 1\b", counts), counts  # the recorded 2,500 t smelter is now barred
    # the library's scenarios of notice@2021, run on the draft: a 3,000 t smelter with a banned process is now barred
    failing = re.search(r'id="scenario-results">(.*?)</ul>', draft, re.S).group(1)
    assert "未通过 rulesets/scenarios/notice-eligibility.yaml" in failing
    assert "+ 出现而未预期：eligibility.smelter-ineligible" in failing
    failing = re.search(r'id="scenario-results">(.*?)</ul>', in_english, re.S).group(1)
    assert "FAIL rulesets/scenarios/notice-eligibility.yaml" in failing
    assert "+ found, not expected: eligibility.smelter-ineligible" in failing
    assert "/work/" not in draft and str(ROOT) not in draft

    # activation waits for a legal reviewer other than its author
    answer = regulator.post(
        draft_url.replace("/ui/drafts/notice@2021-floor3500", "/ui/drafts/notice@2021-floor3500/activate"),
        data={"csrf_token": _csrf(draft)},
    )
    assert answer.status_code == 409 and "eligibility.smelter-ineligible" in answer.get_data(as_text=True)
    rule_page = legal.get("/ui/rules/notice@2021-floor3500/eligibility.smelter-ineligible").get_data(as_text=True)
    assert (
        legal.post(
            "/ui/rules/notice@2021-floor3500/eligibility.smelter-ineligible/approve",
            data={"csrf_token": _csrf(rule_page), "comment": "3,500 t"},
        ).status_code
        == 302
    )
    answer = regulator.post(
        draft_url.replace("/ui/drafts/notice@2021-floor3500", "/ui/drafts/notice@2021-floor3500/activate"),
        data={"csrf_token": _csrf(draft), "comment": "in force"},
    )
    assert answer.status_code == 302
    assert 'data-status="active">已启用<' in regulator.get(answer.headers["Location"]).get_data(as_text=True)
    found = caller.post("/v1/evaluate", json=request).json["violations"]
    assert [(v["ruleset"], v["rule"]) for v in found] == [("notice@2021-floor3500", "eligibility.smelter-ineligible")]
    audit = regulator.get("/v1/audit", headers=auth("regulator")).json["entries"]
    trail = [
        (e["actor"], e["action"], e["ruleset"])
        for e in audit
        if "2021-floor3500" in e["ruleset"] or e["action"] == "retire"
    ]
    assert trail == [
        ("regulator-user", "publish", "notice@2021-floor3500"),
        ("legal-user", "approve", "notice@2021-floor3500"),
        ("regulator-user", "retire", "notice@2021"),
        ("regulator-user", "activate", "notice@2021-floor3500"),
    ], trail


# ------------------------------------------------------------------ the draft page's impact form: how many decisions


@pytest.fixture()
def limit_app(tmp_path):
    from api import create_app

    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "TOKENS": token_config()}
    )


def _impact_counts(client, url: str) -> str:
    """The draft page's impact counts once its job is done."""
    import time

    for _ in range(300):
        page = client.get(url).get_data(as_text=True)
        found = re.search(r'id="impact-counts">(.*?)</p>', page, re.S)
        if found:
            return found.group(1)
        time.sleep(0.05)
    raise AssertionError("the impact job did not finish")


def _accepted(text: str) -> bool:
    """The form's rule, restated: the newest N decisions (1 to 10**12, ASCII digits) or all, surrounding space aside."""
    text = text.strip()
    return text == "all" or (re.fullmatch(r"[0-9]{1,18}", text) is not None and 1 <= int(text) <= 10**12)


@pytest.fixture()
def draft_with_decisions(limit_app):
    """Three recorded decisions, and a regulator on the page of a draft made from notice@2021."""
    caller = limit_app.test_client()
    for capacity in (2500, 2600, 2700):
        body = {"as_of": "2021-12-31", "facts": _smelter_facts(capacity)}
        assert caller.post("/v1/evaluate", json=body).status_code == 200
    limit_app.extensions["repolicy_decisions"].flush()
    regulator = limit_app.test_client()
    log_in(regulator, _token("regulator"))
    page = regulator.get(RULE).get_data(as_text=True)
    answer = regulator.post(
        RULE + "/parameters",
        data={"csrf_token": _csrf(page), "version": "2021-limits", "param-capacity_floor_t_reo": "2650"},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    draft_url = answer.headers["Location"]
    assert re.search(r"已审查决定 3\b", _impact_counts(regulator, draft_url))  # the edit's own preview: all of them
    return regulator, draft_url


def test_the_draft_page_previews_the_impact_on_as_many_decisions_as_asked(limit_app, draft_with_decisions):
    regulator, draft_url = draft_with_decisions
    page = regulator.get(draft_url).get_data(as_text=True)
    assert 'id="impact-limit" value="200"' in page and "审查最近记录的决定数" in page
    english = regulator.get(draft_url.replace("lang=zh", "lang=en") + ("" if "lang=" in draft_url else "&lang=en"))
    assert "Recorded decisions to examine, newest first" in english.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" id="impact-form">', page).group(1).replace("&amp;", "&")
    for limit, examined, changed in (("2", 2, 1), (" all ", 3, 2), ("1", 1, 0)):
        answer = regulator.post(action, data={"csrf_token": _csrf(page), "limit": limit})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        counts = _impact_counts(regulator, answer.headers["Location"])
        # newest first (2,700 t, 2,600 t, 2,500 t): a floor of 2,650 t bars the 2,600 t and 2,500 t smelters
        assert re.search(rf"已审查决定 {examined}\b", counts) and re.search(rf"结论改变 {changed}\b", counts), counts
    assert regulator.post(action, data={"limit": "2"}).status_code == 400  # no CSRF token
    legal = limit_app.test_client()
    log_in(legal, _token("legal"))
    legal_page = legal.get(draft_url).get_data(as_text=True)
    assert 'id="impact-form"' not in legal_page  # only a regulator starts a preview
    assert legal.post(action, data={"csrf_token": _csrf(legal_page), "limit": "2"}).status_code == 403


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.text(max_size=20)
    | st.integers(-3, 10**13).map(str)
    | st.sampled_from(["all", "ALL", " 2 ", "0", "1e3", "2.0", "١٢", str(10**12), str(10**12 + 1), "9" * 19])
)
def test_the_number_of_decisions_is_validated(draft_with_decisions, limit):
    regulator, draft_url = draft_with_decisions
    page = regulator.get(draft_url).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" id="impact-form">', page).group(1).replace("&amp;", "&")
    answer = regulator.post(action, data={"csrf_token": _csrf(page), "limit": limit})
    if _accepted(limit):
        assert answer.status_code == 302 and "job=" in answer.headers["Location"]
    else:
        assert answer.status_code == 400
        assert 'id="impact-limit-error"' in answer.get_data(as_text=True)
