"""Quota batches: each split judged against its own batch's deadline (policy/batches.py, docs/rules.md §2).

The expectations below are computed here from the official calendar (chinese_calendar) and the batch table
written in this file, sharing nothing with the engine but the request; the engine is also compared with the
independent oracle (tests/oracle.py).
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from engine import Engine
from api.runtime import Runtime
from policy.loader import RulesetInvalid
from policy.registry import Registry
from rules_helpers import ruleset_from

HEADER = """\
ruleset: batched
version: "1"
instrument: notice-2023-1
title: {zh: 分批测试, en: batches under test}
effective: {from: "2023-01-01", to: "2023-12-31"}
"""

# Two batches with dates of this test's own choosing (the first batch's real date is not at hand).
FIRST = ("b1", "第一批文号", dt.date(2023, 3, 24), 10)
THIRD = ("b3", "工信部联原〔2023〕245号", dt.date(2023, 12, 14), 3)
BATCHES = f"""\
batches:
  {FIRST[0]}:
    label: {{zh: 第一批, en: first batch}}
    notice: {FIRST[1]}
    issued_on: "{FIRST[2].isoformat()}"
    split_working_days: {FIRST[3]}
    totals: {{mining: 120000}}
    citations: [{{instrument: notice-2023-1, eid: para_2}}]
  {THIRD[0]}:
    label: {{zh: 第三批, en: third batch}}
    notice: {THIRD[1]}
    issued_on: "{THIRD[2].isoformat()}"
    split_working_days: {THIRD[3]}
    totals: {{mining: 255000, smelting_separation: 243850}}
    citations: [{{instrument: notice-2023-3, eid: para_2}}]
