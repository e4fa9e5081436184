"""No English codes on the Chinese pages: a version's state, a rule's severity, an impact job's state, coverage
and sign-off states, the change in words and the activation refusal are shown through their words.

Every page is rendered in Chinese (the default) on a real app with a SQLite registry and maker-checker on, after
a regulator's parameter edit (so the draft, its impact job and the refused activation have pages too), and its
visible text is searched for the codes.  Machine names a reader needs as written (``<code>``, the YAML, the
library's bilingual scenario names, the request's JSON) are left out of the search.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from helpers import TOKENS, example, log_in, smelter_2500, token_config, wait_until
from helpers import auth as auth_header
from policy.model import SEVERITIES

# The codes the API and the YAML use, as written there (docs/contract-evaluate-v1.md, rulesets/coverage.yaml).
VERSION_STATES = ("draft", "active", "retired")
JOB_STATES = ("queued", "running", "done", "failed")
COVERAGE_STATES = ("implemented", "partly_implemented", "implemented_through_children", "out_of_scope", "gap")
REVIEW_STATES = ("approved", "unreviewed", "changed_since_approval")
INSTRUMENT_STATES = ("in_force", "repealed")
CODES = (*VERSION_STATES, *JOB_STATES, *COVERAGE_STATES, *REVIEW_STATES, *INSTRUMENT_STATES, *SEVERITIES)

RULE = "/ui/rules/notice@2021/eligibility.smelter-ineligible"
DRAFT_RULE = "/ui/rules/notice@2021-floor3000/eligibility.smelter-ineligible"
# where the pages show names as written, or the reader's own input: not searched
AS_WRITTEN = {"code", "pre", "textarea", "svg", "script", "style"}
AS_WRITTEN_IDS = {"scenarios-fire", "scenarios-hold", "scenario-passed", "yaml-diff"}
CJK = re.compile(r"[\u4e00-\u9fff]")


class _VisibleText(HTMLParser):
    """The text a reader sees, without the parts shown as written; and the text of each element marked with
    the code it shows (``data-status``, ``data-severity``)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.marked: list[tuple[str, list[str]]] = []  # (code, its text)
        self._skip: list[str] = []  # open elements whose text is not searched
        self._open: list[tuple[str, list[str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "img", "meta", "link"):
            return
        a = dict(attrs)
        code = a.get("data-status") or a.get("data-severity")
        parts: list[str] | None = None
        if code is not None:
            parts = []
            self.marked.append((code, parts))
        self._open.append((tag, parts))
        if self._skip or tag in AS_WRITTEN or a.get("id") in AS_WRITTEN_IDS:
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "input", "img", "meta", "link"):
            return
        while self._open:
            open_tag, _ = self._open.pop()
            if self._skip:
                self._skip.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, parts in self._open:
            if parts is not None:
                parts.append(data)
        if not self._skip:
            self.text.append(data)


def _read(page: str) -> _VisibleText:
    parser = _VisibleText()
    parser.feed(page.split("<main>", 1)[1])
    return parser


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """Every page in Chinese, with a draft, its impact job done and its activation refused."""
    from api import create_app

    db = tmp_path_factory.mktemp("lang") / "r.db"
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config(), "MAKER_CHECKER": True}
    )
    caller = app.test_client()
    assert caller.post("/v1/evaluate", json=smelter_2500(designated=True)).status_code == 200
    app.extensions["repolicy_decisions"].flush()
    regulator = app.test_client()
    log_in(regulator, next(tok for tok, role in TOKENS.items() if role == "regulator"))
    form = regulator.get(RULE).get_data(as_text=True)
    answer = regulator.post(
        RULE + "/parameters",
        data={"csrf_token": _csrf(form), "version": "2021-floor3000", "param-capacity_floor_t_reo": "3000"},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    draft_url = answer.headers["Location"]

    def draft_with_impact() -> str | None:  # the impact job runs in the background: the page once it is done
        page = regulator.get(draft_url).get_data(as_text=True)
        return page if 'id="impact-counts"' in page else None

    draft = wait_until(draft_with_impact)
    assert draft, "the impact job did not finish"
    refused = regulator.post(
        draft_url.replace("/ui/drafts/notice@2021-floor3000", "/ui/drafts/notice@2021-floor3000/activate"),
        data={"csrf_token": _csrf(draft)},
    )
    assert refused.status_code == 409
    evaluated = regulator.post(
        "/ui/evaluate", data={"csrf_token": _csrf(draft), "request": json.dumps(example("over-quota"))}
    )
    assert evaluated.status_code == 200
    bad = regulator.post("/ui/evaluate", data={"csrf_token": _csrf(draft), "request": '{"facts": 1}'})
    assert bad.status_code == 400
    out = {
        "draft, activation refused": refused.get_data(as_text=True),
        "evaluate": evaluated.get_data(as_text=True),
        "evaluate, bad request": bad.get_data(as_text=True),
    }
    instruments = sorted(app.extensions["repolicy"].instruments)
    urls = ["/ui/", RULE, DRAFT_RULE, "/ui/diff?old=notice@2021&new=notice@2021-floor3000", draft_url]
    for inst in instruments:
        urls += [f"/ui/instruments/{inst}", f"/ui/instruments/{inst}/interpretations", f"/ui/coverage/{inst}"]
    for url in urls:
        answer = regulator.get(url)
        assert answer.status_code == 200, url
        out[url] = answer.get_data(as_text=True)
    return out


def test_no_code_is_shown_as_written_on_a_chinese_page(pages):
    for url, page in pages.items():
        text = " ".join(_read(page).text)
        shown = sorted({code for code in CODES if re.search(rf"(?<![\w.@-]){code}(?![\w.@-])", text)})
        assert not shown, f"{url} shows {shown}"


def test_each_code_a_page_marks_is_shown_in_chinese(pages):
    marked = [(url, code, "".join(parts).strip()) for url, page in pages.items() for code, parts in _read(page).marked]
    codes = {code for _, code, _ in marked}
    assert {"draft", "done"} <= codes and codes & set(SEVERITIES)  # the draft's state, its job's, a severity
    for url, code, text in marked:
        assert CJK.search(text) and code not in text, f"{url}: {code} shown as {text!r}"


def test_the_change_and_the_refusal_are_in_chinese(pages):
    page = pages["draft, activation refused"]
    changes = re.search(r'id="changes">(.*?)</ul>', page, re.S).group(1)
    assert "参数变更：capacity_floor_t_reo 2000 → 3000" in changes and "Parameter" not in changes
    refusal = re.search(r'id="activation-error"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert CJK.search(refusal) and "eligibility.smelter-ineligible" in refusal
    assert not re.search(r"\b(rule|sign-off|reviewer|emergency|await)\b", refusal), refusal


def test_a_parameter_unit_is_shown_in_words(pages):
    for url in (RULE, DRAFT_RULE):
        text = " ".join(_read(pages[url]).text)
        assert "吨REO/年" in text and "t_reo_per_year" not in text, url


def _legal_reader_without_database():
    """A logged-in legal reviewer's client of an app serving the shipped rulesets with no registry database."""
    from api import create_app
    from api.runtime import Runtime
    from policy.instruments import INSTRUMENTS_DIR
    from policy.registry import RULESETS_DIR

    app = create_app({"TOKENS": token_config(), "RUNTIME": Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)})
    reader = app.test_client()
    log_in(reader, next(tok for tok, role in TOKENS.items() if role == "legal"))
    return reader


def test_without_a_registry_database_the_rule_page_says_so_in_chinese():
    reader = _legal_reader_without_database()
    page = reader.get(RULE).get_data(as_text=True)
    status = re.search(r'id="review-status"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert CJK.search(status) and "database" not in status and "unknown" not in status, status
    english = reader.get(RULE + "?lang=en").get_data(as_text=True)
    assert "no registry database" in re.search(r'id="review-status"[^>]*>(.*?)</p>', english, re.S).group(1)


def test_a_bad_request_on_the_evaluate_page_is_introduced_in_chinese(pages):
    page = pages["evaluate, bad request"]
    lead = re.search(r'id="errors-lead">(.*?)</p>', page, re.S).group(1)
    assert "请求有误" in lead and "facts" in re.search(r'id="errors">(.*?)</div>\s*</div>', page, re.S).group(1)


def test_what_implements_a_provision_is_named_in_chinese(pages, shipped):
    """Parameters, batches, responsibility clauses and consequences beside a provision: by their Chinese words
    (a consequence by its description), not by the coverage's English item names or consequence codes."""
    consequences = {c.type for rs in shipped.values() for r in rs.rules for c in r.consequences}
    for url, page in pages.items():
        if not url.startswith(("/ui/instruments/", "/ui/coverage/")) or url.endswith("/interpretations"):
            continue
        text = " ".join(_read(page).text)
        assert not re.search(r"\b(parameter|batch|responsibility) ", text), url
        assert not {c for c in consequences if c in text}, url
    notice = " ".join(_read(pages["/ui/coverage/notice-2021"]).text)
    assert "参数 capacity_floor_t_reo" in notice


def test_a_refused_page_request_is_a_page_in_chinese():
    reader = _legal_reader_without_database()
    for url, status, heading in [
        ("/ui/rules/notice@2021/no-such-rule", 404, "未找到"),
        ("/ui/diff?old=notice@2021&new=notice@1999", 404, "未找到"),
    ]:
        answer = reader.get(url)
        assert answer.status_code == status and answer.content_type.startswith("text/html"), url
        page = answer.get_data(as_text=True)
        assert re.search(r'id="error-heading">(.*?)</h1>', page).group(1) == heading
        assert "not_found" in page  # the API's code after the words
    english = reader.get("/ui/rules/notice@2021/no-such-rule?lang=en").get_data(as_text=True)
    assert re.search(r'id="error-heading">(.*?)</h1>', english).group(1) == "Not found"
    assert reader.get("/v1/rules/notice@2021/no-such-rule", headers=auth_header("legal")).json["error"] == "not_found"
