"""The condition language: parsing, type checking and plain evaluation.

Conditions are short expressions a regulator can read aloud::

    quota.enterprise == total.enterprise and total.amount_t_reo > quota.amount_t_reo
    e.separation_capacity_t_reo < params.capacity_floor_t_reo
    r.submitted_on > r.due_on or (not r.submitted and r.due_on < as_of)
    'smelting_separation' in e.activities

They are parsed with Python's own ``ast`` module (so the grammar is familiar
and well tested) and then turned into this module's small node types; any
Python construct outside the whitelist below is a validation error, so nothing
a ruleset says is ever executed as Python.

Semantics of unknowns: reading a field the fact does not have raises
:class:`UnknownValue`, and a condition that cannot be evaluated does not hold.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

from policy.functions import FUNCTIONS, UnknownValue, parse_date


class ExprError(ValueError):
    """A condition that does not parse or type-check; ``column`` is 1-based in the expression."""

    def __init__(self, message: str, column: int = 1, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


# ---------------------------------------------------------------- node types
@dataclass(frozen=True)
class Const:
    value: Any
    type: str  # number | string | boolean | date


@dataclass(frozen=True)
class FieldRef:
    alias: str
    name: str


@dataclass(frozen=True)
class ParamRef:
    name: str


@dataclass(frozen=True)
class AsOf:
    pass


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node = Const | FieldRef | ParamRef | AsOf | Neg | Not | Arith | Compare | BoolOp | Call

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


# ---------------------------------------------------------------- scope and types
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
        raise ExprError(f"cannot read the condition: {exc.msg}", exc.offset or 1,
                        "write comparisons like `a.field > 100`, join them with `and` / `or`") from exc
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
            op = _ARITH.get(type(n.op))
            if op is None:
                raise self.fail(n, "only + - * / are allowed in arithmetic")
            left, right = self.build(n.left), self.build(n.right)
            lt, rt = type_of(left, self.scope), type_of(right, self.scope)
            if op == "+" and {lt, rt} == {"date", "number"}:
                return Arith(op, left, right)
            if op == "-" and lt == "date" and rt in ("date", "number"):
                return Arith(op, left, right)
            self.expect(left, n.left, "number")
            self.expect(right, n.right, "number")
            return Arith(op, left, right)
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
            raise self.fail(n, f"unknown name {n.id!r}",
                            f"use a fact alias with a field ({', '.join(sorted(self.scope.aliases)) or 'none bound'}), "
                            f"params.NAME, as_of, or a quoted 'text'")
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool):
                return Const(v, "boolean")
            if isinstance(v, (int, float)):
                return Const(v, "number")
            if isinstance(v, str):
                return Const(v, "string")
            raise self.fail(n, f"unsupported constant {v!r}")
        if isinstance(n, ast.Call):
            return self.call(n)
        raise self.fail(n, f"unsupported construct `{ast.unparse(n)}`",
                        "conditions use fields, numbers, 'text', comparisons, and/or/not, + - * /")

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
                raise self.fail(n, f"unknown parameter {name!r}",
                                f"declared parameters: {', '.join(sorted(self.scope.params)) or 'none'}")
            return ParamRef(name)
        if base not in self.scope.aliases:
            raise self.fail(n, f"unknown fact alias {base!r}",
                            f"aliases bound so far: {', '.join(sorted(self.scope.aliases)) or 'none'}")
        fields = self.scope.aliases[base]
        if name not in fields:
            raise self.fail(n, f"fact {base!r} has no field {name!r}",
                            f"its fields: {', '.join(sorted(fields))}")
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
            raise self.fail(src, f"{other.value!r} is not a possible value",
                            f"possible values: {', '.join(values)}")

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
            comps = tuple(self.check_compare("!=" if negate else "==", left, item, ls, e)
                          for item, e in zip(items, rs.elts))
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


def type_of(node: Node, scope: Scope) -> str:
    """Condition-level type of a node: number, string, boolean, date or enum."""
    if isinstance(node, Const):
        return node.type
    if isinstance(node, FieldRef):
        return scope.aliases[node.alias][node.name][0]
    if isinstance(node, ParamRef):
        return scope.params[node.name]
    if isinstance(node, AsOf):
        return "date"
    if isinstance(node, Neg):
        return "number"
    if isinstance(node, (Not, Compare, BoolOp)):
        return "boolean"
    if isinstance(node, Arith):
        lt, rt = type_of(node.left, scope), type_of(node.right, scope)
        if node.op == "-" and lt == rt == "date":
            return "number"
        return "date" if "date" in (lt, rt) else "number"
    if isinstance(node, Call):
        return FUNCTIONS[node.func].result
    raise TypeError(node)  # pragma: no cover


def enum_values(node: Node, scope: Scope) -> tuple[str, ...]:
    if isinstance(node, FieldRef):
        return scope.aliases[node.alias][node.name][1]
    return ()


def nodes(node: Node) -> list[Node]:
    """The node and all nodes below it, in order of appearance."""
    out: list[Node] = []

    def walk(n: Node) -> None:
        out.append(n)
        if isinstance(n, (Neg, Not)):
            walk(n.operand)
        elif isinstance(n, (Arith, Compare)):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, BoolOp):
            for o in n.operands:
                walk(o)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(node)
    return out


def field_refs(node: Node) -> list[FieldRef]:
    """Every field the expression reads, in order of appearance."""
    return [n for n in nodes(node) if isinstance(n, FieldRef)]


def param_refs(node: Node) -> list[ParamRef]:
    """Every parameter the expression reads, in order of appearance."""
    return [n for n in nodes(node) if isinstance(n, ParamRef)]


def uses_as_of(node: Node) -> bool:
    return any(isinstance(n, AsOf) for n in nodes(node))


def push_not(node: Node, negate: bool = False) -> Node:
    """Rewrite so that ``not`` appears nowhere: De Morgan, comparisons inverted.

    Sound under three-valued logic: ``not`` maps unknown to unknown, and
    ``not (x < 5)`` and ``x >= 5`` agree on known x and are both unknown otherwise.
    """
    if isinstance(node, Not):
        return push_not(node.operand, not negate)
    if isinstance(node, BoolOp):
        op = node.op if not negate else ("or" if node.op == "and" else "and")
        return BoolOp(op, tuple(push_not(o, negate) for o in node.operands))
    if isinstance(node, Compare):
        return Compare(NEGATED[node.op], node.left, node.right) if negate else node
    if isinstance(node, (FieldRef, Const)):  # a boolean used as a condition
        return Compare("==", node, Const(not negate, "boolean"))
    raise ExprError(f"not a condition: {node}")  # pragma: no cover - type checker prevents it


# ---------------------------------------------------------------- evaluation
Bindings = Mapping[str, Mapping[str, Any]]


def evaluate(node: Node, facts: Bindings, params: Mapping[str, Any], as_of: int | None = None,
             on_warning: Callable[[dict], None] | None = None) -> Any:
    """Evaluate in plain Python; raise UnknownValue when a needed value is unknown."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, FieldRef):
        fact = facts.get(node.alias)
        if fact is None or node.name not in fact or fact[node.name] is None:
            raise UnknownValue(f"{node.alias}.{node.name}")
        return fact[node.name]
    if isinstance(node, ParamRef):
        return params[node.name]
    if isinstance(node, AsOf):
        if as_of is None:
            raise UnknownValue("as_of")
        return as_of
    if isinstance(node, Neg):
        return -evaluate(node.operand, facts, params, as_of, on_warning)
    if isinstance(node, Not):
        return not evaluate(node.operand, facts, params, as_of, on_warning)
    if isinstance(node, Arith):
        a = evaluate(node.left, facts, params, as_of, on_warning)
        b = evaluate(node.right, facts, params, as_of, on_warning)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if b == 0:
            raise UnknownValue("division by zero")
        return a / b
    if isinstance(node, Compare):
        a = evaluate(node.left, facts, params, as_of, on_warning)
        b = evaluate(node.right, facts, params, as_of, on_warning)
        op = node.op
        return (a == b if op == "==" else a != b if op == "!=" else a < b if op == "<"
                else a <= b if op == "<=" else a > b if op == ">" else a >= b)
    if isinstance(node, BoolOp):
        # Three-valued (Kleene) logic: `or` holds when a known operand holds, whatever the others;
        # `and` fails when a known operand fails; otherwise an unknown operand makes the whole unknown.
        values = []
        for o in node.operands:
            try:
                values.append(bool(evaluate(o, facts, params, as_of, on_warning)))
            except UnknownValue:
                values.append(None)
        return _kleene(node.op, values)
    if isinstance(node, Call):
        args = [evaluate(a, facts, params, as_of, on_warning) for a in node.args]
        try:
            return FUNCTIONS[node.func].impl(*args)
        except UnknownValue as exc:
            if exc.warning and on_warning:
                on_warning(exc.warning)
            raise
    raise TypeError(node)  # pragma: no cover


