"""The five benchmark rules in Venmo's business-rules (PyPI ``business-rules``).

business-rules evaluates a list of rules against one object at a time (``run_all``):
each condition compares one *variable* (a decorated method of a ``BaseVariables``
class) with a constant, and a rule that holds calls an *action* method.  A condition
cannot compare two variables or look at another object, so, the way its users do it,
anything relational is a variable method:

- production totals: ``excess_t`` (total minus the quota total, looked up by key) and
  ``has_quota``; rules over-production (``has_quota`` true, ``excess_t`` > 0) and production
  without quota (``has_quota`` false, ``total_t`` > 0);
- allocations: ``year``, ``activity`` and the allocated enterprise's separation capacity
  and banned-process flag (an index of the request's enterprises by id, built once per evaluation);
  rule: 2021, smelting/separation, a banned process, capacity known and under 2,000 t; the subject is
  the allocation's group;
- reports: ``level``, whether the due date is known, and day differences (due date minus
  the notice's date, submission minus due date, ``as_of`` minus due date); rules late and
  missing.

Precomputed in Python (``peers_common``), as for ``bare-durable``: the sums per
enterprise/year/activity and the due dates.  ``run_all`` is called once per production
total, allocation and report of the request (about 6,100 calls on the large request).
Its numeric comparisons are Decimal with a tolerance of 1e-6 (``greater_than`` means
more than 0.000001 over), which the rounding to 6 decimals makes equivalent here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from collections.abc import Callable

import peers_common as pc

from business_rules import run_all
from business_rules.actions import BaseActions, rule_action
from business_rules.variables import BaseVariables, boolean_rule_variable, numeric_rule_variable, string_rule_variable


def _rule(conditions: list[tuple[str, str, Any]], action: str) -> dict[str, Any]:
    """A business-rules rule: all of the ``(variable, operator, value)`` conditions, then one action."""
    return {
        "conditions": {"all": [{"name": n, "operator": o, "value": v} for n, o, v in conditions]},
        "actions": [{"name": action, "params": {}}],
    }


TOTAL_RULES = [
    _rule([("has_quota", "is_true", True), ("excess_t", "greater_than", 0)], "over_production"),
    _rule([("has_quota", "is_false", True), ("total_t", "greater_than", 0)], "without_quota"),
]
ALLOCATION_RULES = [
    _rule(
        [
            ("year", "equal_to", 2021),
            ("activity", "equal_to", "smelting_separation"),
            ("banned_process", "is_true", True),
            ("group_known", "is_true", True),
            ("capacity_known", "is_true", True),
            ("capacity_t", "less_than", pc.CAPACITY_FLOOR_T),
        ],
        "smelter_ineligible",
    ),
]
REPORT_RULES = [
    _rule(
        [
            ("level", "equal_to", "group"),
            ("due_known", "is_true", True),
            ("days_due_after_notice", "greater_than", 0),
            ("submitted", "is_true", True),
            ("days_late", "greater_than", 0),
        ],
        "late",
    ),
    _rule(
        [
            ("level", "equal_to", "group"),
            ("due_known", "is_true", True),
            ("days_due_after_notice", "greater_than", 0),
            ("submitted", "is_false", True),
            ("days_due_before_as_of", "greater_than", 0),
        ],
        "missing",
    ),
]


class TotalVariables(BaseVariables):
    """A production total per enterprise/year/activity, with the quota totals to look its own up."""

    def __init__(self, row: dict[str, Any], quota: dict[str, float]):
        self.row, self.quota = row, quota

    @boolean_rule_variable
    def has_quota(self) -> bool:
        return self.row["k"] in self.quota

    @numeric_rule_variable
    def total_t(self) -> float:
        return self.row["v"]

    @numeric_rule_variable
    def excess_t(self) -> float:
        return self.row["v"] - self.quota[self.row["k"]]


class AllocationVariables(BaseVariables):
    """An allocation, with the request's enterprises by id to read the allocated smelter's capacity."""

    def __init__(self, allocation: dict[str, Any], enterprises: dict[str, dict[str, Any]]):
        self.allocation, self.enterprises = allocation, enterprises

    @numeric_rule_variable
    def year(self) -> int:
        return self.allocation["year"]

    @string_rule_variable
    def activity(self) -> str:
        return self.allocation["activity"]

    def _enterprise(self) -> dict[str, Any]:
        return self.enterprises.get(self.allocation["enterprise"]) or {}

    def _capacity(self) -> float | None:
        return self._enterprise().get("separation_capacity_t_reo")

    @boolean_rule_variable
    def banned_process(self) -> bool:
        return self._enterprise().get("banned_process") is True

    @boolean_rule_variable
    def group_known(self) -> bool:
        return self.allocation.get("group") is not None

    @boolean_rule_variable
    def capacity_known(self) -> bool:
        return self._capacity() is not None

    @numeric_rule_variable
    def capacity_t(self) -> float:
        return self._capacity()


class ReportVariables(BaseVariables):
    """A report, with the precomputed due dates by period and the evaluation's ``as_of``."""

    def __init__(self, report: dict[str, Any], dues: dict[str, dt.date], as_of: dt.date):
        self.report, self.dues, self.as_of = report, dues, as_of

    @string_rule_variable
    def level(self) -> str:
        return self.report["level"]

    @boolean_rule_variable
    def due_known(self) -> bool:
        return self.report["period"] in self.dues and "submitted_on" in self.report

    @boolean_rule_variable
    def submitted(self) -> bool:
        return self.report["submitted_on"] is not None

    def _due(self) -> dt.date:
        return self.dues[self.report["period"]]

    @numeric_rule_variable
    def days_due_after_notice(self) -> int:
        return (self._due() - pc.NOTICE_DATE).days

    @numeric_rule_variable
    def days_late(self) -> int:
        return (dt.date.fromisoformat(self.report["submitted_on"]) - self._due()).days

    @numeric_rule_variable
    def days_due_before_as_of(self) -> int:
        return (self.as_of - self._due()).days


