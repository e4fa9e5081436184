"""Rule conditions written out in plain Chinese and English, for legal reviewers.

A reviewer checks that a rule says what its article says without reading the
condition language: ``quota.amount_t_reo < produced.amount_t_reo`` reads
"年度指标合计的数量（吨REO）小于年度产量合计的数量（吨REO）" / "the annual quota
total's amount (t REO) is less than the annual production total's amount (t REO)".
With a match's values the same sentence carries them ("…（5,000）小于…（5,320）"),
which is how a violation is explained.

The words are data (``rulesets/vocabulary.yaml``); this module only assembles
them along the condition's tree.  A name the vocabulary lacks is shown as
written in the rule, so a new field never breaks a page (a test keeps the
shipped rulesets fully covered).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeGuard
from collections.abc import Mapping

from policy import expr as E
from policy import results
from policy.facts import ENUM_LABELS
from policy.expr.visitor import Visitor, handles
from policy.functions import UnknownValue
from policy.model import Rule, Ruleset
from policy.yamlsource import load_yaml

VOCABULARY_FILE = Path(__file__).resolve().parent.parent / "rulesets" / "vocabulary.yaml"
LANGS = ("zh", "en")
PLAIN_NUMBER_FIELDS = frozenset({"year", "month"})  # numbers read without thousands separators
Bindings = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Vocabulary:
    facts: Mapping[str, Mapping[str, str]]
    fields: Mapping[str, Mapping[str, str]]
    operators: Mapping[str, Mapping[str, str]]
    functions: Mapping[str, Mapping[str, str]]
    units: Mapping[str, Mapping[str, str]]


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    data = load_yaml(path.read_text(encoding="utf-8"))
    return Vocabulary(*(dict(data.get(k) or {}) for k in ("facts", "fields", "operators", "functions", "units")))


def display_rule_value(value: Any, vtype: str, lang: str) -> str:
    """A value written in a rule or bound by a match, as :func:`policy.results.display_value` shows it;
    a quoted enumerated value ('mining') reads by its label too."""
    if isinstance(value, str) and value in ENUM_LABELS:
        vtype = "enum"
    return results.display_value(value, vtype, lang)


class _Renderer(Visitor[str]):
    """Renders one rule's conditions in one language, optionally with a match's values.

    As a visitor it renders a value-giving part (a *term*: a field, a parameter, a constant, arithmetic,
    a call); :meth:`condition` renders a yes/no part with :class:`_Conditions`."""

    def __init__(
        self,
        ruleset: Ruleset,
        rule: Rule,
        lang: str,
        bindings: Bindings | None = None,
        as_of: int | None = None,
        vocabulary: Vocabulary | None = None,
    ):
        self.rs, self.rule, self.lang = ruleset, rule, lang
        self.voc = vocabulary or load_vocabulary()
        self.bindings, self.as_of = bindings, as_of
        self.scope = E.Scope(ruleset.fact_fields_by_alias(rule), {n: p.type for n, p in ruleset.parameters.items()})
        self.fact_names = self._fact_names()
        self.conditions = _Conditions(self)

    # ------------------------------------------------------------ words
    def op(self, key: str) -> str:
        return self.voc.operators[key][self.lang]

    def _fact_names(self) -> dict[str, str]:
        """Each alias as a noun: the fact's name, with the alias added where two facts share a name."""
        names = {p.alias: self.voc.facts.get(p.fact, {}).get(self.lang, p.fact) for p in self.rule.patterns}
        counts: dict[str, int] = {}
        for n in names.values():
            counts[n] = counts.get(n, 0) + 1
        return {
            a: (f"{n}（{a}）" if self.lang == "zh" else f"{n} ({a})") if counts[n] > 1 else n for a, n in names.items()
        }

    def field_words(self, name: str, negated: bool = False) -> str | None:
        entry = self.voc.fields.get(name)
        if entry is None:
            return None
        return entry.get(f"not_{self.lang}") if negated else entry.get(self.lang)

    def is_statement(self, node: E.Node) -> TypeGuard[E.FieldRef]:
        """A yes/no field read as a statement about its fact ("the enterprise holds a mining licence")."""
        return isinstance(node, E.FieldRef) and "not_en" in self.voc.fields.get(node.name, {})

    # ------------------------------------------------------------ values
    def value_of(self, node: E.Node) -> str | None:
        if self.bindings is None:
            return None
        try:
            v = E.evaluate(node, self.bindings, self.rs.param_values, self.as_of)
        except UnknownValue:
            v = None
        if isinstance(node, E.FieldRef) and node.name in PLAIN_NUMBER_FIELDS and v is not None:
            return str(v)  # 2021, not 2,021
        return display_rule_value(v, E.type_of(node, self.scope), self.lang)

    def with_value(self, text: str, node: E.Node) -> str:
        v = self.value_of(node)
        return text if v is None else self.op("value").format(text, v)

    def statement(self, ref: E.FieldRef, holds: bool) -> str:
        words = self.field_words(ref.name, negated=not holds)
        text = self.op("statement").format(fact=self.fact_names.get(ref.alias, ref.alias), field=words)
        v = self.value_of(ref)
        if v is not None and v == display_rule_value(None, "", self.lang):
            text = self.op("value").format(text, v)
        return text

    # ------------------------------------------------------------ the tree
    def term(self, node: E.Node) -> str:
        """A value-giving part: a field, a parameter, a constant, arithmetic, a call."""
        return self.visit(node)

    def condition(self, node: E.Node, negate: bool = False) -> str:
        """A yes/no part: comparisons, and/or/not, statements."""
        return self.conditions.visit(node, negate)

    @handles(E.FieldRef)
    def field(self, node: E.FieldRef) -> str:
        words = self.field_words(node.name) or node.name
        fact = self.fact_names.get(node.alias, node.alias)
        return self.with_value(self.op("field").format(fact=fact, field=words), node)

    @handles(E.ParamRef)
    def param(self, node: E.ParamRef) -> str:
        p = self.rs.parameters[node.name]
        value = display_rule_value(p.value, p.type, self.lang)
        if p.unit:
            unit = self.voc.units.get(p.unit, {}).get(self.lang, p.unit)
            value += unit if self.lang == "zh" else f" {unit}"
        label = p.label.get(self.lang, node.name)
        if self.lang == "en" and label[:2].istitle():  # "Minimum capacity" mid-sentence
            label = label[0].lower() + label[1:]
        return self.op("parameter").format(label=label, value=value)

    @handles(E.AsOf)
    def as_of_(self, node: E.AsOf) -> str:
        return self.with_value(self.op("as_of"), node)

    @handles(E.Const)
    def const(self, node: E.Const) -> str:
        return display_rule_value(node.value, node.type, self.lang)

    @handles(E.Neg)
    def neg(self, node: E.Neg) -> str:
        return self.op("neg").format(self.visit(node.operand))

    @handles(E.Arith)
    def arith(self, node: E.Arith) -> str:
        lt, rt = E.type_of(node.left, self.scope), E.type_of(node.right, self.scope)
        key = node.op
        if lt == "date":
            key = "date-date" if rt == "date" else f"date{node.op}"
        elif rt == "date":  # number + date
            return self.with_value(self.op("date+").format(self.visit(node.right), self.visit(node.left)), node)
        return self.with_value(self.op(key).format(self.visit(node.left), self.visit(node.right)), node)

    @handles(E.Call)
    def call(self, node: E.Call) -> str:
        template = self.voc.functions.get(node.func, {}).get(self.lang)
        args = [self.condition(a) if E.type_of(a, self.scope) == "boolean" else self.visit(a) for a in node.args]
        text = template.format(*args) if template else f"{node.func}({', '.join(args)})"
        return self.with_value(text, node)

    @handles(E.Not, E.BoolOp, E.Compare)
    def yes_no(self, node: E.Node) -> str:
        return self.condition(node)


