"""Evaluating facts against rulesets with durable_rules.

The whole interface: ``Engine(ruleset, layout=Layout())`` compiles a validated
ruleset and loads it into durable_rules once (``Layout``: when a large request
is split into sessions, from the service's settings); ``engine.evaluate(facts, as_of)`` returns
the rule matches; ``engine.close()`` frees it.  Everything that works around
durable_rules' defects stays inside this package.
"""

from engine.durable_driver import EngineError
from engine.evaluator import Engine, Layout, Match, Outcome

__all__ = ["Engine", "EngineError", "Layout", "Match", "Outcome"]