class ViolationActions(BaseActions):
    """Appends ``(rule, subject, period)`` for the object the rules were run on."""

    def __init__(self, out: list[pc.Violation], subject: str, period: str):
        self.out, self.subject, self.period = out, subject, period

    def _add(self, rule: str) -> None:
        self.out.append((rule, self.subject, self.period))

    @rule_action(params={})
    def over_production(self) -> None:
        self._add(pc.OVER)

    @rule_action(params={})
    def without_quota(self) -> None:
        self._add(pc.NO_QUOTA)

    @rule_action(params={})
    def smelter_ineligible(self) -> None:
        self._add(pc.SMELTER)

    @rule_action(params={})
    def late(self) -> None:
        self._add(pc.LATE)

    @rule_action(params={})
    def missing(self) -> None:
        self._add(pc.MISSING)


def evaluate(facts: pc.Facts, as_of: dt.date) -> list[pc.Violation]:
    """Runs the rules over every production total, allocation and report of the request."""
    out: list[pc.Violation] = []
    totals, quota = pc.year_sums(facts)
    for row in totals:
        run_all(TOTAL_RULES, TotalVariables(row, quota), ViolationActions(out, row["e"], row["y"]))
    enterprises = {e["id"]: e for e in facts.get("enterprises", ())}
    for a in facts.get("allocations", ()):
        run_all(
            ALLOCATION_RULES, AllocationVariables(a, enterprises), ViolationActions(out, a.get("group"), str(a["year"]))
        )
    dues = pc.group_report_dues(facts)
    for r in facts.get("reports", ()):
        run_all(REPORT_RULES, ReportVariables(r, dues, as_of), ViolationActions(out, r["reporter"], r["period"]))
    return out


def describe() -> str:
    """Version line for the run's header."""
    from importlib.metadata import version

    return f"business-rules {version('business-rules')}"


def make() -> Callable[[pc.Facts, dt.date], list[pc.Violation]]:
    """The evaluation function for the benchmark (this module's import fails without ``business-rules``)."""
    return evaluate
