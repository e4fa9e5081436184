"""The plain-Python fast path of request validation agrees with marshmallow: on random mutations of valid
bodies it either gives exactly marshmallow's result or defers (None), never accepting what marshmallow
refuses (the errors callers see are always marshmallow's)."""

from __future__ import annotations

import copy
import random

from marshmallow import Schema, ValidationError

from api.schemas import EvaluateRequestSchema, fast_load
from helpers import example

ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    float("1e308"),
    "",
    "x",
    "2021-13-01",
    "2021-02-30",
    "0000-01",
    "2021",
    "2021-03",
    "2021-03-01",
    [],
    {},
    ["mining"],
    ["nope"],
    "mining",
    "E1",
    "G1",
    10**30,
    "\ud800",
    "E\udfff1",
    "\U0001f600",
]  # lone surrogates (refused) and a valid astral character


def _mutate(body: dict, rng: random.Random) -> dict:
    body = copy.deepcopy(body)
    lists = [(name, items) for name, items in body["facts"].items() if items]
    name, items = rng.choice(lists)
    fact = rng.choice(items)
    move = rng.random()
    if move < 0.5 and fact:
        fact[rng.choice(sorted(fact))] = rng.choice(ODD_VALUES)  # a field gets an odd value
    elif move < 0.65 and fact:
        del fact[rng.choice(sorted(fact))]  # a field goes
    elif move < 0.8:
        fact[rng.choice(["extra", "id", "group", "period", "year"])] = rng.choice(ODD_VALUES)
    elif move < 0.9:
        body["facts"][name] = rng.choice([None, {}, "x", [None], items + [dict(fact)]])
    else:
        body[rng.choice(["as_of", "rulesets", "extra"])] = rng.choice(ODD_VALUES + [["notice@2021"], ["x"]])
    return body


def test_fast_path_never_disagrees_with_marshmallow():
    schema, rng = EvaluateRequestSchema(), random.Random(20211231)
    seeds = [example(n) for n in ("over-quota", "compliant-group", "late-report-and-small-smelter")]
    fast_taken = deferred = 0
    for _ in range(1500):
        body = _mutate(rng.choice(seeds), rng)
        fast = fast_load(copy.deepcopy(body))
        try:
            slow = Schema.load(schema, copy.deepcopy(body))  # marshmallow alone, no fast path
        except ValidationError:
            slow = None
        if fast is None:
            deferred += 1
            continue
        fast_taken += 1
        assert slow is not None, f"fast path accepted what marshmallow refuses: {body}"
        assert fast == slow and list(fast) == list(slow), body
    assert fast_taken > 150 and deferred > 150  # both branches were exercised
