"""Rules that can never fire, found at validation (and computed fields nobody reads).

A rule that cannot fire is worse than a wrong one: every scenario of the compliant case passes and
nobody notices.  Checked on a ruleset that is otherwise valid, from its one analysis
(:mod:`policy.analysis`):

- a rule reading a field that no fact and no computation provides to it (a computed field the
  evaluation would never compute);
- a condition that can never be true because a comparison in it is always unknown (a division by
  a constant zero, a function of constants that has no value such as ``date_of(2021, 2, 30)``, or a
  computed field that is itself always unknown);
- a fact's condition contradicted by its own constraints on one field (``a.x > 5 and a.x < 3``,
  ``a.activity == 'mining' and a.activity == 'smelting_separation'``), among the top-level ``and``
  parts that compare a field with a constant or a parameter;

and, as a warning, a computed field that no rule, derived list or other computed field reads.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Mapping

from policy import expr as E
from policy.analysis import analyse
from policy.expr.visitor import Visitor, handles
from policy.functions import UnknownValue
from policy.model import Ruleset
from policy.yamlsource import Location

Problem = tuple[Location, str, "str | None", "str | None"]  # where, message, rule id, hint


def _constant(node: E.Node) -> bool:
    return not any(isinstance(n, (E.FieldRef, E.AsOf)) for n in E.nodes(node))


class _AlwaysUnknown(Visitor[bool]):
    """Whether a value is unknown whatever the facts (``dead``: computed fields always unknown).

    A part reading no field and not the date is evaluated whole (:meth:`visit`): it has a value or not
    whatever the facts (``date_of(2021, 2, 30)`` has none though its arguments do).
    """

    def __init__(self, params: Mapping[str, Any], dead: set[tuple[str, str]], kind_of: Mapping[str, str]):
        self.params, self.dead, self.kind_of = params, dead, kind_of

    def visit(self, node: Any, *args: Any) -> bool:
        if _constant(node):
            return self.constant(node)
        return super().visit(node, *args)

    @handles(E.Const, E.ParamRef)
    def constant(self, node: E.Node) -> bool:
        try:
            E.evaluate(node, {}, self.params)
        except UnknownValue:
            return True
        return False

    @handles(E.FieldRef)
    def field(self, node: E.FieldRef) -> bool:
        return (self.kind_of.get(node.alias), node.name) in self.dead

    @handles(E.AsOf)
    def as_of(self, node: E.AsOf) -> bool:
        return False

    @handles(E.Neg, E.Not)
    def unary(self, node: E.Neg | E.Not) -> bool:
        return self.visit(node.operand)

    @handles(E.Arith, E.Compare)
    def binary(self, node: E.Arith | E.Compare) -> bool:
        if self.visit(node.left) or self.visit(node.right):
            return True
        if isinstance(node, E.Arith) and node.op == "/" and _constant(node.right):
            return E.evaluate(node.right, {}, self.params) == 0
        return False

    @handles(E.Call)
    def call(self, node: E.Call) -> bool:
        return any(self.visit(a) for a in node.args)

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> bool:
        return all(self.visit(o) for o in node.operands)


def _always_unknown(
    node: E.Node, params: Mapping[str, Any], dead: set[tuple[str, str]], kind_of: Mapping[str, str]
) -> bool:
    """Whether the value is unknown whatever the facts (``dead``: computed fields always unknown)."""
    return _AlwaysUnknown(params, dead, kind_of).visit(node)


class _NeverTrue(Visitor[E.Node | None]):
    """The always-unknown part that keeps a condition (``not`` pushed down) from ever being true, or None."""

    def __init__(self, always_unknown: _AlwaysUnknown):
        self.always_unknown = always_unknown

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> E.Node | None:
        parts = [self.visit(o) for o in node.operands]
        if node.op == "and":
            return next((p for p in parts if p is not None), None)
        return parts[0] if all(p is not None for p in parts) else None

    @handles(E.Compare, E.FieldRef, E.Const, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def part(self, node: E.Node) -> E.Node | None:
        return node if self.always_unknown.visit(node) else None


def _never_true(
    node: E.Node, params: Mapping[str, Any], dead: set[tuple[str, str]], kind_of: Mapping[str, str]
) -> E.Node | None:
    """The always-unknown part that keeps the condition from ever being true, or None."""
    return _NeverTrue(_AlwaysUnknown(params, dead, kind_of)).visit(node)


_OPPOSITE = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _bounds(part: E.Node, alias: str, params: Mapping[str, Any]) -> tuple[str, str, Any] | None:
    """``(field, op, constant)`` when the part compares a field of ``alias`` with a constant or parameter."""
    if not isinstance(part, E.Compare):
        return None
    for own, other, op in ((part.left, part.right, part.op), (part.right, part.left, E.FLIPPED[part.op])):
        if isinstance(own, E.FieldRef) and own.alias == alias and _constant(other):
            try:
                return own.name, op, E.evaluate(other, {}, params)
            except UnknownValue:
                return None
    return None


def contradiction(constraints: Iterable[tuple[str, Any]]) -> bool:
    """Whether no value satisfies every ``(op, constant)`` constraint on one field."""
    constraints = list(constraints)
    equal = {v for op, v in constraints if op == "=="}
    if len(equal) > 1:
        return True
    if equal:
        value = next(iter(equal))
        for op, v in constraints:
            if (
                op != "=="
                and not {
                    "!=": value != v,
                    "<": value < v if _ordered(value, v) else True,
                    "<=": value <= v if _ordered(value, v) else True,
                    ">": value > v if _ordered(value, v) else True,
                    ">=": value >= v if _ordered(value, v) else True,
                }[op]
            ):
                return True
        return False
    lows = [(v, op == ">") for op, v in constraints if op in (">", ">=") and isinstance(v, (int, float))]
    highs = [(v, op == "<") for op, v in constraints if op in ("<", "<=") and isinstance(v, (int, float))]
    if not lows or not highs:
        return False
    low = max(lows, key=lambda b: (b[0], b[1]))
    high = min(highs, key=lambda b: (b[0], not b[1]))
    return low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1]))


def _ordered(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)


def _dead_computed(ruleset: Ruleset, params: Mapping[str, Any]) -> set[tuple[str, str]]:
    dead: set[tuple[str, str]] = set()
    for c in ruleset.computed:  # file order: a later field may read an earlier, dead one
        if _always_unknown(c.value, params, dead, {c.alias: c.list}):
            dead.add((c.list, c.field))
    return dead


def problems(ruleset: Ruleset, computed_at: Mapping[tuple[str, str], Location]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of a ruleset that is otherwise valid (see module docstring).

    ``computed_at``: where each computed field ``(list, field)`` is declared, for the warnings.
    """
    params = ruleset.param_values
    reads = analyse(ruleset)
    dead = _dead_computed(ruleset, params)
    computed = {(c.list, c.field) for c in reads.computed}
    errors: list[Problem] = []
    for rule in ruleset.rules:
        kind_of = {p.alias: p.fact for p in rule.patterns}
        for kind, name in sorted(reads.rule_reads[rule.id]):
            if name in reads.computed_names.get(kind, ()) and (kind, name) not in computed:
                errors.append(
                    (
                        rule.location,
                        f"reads `{kind}.{name}`, which is never computed",
                        rule.id,
                        "a bug in the analysis of the ruleset: report it",
                    )
                )
        for p in rule.patterns:
            if p.where is None:
                continue
            stuck = _never_true(E.push_not(p.where), params, dead, kind_of)
            if stuck is not None and not p.negated:
                errors.append(
                    (
                        p.location,
                        f"the rule can never fire: `{E.to_text(stuck)}` is always unknown",
                        rule.id,
                        "a computed field or expression that never has a value cannot be compared",
                    )
                )
                continue
            per_field: dict[str, list[tuple[str, Any]]] = {}
            for part in E.conjuncts(E.push_not(p.where)):
                bound = _bounds(part, p.alias, params)
                if bound is not None:
                    per_field.setdefault(bound[0], []).append(bound[1:])
            for name, constraints in per_field.items():
                if not p.negated and contradiction(constraints):
                    shown = " and ".join(f"{p.alias}.{name} {op} {v!r}" for op, v in constraints)
                    errors.append(
                        (
                            p.location,
                            f"the rule can never fire: `{shown}` contradict each other",
                            rule.id,
                            "no value satisfies all of them",
                        )
                    )
    warnings: list[Problem] = [
        (
            computed_at.get((c.list, c.field), Location(1, 1)),
            f"computed field `{c.list}.{c.field}` is read by no rule, derived list or computed field",
            None,
            "remove it, or use it",
        )
        for c in reads.unread_computed
    ]
    return errors, warnings
