"""Evaluating facts against rulesets with durable_rules.

The whole interface: ``Engine(ruleset)`` compiles a validated ruleset and
loads it into durable_rules once; ``engine.evaluate(facts, as_of)`` returns
the rule matches; ``engine.close()`` frees it.  Everything that works around
durable_rules' defects stays inside this package.
"""
from engine.durable_driver import EngineError
from engine.evaluator import Engine, Match, Outcome

__all__ = ["Engine", "EngineError", "Match", "Outcome"]