class _Conditions(Visitor[str]):
    """A yes/no part in words, negated when ``negate`` (so each part reads positively)."""

    def __init__(self, renderer: _Renderer):
        self.r = renderer

    @handles(E.Not)
    def not_(self, node: E.Not, negate: bool) -> str:
        return self.visit(node.operand, not negate)

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp, negate: bool) -> str:
        r = self.r
        if negate:  # De Morgan, so each part reads positively
            return self.visit(E.push_not(node, True), False)
        parts = [self.visit(o, False) for o in node.operands]
        joined = r.op(node.op)
        if node.op == "or" and len(parts) > 1:
            return ("（" + joined.join(parts) + "）") if r.lang == "zh" else "(" + joined.join(parts) + ")"
        return joined.join(parts)

    @handles(E.Compare)
    def compare(self, node: E.Compare, negate: bool) -> str:
        r = self.r
        left, right, op = node.left, node.right, node.op
        if negate:
            op = E.NEGATED[op]
        if op in ("==", "!=") and isinstance(right, E.Const) and right.type == "boolean" and r.is_statement(left):
            return r.statement(left, right.value == (op == "=="))
        if op in ("==", "!=") and isinstance(left, E.Const) and left.type == "boolean" and r.is_statement(right):
            return r.statement(right, left.value == (op == "=="))
        is_date = "date" in (E.type_of(left, r.scope), E.type_of(right, r.scope))
        key = f"date{op}" if is_date and op not in ("==", "!=") else op
        return r.op(key).format(r.term(left), r.term(right))

    @handles(E.FieldRef, E.ParamRef, E.AsOf, E.Const, E.Neg, E.Arith, E.Call)
    def term(self, node: E.Node, negate: bool) -> str:
        r = self.r
        if r.is_statement(node):
            return r.statement(node, not negate)
        text = r.term(node)
        return r.op("not").format(text) if negate else text


