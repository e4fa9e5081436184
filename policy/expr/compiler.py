"""Conditions compiled to Python closures ``f(facts, params, as_of)``, for hot paths.

Same semantics as :func:`policy.expr.interpret.evaluate` (the property tests compare them on generated
expressions): the tree is walked once, when a rule version is loaded, instead of once per fact or
finding (computed fields over every fact of a list, violation details, explanations).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Mapping

from policy.expr.interpret import kleene
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

Compiled = Callable[[Bindings, Mapping[str, Any], "int | None"], Any]

_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Compiler(Visitor[Compiled]):
    """One compilation: ``on_warning`` receives the warnings of the functions called."""

    def __init__(self, on_warning: Callable[[dict], None] | None):
        self.on_warning = on_warning

    @handles(Const)
    def const(self, node: Const) -> Compiled:
        value = node.value
        return lambda f, p, a: value

    @handles(FieldRef)
    def field(self, node: FieldRef) -> Compiled:
        alias, name = node.alias, node.name

        def field(f, p, a):
            fact = f.get(alias)
            value = fact.get(name) if fact is not None else None
            if value is None:
                raise UnknownValue(f"{alias}.{name}")
            return value

        return field

    @handles(ParamRef)
    def param(self, node: ParamRef) -> Compiled:
        pname = node.name
        return lambda f, p, a: p[pname]

    @handles(AsOf)
    def as_of(self, node: AsOf) -> Compiled:
        def as_of(f, p, a):
            if a is None:
                raise UnknownValue("as_of")
            return a

        return as_of

    @handles(Neg)
    def neg(self, node: Neg) -> Compiled:
        inner = self.visit(node.operand)
        return lambda f, p, a: -inner(f, p, a)

    @handles(Not)
    def not_(self, node: Not) -> Compiled:
        inner = self.visit(node.operand)
        return lambda f, p, a: not inner(f, p, a)

    @handles(Arith)
    def arith(self, node: Arith) -> Compiled:
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op == "+":
            return lambda f, p, a: left(f, p, a) + right(f, p, a)
        if node.op == "-":
            return lambda f, p, a: left(f, p, a) - right(f, p, a)
        if node.op == "*":
            return lambda f, p, a: left(f, p, a) * right(f, p, a)

        def divide(f, p, a):
            x, y = left(f, p, a), right(f, p, a)
            if y == 0:
                raise UnknownValue("division by zero")
            return x / y

        return divide

    @handles(Compare)
    def compare(self, node: Compare) -> Compiled:
        left, right, cmp = self.visit(node.left), self.visit(node.right), _PY_CMP[node.op]
        return lambda f, p, a: cmp(left(f, p, a), right(f, p, a))

    @handles(BoolOp)
    def boolop(self, node: BoolOp) -> Compiled:
        parts = [self.visit(o) for o in node.operands]
        op = node.op

        def boolop(f, p, a):
            values: list[bool | None] = []  # None: unknown
            for part in parts:
                try:
                    values.append(bool(part(f, p, a)))
                except UnknownValue:
                    values.append(None)
            return kleene(op, values)

        return boolop

    @handles(Call)
    def call(self, node: Call) -> Compiled:
        impl = FUNCTIONS[node.func].impl
        args = [self.visit(x) for x in node.args]
        on_warning = self.on_warning

        def call(f, p, a):
            values = [arg(f, p, a) for arg in args]
            try:
                return impl(*values)
            except UnknownValue as exc:
                if exc.warning and on_warning:
                    on_warning(exc.warning)
                raise

        return call


def compile_py(node: Node, on_warning: Callable[[dict], None] | None = None) -> Compiled:
    """The node as a Python closure ``f(facts, params, as_of)``: same semantics as :func:`evaluate`.

    Used on hot paths (computed fields over every fact of a list, violation
    details); :func:`evaluate` stays the readable definition and what the
    reference evaluator uses.
    """
    return _Compiler(on_warning).visit(node)