def _kleene(op: str, values: list) -> bool:
    decisive = op == "or"  # True decides an `or`, False decides an `and`
    if decisive in values:
        return decisive
    if None in values:
        raise UnknownValue("an operand is unknown")
    return not decisive


def holds(node: Node, facts: Bindings, params: Mapping[str, Any], as_of: int | None = None) -> bool:
    """True when the condition is known to hold; unknown is not true."""
    try:
        return bool(evaluate(node, facts, params, as_of))
    except UnknownValue:
        return False


def to_text(node: Node) -> str:
    """The expression written back in the rule language (for messages and docs)."""
    if isinstance(node, Const):
        return repr(node.value) if node.type == "string" else str(node.value).lower() if node.type == "boolean" else str(node.value)
    if isinstance(node, FieldRef):
        return f"{node.alias}.{node.name}"
    if isinstance(node, ParamRef):
        return f"params.{node.name}"
    if isinstance(node, AsOf):
        return "as_of"
    if isinstance(node, Neg):
        return f"-{to_text(node.operand)}"
    if isinstance(node, Not):
        return f"not ({to_text(node.operand)})"
    if isinstance(node, (Arith, Compare)):
        return f"({to_text(node.left)} {node.op} {to_text(node.right)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(to_text(o) for o in node.operands) + ")"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(to_text(a) for a in node.args)})"
    raise TypeError(node)  # pragma: no cover


