"""The durable_rules engine agrees with the plain-Python reference in every fact order and under threads.

durable-rules 2.0.28's negation depends on fact order and its Host fails
under threads; these tests are how the workarounds in engine/ are proven.
"""
from __future__ import annotations

import datetime as dt
import random
import threading

import pytest

import reference_evaluator as reference
from engine import Engine
from engine.durable_driver import fact_ids, fnv1a_32
from policy import results

AS_OF = dt.date(2022, 1, 31)


FLAGS = ("designated", "mining_license", "safety_license", "recycling_project_expired", "ordered_to_suspend",
         "banned_process", "emissions_compliant", "radiation_compliant", "tailings_compliant", "long_term_shutdown",
         "traceability_system", "flow_records", "national_traceability_entry", "data_security_system")


def next_month_day(month: int, day: int) -> str:
    return f"2022-01-{day:02d}" if month == 12 else f"2021-{month + 1:02d}-{day:02d}"


def random_request(rng: random.Random, n_ent: int = 6) -> dict:
    """Facts that trip every shipped rule in some places and not in others; some fields left unknown."""
    groups = [{"id": "G1", "designated": True}, {"id": "G2", "designated": rng.random() < 0.7}, {"id": "G3"}]
    enterprises, allocations, production, reports, transactions = [], [], [], [], []
    for i in range(n_ent):
        eid = f"E{i}"
        act = rng.choice(["mining", "smelting_separation", "comprehensive_utilization"])
        ent = {"id": eid, "group": rng.choice(["G1", "G2", "G3", None]), "activities": [act]}
        if rng.random() < 0.2:
            del ent["activities"]
        for flag in FLAGS:
            if rng.random() < 0.5:
                ent[flag] = rng.random() < 0.8
        if rng.random() < 0.8:
            ent["separation_capacity_t_reo"] = rng.choice([1000, 1999, 2000, 2001, 5000])
        enterprises.append(ent)
        produced = 0
        for m in range(1, rng.randint(1, 12) + 1):
            amount = rng.choice([0, 100, 250.5, 400])
            produced += amount
            production.append({"enterprise": eid, "period": f"2021-{m:02d}", "activity": act, "amount_t_reo": amount})
            if rng.random() < 0.6:
                reports.append({"reporter": eid, "level": "enterprise", "period": f"2021-{m:02d}",
                                "recipient": rng.choice(["provincial_miit", "provincial_miit", "miit"]),
                                "submitted_on": rng.choice([None, next_month_day(m, 5)]),
                                "reported_amount_t_reo": rng.choice([amount, amount + 1])})
        for _ in range(rng.choice([0, 1, 1, 2])):
            alloc = {"enterprise": eid, "group": ent["group"], "year": rng.choice([2021, 2021, 2022]), "activity": act,
                     "amount_t_reo": rng.choice([produced, produced / 2, produced + 1, 100]),
                     "issued_on": rng.choice(["2021-09-01", "2021-09-07", "2021-09-08"]),
                     "filed_on": rng.choice([None, "2021-09-10"])}
            if rng.random() < 0.3:
                del alloc["filed_on"]
            allocations.append(alloc)
        for _ in range(rng.choice([0, 1])):
            transactions.append({"enterprise": eid, "date": f"2021-{rng.randint(1, 12):02d}-15",
                                 "type": rng.choice(["toll_processing", "purchase", "raw_material_use", "import"]),
                                 "material": rng.choice(["rare_earth_mineral_product", "other"]),
                                 "source_legal": rng.random() < 0.5, "import_compliant": rng.random() < 0.5})
    for g in groups:
        for m in range(1, 12):
            day = rng.choice([None, 8, 10, 11, 12, 15])
            reports.append({"reporter": g["id"], "level": "group", "period": f"2021-{m:02d}",
                            "recipient": rng.choice(["miit", "miit", "provincial_miit"]),
                            "includes_traceability_data": rng.random() < 0.8,
                            "submitted_on": None if day is None else next_month_day(m, day)})
        reports.append({"reporter": g["id"], "level": "group", "period": "2021", "submitted_on": None})
    group_quotas = [{"group": g["id"], "year": 2021, "activity": act,
                     "amount_t_reo": rng.choice([100, 1000, 90000])}
                    for g in groups for act in ("mining", "smelting_separation") if rng.random() < 0.7]
    return {"groups": groups, "enterprises": enterprises, "allocations": allocations, "production": production,
            "reports": reports, "transactions": transactions, "group_quotas": group_quotas}


def shuffled(facts: dict, rng: random.Random) -> tuple[dict, dict]:
    """A copy with every list shuffled, and the map from new to old indices."""
    out, back = {}, {}
    for name, items in facts.items():
        order = list(range(len(items)))
        rng.shuffle(order)
        out[name] = [items[i] for i in order]
        back[name] = order
    return out, back


def canonical(ruleset, matches, instruments, back=None) -> list:
    """Violations as comparable tuples, with fact indices mapped back to the original order."""
    out = []
    for v in results.violations(ruleset, matches, instruments):
        facts = sorted((f["list"], back[f["list"]][f["index"]] if back else f["index"]) for f in v["facts"])
        out.append((v["rule"], v["subject"]["id"], v.get("period"), tuple(facts),
                    tuple(sorted(v["details"].items()))))
    return sorted(out)


@pytest.fixture(scope="module")
def engines(shipped):
    built = {ref: Engine(rs) for ref, rs in shipped.items()}
    yield built
    for e in built.values():
        e.close()


def test_same_violations_in_every_fact_order(shipped, engines, instruments):
    rng = random.Random(20211231)
    checked = 0
    for _ in range(25):
        facts = random_request(rng)
        for ref, rs in shipped.items():
            want = canonical(rs, reference.evaluate(rs, facts, AS_OF).matches, instruments)
            for _ in range(8):
                order, back = shuffled(facts, rng)
                got = canonical(rs, engines[ref].evaluate(order, AS_OF).matches, instruments, back)
                assert got == want
                checked += 1
    assert checked == 25 * len(shipped) * 8


def test_eight_threads_get_their_own_results(shipped, engines, instruments):
    rng = random.Random(7)
    requests = [random_request(rng) for _ in range(12)]
    expected = {(ref, i): canonical(rs, reference.evaluate(rs, facts, AS_OF).matches, instruments)
                for ref, rs in shipped.items() for i, facts in enumerate(requests)}
    assert any(expected.values())  # the requests do contain violations
    failures, done = [], []

    def worker(seed: int) -> None:
        local = random.Random(seed)
        for _ in range(60):
            i = local.randrange(len(requests))
            for ref, rs in shipped.items():
                got = canonical(rs, engines[ref].evaluate(requests[i], AS_OF).matches, instruments)
                if got != expected[(ref, i)]:
                    failures.append((ref, i))
                done.append(1)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(done) == 8 * 60 * len(shipped)


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
        colliding = rs.run([f'{{"id": "{a}", "sid": "2", "kind": "x"}}', f'{{"id": "{b}", "sid": "2", "kind": "x"}}'], "2")
    finally:
        rs.close()
    assert len(distinct) == 2
    assert len(colliding) == 1  # one of the two facts was silently dropped
