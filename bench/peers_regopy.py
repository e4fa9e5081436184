"""The five benchmark rules in Rego (``POLICY`` below), evaluated by regopy (PyPI ``regopy``, rego-cpp).

Rego is a query language over JSON: the policy states each rule as a partial set
(``violations contains [rule, subject, period] if {...}``) over the request's lists, joins by
key look-ups (``input.quota[t.k]``, the set ``small_smelters``) and negation (``not``).
Precomputed in Python (``peers_common``), as for ``bare-durable``: the sums per
enterprise/year/activity and the due dates; the raw enterprises, allocations and reports
go in as they are.  The policy is compiled once into a bundle; each evaluation sets the
input as JSON text (regopy's way in) and queries the bundle's entry point ``bench/violations``.

regorus (the Rust Rego engine named in the issue) is not installable from the package
index reachable here, so regopy stands for Rego.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import peers_common as pc

POLICY = r"""# The five benchmark rules in Rego (evaluated by regopy, rego-cpp), for bench/evaluate.py.
# Input: the request's enterprises, allocations and reports as they are, plus what Python
# precomputes as for bare-durable: production totals per enterprise/year/activity (totals:
# [{k, e, y, v}]), quota totals by the same key (quota: {k: total}), due dates of the 2021
# monthly group reports by period (due: {period: "YYYY-MM-DD"}) and as_of (today).
# ISO dates compare as strings.
package bench

import rego.v1

notice_date := "2021-08-24"

capacity_floor_t := 2000

violations contains ["quota.over-production", t.e, t.y] if {
	some t in input.totals
	t.v > input.quota[t.k]
}

violations contains ["quota.production-without-quota", t.e, t.y] if {
	some t in input.totals
	not input.quota[t.k]
	t.v > 0
}

small_smelters contains e.id if {
	some e in input.enterprises
	e.banned_process == true
	e.separation_capacity_t_reo < capacity_floor_t
}

violations contains ["eligibility.smelter-ineligible", a.group, "2021"] if {
	some a in input.allocations
	a.year == 2021
	a.activity == "smelting_separation"
	small_smelters[a.enterprise]
}

violations contains ["reporting.group-monthly-late", r.reporter, r.period] if {
	some r in input.reports
	r.level == "group"
	due := input.due[r.period]
	due > notice_date
	r.submitted_on != null
	r.submitted_on > due
}

violations contains ["reporting.group-monthly-missing", r.reporter, r.period] if {
	some r in input.reports
	r.level == "group"
	due := input.due[r.period]
	due > notice_date
	r.submitted_on == null
	due < input.today
}
"""


class RegoPeer:
    """One compiled Rego bundle, queried once per request."""

    def __init__(self) -> None:
        import regopy  # ImportError when the bench extra is not installed: the caller skips this peer

        build = regopy.Interpreter()
        build.add_module("bench.rego", POLICY)
        self.bundle = build.build(None, ["bench/violations"])
        self.rego = regopy.Interpreter()

    @staticmethod
    def input_json(facts: pc.Facts, as_of: dt.date) -> str:
        """The policy's input as JSON text (see ``peers_common.peer_input``)."""
        return json.dumps(pc.peer_input(facts, as_of), ensure_ascii=False)

    def evaluate(self, facts: pc.Facts, as_of: dt.date) -> list[pc.Violation]:
        """Violations as ``(rule, subject, period)``."""
        self.rego.set_input_term(self.input_json(facts, as_of))
        out = self.rego.query_bundle_entrypoint(self.bundle, "bench/violations")
        if not out.ok():
            raise RuntimeError(str(out))
        return [tuple(v) for v in out.results[0].expressions[0]]


def describe() -> str:
    """Version line for the run's header."""
    from importlib.metadata import version

    return f"regopy {version('regopy')} (rego-cpp), policy bench.rego"


def make() -> Callable[[pc.Facts, dt.date], list[pc.Violation]]:
    """The evaluation function for the benchmark (raises ImportError without ``regopy``)."""
    return RegoPeer().evaluate