def isolate(node: Compare, alias: str) -> Compare | None:
    """Rewrite a comparison so its left side is a plain field of ``alias``, or None if impossible.

    The engine tests one fact's field against an expression, so
    ``a.filed_on - a.issued_on > 14`` becomes ``a.filed_on > a.issued_on + 14``.
    Only + and - are moved across (exact for the numbers and day counts used here).
    """
    def own(n: Node) -> bool:
        return isinstance(n, FieldRef) and n.alias == alias

    def reads_alias(n: Node) -> bool:
        return any(r.alias == alias for r in field_refs(n))

    op, left, right = node.op, node.left, node.right
    for _ in range(8):
        if own(left):
            return Compare(op, left, right)
        if own(right) or (reads_alias(right) and not reads_alias(left)):
            left, right, op = right, left, FLIPPED[op]
            continue
        if isinstance(left, Arith) and left.op in ("+", "-"):
            if reads_alias(left.left):  # (x + k) op r  ->  x op r - k
                inverse = "-" if left.op == "+" else "+"
                left, right = left.left, Arith(inverse, right, left.right)
                continue
            if reads_alias(left.right):
                if left.op == "+":  # (k + x) op r  ->  x op r - k
                    left, right = left.right, Arith("-", right, left.left)
                else:  # (k - x) op r  ->  x flip(op) k - r
                    left, right, op = left.right, Arith("-", left.left, right), FLIPPED[op]
                continue
        return None
    return None


# ---------------------------------------------------------------- compiled evaluation
Compiled = Callable[[Bindings, Mapping[str, Any], "int | None"], Any]

