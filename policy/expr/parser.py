"""Parsing and type checking: rule text to a typed node tree.

Conditions are parsed with Python's own ``ast`` module (so the grammar is familiar and well tested) and
then turned into :mod:`policy.expr.node_types`; any Python construct outside the whitelist below is a
validation error, so nothing a ruleset says is ever executed as Python.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from collections.abc import Mapping

from policy.expr.node_types import (
    AsOf,
    Arith,
    BoolOp,
    Call,
    Compare,
    Const,
    ExprError,
    FieldRef,
    Neg,
    Node,
    Not,
    ParamRef,
)
from policy.expr.visitor import Visitor, handles
from policy.functions import FUNCTIONS, parse_date

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass
class Scope:
    """What names an expression may use and their types.

    ``aliases`` maps a fact alias to its fields (name -> (type, enum values));
    ``params`` maps parameter names to their type; ``functions`` says whether
    calls other than ``date("...")`` are allowed (computed fields only).
    """

    aliases: Mapping[str, Mapping[str, tuple[str, tuple[str, ...]]]]
    params: Mapping[str, str]
    functions: bool = False
    allow_as_of: bool = True


def parse(text: str, scope: Scope) -> Node:
    """Parse and type-check ``text``; the result is a typed node tree."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("a condition must be a non-empty text")
    source = " ".join(text.split())  # YAML folded lines: one logical line
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExprError(
            f"cannot read the condition: {exc.msg}",
            exc.offset or 1,
            "write comparisons like `a.field > 100`, join them with `and` / `or`",
        ) from exc
    node = _Builder(scope, source).build(tree.body)
    return node


