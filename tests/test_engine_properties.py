"""Property-based differential testing (hypothesis): for generated fact sets in any order, the
durable_rules engine finds exactly what the independent plain-Python reference finds."""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_evaluator as reference
from engine import Layout
from test_engine_correctness import FLAGS, canonical, engines  # noqa: F401 - engines is a fixture

ACTS = ["mining", "smelting_separation", "comprehensive_utilization"]
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731 - None: the field is left out (unknown)


@st.composite
def requests(draw):
    year = draw(st.sampled_from([2021, 2025]))
    groups = [{"id": g, **({"designated": d} if d is not None else {})}
              for g, d in zip(["G1", "G2"], draw(st.lists(maybe(st.booleans()), min_size=2, max_size=2)))]
    n = draw(st.integers(1, 4))
    enterprises, allocations, production, reports, flows, penalties = [], [], [], [], [], []
    for i in range(n):
        eid = f"E{i}"
        ent = {"id": eid, "group": draw(st.sampled_from(["G1", "G2", None]))}
        acts = draw(maybe(st.lists(st.sampled_from(ACTS), max_size=2, unique=True)))
        if acts is not None:
            ent["activities"] = acts
        for flag in FLAGS:
            value = draw(maybe(st.booleans()))
            if value is not None:
                ent[flag] = value
        cap = draw(maybe(st.sampled_from([1999, 2000, 2000.5, 3000])))
        if cap is not None:
            ent["separation_capacity_t_reo"] = cap
        gains = draw(maybe(st.sampled_from([0, 499999, 500000, 600000])))
        if gains is not None:
            ent["illegal_gains_yuan"] = gains
        enterprises.append(ent)
        act = draw(st.sampled_from(ACTS))
        for month in draw(st.lists(st.integers(1, 12), max_size=4, unique=True)):
            amount = draw(st.sampled_from([0, 10, 10.5, 100]))
            production.append({"enterprise": eid, "period": f"{year}-{month:02d}", "activity": act, "amount_t_reo": amount})
            if draw(st.booleans()):
                reports.append({"reporter": eid, "level": "enterprise", "period": f"{year}-{month:02d}",
                                "recipient": draw(st.sampled_from(["provincial_miit", "miit", "county"])),
                                "submitted_on": draw(st.sampled_from([None, f"{year + (month == 12)}-{month % 12 + 1:02d}-05"])),
                                "reported_amount_t_reo": draw(st.sampled_from([amount, amount + 1]))})
            if year == 2025 and draw(st.booleans()):
                flows.append({"enterprise": eid, "period": f"{year}-{month:02d}",
                              "entered_on": draw(st.sampled_from([None, f"{year + (month == 12)}-{month % 12 + 1:02d}-10",
                                                                  f"{year + (month == 12)}-{month % 12 + 1:02d}-11"]))})
        for _ in range(draw(st.integers(0, 2))):
            alloc = {"enterprise": eid, "year": year, "activity": act, "amount_t_reo": draw(st.sampled_from([0, 20, 100, 500])),
                     "issued_on": draw(st.sampled_from([f"{year}-09-01", f"{year}-09-08"]))}
            group = draw(maybe(st.sampled_from(["G1", "G2"])))
            if group is not None:
                alloc["group"] = group
            filed = draw(st.sampled_from(["absent", None, f"{year}-09-09"]))
            if filed != "absent":
                alloc["filed_on"] = filed
            allocations.append(alloc)
        if draw(st.booleans()):
            penalties.append({"enterprise": eid, "date": f"{year}-10-01"})
    for g in groups:
        for month in draw(st.lists(st.integers(1, 12), max_size=3, unique=True)):
            reports.append({"reporter": g["id"], "level": "group", "period": f"{year}-{month:02d}",
                            "recipient": draw(st.sampled_from(["miit", "provincial_miit"])),
                            "includes_traceability_data": draw(st.booleans()),
                            "submitted_on": draw(st.sampled_from([None, f"{year + (month == 12)}-{month % 12 + 1:02d}-10",
                                                                  f"{year + (month == 12)}-{month % 12 + 1:02d}-12"]))})
    group_quotas = [{"group": g["id"], "year": year, "activity": "mining", "amount_t_reo": draw(st.sampled_from([50, 170000]))}
                    for g in groups if draw(st.booleans())]
    facts = {"groups": groups, "enterprises": enterprises, "allocations": allocations, "production": production,
             "reports": reports, "flow_entries": flows, "penalties": penalties, "group_quotas": group_quotas}
    return facts, dt.date(year + 1, 2, 15)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=requests(), data=st.data())
def test_engine_equals_reference_in_any_order(shipped, engines, instruments, case, data):
    equal_to_reference_in_any_order(shipped, engines, instruments, case, data, Layout())


def equal_to_reference_in_any_order(shipped, engines, instruments, case, data, layout: Layout) -> None:
    """Each shipped ruleset finds in the shuffled request, with ``layout``, what the reference finds."""
    facts, as_of = case
    order = {name: data.draw(st.permutations(range(len(items)))) for name, items in facts.items()}
    shuffled = {name: [items[i] for i in order[name]] for name, items in facts.items()}
    back = {name: list(order[name]) for name in facts}
    for ref, rs in shipped.items():
        want = canonical(rs, reference.evaluate(rs, facts, as_of).matches, instruments)
        got = canonical(rs, engines[ref].evaluate(shuffled, as_of, layout).matches, instruments, back)
        assert got == want, ref


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=requests(), data=st.data())
def test_partitioned_layout_equals_reference_in_any_order(shipped, engines, instruments, case, data):
    """The large-request layout (joins split into sessions by the hash of their keys), forced on small
    requests split into sessions of 3 facts: the same matches as the reference."""
    equal_to_reference_in_any_order(shipped, engines, instruments, case, data,
                                    Layout(partition_min_facts=0, partition_facts=3))
