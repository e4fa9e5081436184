"""Which instrument judges when: a draft is never law, and no rule judges an act before its instrument's force.

Oracles read the instrument and ruleset YAML files themselves (status, dates of entry into force,
ruleset periods) and the facts as generated: they share nothing with ``policy.force`` or the registry's
selection but the parsed input.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.scenarios import load_library
from helpers import FLAGS
from api.runtime import Runtime
from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR, ruleset_files

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _instrument_files() -> dict[str, dict]:
    out = {}
    for path in INSTRUMENTS_DIR.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[doc["id"]] = doc
    return out


def _ruleset_files() -> dict[str, dict]:
    out = {}
    for path in ruleset_files(RULESETS_DIR):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[f"{doc['ruleset']}@{doc['version']}"] = doc
    return out


INSTRUMENTS = _instrument_files()
RULESETS = _ruleset_files()
DRAFT_REFS = sorted(ref for ref, doc in RULESETS.items() if INSTRUMENTS[doc["instrument"]]["status"] == "draft")
LIBRARY = load_library()


def _day(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def entry_into_force(ref: str) -> dt.date | None:
    """From the instrument file: its effective date, or (no separate one) its own date."""
    doc = INSTRUMENTS[RULESETS[ref]["instrument"]]
    return _day(doc.get("effective_from")) or _day(doc.get("date"))


def period(ref: str) -> tuple[dt.date | None, dt.date | None]:
    eff = RULESETS[ref].get("effective") or {}
    return _day(eff.get("from")), _day(eff.get("to"))


@pytest.fixture(scope="module")
def runtime():
    return Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)


def test_the_shipped_draft_is_found():
    """The walk below is not empty: the public-comment draft of the quota measures is shipped."""
    assert DRAFT_REFS == ["measures@draft"]
    assert len(RULESETS["measures@draft"]["rules"]) > 0


def _shift(value, years: int):
    """A fact's date, month, period or year moved by ``years`` (29 February becomes the 28th)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value + years
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{4})(-\d{2})?(-\d{2})?", value)
        if m:
            year = int(m.group(1)) + years
            rest = (m.group(2) or "") + ("-28" if m.group(2) == "-02" and m.group(3) == "-29" else m.group(3) or "")
            return f"{year:04d}{rest}"
    return value


TIME_KEYS = {"year", "period", "date", "issued_on", "filed_on", "submitted_on", "entered_on"}


def shifted(facts: dict, years: int) -> dict:
    return {
        name: [{k: _shift(v, years) if k in TIME_KEYS else v for k, v in fact.items()} for fact in lst]
        for name, lst in facts.items()
    }


DRAFT_SCENARIOS = [
    s for s in LIBRARY if set(s.body.get("rulesets") or ()) & set(DRAFT_REFS) and any(e["rule"] for e in s.expect)
]


def test_every_draft_rule_is_exercised():
    """Each rule of a draft has a scenario where, pinned, it fires: the walk below covers every rule."""
    fired = {(ref, e["rule"]) for s in DRAFT_SCENARIOS for ref in s.body["rulesets"] for e in s.expect}
    for ref in DRAFT_REFS:
        for rule in RULESETS[ref]["rules"]:
            assert (ref, rule["id"]) in fired, f"{ref} {rule['id']}"


@SETTINGS
@given(
    index=st.integers(min_value=0, max_value=max(len(DRAFT_SCENARIOS) - 1, 0)),
    years=st.integers(min_value=-15, max_value=15),
    as_of=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2045, 12, 31)),
)
def test_a_draft_rule_is_never_applied_unless_pinned(runtime, index, years, as_of):
    """Facts that make every rule of a draft fire when pinned, moved to any years and judged on any day:
    unpinned, no version of a draft is used and no finding cites one; pinned, every finding of it says
    it is not binding and the summary counts it apart."""
    scenario = DRAFT_SCENARIOS[index]
    facts = shifted(scenario.body["facts"], years)
    body = runtime.evaluate(facts, as_of)
    assert not [r for r in body["rulesets"] if f"{r['id']}@{r['version']}" in DRAFT_REFS]
    assert not [v for v in body["violations"] if v["ruleset"] in DRAFT_REFS]
    assert not [
        c for v in body["violations"] for c in v["citations"] if INSTRUMENTS[c["instrument"]]["status"] == "draft"
    ]
    assert all(v["binding"] is True for v in body["violations"])
    assert body["summary"]["non_binding"] == 0

    pinned = runtime.evaluate(facts, as_of, DRAFT_REFS + ["notice@2021"])
    for v in pinned["violations"]:
        assert v["binding"] is (v["ruleset"] not in DRAFT_REFS)
    drafts = sum(v["ruleset"] in DRAFT_REFS for v in pinned["violations"])
    assert pinned["summary"]["non_binding"] == drafts
    assert pinned["summary"]["binding"] == len(pinned["violations"]) - drafts


