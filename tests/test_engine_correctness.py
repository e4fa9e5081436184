"""The durable_rules engine agrees with the plain-Python reference in every fact order and under threads.

durable-rules 2.0.28's negation depends on fact order and its Host fails
under threads; these tests are how the workarounds in engine/ are proven.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from concurrent.futures import ThreadPoolExecutor


import reference_evaluator as reference
from engine.durable_driver import fact_ids, fnv1a_32
from helpers import canonical, random_request

AS_OF = dt.date(2022, 1, 31)


def shuffled(facts: dict, rng: random.Random) -> tuple[dict, dict]:
    """A copy with every list shuffled, and the map from new to old indices."""
    out, back = {}, {}
    for name, items in facts.items():
        order = list(range(len(items)))
        rng.shuffle(order)
        out[name] = [items[i] for i in order]
        back[name] = order
    return out, back


def test_same_violations_in_every_fact_order(shipped, engines, instruments):
    rng = random.Random(20211231)
    fired = set()
    for _ in range(25):
        facts = random_request(rng)
        for ref, rs in shipped.items():
            want = canonical(rs, reference.evaluate(rs, facts, AS_OF).matches, instruments)
            fired.update(rule for rule, *_ in want)
            for _ in range(8):
                order, back = shuffled(facts, rng)
                got = canonical(rs, engines[ref].evaluate(order, AS_OF).matches, instruments, back)
                assert got == want
    # the order-dependent defect is in negation: the requests must make negated conditions decide findings
    # (an enterprise producing without any allocation, a month without the group's report)
    assert {"quota.production-without-quota", "reporting.group-monthly-missing"} <= fired


def test_eight_threads_get_their_own_results(shipped, engines, instruments):
    rng = random.Random(7)
    requests = [random_request(rng) for _ in range(12)]
    expected = {
        (ref, i): canonical(rs, reference.evaluate(rs, facts, AS_OF).matches, instruments)
        for ref, rs in shipped.items()
        for i, facts in enumerate(requests)
    }
    assert any(expected.values())  # the requests do contain violations
    start = threading.Barrier(8)  # all eight evaluate at once, not one after another as they are started

    def worker(seed: int) -> list[tuple[str, int]]:
        local = random.Random(seed)
        failures = []
        start.wait(30)
        for _ in range(60):
            i = local.randrange(len(requests))
            for ref, rs in shipped.items():
                got = canonical(rs, engines[ref].evaluate(requests[i], AS_OF).matches, instruments)
                if got != expected[(ref, i)]:
                    failures.append((ref, i))
        return failures

    with ThreadPoolExecutor(8) as pool:
        # result() raises what a thread raised: an engine error in a thread fails the test with its traceback
        failures = [f for future in [pool.submit(worker, s) for s in range(8)] for f in future.result()]
    assert not failures


def test_fact_ids_never_collide_in_durables_hash():
    ids = fact_ids(150_000)[:150_000]
    assert len({fnv1a_32(i) for i in ids}) == len(ids)


def test_durable_drops_facts_whose_ids_collide():
    """Why fact_ids exists: two ids with the same FNV-1a hash make durable_rules drop a fact."""
    seen: dict[int, str] = {}
    a = b = None
    for n in range(2_000_000):
        text = f"c{n}"
        h = fnv1a_32(text)
        if h in seen:
            a, b = seen[h], text
            break
        seen[h] = text
    assert a is not None
    from engine.durable_driver import DurableRuleset

    rs = DurableRuleset("collision_probe", {"r": {"all": [{"m": {"kind": "x"}}]}})
    try:
        distinct = rs.run(['{"id": "c1", "sid": "1", "kind": "x"}', '{"id": "c2", "sid": "1", "kind": "x"}'], "1")
        colliding = rs.run(
            [f'{{"id": "{a}", "sid": "2", "kind": "x"}}', f'{{"id": "{b}", "sid": "2", "kind": "x"}}'], "2"
        )
    finally:
        rs.close()
    assert len(distinct) == 2
    assert len(colliding) == 1  # one of the two facts was silently dropped
