"""The condition language: parsing, type checking, rewriting, evaluation, compilation and printing.

Conditions are short expressions a regulator can read aloud::

    quota.enterprise == total.enterprise and total.amount_t_reo > quota.amount_t_reo
    e.separation_capacity_t_reo < params.capacity_floor_t_reo
    r.submitted_on > r.due_on or (not r.submitted and r.due_on < as_of)
    'smelting_separation' in e.activities

One module per job, each walk over the tree a :class:`~policy.expr.visitor.Visitor`:

- :mod:`~policy.expr.node_types`: the node types;
- :mod:`~policy.expr.visitor`: the one dispatch on node type;
- :mod:`~policy.expr.parser`: text to a typed tree (:func:`parse`), the type checker (:func:`type_of`);
- :mod:`~policy.expr.walk`: reading a tree (:func:`nodes`, :func:`field_refs`, :func:`conjuncts`);
- :mod:`~policy.expr.rewrite`: rewrites for the engine (:func:`push_not`, :func:`isolate`);
- :mod:`~policy.expr.interpret`: evaluation by walking (:func:`evaluate`, :func:`holds`);
- :mod:`~policy.expr.compiler`: evaluation compiled to closures (:func:`compile_py`);
- :mod:`~policy.expr.render`: printing (:func:`to_text`) and explanations with values (:func:`explain`,
  :func:`compile_explanation`).

Semantics of unknowns: reading a field the fact does not have raises
:class:`~policy.functions.UnknownValue`, and a condition that cannot be evaluated does not hold.

The names below are the package's interface (``from policy import expr as E; E.parse(...)``).
"""

from policy.expr.compiler import Compiled, compile_py
from policy.expr.interpret import evaluate, holds
from policy.expr.node_types import (
    FLIPPED,
    NEGATED,
    NODE_TYPES,
    AsOf,
    Arith,
    Bindings,
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
from policy.expr.parser import Scope, enum_values, parse, type_of
from policy.expr.render import compile_explanation, explain, to_text
from policy.expr.rewrite import isolate, push_not
from policy.expr.visitor import Visitor, handles
from policy.expr.walk import children, conjuncts, field_refs, nodes, uses_as_of

__all__ = [
    "AsOf",
    "Arith",
    "Bindings",
    "BoolOp",
    "Call",
    "Compare",
    "Compiled",
    "Const",
    "ExprError",
    "FLIPPED",
    "FieldRef",
    "NEGATED",
    "NODE_TYPES",
    "Neg",
    "Node",
    "Not",
    "ParamRef",
    "Scope",
    "Visitor",
    "children",
    "compile_explanation",
    "compile_py",
    "conjuncts",
    "enum_values",
    "evaluate",
    "explain",
    "field_refs",
    "handles",
    "holds",
    "isolate",
    "nodes",
    "parse",
    "push_not",
    "to_text",
    "type_of",
    "uses_as_of",
]