def render_condition(
    ruleset: Ruleset, rule: Rule, node: E.Node, lang: str, bindings: Bindings | None = None, as_of: int | None = None
) -> str:
    """One condition of ``rule`` in plain ``lang``; with ``bindings``, each value read is shown beside it."""
    return _Renderer(ruleset, rule, lang, bindings, as_of).condition(node)


def render_patterns(ruleset: Ruleset, rule: Rule, lang: str) -> list[str]:
    """Each ``when``/``unless`` entry of the rule as one plain sentence part, in order."""
    r = _Renderer(ruleset, rule, lang)
    out = []
    for p in rule.patterns:
        fact = r.fact_names[p.alias]
        if lang == "en" and not p.negated:  # "there is an annual total", "there is a report"
            fact = ("an " if fact[:1].lower() in "aeiou" else "a ") + fact
        if p.where is None:
            out.append(r.op("absent" if p.negated else "exists").format(fact=fact))
        else:
            key = "absent_where" if p.negated else "exists_where"
            out.append(r.op(key).format(fact=fact, condition=r.condition(p.where)))
    return out


def render_rule(ruleset: Ruleset, rule: Rule) -> dict[str, str]:
    """The whole rule as one plain sentence per language: "It is a violation when there is … and …"."""
    out = {}
    for lang in LANGS:
        r = _Renderer(ruleset, rule, lang)
        out[lang] = r.op("rule").format(clauses=r.op("clauses").join(render_patterns(ruleset, rule, lang)))
    return out


def explain_match(ruleset: Ruleset, rule: Rule, bindings: Bindings, as_of: int | None = None) -> dict[str, str]:
    """The rule's matched conditions with the values compared, in plain zh and en (a violation's reasons)."""
    out = {}
    for lang in LANGS:
        r = _Renderer(ruleset, rule, lang, bindings, as_of)
        parts = [r.condition(p.where) for p in rule.positive if p.where is not None]
        out[lang] = r.op("clauses").join(parts)
    return out


def missing_words(ruleset: Ruleset, vocabulary: Vocabulary | None = None) -> list[str]:
    """Names a ruleset uses that the vocabulary has no words for (shown as written; tests keep this empty)."""
    voc = vocabulary or load_vocabulary()
    missing = set()
    for rule in ruleset.rules:
        for p in rule.patterns:
            if p.fact not in voc.facts:
                missing.add(f"facts.{p.fact}")
            if p.where is None:
                continue
            for n in E.nodes(p.where):
                if isinstance(n, E.FieldRef) and n.name not in voc.fields:
                    missing.add(f"fields.{n.name}")
                if isinstance(n, E.Call) and n.func not in voc.functions:
                    missing.add(f"functions.{n.func}")
    for c in ruleset.computed:
        for n in E.nodes(c.value):
            if isinstance(n, E.Call) and n.func not in voc.functions:
                missing.add(f"functions.{n.func}")
    return sorted(missing)