def test_pinned_draft_findings_say_so(runtime):
    scenario = next(s for s in DRAFT_SCENARIOS if s.body["rulesets"] == ["measures@draft"])
    as_of = dt.date.fromisoformat(scenario.body["as_of"])
    pinned = runtime.evaluate(scenario.body["facts"], as_of, ["measures@draft"])
    assert pinned["violations"] and all(v["binding"] is False for v in pinned["violations"])
    assert pinned["summary"]["non_binding"] == len(pinned["violations"]) and pinned["summary"]["binding"] == 0


# -------------------------------------------------------------- timeless facts are judged by as_of
ENTERPRISE_FLAGS = (*FLAGS, "obstructed_inspection")  # the flags the shipped rulesets read
TIMELESS_LISTS = {"enterprises", "groups"}


def _in(day: dt.date, lo: dt.date | None, hi: dt.date | None) -> bool:
    return (lo is None or day >= lo) and (hi is None or day <= hi)


@SETTINGS
@given(
    flags=st.fixed_dictionaries({f: st.booleans() for f in ENTERPRISE_FLAGS}),
    activities=st.lists(st.sampled_from(["mining", "smelting_separation", "comprehensive_utilization"]), unique=True),
    as_of=st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2030, 12, 31)),
    pin=st.booleans(),
)
def test_rules_on_timeless_facts_apply_only_while_their_instrument_is_in_force(runtime, flags, activities, as_of, pin):
    """An enterprise alone (no dated fact): every finding's instrument was in force on as_of, and
    as_of lies in the finding's ruleset's period (the instrument file's dates, the ruleset file's period)."""
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E1", "group": "G1", "activities": activities, **flags}],
    }
    refs = sorted(ref for ref in RULESETS if ref not in DRAFT_REFS)
    body = runtime.evaluate(facts, as_of, refs if pin else None)
    for v in body["violations"]:
        assert {f["list"] for f in v["facts"]} <= TIMELESS_LISTS
        start = entry_into_force(v["ruleset"])
        assert start is not None and as_of >= start, (v["ruleset"], v["rule"], as_of)
        assert _in(as_of, *period(v["ruleset"])), (v["ruleset"], v["rule"], as_of)


def test_the_regulation_obstruction_rule_waits_for_2024_10_01(runtime):
    facts = {"enterprises": [{"id": "E1", "obstructed_inspection": True}]}
    rules = lambda d: {(v["ruleset"], v["rule"]) for v in runtime.evaluate(facts, d)["violations"]}  # noqa: E731
    assert rules(dt.date(2024, 6, 1)) == set()
    assert rules(dt.date(2024, 9, 30)) == set()
    assert rules(dt.date(2024, 10, 1)) == {("regulation@2024", "inspection.obstructed")}


def test_the_2025_measures_arts_10_and_11_wait_for_2025_07_28(runtime):
    facts = {
        "enterprises": [
            {
                "id": "E1",
                "activities": ["mining"],
                "designated": True,
                "flow_records": False,
                "data_security_system": False,
            }
        ]
    }

    def measures(d):
        return {v["rule"] for v in runtime.evaluate(facts, d)["violations"] if v["ruleset"] == "measures@2025"}

    assert measures(dt.date(2025, 5, 1)) == set()
    assert measures(dt.date(2025, 7, 27)) == set()
    assert measures(dt.date(2025, 7, 28)) == {"traceability.no-flow-records", "data-security.no-management-system"}


# -------------------------------------------------------------- dated acts are judged by their own date
@SETTINGS
@given(days=st.lists(st.dates(min_value=dt.date(2021, 1, 1), max_value=dt.date(2021, 12, 31)), min_size=1, max_size=6))
def test_conduct_is_judged_by_the_notice_only_from_its_date(runtime, days):
    """Toll processing (notice para 4) on generated days of 2021: a finding for each month holding a day on or
    after the notice's date, none for the months before."""
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E1", "group": "G1", "activities": ["smelting_separation"]}],
        "transactions": [{"enterprise": "E1", "date": d.isoformat(), "type": "toll_processing"} for d in days],
    }
    start = entry_into_force("notice@2021")
    body = runtime.evaluate(facts, dt.date(2021, 12, 31), ["notice@2021"])
    found = {v["period"] for v in body["violations"] if v["rule"] == "conduct.toll-processing"}
    assert found == {f"{d.year}-{d.month:02d}" for d in days if d >= start}


