"""The engine against the independent oracle (tests/oracle.py) on the shipped rulesets.

Generated requests (hypothesis), every fact list shuffled: the engine's matches, mapped back to the
request's order, equal the oracle's, which reads the raw request and nothing the engine prepares.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from helpers import requests


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=requests(), data=st.data())
def test_engine_equals_oracle_on_shipped_rulesets(shipped, engines, case, data):
    facts, as_of = case
    order = {name: data.draw(st.permutations(range(len(items)))) for name, items in facts.items()}
    shuffled = {name: [items[i] for i in order[name]] for name, items in facts.items()}
    for ref, rs in shipped.items():
        want = oracle.matches(rs, facts, as_of)
        got = oracle.engine_matches(engines[ref].evaluate(shuffled, as_of).matches, order)
        assert got == want, ref
