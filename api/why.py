"""Why each violation of an evaluation fired, in plain Chinese and English with the values compared.

For the reviewers' evaluate page.  The evaluate endpoint's ``explanation`` gives the same in the
condition language; writing out every violation in both languages costs about 0.1 ms each, so it is
not done for API callers.  Here the rulesets used are matched again and each violation is paired with
the match that produced it (the one among its facts that sorts first, as the violation's own values do).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from collections.abc import Mapping

from engine.prepare import RequestFacts
from policy import plain, results


def why(runtime, facts: Mapping[str, Any], as_of: dt.date, result: Mapping[str, Any]) -> dict[int, dict[str, str]]:
    """Violation index in ``result["violations"]`` -> {"zh": ..., "en": ...}."""
    request = RequestFacts(facts)
    out: dict[int, dict[str, str]] = {}
    for used in result["rulesets"]:
        rs = runtime.registry.get(f"{used['id']}@{used['version']}")
        matches = runtime.engine(rs).evaluate(request, as_of).matches
        matches.sort(key=results.lead_order)
        for i, v in enumerate(result["violations"]):
            if v["ruleset"] != rs.ref:
                continue
            cited = {(f["list"], f["index"]) for f in v["facts"]}
            for m in matches:
                if m.rule == v["rule"] and {ref for refs in m.sources.values() for ref in refs} <= cited:
                    out[i] = plain.explain_match(rs, rs.rule(m.rule), m.bindings, as_of.toordinal())
                    break
    return out
