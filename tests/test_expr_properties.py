"""``expr.compile_py`` (the closures the engine runs for computed fields and values) against
``expr.evaluate`` (the readable definition), on generated typed expressions and facts with unknown
and null fields: the same value, the same unknown, the same warnings, the same error."""

from __future__ import annotations

import datetime as dt
import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import expr as E
from policy.functions import UnknownValue
import oracle

DAY = dt.date(2021, 4, 10).toordinal()
numbers = st.one_of(st.integers(-3, 12), st.sampled_from([0.5, 2.25, 1e3]))
days = st.integers(DAY - 400, DAY + 400)


def leaves(kind: str):
    if kind == "number":
        return st.one_of(
            numbers.map(lambda v: E.Const(v, "number")),
            st.sampled_from([E.FieldRef("x", "n1"), E.FieldRef("x", "n2"), E.ParamRef("p")]),
        )
    if kind == "date":
        return st.one_of(
            days.map(lambda v: E.Const(v, "date")),
            st.sampled_from([E.FieldRef("x", "d1"), E.FieldRef("y", "d2"), E.AsOf()]),
        )
    if kind == "string":
        return st.one_of(
            st.sampled_from(["2021-04", "a"]).map(lambda v: E.Const(v, "string")), st.just(E.FieldRef("x", "s"))
        )
    return st.one_of(st.booleans().map(lambda v: E.Const(v, "boolean")), st.just(E.FieldRef("x", "b")))


@functools.cache  # one strategy object per kind and depth, built once
def typed(kind: str, depth: int = 3):
    if depth == 0:
        return leaves(kind)
    sub = lambda k: typed(k, depth - 1)  # noqa: E731
    if kind == "number":
        return st.one_of(
            leaves(kind),
            sub("number").map(E.Neg),
            st.builds(E.Arith, st.sampled_from(["+", "-", "*", "/"]), sub("number"), sub("number")),
            st.builds(lambda a, b: E.Arith("-", a, b), sub("date"), sub("date")),
            st.builds(lambda c, a, b: E.Call("choose", (c, a, b)), sub("boolean"), sub("number"), sub("number")),
            st.builds(lambda f, a, b: E.Call(f, (a, b)), st.sampled_from(["max", "min"]), sub("number"), sub("number")),
            sub("date").map(lambda d: E.Call("year_of", (d,))),
        )
    if kind == "date":
        return st.one_of(
            leaves(kind),
            st.builds(lambda d, k: E.Arith("+", d, E.Const(k, "number")), sub("date"), st.integers(-40, 40)),
            st.builds(
                lambda m, d: E.Call("date_of", (E.Const(2021, "number"), m, d)),
                st.integers(-2, 14).map(lambda v: E.Const(v, "number")),
                sub("number"),
            ),
            sub("date").map(lambda d: E.Call("next_working_day", (d,))),
            st.builds(
                lambda d, n: E.Call("add_working_days", (d, E.Const(n, "number"))), sub("date"), st.integers(0, 5)
            ),
        )
    if kind == "string":
        return st.one_of(leaves(kind), sub("date").map(lambda d: E.Call("month_of", (d,))))
    return st.one_of(
        leaves(kind),
        sub("boolean").map(E.Not),
        st.builds(E.Compare, st.sampled_from(list(E.NEGATED)), sub("number"), sub("number")),
        st.builds(E.Compare, st.sampled_from(list(E.NEGATED)), sub("date"), sub("date")),
        st.builds(E.Compare, st.sampled_from(["==", "!="]), sub("string"), sub("string")),
        st.builds(
            E.BoolOp, st.sampled_from(["and", "or"]), st.lists(sub("boolean"), min_size=2, max_size=3).map(tuple)
        ),
    )


def maybe(strategy):
    """A value, null, or left out (None: the key is dropped below)."""
    return st.one_of(strategy, st.just(None), st.just("absent"))


@st.composite
def facts(draw):
    x = {
        "n1": draw(maybe(numbers)),
        "n2": draw(maybe(numbers)),
        "d1": draw(maybe(days)),
        "s": draw(maybe(st.sampled_from(["2021-04", "a"]))),
        "b": draw(maybe(st.booleans())),
    }
    y = {"d2": draw(maybe(days))}
    clean = lambda f: {k: v for k, v in f.items() if v != "absent"}  # noqa: E731
    return {"x": clean(x), "y": clean(y)}


def outcome(fn):
    warnings: list[dict] = []
    try:
        return ("value", fn(warnings.append)), warnings
    except UnknownValue:
        return ("unknown",), warnings
    except Exception as exc:  # noqa: BLE001 - the same failure is what is compared
        return ("error", type(exc).__name__), warnings


