"""The five benchmark rules in Rego (``peers_regopy.rego``), evaluated by regopy (PyPI ``regopy``, rego-cpp).

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
from pathlib import Path
from typing import Any, Callable

import peers_common as pc

POLICY = Path(__file__).resolve().parent / "peers_regopy.rego"


class RegoPeer:
    """One compiled Rego bundle, queried once per request."""

    def __init__(self) -> None:
        import regopy  # ImportError when the bench extra is not installed: the caller skips this peer

        build = regopy.Interpreter()
        build.add_module(POLICY.name, POLICY.read_text(encoding="utf-8"))
        self.bundle = build.build(None, ["bench/violations"])
        self.rego = regopy.Interpreter()

    @staticmethod
    def input_json(facts: pc.Facts, as_of: dt.date) -> str:
        """The policy's input as JSON text: the raw fact lists plus the Python-computed sums and due dates."""
        totals, quota = pc.year_sums(facts)
        dues = pc.group_report_dues(facts)
        doc: dict[str, Any] = {
            "totals": totals,
            "quota": quota,
            "enterprises": facts.get("enterprises", []),
            "allocations": facts.get("allocations", []),
            "reports": facts.get("reports", []),
            "due": {period: due.isoformat() for period, due in dues.items()},
            "today": as_of.isoformat(),
        }
        return json.dumps(doc, ensure_ascii=False)

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

    return f"regopy {version('regopy')} (rego-cpp), {POLICY.name}"


def make() -> Callable[[pc.Facts, dt.date], list[pc.Violation]]:
    """The evaluation function for the benchmark (raises ImportError without ``regopy``)."""
    return RegoPeer().evaluate
