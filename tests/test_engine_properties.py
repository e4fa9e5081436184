"""Property-based differential testing (hypothesis): for generated fact sets in any order, the
durable_rules engine finds exactly what the independent plain-Python reference finds."""
from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import reference
from helpers import canonical, requests


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=requests(), data=st.data())
def test_engine_equals_reference_in_any_order(shipped, engines, instruments, case, data):
    facts, as_of = case
    order = {name: data.draw(st.permutations(range(len(items)))) for name, items in facts.items()}
    shuffled = {name: [items[i] for i in order[name]] for name, items in facts.items()}
    back = {name: list(order[name]) for name in facts}
    for ref, rs in shipped.items():
        want = canonical(rs, reference.evaluate(rs, facts, as_of).matches, instruments)
        got = canonical(rs, engines[ref].evaluate(shuffled, as_of).matches, instruments, back)
        assert got == want, ref


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=requests(), data=st.data())
def test_partitioned_layout_equals_reference_in_any_order(shipped, engines, instruments, case, data, monkeypatch):
    """The large-request layout (joins split into sessions by the hash of their keys), forced on small
    requests split into sessions of 3 facts: the same matches as the reference."""
    monkeypatch.setenv("REPOLICY_PARTITION_MIN_FACTS", "0")
    monkeypatch.setenv("REPOLICY_PARTITION_FACTS", "3")
    test_engine_equals_reference_in_any_order.hypothesis.inner_test(shipped, engines, instruments, case, data)