@SETTINGS
@given(issued=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2025, 12, 31)))
def test_a_split_is_judged_by_the_rulesets_in_force_on_the_day_it_was_issued(runtime, issued):
    """An unfiled 2025 split (draft Art. 9), pinned draft: judged only when issued within the draft ruleset's
    period (it ends the day before the final Measures take effect)."""
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E1", "group": "G1", "activities": ["mining"], "designated": True}],
        "allocations": [
            {
                "enterprise": "E1",
                "group": "G1",
                "year": 2025,
                "activity": "mining",
                "amount_t_reo": 10,
                "issued_on": issued.isoformat(),
                "filed_on": None,
            }
        ],
    }
    body = runtime.evaluate(facts, dt.date(2025, 12, 31), ["measures@draft"])
    fired = any(v["rule"] == "allocation.not-filed" for v in body["violations"])
    assert fired == _in(issued, *period("measures@draft"))


def test_the_evaluate_page_labels_findings_under_a_draft(client):
    """Pinned draft and Regulation: the page marks the draft's finding (and only it) as not law."""
    import json
    import re

    from helpers import example

    page = client.get("/ui/evaluate").get_data(as_text=True)  # the form's CSRF token, bound to this session
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = example("over-quota-draft")
    assert body["rulesets"] == ["measures@draft", "regulation@2024"]
    found = client.post("/v1/evaluate", json=body).json["violations"]
    under_draft = sum(v["ruleset"] in DRAFT_REFS for v in found)
    assert under_draft >= 1 and len(found) > under_draft
    for lang, label in (("zh", "依征求意见稿（未生效）"), ("en", "under a draft, not in force")):
        html = client.post(
            f"/ui/evaluate?lang={lang}", data={"request": json.dumps(body), "csrf_token": csrf}
        ).get_data(as_text=True)
        assert html.count(f'<span class="not-law">{label}</span>') == under_draft
        assert html.count('class="violation non-binding"') == under_draft
        assert html.count('class="violation"') == len(found) - under_draft
    unpinned = {k: v for k, v in body.items() if k != "rulesets"}
    html = client.post("/ui/evaluate", data={"request": json.dumps(unpinned), "csrf_token": csrf}).get_data(
        as_text=True
    )
    assert "not-law" not in html and 'class="violation"' in html


def test_instruments_show_when_they_are_in_force(client):
    """GET /v1/instruments: in_force from the file's effective_from (or its date), null for a draft."""
    from helpers import auth

    shown = {i["id"]: i["in_force"] for i in client.get("/v1/instruments", headers=auth("legal")).json["instruments"]}
    for iid, doc in INSTRUMENTS.items():
        if doc["status"] == "draft":
            assert shown[iid] is None
        else:
            start = _day(doc.get("effective_from")) or _day(doc.get("date"))
            end = _day(doc.get("effective_to"))
            # an instrument whose date is not known (registered by its number only) is in force from an open start
            assert shown[iid] == {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None}
    assert shown["regulation-2024"]["from"] == "2024-10-01" and shown["notice-2021"]["from"] == "2021-08-24"


def test_an_end_of_force_before_the_entry_into_force_is_refused(tmp_path):
    from policy.instruments import InstrumentError, load_instrument

    src = (INSTRUMENTS_DIR / "regulation-2024.yaml").read_text(encoding="utf-8")
    good = tmp_path / "ok.yaml"
    good.write_text(
        src.replace("effective_from: 2024-10-01\n", "effective_from: 2024-10-01\neffective_to: 2030-12-31\n"),
        encoding="utf-8",
    )
    assert load_instrument(good).in_force() == (dt.date(2024, 10, 1), dt.date(2030, 12, 31))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        src.replace("effective_from: 2024-10-01\n", "effective_from: 2024-10-01\neffective_to: 2024-09-30\n"),
        encoding="utf-8",
    )
    with pytest.raises(InstrumentError, match="effective_to 2024-09-30 is before the entry into force 2024-10-01"):
        load_instrument(bad)
