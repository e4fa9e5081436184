"""The final Measures (Order No. 71) judge 2025 facts; 2021 facts stay under the draft and the 2021
notice; the diff shows what the final text changed."""

from __future__ import annotations

from policy.diff import diff


def test_2025_facts_are_judged_under_the_final_measures(client):
    body = {
        "as_of": "2025-12-31",
        "facts": {
            "enterprises": [{"id": "E1", "designated": True, "activities": ["mining"], "illegal_gains_yuan": 100000}],
            "allocations": [{"enterprise": "E1", "year": 2025, "activity": "mining", "amount_t_reo": 100}],
            "production": [{"enterprise": "E1", "period": "2025-09", "activity": "mining", "amount_t_reo": 150}],
        },
    }
    r = client.post("/v1/evaluate", json=body).json
    [v] = [v for v in r["violations"] if v["rule"] == "quota.over-production"]
    assert v["ruleset"] == "measures@2025" and v["citations"][0]["status"] == "in_force"
    fine = v["consequences"][0]
    assert fine["type"] == "regulation_fine" and fine["citation"] == {"instrument": "regulation-2024", "eid": "art_21"}
    # illegal gains belong to the act: an enterprise-level figure is not this year's over-production's gains,
    # so the finding computes no fine range and says the act's gains are unknown
    assert "fine_min_yuan" not in fine and "illegal_gains_yuan" not in v["details"]
    assert "illegal gains were not given" in v["message"]["en"]
    # Art. 7(1) repeats Regulation Art. 10(2): one finding cites both, with the Regulation's penalty
    assert [(c["instrument"], c["eid"]) for c in v["citations"]] == [
        ("measures-2025", "art_7__para_1"),
        ("measures-2025", "art_8"),
        ("measures-2025", "art_13"),
        ("regulation-2024", "art_10__para_2"),
        ("regulation-2024", "art_21"),
    ]


def test_2021_facts_are_judged_by_the_notice_not_the_draft(client):
    """The draft was a public-comment draft never in force: by default only the 2021 notice judges 2021 facts."""
    from helpers import example

    r = client.post("/v1/evaluate", json={k: v for k, v in example("over-quota").items() if k != "rulesets"}).json
    assert {v["ruleset"] for v in r["violations"]} == {"notice@2021"}
    assert all(v["binding"] for v in r["violations"])


def test_diff_shows_what_the_final_text_changed(shipped):
    changes = diff(shipped["measures@draft"], shipped["measures@2025"])
    lines = "\n".join(line["en"] for line in changes)
    assert "依据文件：measures-draft（征求意见稿）→ measures-2025（现行有效）" in [line["zh"] for line in changes]
    assert "Instrument: measures-draft (draft) -> measures-2025 (in_force)" in lines
    assert "Rule removed: allocation.not-filed" in lines  # groups no longer split quotas (Art. 6)
    assert "Rule removed: eligibility.quota-holder-without-group" in lines
    assert "Rule added: traceability.flow-data-late" in lines  # flow data by the 10th (Art. 10)
    assert "Rule added: quota.penalised-next-year-reduction" in lines  # any penalty cuts next year's quota (Art. 14)
    assert (
        "Rule reporting.wrong-recipient: when changed" in lines and "'county'" in lines
    )  # county authorities (Art. 9)