class _Builder:
    def __init__(self, scope: Scope, source: str):
        self.scope = scope
        self.source = source

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExprError:
        return ExprError(message, getattr(node, "col_offset", 0) + 1, hint)

    def build(self, n: ast.AST) -> Node:
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            parts = tuple(self.build(v) for v in n.values)
            for p, v in zip(parts, n.values):
                self.expect(p, v, "boolean")
            return BoolOp(op, parts)
        if isinstance(n, ast.UnaryOp):
            operand = self.build(n.operand)
            if isinstance(n.op, ast.Not):
                self.expect(operand, n.operand, "boolean")
                return Not(operand)
            if isinstance(n.op, ast.USub):
                self.expect(operand, n.operand, "number")
                if isinstance(operand, Const):
                    return Const(-operand.value, "number")
                return Neg(operand)
            raise self.fail(n, "only `not` and unary minus are allowed")
        if isinstance(n, ast.Compare):
            return self.compare(n)
        if isinstance(n, ast.BinOp):
            arith = _ARITH.get(type(n.op))
            if arith is None:
                raise self.fail(n, "only + - * / are allowed in arithmetic")
            left, right = self.build(n.left), self.build(n.right)
            lt, rt = type_of(left, self.scope), type_of(right, self.scope)
            if arith == "+" and {lt, rt} == {"date", "number"}:
                return Arith(arith, left, right)
            if arith == "-" and lt == "date" and rt in ("date", "number"):
                return Arith(arith, left, right)
            self.expect(left, n.left, "number")
            self.expect(right, n.right, "number")
            return Arith(arith, left, right)
        if isinstance(n, ast.Attribute):
            return self.attribute(n)
        if isinstance(n, ast.Name):
            if n.id in ("true", "True"):
                return Const(True, "boolean")
            if n.id in ("false", "False"):
                return Const(False, "boolean")
            if n.id == "as_of":
                if not self.scope.allow_as_of:
                    raise self.fail(n, "`as_of` is not available here")
                return AsOf()
            raise self.fail(
                n,
                f"unknown name {n.id!r}",
                f"use a fact alias with a field ({', '.join(sorted(self.scope.aliases)) or 'none bound'}), "
                f"params.NAME, as_of, or a quoted 'text'",
            )
        if isinstance(n, ast.Constant):
            value = n.value
            if isinstance(value, bool):
                return Const(value, "boolean")
            if isinstance(value, (int, float)):
                return Const(value, "number")
            if isinstance(value, str):
                return Const(value, "string")
            raise self.fail(n, f"unsupported constant {value!r}")
        if isinstance(n, ast.Call):
            return self.call(n)
        raise self.fail(
            n,
            f"unsupported construct `{ast.unparse(n)}`",
            "conditions use fields, numbers, 'text', comparisons, and/or/not, + - * /",
        )

    def expect(self, node: Node, src: ast.AST, wanted: str) -> None:
        got = type_of(node, self.scope)
        if got != wanted:
            raise self.fail(src, f"`{ast.unparse(src)}` is {got}, expected {wanted}")

    def attribute(self, n: ast.Attribute) -> Node:
        if not isinstance(n.value, ast.Name):
            raise self.fail(n, f"`{ast.unparse(n)}` is not a field", "write alias.field, e.g. e.designated")
        base, name = n.value.id, n.attr
        if base == "params":
            if name not in self.scope.params:
                raise self.fail(
                    n,
                    f"unknown parameter {name!r}",
                    f"declared parameters: {', '.join(sorted(self.scope.params)) or 'none'}",
                )
            return ParamRef(name)
        if base not in self.scope.aliases:
            raise self.fail(
                n,
                f"unknown fact alias {base!r}",
                f"aliases bound so far: {', '.join(sorted(self.scope.aliases)) or 'none'}",
            )
        fields = self.scope.aliases[base]
        if name not in fields:
            raise self.fail(n, f"fact {base!r} has no field {name!r}", f"its fields: {', '.join(sorted(fields))}")
        return FieldRef(base, name)

    def compare(self, n: ast.Compare) -> Node:
        parts: list[Node] = []
        left_src = n.left
        left = self.build(n.left)
        for op_node, right_src in zip(n.ops, n.comparators):
            if isinstance(op_node, (ast.In, ast.NotIn)):
                parts.append(self.membership(left, left_src, right_src, isinstance(op_node, ast.NotIn)))
            else:
                op = _CMP.get(type(op_node))
                if op is None:
                    raise self.fail(n, "unsupported comparison", "use == != < <= > >= in")
                right = self.build(right_src)
                parts.append(self.check_compare(op, left, right, left_src, right_src))
                left = right
            left_src = right_src
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def check_compare(self, op: str, left: Node, right: Node, ls: ast.AST, rs: ast.AST) -> Node:
        lt, rt = type_of(left, self.scope), type_of(right, self.scope)
        # a string constant against a date field is a date literal
        if lt == "date" and isinstance(right, Const) and rt == "string":
            right, rt = self.date_const(right.value, rs), "date"
        if rt == "date" and isinstance(left, Const) and lt == "string":
            left, lt = self.date_const(left.value, ls), "date"
        if lt == "enum":
            self.check_enum(left, right, rs)
            lt = "string"
        if rt == "enum":
            self.check_enum(right, left, ls)
            rt = "string"
        if lt != rt:
            raise self.fail(ls, f"cannot compare {lt} `{ast.unparse(ls)}` with {rt} `{ast.unparse(rs)}`")
        if lt in ("string", "boolean") and op not in ("==", "!="):
            raise self.fail(ls, f"{lt} values can only be compared with == or !=")
        return Compare(op, left, right)

    def check_enum(self, enum_side: Node, other: Node, src: ast.AST) -> None:
        values = enum_values(enum_side, self.scope)
        if isinstance(other, Const) and isinstance(other.value, str) and values and other.value not in values:
            raise self.fail(src, f"{other.value!r} is not a possible value", f"possible values: {', '.join(values)}")

    def date_const(self, text: str, src: ast.AST) -> Const:
        try:
            return Const(parse_date(text), "date")
        except ValueError:
            raise self.fail(src, f"{text!r} is not a date", "write dates as 'YYYY-MM-DD'") from None

    def membership(self, left: Node, ls: ast.AST, rs: ast.AST, negate: bool) -> Node:
        # 'mining' in e.activities  ->  e.activities__mining == true
        if isinstance(rs, ast.Attribute) and isinstance(rs.value, ast.Name) and rs.value.id in self.scope.aliases:
            alias, listname = rs.value.id, rs.attr
            if not isinstance(left, Const) or not isinstance(left.value, str):
                raise self.fail(ls, "only a quoted value can be looked up in a list field")
            flag = f"{listname}__{left.value}"
            if flag not in self.scope.aliases[alias]:
                raise self.fail(rs, f"{left.value!r} is not a possible value of {alias}.{listname}")
            return Compare("==", FieldRef(alias, flag), Const(not negate, "boolean"))
        if isinstance(rs, (ast.List, ast.Tuple)):
            items = [self.build(e) for e in rs.elts]
            if not items:
                raise self.fail(rs, "an empty list")
            comps = tuple(
                self.check_compare("!=" if negate else "==", left, item, ls, e) for item, e in zip(items, rs.elts)
            )
            return comps[0] if len(comps) == 1 else BoolOp("and" if negate else "or", comps)
        raise self.fail(rs, "`in` takes a list [..] or a list field such as e.activities")

    def call(self, n: ast.Call) -> Node:
        if not isinstance(n.func, ast.Name) or n.keywords:
            raise self.fail(n, "unsupported call")
        name = n.func.id
        if name == "date":
            if len(n.args) != 1 or not isinstance(n.args[0], ast.Constant) or not isinstance(n.args[0].value, str):
                raise self.fail(n, "date() takes one 'YYYY-MM-DD' text")
            return self.date_const(n.args[0].value, n.args[0])
        fn = FUNCTIONS.get(name)
        if fn is None or not self.scope.functions:
            allowed = ", ".join(sorted(FUNCTIONS)) if self.scope.functions else "date('YYYY-MM-DD')"
            raise self.fail(n, f"unknown function {name!r} here", f"available: {allowed}")
        if len(n.args) != len(fn.args):
            raise self.fail(n, f"{name}() takes {len(fn.args)} arguments", fn.doc)
        args = tuple(self.build(a) for a in n.args)
        for a, src, want in zip(args, n.args, fn.args):
            self.expect(a, src, want)
        return Call(name, args)


