"""Generated rulesets (tests/ruleset_strategies.py): the engine finds exactly what the oracle finds.

For each generated ruleset and request, the engine's matches equal the independent oracle's
(tests/oracle.py), with every fact list shuffled, from one and from three threads at once, in the
small layout and in the partitioned large-request layout (forced, sessions of 3 facts).
The default profile runs a few hundred examples; `--hypothesis-profile=long` many more (README).
"""

from __future__ import annotations

import random
import threading

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import oracle
import ruleset_strategies as gen
from engine import Engine, Layout
from policy.loader import RulesetInvalid, load_ruleset

LAYOUTS = (Layout(), Layout(partition_min_facts=0, partition_facts=3))


def shuffled(facts: dict, rng: random.Random) -> tuple[dict, dict]:
    order = {name: rng.sample(range(len(items)), len(items)) for name, items in facts.items()}
    return {name: [items[i] for i in order[name]] for name, items in facts.items()}, order


def load(text: str, instruments):
    try:
        return load_ruleset(text, "generated.yaml", instruments)
    except RulesetInvalid as exc:
        # random constants can contradict each other (a.x > 5 and a.x < 3): validation refuses such a
        # rule as one that can never fire; anything else refused is a finding
        if all("can never fire" in i.message for i in exc.issues):
            reject()
        raise AssertionError(f"{exc}\n{text}") from None


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=gen.rulesets(), case=gen.requests(), seed=st.integers(0, 2**32 - 1))
def test_engine_equals_oracle_on_generated_rulesets(instruments, text, case, seed):
    facts, as_of = case
    ruleset = load(text, instruments)
    want = oracle.matches(ruleset, facts, as_of)
    rng = random.Random(seed)
    engine = Engine(ruleset)
    try:
        for layout in LAYOUTS:
            for threads in (1, 3):
                runs = [shuffled(facts, rng) for _ in range(threads)]
                got: list = [None] * threads

                def run(i: int) -> None:
                    got[i] = oracle.engine_matches(engine.evaluate(runs[i][0], as_of, layout).matches, runs[i][1])

                workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
                for result in got:
                    assert result == want, (
                        f"{layout}, {threads} thread(s): engine only "
                        f"{sorted(set(result) - set(want))}, oracle only "
                        f"{sorted(set(want) - set(result))}\n{text}\n{facts}"
                    )
    finally:
        engine.close()
