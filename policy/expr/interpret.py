"""Evaluation in plain Python by walking the tree: the readable definition of what a condition means.

Semantics of unknowns: reading a field the fact does not have raises :class:`UnknownValue`, and a
condition that cannot be evaluated does not hold.  ``and`` / ``or`` are three-valued (Kleene).
:mod:`policy.expr.compiler` gives the same semantics as closures for hot paths; this walk stays what the
reference evaluator and the property tests compare against.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Mapping, Sequence

from policy.expr.node_types import (
    AsOf,
    Arith,
    Bindings,
    BoolOp,
    Call,
    Compare,
    Const,
    FieldRef,
    Neg,
    Node,
    Not,
    ParamRef,
)
from policy.expr.visitor import Visitor, handles
from policy.functions import FUNCTIONS, UnknownValue


def kleene(op: str, values: Sequence[bool | None]) -> bool:
    """``and`` / ``or`` over known (True/False) and unknown (None) operands; raise when undecided."""
    decisive = op == "or"  # True decides an `or`, False decides an `and`
    if decisive in values:
        return decisive
    if None in values:
        raise UnknownValue("an operand is unknown")
    return not decisive


class _Interpreter(Visitor[Any]):
    """One evaluation: the facts, parameters and date are the walk's state."""

    def __init__(
        self, facts: Bindings, params: Mapping[str, Any], as_of: int | None, on_warning: Callable[[dict], None] | None
    ):
        self.facts, self.params, self.as_of, self.on_warning = facts, params, as_of, on_warning

    @handles(Const)
    def const(self, node: Const) -> Any:
        return node.value

    @handles(FieldRef)
    def field(self, node: FieldRef) -> Any:
        fact = self.facts.get(node.alias)
        if fact is None or node.name not in fact or fact[node.name] is None:
            raise UnknownValue(f"{node.alias}.{node.name}")
        return fact[node.name]

    @handles(ParamRef)
    def param(self, node: ParamRef) -> Any:
        return self.params[node.name]

    @handles(AsOf)
    def as_of_(self, node: AsOf) -> Any:
        if self.as_of is None:
            raise UnknownValue("as_of")
        return self.as_of

    @handles(Neg)
    def neg(self, node: Neg) -> Any:
        return -self.visit(node.operand)

    @handles(Not)
    def not_(self, node: Not) -> Any:
        return not self.visit(node.operand)

    @handles(Arith)
    def arith(self, node: Arith) -> Any:
        a, b = self.visit(node.left), self.visit(node.right)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if b == 0:
            raise UnknownValue("division by zero")
        return a / b

    @handles(Compare)
    def compare(self, node: Compare) -> Any:
        a, b = self.visit(node.left), self.visit(node.right)
        op = node.op
        return (
            a == b
            if op == "=="
            else a != b
            if op == "!="
            else a < b
            if op == "<"
            else a <= b
            if op == "<="
            else a > b
            if op == ">"
            else a >= b
        )

    @handles(BoolOp)
    def boolop(self, node: BoolOp) -> Any:
        # Three-valued (Kleene) logic: `or` holds when a known operand holds, whatever the others;
        # `and` fails when a known operand fails; otherwise an unknown operand makes the whole unknown.
        values: list[bool | None] = []  # None: unknown
        for o in node.operands:
            try:
                values.append(bool(self.visit(o)))
            except UnknownValue:
                values.append(None)
        return kleene(node.op, values)

    @handles(Call)
    def call(self, node: Call) -> Any:
        args = [self.visit(a) for a in node.args]
        try:
            return FUNCTIONS[node.func].impl(*args)
        except UnknownValue as exc:
            if exc.warning and self.on_warning:
                self.on_warning(exc.warning)
            raise


def evaluate(
    node: Node,
    facts: Bindings,
    params: Mapping[str, Any],
    as_of: int | None = None,
    on_warning: Callable[[dict], None] | None = None,
) -> Any:
    """Evaluate in plain Python; raise UnknownValue when a needed value is unknown."""
    return _Interpreter(facts, params, as_of, on_warning).visit(node)


def holds(node: Node, facts: Bindings, params: Mapping[str, Any], as_of: int | None = None) -> bool:
    """True when the condition is known to hold; unknown is not true."""
    try:
        return bool(evaluate(node, facts, params, as_of))
    except UnknownValue:
        return False
