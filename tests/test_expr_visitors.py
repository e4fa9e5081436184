"""Every walk over condition trees handles every node type.

The walks (type checking, evaluation, compilation, rewriting, printing, plain-language rendering, the
ruleset's liveness checks, the engine's compilation to durable_rules and its search for unknowns) are
:class:`policy.expr.Visitor` subclasses dispatching on the node's type.  A node type added to
:mod:`policy.expr.node_types` without a handler in one of them would raise only when a rule first used it:
these tests fail at once instead.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import policy.expr
from policy import expr as E
from policy.expr import node_types as node_module
from policy.expr.visitor import Visitor, handles, missing_handlers

# every module that may define a visitor: the expression package, its renderers elsewhere in policy/, the
# ruleset checks (liveness and the loader's), and the engine's compiler and unknowns search
for _info in pkgutil.iter_modules(policy.expr.__path__):
    importlib.import_module(f"policy.expr.{_info.name}")
for _name in ("policy.plain", "policy.liveness", "policy.loader", "engine.compiler", "engine.unknowns"):
    importlib.import_module(_name)


def all_visitors(cls: type = Visitor) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        if sub.__module__.startswith(("policy.", "engine.")):
            out.append(sub)
        out.extend(all_visitors(sub))
    return out


def test_node_types_lists_every_node_class():
    """NODE_TYPES (what the visitors are checked against) is every node dataclass and the ``Node`` union."""
    declared = {
        obj
        for obj in vars(node_module).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == node_module.__name__
    }
    assert set(E.NODE_TYPES) == declared
    assert set(E.NODE_TYPES) == set(E.Node.__args__)


def test_there_are_visitors_to_check():
    names = {v.__name__ for v in all_visitors()}
    # the walks the package promises, plain language's two, the ruleset checks' and the engine's
    assert {
        "_TypeOf",
        "_Children",
        "_Conjuncts",
        "_PushNot",
        "_Interpreter",
        "_Compiler",
        "_Text",
        "_Explanation",
        "_Renderer",
        "_Conditions",
        "_AlwaysUnknown",
        "_NeverTrue",
        "_Value",
        "_Test",
        "_MixedOr",
        "_Disjuncts",
        "_Truth",
        "_MissingRefs",
        "_ComparisonProblem",
        "_Divides",
    } <= names


@pytest.mark.parametrize("visitor", all_visitors(), ids=lambda v: f"{v.__module__}.{v.__name__}")
def test_visitor_handles_every_node_type(visitor):
    assert missing_handlers(visitor) == [], f"{visitor.__name__} has no handler for these node types"


def test_a_missing_handler_is_found_and_refused():
    class Partial(Visitor[str]):
        @handles(E.Const)
        def const(self, node: E.Const) -> str:
            return "const"

    assert set(missing_handlers(Partial)) == set(E.NODE_TYPES) - {E.Const}
    assert Partial().visit(E.Const(1, "number")) == "const"
    with pytest.raises(TypeError, match="Partial has no handler for AsOf"):
        Partial().visit(E.AsOf())


def test_a_subclass_overrides_a_handler_and_inherits_the_rest():
    class Base(Visitor[str]):
        @handles(*E.NODE_TYPES)
        def any_node(self, node) -> str:
            return "base"

    class Sub(Base):
        @handles(E.AsOf)
        def as_of(self, node) -> str:
            return "sub"

    assert Sub().visit(E.AsOf()) == "sub"
    assert Sub().visit(E.ParamRef("p")) == "base"
    assert Base().visit(E.AsOf()) == "base"