class _TypeOf(Visitor[str]):
    """Condition-level type of a node under a scope."""

    @handles(Const)
    def const(self, node: Const, scope: Scope) -> str:
        return node.type

    @handles(FieldRef)
    def field(self, node: FieldRef, scope: Scope) -> str:
        return scope.aliases[node.alias][node.name][0]

    @handles(ParamRef)
    def param(self, node: ParamRef, scope: Scope) -> str:
        return scope.params[node.name]

    @handles(AsOf)
    def as_of(self, node: AsOf, scope: Scope) -> str:
        return "date"

    @handles(Neg)
    def neg(self, node: Neg, scope: Scope) -> str:
        return "number"

    @handles(Not, Compare, BoolOp)
    def condition(self, node: Node, scope: Scope) -> str:
        return "boolean"

    @handles(Arith)
    def arith(self, node: Arith, scope: Scope) -> str:
        lt, rt = self.visit(node.left, scope), self.visit(node.right, scope)
        if node.op == "-" and lt == rt == "date":
            return "number"
        return "date" if "date" in (lt, rt) else "number"

    @handles(Call)
    def call(self, node: Call, scope: Scope) -> str:
        return FUNCTIONS[node.func].result


_TYPE_OF = _TypeOf()


def type_of(node: Node, scope: Scope) -> str:
    """Condition-level type of a node: number, string, boolean, date or enum."""
    return _TYPE_OF.visit(node, scope)


def enum_values(node: Node, scope: Scope) -> tuple[str, ...]:
    """The possible values of an enumerated field (none for any other node)."""
    if isinstance(node, FieldRef):
        return scope.aliases[node.alias][node.name][1]
    return ()
