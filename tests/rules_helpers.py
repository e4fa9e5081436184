"""Building small rulesets in tests and evaluating them with the engine and the reference."""

from __future__ import annotations

import datetime as dt
import textwrap

from engine import Engine
import reference_evaluator as reference
from policy.loader import load_ruleset

HEADER = """\
ruleset: test
version: "1"
instrument: notice-2021
title: {zh: 测试, en: test}
"""


def ruleset_from(body: str, instruments, header: str = HEADER):
    return load_ruleset(header + textwrap.dedent(body), "test.yaml", instruments)


def canonical(matches):
    return sorted((m.rule, tuple(sorted(tuple(sorted(v)) for v in m.sources.values()))) for m in matches)


def both(ruleset, facts, as_of=dt.date(2021, 12, 31)):
    """Evaluate with durable_rules and with the plain-Python reference; they must agree."""
    eng = Engine(ruleset)
    try:
        got = eng.evaluate(facts, as_of).matches
    finally:
        eng.close()
    want = reference.evaluate(ruleset, facts, as_of).matches
    assert canonical(got) == canonical(want)
    return sorted(
        (
            m.rule,
            m.bindings[next(iter(m.bindings))].get("id")
            or m.bindings[next(iter(m.bindings))].get("enterprise")
            or m.bindings[next(iter(m.bindings))].get("reporter"),
        )
        for m in got
    )