"""
RULES = """\
rules:
  - id: split.late
    title: {zh: 逾期分解, en: split late}
    severity: minor
    when:
      - fact: allocations
        as: a
        where: a.issued_on > a.batch_split_due
    subject: {type: group, id: a.group}
    period: a.year
    details: {due_on: a.batch_split_due, notice: a.batch_notice}
    message: {zh: "{subject}逾期", en: "{subject} late"}
    citations: [{batch_of: a}]
  - id: group.over-batch-total
    title: {zh: 超过该批全年总量, en: over the batch's annual total}
    severity: minor
    when:
      - fact: group_quotas
        as: q
        where: q.amount_t_reo > q.batch_total_t_reo
    subject: {type: group, id: q.group}
    period: q.year
    details: {total: q.batch_total_t_reo}
    message: {zh: "{subject}超过", en: "{subject} over"}
    citations: [{instrument: notice-2023-3, eid: para_1}]
"""


@pytest.fixture(scope="module")
def batched(instruments):
    return ruleset_from(BATCHES + RULES, instruments, header=HEADER)


@pytest.fixture(scope="module")
def runtime(instruments, batched):
    return Runtime(instruments, Registry([batched]))


def _deadline(issued: dt.date, days: int) -> dt.date:
    """The days-th official working day after ``issued`` (docs/rules.md §6), from the calendar directly."""
    d = issued
    while days:
        d += dt.timedelta(days=1)
        days -= chinese_calendar.is_workday(d)
    return d


def _one_allocation(**fields: object) -> dict:
    """Facts with one allocation: E1 of group G1, 1 t of 2023 mining quota split on 29 December 2023, with
    ``fields`` (a batch, a notice) added."""
    allocation = {
        "enterprise": "E1",
        "group": "G1",
        "year": 2023,
        "activity": "mining",
        "amount_t_reo": 1,
        "issued_on": "2023-12-29",
        **fields,
    }
    return {"groups": [{"id": "G1"}], "enterprises": [{"id": "E1"}], "allocations": [allocation]}


def test_the_third_batch_deadline_is_three_working_days_after_14_december_2023():
    assert _deadline(dt.date(2023, 12, 14), 3) == dt.date(2023, 12, 19)


def test_batches_are_read_with_their_figures(batched):
    b = batched.batches["b3"]
    assert (b.notice, dt.date.fromordinal(b.issued_on), b.split_working_days) == THIRD[1:]
    assert dict(b.totals) == {"mining": 255000, "smelting_separation": 243850}
    assert [c.eid for c in b.citations] == ["para_2"]


def test_a_ruleset_without_batches_has_no_batch_fields(instruments):
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(RULES, instruments, header=HEADER)
    assert "batch_split_due" in str(exc.value)


@pytest.mark.parametrize(
    "batch, message",
    [
        (
            '  "B 1":\n    label: {zh: 一, en: one}\n    issued_on: "2023-01-01"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "batch id 'B 1'",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    issued_on: "2023-02-30"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "`issued_on` must be a date",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    issued_on: "2023-01-01"\n    split_working_days: 2.5\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "`split_working_days` must be a whole number",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    issued_on: "2023-01-01"\n    split_working_days: 3\n'
            "    totals: {smelting: 5}\n    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "unknown activity",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    issued_on: "2023-01-01"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_9}]\n",
            "has no provision 'para_9'",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    issued_on: "2023-01-01"\n    split_working_days: 3\n',
            "lacks `citations`",
        ),
        (
            '  b1:\n    label: {zh: 一, en: one}\n    notice: N1\n    issued_on: "2023-01-01"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n"
            '  b2:\n    label: {zh: 二, en: two}\n    notice: N1\n    issued_on: "2023-02-01"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "name the same notice N1",
        ),
        (
            '  b1:\n    label: null\n    issued_on: "2023-01-01"\n    split_working_days: 3\n'
            "    citations: [{instrument: notice-2023-1, eid: para_2}]\n",
            "`label` must have exactly `zh` and `en` texts",
        ),
    ],
)
def test_bad_batches_are_refused_with_their_line(instruments, batch, message):
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from("batches:\n" + batch + RULES, instruments, header=HEADER)
    issues = [i for i in exc.value.issues if message in i.message]
    assert issues, [i.message for i in exc.value.issues]
    assert all(i.file == "test.yaml" and i.line > HEADER.count("\n") for i in issues)


def test_a_batch_without_its_date_is_a_warning_and_judges_nothing(instruments):
    body = BATCHES.replace(f'issued_on: "{THIRD[2].isoformat()}"', "issued_on: null")
    rs = ruleset_from(body + RULES, instruments, header=HEADER)
    assert any("has no issue date" in w.message for w in rs.extra["warnings"])
    facts = _one_allocation(batch="b3")
    assert (
        Runtime(instruments, Registry([rs])).evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])["violations"] == []
    )


@pytest.mark.parametrize(
    "allocation, code",
    [
        ({"batch": "b9"}, "batch_not_defined"),
        ({"notice": "未知文号"}, "batch_not_defined"),
        ({"batch": "b3", "notice": FIRST[1]}, "batch_notice_mismatch"),
    ],
)
def test_a_batch_that_cannot_be_told_is_a_warning_not_a_finding(runtime, allocation, code):
    facts = _one_allocation(**allocation)
    response = runtime.evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])
    assert response["violations"] == []
    assert [w["code"] for w in response["warnings"] if w["code"].startswith("batch")] == [code]


def test_requests_without_batches_get_no_batch_warning(runtime):
    facts = _one_allocation()
    response = runtime.evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])
    assert response["violations"] == [] and not [w for w in response.get("warnings", ()) if "batch" in w["code"]]


NAMES = {FIRST[0]: FIRST, THIRD[0]: THIRD}
CITES = {FIRST[0]: "notice-2023-1", THIRD[0]: "notice-2023-3"}  # the instrument each batch's citations name
NOTICES = {FIRST[1]: FIRST, THIRD[1]: THIRD}


def _expected_batch(allocation: dict):
    """The batch an allocation names: by id, else by its notice; none when unknown or contradictory."""
    by_id, by_notice = NAMES.get(allocation.get("batch")), NOTICES.get(allocation.get("notice"))
    if "batch" in allocation:
        if by_id is None or ("notice" in allocation and by_notice is not by_id):
            return None
        return by_id
    return by_notice


allocations = st.lists(
    st.fixed_dictionaries(
        {"day": st.integers(0, 364), "activity": st.sampled_from(["mining", "smelting_separation"])},
        optional={
            "batch": st.sampled_from(["b1", "b3", "b9"]),
            "notice": st.sampled_from([FIRST[1], THIRD[1], "其他文号"]),
        },
    ),
    max_size=6,
)
quotas = st.lists(
    st.fixed_dictionaries(
        {"amount": st.integers(0, 300000), "activity": st.sampled_from(["mining", "smelting_separation"])},
        optional={"batch": st.sampled_from(["b1", "b3"])},
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=allocations, drawn_quotas=quotas)
def test_each_split_is_judged_by_its_own_batch(batched, runtime, drawn, drawn_quotas):
    facts: dict = {"groups": [], "enterprises": [{"id": "E1"}], "allocations": [], "group_quotas": []}
    late, over, cited = set(), set(), {}
    for i, a in enumerate(drawn):
        group, issued = f"G{i}", dt.date(2023, 1, 1) + dt.timedelta(days=a["day"])
        facts["groups"].append({"id": group})
        facts["allocations"].append(
            {
                "enterprise": "E1",
                "group": group,
                "year": 2023,
                "activity": a["activity"],
                "amount_t_reo": 1,
                "issued_on": issued.isoformat(),
                **{k: a[k] for k in ("batch", "notice") if k in a},
            }
        )
        batch = _expected_batch(a)
        if batch is not None and issued > _deadline(batch[2], batch[3]):
            late.add(group)
            cited[group] = [(CITES[batch[0]], "para_2")]
    for i, q in enumerate(drawn_quotas):
        group = f"Q{i}"
        facts["groups"].append({"id": group})
        facts["group_quotas"].append(
            {
                "group": group,
                "year": 2023,
                "activity": q["activity"],
                "amount_t_reo": q["amount"],
                **({"batch": q["batch"]} if "batch" in q else {}),
            }
        )
        totals = {"b1": {"mining": 120000}, "b3": {"mining": 255000, "smelting_separation": 243850}}
        total = totals.get(q.get("batch"), {}).get(q["activity"])
        if total is not None and q["amount"] > total:
            over.add(group)
    found = runtime.evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])["violations"]
    assert {v["subject"]["id"] for v in found if v["rule"] == "split.late"} == late
    # each late split cites its own batch's notice, and no other batch's
    assert _cited(found, "split.late") == cited
    assert {v["subject"]["id"] for v in found if v["rule"] == "group.over-batch-total"} == over
    _agrees_with_oracle(batched, facts)


def _cited(found: list[dict], rule: str) -> dict:
    """Per subject, what the violation of ``rule`` cites (instrument, eid)."""
    return {
        v["subject"]["id"]: [(c["instrument"], c["eid"]) for c in v["citations"]] for v in found if v["rule"] == rule
    }


def _agrees_with_oracle(ruleset, facts: dict) -> None:
    engine = Engine(ruleset)
    try:
        got = oracle.engine_matches(engine.evaluate(facts, dt.date(2023, 12, 31)).matches)
    finally:
        engine.close()
    assert got == oracle.matches(ruleset, facts, dt.date(2023, 12, 31))


def test_changing_a_batch_s_deadline_needs_a_new_sign_off(instruments, batched):
    from policy.review import rule_digest

    longer = ruleset_from(
        BATCHES.replace(f"split_working_days: {THIRD[3]}", "split_working_days: 30") + RULES, instruments, header=HEADER
    )
    assert rule_digest(longer, longer.rule("split.late")) != rule_digest(batched, batched.rule("split.late"))


def test_the_diff_says_what_changed_in_a_batch(instruments, batched):
    from policy.diff import diff

    longer = ruleset_from(
        BATCHES.replace(f"split_working_days: {THIRD[3]}", "split_working_days: 30") + RULES, instruments, header=HEADER
    )
    assert {"zh": "批次 b3 的分解期限（工作日）：3 → 30", "en": "Batch b3 split_working_days: 3 -> 30"} in diff(
        batched, longer
    )
    assert not diff(batched, batched)


# ------------------------------------------------------------------ a finding cites its own batch ({batch_of: a})

BATCH_RULE = """\
rules:
  - id: split.late
    title: {{zh: 逾期分解, en: split late}}
    severity: minor
    when:
      - fact: allocations
        as: a
        where: a.issued_on > a.batch_split_due
{extra}    subject: {{type: group, id: a.group}}
    message: {{zh: "{{subject}}逾期", en: "{{subject}} late"}}
    citations:
      - {entry}
"""


@pytest.mark.parametrize(
    "batches, entry, extra, message",
    [
        ("", "{batch_of: a}", "", "the ruleset has no `batches`"),
        (BATCHES, "{batch_of: x}", "", "`batch_of: x` names no fact of the rule's `when`"),
        (
            BATCHES,
            "{batch_of: g}",
            "    unless:\n      - fact: groups\n        as: g\n        where: g.id == a.group\n",
            "`batch_of: g` names no fact of the rule's `when`",
        ),
        (
            BATCHES,
            "{batch_of: e}",
            "      - fact: enterprises\n        as: e\n        where: e.id == a.enterprise\n",
            "facts `enterprises` (`e`) name no batch",
        ),
        (BATCHES, "{batch_of: a, eid: para_1}", "", "batch `b1` cites no provision `para_1`"),
        (BATCHES, "{batch_of: a, instrument: notice-2023-3}", "", "unknown field `instrument` in a batch citation"),
    ],
)
def test_a_bad_batch_citation_is_refused_with_its_line_and_rule(instruments, batches, entry, extra, message):
    body = batches + BATCH_RULE.format(entry=entry, extra=extra)
    if not batches:  # no batch fields either: a condition any allocation can have
        body = body.replace("a.issued_on > a.batch_split_due", "a.amount_t_reo > 0")
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(body, instruments, header=HEADER)
    issues = [i for i in exc.value.issues if message in i.message]
    assert issues, [str(i) for i in exc.value.issues]
    line = (HEADER + body).splitlines().index("      - " + entry) + 1
    assert [(i.file, i.line, i.rule) for i in issues] == [("test.yaml", line, "split.late")]


def test_batch_of_is_no_citation_of_a_parameter(instruments):
    params = "parameters:\n  days:\n    value: 3\n    label: {zh: 天, en: days}\n    citations: [{batch_of: a}]\n"
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(BATCHES + params + RULES, instruments, header=HEADER)
    assert any("unknown field `batch_of`" in i.message for i in exc.value.issues)


def test_a_rule_citing_its_batch_lists_every_batch_s_provision_and_keeps_the_order(instruments):
    entries = "{instrument: notice-2021, eid: para_2}\n      - {batch_of: a, eid: para_2}\n      - {instrument: notice-2023-3, eid: para_1}"
    rs = ruleset_from(BATCHES + BATCH_RULE.format(entry=entries, extra=""), instruments, header=HEADER)
    rule = rs.rule("split.late")
    assert [(c.instrument, c.eid) for c in rule.citations] == [
        ("notice-2021", "para_2"),
        ("notice-2023-1", "para_2"),
        ("notice-2023-3", "para_2"),
        ("notice-2023-3", "para_1"),
    ]
    facts = {
        "groups": [{"id": "G1"}, {"id": "G3"}],
        "enterprises": [{"id": "E1"}],
        "allocations": [
            {"enterprise": "E1", "group": "G3", "year": 2023, "activity": "mining", "amount_t_reo": 1}
            | {"batch": "b3", "issued_on": "2023-12-20"},
            {"enterprise": "E1", "group": "G1", "year": 2023, "activity": "mining", "amount_t_reo": 1}
            | {"notice": FIRST[1], "issued_on": "2023-12-20"},
        ],
    }
    found = Runtime(instruments, Registry([rs])).evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])["violations"]
    assert {v["subject"]["id"]: [(c["instrument"], c["eid"]) for c in v["citations"]] for v in found} == {
        "G1": [("notice-2021", "para_2"), ("notice-2023-1", "para_2"), ("notice-2023-3", "para_1")],
        "G3": [("notice-2021", "para_2"), ("notice-2023-3", "para_2"), ("notice-2023-3", "para_1")],
    }


def test_one_finding_over_splits_of_two_batches_cites_both_notices(runtime):
    late = {"enterprise": "E1", "group": "G1", "year": 2023, "activity": "mining", "amount_t_reo": 1}
    facts = {
        "groups": [{"id": "G1"}],
        "enterprises": [{"id": "E1"}],
        "allocations": [
            late | {"batch": "b3", "issued_on": "2023-12-20"},
            late | {"batch": "b1", "issued_on": "2023-12-20"},
        ],
    }
    [v] = [
        v
        for v in runtime.evaluate(facts, dt.date(2023, 12, 31), ["batched@1"])["violations"]
        if v["rule"] == "split.late"
    ]
    assert [(c["instrument"], c["eid"]) for c in v["citations"]] == [
        ("notice-2023-1", "para_2"),
        ("notice-2023-3", "para_2"),
    ]


def test_changing_a_batch_s_citations_needs_a_new_sign_off_of_a_rule_citing_its_batch(instruments, batched):
    from policy.review import rule_digest

    recited = ruleset_from(
        BATCHES.replace(
            "citations: [{instrument: notice-2023-3, eid: para_2}]",
            "citations: [{instrument: notice-2023-3, eid: para_1}]",
        )
        + RULES,
        instruments,
        header=HEADER,
    )
    assert rule_digest(recited, recited.rule("split.late")) != rule_digest(batched, batched.rule("split.late"))


# ------------------------------------------------------------------ the shipped notice@2023 through the service

THIRD_LATE = {
    "as_of": "2023-12-31",
    "rulesets": ["notice@2023"],
    "facts": {
        "groups": [{"id": "G1"}],
        "enterprises": [{"id": "E1", "group": "G1"}],
        "allocations": [
            {"enterprise": "E1", "group": "G1", "year": 2023, "activity": "mining", "amount_t_reo": 1500}
            | {"batch": "2023-3", "issued_on": "2023-12-20"}
        ],
    },
}


def _evaluate(client, body: dict, query: str = "") -> dict:
    import json

    r = client.post("/v1/evaluate" + query, data=json.dumps(body, ensure_ascii=False), content_type="application/json")
    assert r.status_code == 200, r.get_data()[:300]
    return r.json


def test_a_third_batch_split_cites_245_only_also_by_reference(client):
    [v] = _evaluate(client, THIRD_LATE)["violations"]
    assert [(c["instrument"], c["eid"]) for c in v["citations"]] == [("notice-2023-3", "para_2")]
    assert v["citations"][0]["text_available"] is False  # registered by its number only: said, not quoted
    refs = _evaluate(client, THIRD_LATE, "?citations=refs")
    assert refs["violations"][0]["citations"] == [{"instrument": "notice-2023-3", "eid": "para_2"}]
    assert {i: sorted(e) for i, e in refs["provisions"].items()} == {"notice-2023-3": ["para_2"]}


def test_the_rule_page_says_what_each_batch_cites(client):
    from helpers import auth, log_in

    view = client.get("/v1/rules/notice@2023/allocation.split-late", headers=auth("legal")).json
    [entry] = view["batch_citations"]
    assert entry["batch_of"] == "a" and entry["eid"] == "para_2"
    assert {b["batch"]: [(c["instrument"], c["eid"]) for c in b["citations"]] for b in entry["batches"]} == {
        "2023-1": [("notice-2023-1", "para_2")],
        "2023-3": [("notice-2023-3", "para_2")],
    }
    assert {(c["instrument"], c["eid"]) for c in view["citations"]} == {
        ("notice-2023-1", "para_2"),
        ("notice-2023-3", "para_2"),
    }
    log_in(client, "legal-token-1")
    zh = client.get("/ui/rules/notice@2023/allocation.split-late").get_data(as_text=True)
    en = client.get("/ui/rules/notice@2023/allocation.split-late?lang=en").get_data(as_text=True)
    assert (
        'id="batch-citations-a"' in zh
        and "每项认定只引用其事实（a）所属批次的条款" in zh
        and "工信部联原〔2023〕245号" in zh
    )
    assert "Each finding cites only the provisions of the batch of its fact (a)" in en


# ------------------------------------------------------------------ splits within each batch's group quota (notice@2023)


@pytest.fixture(scope="module")
def notice_2023(instruments):
    from pathlib import Path

    from policy.loader import load_ruleset

    path = Path(__file__).resolve().parents[1] / "rulesets" / "notice" / "2023.yaml"
    return load_ruleset(path.read_text(encoding="utf-8"), str(path), instruments)


SHIPPED = {
    "2023-1": ("工信部联原〔2023〕23号", "notice-2023-1"),
    "2023-3": ("工信部联原〔2023〕245号", "notice-2023-3"),
}
named_split = st.fixed_dictionaries(
    {
        "group": st.sampled_from(["G1", "G2"]),
        "activity": st.sampled_from(["mining", "smelting_separation"]),
        "amount": st.integers(0, 5000),
        "by": st.sampled_from(["batch", "notice", "both", "none", "unknown"]),
        "batch": st.sampled_from(sorted(SHIPPED)),
    }
)


def _naming(item: dict) -> dict:
    """How a fact names its batch: its id, its notice, both, neither, or a batch the ruleset does not have."""
    batch, (notice, _) = item["batch"], SHIPPED[item["batch"]]
    return {
        "batch": {"batch": batch},
        "notice": {"notice": notice},
        "both": {"batch": batch, "notice": notice},
        "none": {},
        "unknown": {"batch": "2023-9"},
    }[item["by"]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(splits=st.lists(named_split, max_size=6), quotas=st.lists(named_split, max_size=4))
def test_a_group_s_splits_of_a_batch_are_judged_against_that_batch_s_quota_only(
    notice_2023, instruments, splits, quotas
):
    facts: dict = {
        "groups": [{"id": "G1"}, {"id": "G2"}],
        "enterprises": [{"id": "E1"}],
        "allocations": [
            {"enterprise": "E1", "group": s["group"], "year": 2023, "activity": s["activity"]}
            | {"amount_t_reo": s["amount"], "issued_on": "2023-12-18"}
            | _naming(s)
            for s in splits
        ],
        "group_quotas": [
            {"group": q["group"], "year": 2023, "activity": q["activity"], "amount_t_reo": q["amount"]} | _naming(q)
            for q in quotas
        ],
    }
    split_sum: dict = {}
    quota_sum: dict = {}
    for items, sums in ((splits, split_sum), (quotas, quota_sum)):
        for item in items:
            if item["by"] in ("batch", "notice", "both"):  # only a batch of the ruleset's counts
                key = (item["group"], item["activity"], item["batch"])
                sums[key] = sums.get(key, 0) + item["amount"]
    over = {key for key, amount in split_sum.items() if key in quota_sum and amount > quota_sum[key]}
    expected: dict = {}
    for group, _, batch in sorted(over):
        expected.setdefault(group, []).extend(
            c
            for c in {
                "2023-1": [("notice-2023-1", "para_2")],
                "2023-3": [("notice-2023-3", "para_1"), ("notice-2023-3", "para_2")],
            }[batch]
            if c not in expected[group]
        )
    found = Runtime(instruments, Registry([notice_2023])).evaluate(facts, dt.date(2023, 12, 31), ["notice@2023"])
    got = _cited(found["violations"], "group.batch-allocations-exceed-batch-quota")
    assert {g: sorted(c) for g, c in got.items()} == {g: sorted(c) for g, c in expected.items()}
    _agrees_with_oracle(notice_2023, facts)


def test_a_batch_whose_citations_fail_is_reported_once_not_again_on_each_rule_citing_it(instruments):
    broken = BATCHES.replace("{instrument: notice-2023-3, eid: para_2}", "{instrument: notice-2099-3, eid: para_2}")
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(
            broken + BATCH_RULE.format(entry="{batch_of: a, eid: para_2}", extra=""), instruments, header=HEADER
        )
    assert [i.message for i in exc.value.issues] == ["unknown instrument 'notice-2099-3'"]
