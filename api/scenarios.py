"""The scenario runner: regulators' tests of a ruleset, written as YAML next to it.

A scenario file lists requests and the violations expected of them::

    scenarios:
      - name: 超指标生产 / over quota
        source: {instrument: measures-draft, eid: art_16__para_2}
        as_of: "2024-12-31"
        rulesets: ["measures@draft"]
        facts: {...}                     # as in POST /v1/evaluate
        expect:
          - {rule: quota.over-production, subject: E1, period: "2024", eids: [art_16__para_2]}

The actual violations of the pinned rulesets must equal ``expect`` as a set
of (rule, subject, period) (``ruleset`` may be given to tell rulesets apart);
``eids`` listed must be among the violation's citations.  Facts are checked
exactly as the API checks them.  Run: ``python -m api.scenarios FILE...``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from api.evaluate_input import InvalidEvaluateRequest, request_as_of, validate_request
from api.runtime import Runtime
from policy.registry import RULESETS_DIR, UnknownRuleset
from policy.instruments import INSTRUMENTS_DIR
from policy.model import Rule, Ruleset
from policy.yamlsource import YamlSourceError, load_yaml

SCENARIOS_DIR = RULESETS_DIR / "scenarios"


@dataclass
class Scenario:
    name: str
    file: str
    line: int
    body: dict[str, Any]
    expect: list[dict[str, Any]]
    source: dict[str, str] | None = None


@dataclass
class ScenarioResult:
    scenario: Scenario
    missing: list[tuple] = field(default_factory=list)
    unexpected: list[tuple] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.problems)


def _plain(value: Any) -> Any:
    """LocatedDict/LocatedList -> plain dict/list (the API sees plain JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_scenarios(path: Path) -> list[Scenario]:
    try:
        doc = load_yaml(path.read_bytes())
    except YamlSourceError as exc:  # name the file: a scenario file is edited by hand too
        where = f"{path}:{exc.location}" if exc.location else str(path)
        raise YamlSourceError(f"{where}: {exc.message}", exc.location, exc.hint) from None
    items = doc.get("scenarios") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise YamlSourceError(f"{path}: expected `scenarios:` with a list")
    return scenarios_from(items, str(path))


def scenarios_from(items: list, file: str) -> list[Scenario]:
    """Scenario objects from a parsed `scenarios:` list (a scenario file's, or a ruleset's own)."""
    out = []
    for i, item in enumerate(items):
        line = items.where(i).line if hasattr(items, "where") else 1
        if not isinstance(item, dict) or "facts" not in item or "expect" not in item:
            raise YamlSourceError(f"{file}:{line}: a scenario needs `facts` and `expect`")
        body = {k: _plain(item[k]) for k in ("as_of", "rulesets", "facts") if k in item}
        out.append(
            Scenario(
                str(item.get("name", f"#{i + 1}")),
                file,
                line,
                body,
                _plain(item["expect"]) or [],
                _plain(item.get("source")),
            )
        )
    return out


def load_library(directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """The shipped scenario library (``rulesets/scenarios/*.yaml``), written from the legal texts."""
    return [s for path in sorted(directory.glob("*.yaml")) for s in load_scenarios(path)]


def exercising(scenarios: list[Scenario], ref: str, rule: Rule) -> tuple[list[Scenario], list[Scenario]]:
    """The scenarios of ruleset ``ref`` that exercise ``rule``: (those where it fires, those where it must not).

    Firing: the scenario expects a violation of the rule.  Not firing: the scenario tests one of the
    provisions the rule cites (its ``source``) and expects no violation of the rule, e.g. the case just
    inside the limit.  Legal reviewers read both on the rule's page; a test requires both for every rule.
    """
    eids = {c.eid for c in rule.citations}
    mine = [s for s in scenarios if s.body.get("rulesets") == [ref]]
    fires = [s for s in mine if any(e["rule"] == rule.id for e in s.expect)]
    holds = [s for s in mine if (s.source or {}).get("eid") in eids and s not in fires]
    return fires, holds


def never_fired(ruleset: Ruleset, outcomes: list[ScenarioResult]) -> list[str]:
    """The ids of the ruleset's rules that fire in none of the passing scenarios that run it.

    A rule checked only by scenarios where nothing happens is untested: a rule that can never fire
    passes them all.
    """
    fired = {
        e["rule"]
        for o in outcomes
        if o.passed and ruleset.ref in (o.scenario.body.get("rulesets") or [ruleset.ref])
        for e in o.scenario.expect
        if e.get("ruleset", ruleset.ref) == ruleset.ref
    }
    return [r.id for r in ruleset.rules if r.id not in fired]


def _key(v: dict[str, Any], with_ruleset: bool) -> tuple:
    subject = v["subject"]["id"] if isinstance(v.get("subject"), dict) else v.get("subject")
    period = v.get("period")
    return (
        v.get("ruleset") if with_ruleset else None,
        v["rule"],
        str(subject),
        None if period is None else str(period),
    )


def run_scenario(runtime: Runtime, scenario: Scenario, max_facts: int = 100_000) -> ScenarioResult:
    outcome = ScenarioResult(scenario)
    try:
        data = validate_request(scenario.body, max_facts)
    except InvalidEvaluateRequest as exc:
        outcome.problems.append(
            f"request rejected: {exc.message}: " + "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors or [])
        )
        return outcome
    as_of = request_as_of(data)
    try:
        result = runtime.evaluate(data["facts"], as_of, data.get("rulesets"))
    except UnknownRuleset as exc:
        outcome.problems.append(f"unknown ruleset {exc.args[0]}")
        return outcome
    with_rs = any("ruleset" in e for e in scenario.expect)
    actual = {_key(v, with_rs): v for v in result["violations"]}
    expected = {_key(e, with_rs): e for e in scenario.expect}
    outcome.missing = sorted(set(expected) - set(actual), key=str)
    outcome.unexpected = sorted(set(actual) - set(expected), key=str)
    for key in set(expected) & set(actual):
        cited = {c["eid"] for c in actual[key]["citations"]}
        for eid in expected[key].get("eids") or ():
            if eid not in cited:
                outcome.problems.append(f"{key[1]} for {key[2]} does not cite {eid} (cites {', '.join(sorted(cited))})")
    return outcome


def describe(outcome: ScenarioResult) -> str:
    s = outcome.scenario
    head = f"{'PASS' if outcome.passed else 'FAIL'} {s.file}:{s.line} {s.name}"
    lines = [head]
    for k in outcome.missing:
        lines.append(f"    - expected, not found: {k[1]} {k[2]} {k[3] or ''}".rstrip())
    for k in outcome.unexpected:
        lines.append(f"    + found, not expected: {k[1]} {k[2]} {k[3] or ''}".rstrip())
    lines.extend(f"    ! {p}" for p in outcome.problems)
    return "\n".join(lines)


@click.command(help="Run scenario files against the rulesets")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rulesets-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=RULESETS_DIR,
    show_default=True,
    help="folder of ruleset YAML files",
)
def main(files: tuple[Path, ...], rulesets_dir: Path) -> None:
    runtime = Runtime.from_directories(rulesets_dir, INSTRUMENTS_DIR)
    passed = failed = 0
    for path in files:
        for scenario in load_scenarios(path):
            result = run_scenario(runtime, scenario)
            click.echo(describe(result))
            passed += result.passed
            failed += not result.passed
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
