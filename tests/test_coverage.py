"""Every article, paragraph and item of every instrument is implemented or justified."""

from __future__ import annotations

import pytest

from policy.coverage import COVERAGE_FILE, coverage, load_out_of_scope
from policy.yamlsource import load_yaml


@pytest.fixture(scope="module")
def out_of_scope():
    return load_out_of_scope()


@pytest.mark.parametrize("instrument_id", ["measures-draft", "notice-2021", "measures-2025", "regulation-2024"])
def test_no_provision_is_a_gap(instrument_id, instruments, shipped, out_of_scope):
    cov = coverage(instruments[instrument_id], shipped.values(), out_of_scope.get(instrument_id, {}))
    gaps = [eid for eid, c in cov.items() if c.status == "gap"]
    assert not gaps, f"{instrument_id}: provisions neither implemented nor out of scope: {gaps}"


@pytest.mark.parametrize("instrument_id", ["measures-draft", "notice-2021", "measures-2025", "regulation-2024"])
def test_out_of_scope_entries_are_real_uncited_provisions_with_reasons(
    instrument_id, instruments, shipped, out_of_scope
):
    inst = instruments[instrument_id]
    cov = coverage(inst, shipped.values(), out_of_scope.get(instrument_id, {}))
    for eid, reason in out_of_scope.get(instrument_id, {}).items():
        assert eid in inst.provisions, f"{instrument_id}: no provision {eid}"
        assert set(reason) == {"zh", "en"} and all(reason.values())
        assert not cov[eid].implemented_by, f"{eid} is out of scope but cited by {cov[eid].implemented_by}"


def test_key_provisions_are_implemented_by_the_expected_rules(instruments, shipped, out_of_scope):
    cov = coverage(instruments["measures-draft"], shipped.values(), out_of_scope["measures-draft"])
    assert "measures@draft quota.over-production (next_year_quota_reduction)" in cov["art_16__para_2"].implemented_by
    assert "measures@draft responsibility" in cov["art_6"].implemented_by
    assert cov["art_17"].status == "out_of_scope"
    notice = coverage(instruments["notice-2021"], shipped.values(), out_of_scope["notice-2021"])
    for k in range(1, 6):
        assert notice[f"para_3__item_{k}"].implemented_by
    assert notice["para_3"].status == "implemented_through_children"
    assert "notice@2021 parameter report_day" in notice["para_7"].implemented_by


def test_sentences_that_are_not_violations_quote_their_provision(instruments, shipped):
    """`not_a_violation`: a sentence of a provision that is implemented, quoted verbatim, with its reason."""
    doc = load_yaml(COVERAGE_FILE.read_bytes())
    seen = 0
    for instrument_id, body in doc["instruments"].items():
        inst = instruments[instrument_id]
        cov = coverage(inst, shipped.values(), load_out_of_scope().get(instrument_id, {}))
        for eid, entry in (body.get("not_a_violation") or {}).items():
            seen += 1
            assert entry["text"] in inst.provisions[eid].text, f"{instrument_id} {eid}: not a quotation"
            assert entry["zh"] and entry["en"]
            assert cov[eid].status != "gap"
    assert seen, "no not_a_violation entry"


def test_the_regulation_s_own_duties_are_implemented_with_their_penalties(instruments, shipped, out_of_scope):
    """Each enterprise duty of the Regulation is cited by a rule, and its penalty article by a consequence."""
    cov = coverage(instruments["regulation-2024"], shipped.values(), out_of_scope["regulation-2024"])
    pairs = {
        "art_8__para_2": "art_20__item_2",
        "art_9__para_1": "art_20__item_1",
        "art_10__para_2": "art_21",
        "art_11__para_2": "art_22",
        "art_12": "art_27__para_1",
        "art_13": "art_23",
        "art_14__para_2": "art_25",
        "art_15": "art_24",
        "art_18__para_3": "art_26",
    }
    for duty, penalty in pairs.items():
        assert any(i.startswith("regulation@2024 ") for i in cov[duty].implemented_by), duty
        assert any(i.endswith(")") for i in cov[penalty].implemented_by), f"{penalty}: no consequence cites it"
    for eid in ("art_4__para_1", "art_9__para_2", "art_27__para_2"):
        assert cov[eid].status == "out_of_scope"
