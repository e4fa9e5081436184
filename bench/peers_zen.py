"""The five benchmark rules in GoRules ZEN (PyPI ``zen-engine``), as the JDM decision ``peers_zen.json``.

The decision is what a ZEN user would draw in the JDM editor: three decision tables in loop
mode (one row of the table evaluated per item of an input array, hit policy ``first``) and two
expression nodes:

- ``Quota`` loops over the production totals; it looks the quota total up by key
  (``$nodes.Request.quota[k]``) and fires over-production or production without quota;
- ``SmallSmelters`` (expression) lists the enterprises with a banned process under 2,000 t of separation capacity;
  ``Smelter`` loops over the raw allocations and fires for a 2021 smelting allocation to one;
- ``Reports`` loops over the raw reports and fires late or missing for group reports, comparing
  dates with ZEN's ``date()`` (due date, the notice's date, ``as_of``);
- ``Violations`` (expression) concatenates the three tables' outputs and drops the items no
  row matched.

Precomputed in Python (``peers_common``), as for ``bare-durable``: the sums per
enterprise/year/activity and the due dates (holiday calendar). The raw enterprises,
allocations and reports go in as they are, so ZEN converts every fact of the request.
One ``evaluate`` call per request (the arrays batched in one context): see ``README.md``
for the one-call-per-enterprise alternative, which was measured slower.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from collections.abc import Callable

import peers_common as pc

JDM = Path(__file__).resolve().parent / "peers_zen.json"


class ZenPeer:
    """One compiled ZEN decision, evaluated once per request."""

    def __init__(self) -> None:
        import zen  # ImportError when the bench extra is not installed: the caller skips this peer

        self.engine = zen.ZenEngine()
        self.decision = self.engine.create_decision(JDM.read_text(encoding="utf-8"))

    @staticmethod
    def context(facts: pc.Facts, as_of: dt.date) -> dict[str, Any]:
        """The decision's input (see ``peers_common.peer_input``)."""
        return pc.peer_input(facts, as_of)

    def evaluate(self, facts: pc.Facts, as_of: dt.date) -> list[pc.Violation]:
        """Violations as ``(rule, subject, period)``; the decision returns only matched items."""
        result = self.decision.evaluate(self.context(facts, as_of))["result"]
        return [(v["rule"], v["subject"], v["period"]) for v in result["violations"]]


def describe() -> str:
    """Version line for the run's header."""
    from importlib.metadata import version

    nodes = json.loads(JDM.read_text(encoding="utf-8"))["nodes"]
    return f"zen-engine {version('zen-engine')}, {JDM.name} ({len(nodes)} nodes)"


def make() -> Callable[[pc.Facts, dt.date], list[pc.Violation]]:
    """The evaluation function for the benchmark (raises ImportError without ``zen-engine``)."""
    return ZenPeer().evaluate