_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def compile_py(node: Node, on_warning: Callable[[dict], None] | None = None) -> Compiled:
    """The node as a Python closure ``f(facts, params, as_of)``: same semantics as :func:`evaluate`.

    Used on hot paths (computed fields over every fact of a list, violation
    details); :func:`evaluate` stays the readable definition and what the
    reference evaluator uses.
    """
    if isinstance(node, Const):
        value = node.value
        return lambda f, p, a: value
    if isinstance(node, FieldRef):
        alias, name = node.alias, node.name

        def field(f, p, a):
            fact = f.get(alias)
            value = fact.get(name) if fact is not None else None
            if value is None:
                raise UnknownValue(f"{alias}.{name}")
            return value
        return field
    if isinstance(node, ParamRef):
        pname = node.name
        return lambda f, p, a: p[pname]
    if isinstance(node, AsOf):
        def as_of(f, p, a):
            if a is None:
                raise UnknownValue("as_of")
            return a
        return as_of
    if isinstance(node, Neg):
        inner = compile_py(node.operand, on_warning)
        return lambda f, p, a: -inner(f, p, a)
    if isinstance(node, Not):
        inner = compile_py(node.operand, on_warning)
        return lambda f, p, a: not inner(f, p, a)
    if isinstance(node, Arith):
        left, right = compile_py(node.left, on_warning), compile_py(node.right, on_warning)
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
    if isinstance(node, Compare):
        left, right, cmp = compile_py(node.left, on_warning), compile_py(node.right, on_warning), _PY_CMP[node.op]
        return lambda f, p, a: cmp(left(f, p, a), right(f, p, a))
    if isinstance(node, BoolOp):
        parts = [compile_py(o, on_warning) for o in node.operands]
        op = node.op

        def boolop(f, p, a):
            values = []
            for part in parts:
                try:
                    values.append(bool(part(f, p, a)))
                except UnknownValue:
                    values.append(None)
            return _kleene(op, values)
        return boolop
    if isinstance(node, Call):
        impl = FUNCTIONS[node.func].impl
        args = [compile_py(x, on_warning) for x in node.args]

        def call(f, p, a):
            values = [arg(f, p, a) for arg in args]
            try:
                return impl(*values)
            except UnknownValue as exc:
                if exc.warning and on_warning:
                    on_warning(exc.warning)
                raise
        return call
    raise TypeError(node)  # pragma: no cover



def conjuncts(node: Node) -> list[Node]:
    """The top-level ``and`` parts of a condition (after ``not`` is pushed down)."""
    if isinstance(node, BoolOp) and node.op == "and":
        out: list[Node] = []
        for o in node.operands:
            out.extend(conjuncts(o))
        return out
    return [node]


def explain(node: Node, facts: Bindings, params: Mapping[str, Any], as_of: int | None = None,
            show: Callable[[Any, str, Node], str] = lambda v, t, n: str(v), scope: Scope | None = None) -> str:
    """The condition written out with the values it compared, e.g.
    ``quota.amount_t_reo (5,000) < produced.amount_t_reo (5,320)``; unknown values show as ``?``."""
    def value(n: Node) -> str:
        try:
            v = evaluate(n, facts, params, as_of)
        except UnknownValue:
            return "?"
        return show(v, type_of(n, scope) if scope is not None else "", n)

    def walk(n: Node) -> str:
        if isinstance(n, (FieldRef, ParamRef, AsOf)):
            return f"{to_text(n)} ({value(n)})"
        if isinstance(n, Const):
            return to_text(n)
        if isinstance(n, Not):
            return f"not ({walk(n.operand)})"
        if isinstance(n, Neg):
            return f"-{walk(n.operand)}"
        if isinstance(n, (Arith, Compare)):
            return f"{walk(n.left)} {n.op} {walk(n.right)}"
        if isinstance(n, BoolOp):
            return "(" + f" {n.op} ".join(walk(o) for o in n.operands) + ")"
        if isinstance(n, Call):
            return f"{n.func}({', '.join(walk(a) for a in n.args)}) = {value(n)}"
        return to_text(n)

    return walk(node)