@settings(deadline=None)
@given(
    node=st.sampled_from(["number", "date", "string", "boolean"]).flatmap(typed),
    bound=facts(),
    p=numbers,
    as_of=st.one_of(st.none(), days),
)
def test_compile_py_equals_evaluate(node, bound, p, as_of):
    params = {"p": p}
    want = outcome(lambda w: E.evaluate(node, bound, params, as_of, w))
    got = outcome(lambda w: E.compile_py(node, w)(bound, params, as_of))
    assert got == want, E.to_text(node)


# ---------------------------------------------------------------- explanations
# The oracle of an explanation: the condition written out by the format docs/contract-evaluate-v1.md shows
# (`quota.amount_t_reo (5000) < produced.amount_t_reo (5320)`), each value from tests/oracle.py's own
# three-valued evaluator, so neither the walk nor the values are shared with policy.expr.
def written(node, env, params, as_of, show=lambda v, n: str(v)) -> str:
    def shown(n) -> str:
        v = oracle.value(n, env, params, as_of)
        return "?" if v is oracle.UNKNOWN else show(v, n)

    def w(n) -> str:
        if isinstance(n, E.Const):
            return (
                repr(n.value) if n.type == "string" else str(n.value).lower() if n.type == "boolean" else str(n.value)
            )
        if isinstance(n, E.FieldRef):
            return f"{n.alias}.{n.name} ({shown(n)})"
        if isinstance(n, E.ParamRef):
            return f"params.{n.name} ({shown(n)})"
        if isinstance(n, E.AsOf):
            return f"as_of ({shown(n)})"
        if isinstance(n, E.Neg):
            return "-" + w(n.operand)
        if isinstance(n, E.Not):
            return f"not ({w(n.operand)})"
        if isinstance(n, (E.Arith, E.Compare)):
            return f"{w(n.left)} {n.op} {w(n.right)}"
        if isinstance(n, E.BoolOp):
            return "(" + f" {n.op} ".join(w(o) for o in n.operands) + ")"
        assert isinstance(n, E.Call)
        return f"{n.func}({', '.join(w(a) for a in n.args)}) = {shown(n)}"

    return w(node)


def attempt(fn):
    try:
        return ("text", fn())
    except Exception as exc:  # noqa: BLE001 - both failing is agreement (a value out of the calendar)
        return ("error", type(exc).__name__ if not isinstance(exc, (OverflowError, ValueError)) else "range")


@settings(deadline=None)
@given(
    conditions=st.lists(typed("boolean"), min_size=1, max_size=3),
    bound=facts(),
    p=numbers,
    as_of=st.one_of(st.none(), days),
)
def test_compiled_explanation_equals_the_written_out_condition(conditions, bound, p, as_of):
    """A rule's compiled explanation (its conditions joined by " and ") reads as the oracle writes them."""
    params = {"p": p}
    env = {"x": bound["x"], "y": bound["y"]}
    want = attempt(lambda: " and ".join(written(c, env, params, as_of) for c in conditions))
    compiled = E.compile_explanation(conditions)
    got = attempt(lambda: compiled(bound, params, as_of))
    assert got == want, [E.to_text(c) for c in conditions]
    if len(conditions) == 1:  # one condition: explain() is the compiled explanation called once
        assert attempt(lambda: E.explain(conditions[0], bound, params, as_of)) == want


# the condition-level type of each value an explanation shows, restated (docs/rules.md)
FIELD_TYPES = {"n1": "number", "n2": "number", "d1": "date", "d2": "date", "s": "string", "b": "boolean"}
RESULT_TYPES = {
    "choose": "number",
    "max": "number",
    "min": "number",
    "year_of": "number",
    "month_of": "string",
    "date_of": "date",
    "next_working_day": "date",
    "add_working_days": "date",
}


def restated_type(n) -> str:
    if isinstance(n, E.FieldRef):
        return FIELD_TYPES[n.name]
    if isinstance(n, E.Call):
        return RESULT_TYPES[n.func]
    return "number" if isinstance(n, E.ParamRef) else "date"


@settings(deadline=None)
@given(node=typed("boolean"), bound=facts(), p=numbers, as_of=st.one_of(st.none(), days))
def test_explanation_shows_values_by_their_type(node, bound, p, as_of):
    """``show`` writes each known value given its type under the scope (and its node); unknown is "?"."""
    scope = E.Scope(
        {"x": {k: (FIELD_TYPES[k], ()) for k in ("n1", "n2", "d1", "s", "b")}, "y": {"d2": ("date", ())}},
        {"p": "number"},
    )
    params = {"p": p}
    want = attempt(
        lambda: written(
            node, {"x": bound["x"], "y": bound["y"]}, params, as_of, lambda v, n: f"<{restated_type(n)}:{v}>"
        )
    )
    got = attempt(lambda: E.compile_explanation(node, lambda v, t, n: f"<{t}:{v}>", scope)(bound, params, as_of))
    assert got == want, E.to_text(node)
