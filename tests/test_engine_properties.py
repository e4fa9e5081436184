"""Property-based differential testing (hypothesis): for generated fact sets in any order, the
durable_rules engine finds exactly what the independent plain-Python reference finds."""

from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_evaluator as reference
from engine import Layout
from helpers import canonical, requests


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
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


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(case=requests(), data=st.data())
def test_partitioned_layout_equals_reference_in_any_order(shipped, engines, instruments, case, data):
    """The large-request layout (joins split into sessions by the hash of their keys), forced on small
    requests split into sessions of 3 facts: the same matches as the reference."""
    equal_to_reference_in_any_order(
        shipped, engines, instruments, case, data, Layout(partition_min_facts=0, partition_facts=3)
    )
