"""``repolicy``: the regulators' command line.

    repolicy validate PATH...            check ruleset files (every error with file:line:column, rule, hint)
    repolicy test FILE [SCENARIOS...]    run scenarios against a ruleset file, published or not
    repolicy diff OLD NEW                what changed between two ruleset files
    repolicy coverage                    which rules implement each provision, and what is out of scope
    repolicy publish FILE                send a version to a server (--activate to switch at once)
    repolicy activate ID@VERSION         switch a server to a version (also the way to roll back)
    repolicy impact FILE                 which recorded decisions the candidate would change (a server job)

The server commands read --server (REPOLICY_SERVER, default http://127.0.0.1:8080)
and --token (REPOLICY_TOKEN).
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from policy.instruments import INSTRUMENTS_DIR, load_instruments
from policy.loader import RulesetInvalid, load_ruleset_file
from policy.registry import RULESETS_DIR, load_directory, ruleset_files


def _instruments(directory: Path):
    return load_instruments(directory)


def _files(paths: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(ruleset_files(p) if p.is_dir() else [p])
    return out


@click.group()
@click.option("--instruments", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=INSTRUMENTS_DIR, show_default=True, help="folder of instrument YAML files")
@click.pass_context
def main(ctx: click.Context, instruments: Path) -> None:
    """Validate, test, compare and publish rulesets."""
    ctx.obj = {"instruments_dir": instruments}


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check ruleset files; exit 1 if any has a problem."""
    instruments = _instruments(ctx.obj["instruments_dir"])
    bad = 0
    for path in _files(paths):
        try:
            rs = load_ruleset_file(path, instruments)
            click.echo(f"OK   {path}: {rs.ref}, {len(rs.rules)} rules, {len(rs.parameters)} parameters")
        except RulesetInvalid as exc:
            bad += 1
            click.echo(f"FAIL {path}: {len(exc.issues)} problem(s)")
            for issue in exc.issues:
                click.echo(f"  {issue}")
    sys.exit(1 if bad else 0)


@main.command()
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scenario_files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rulesets", "rulesets_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=RULESETS_DIR, show_default=True, help="the other rulesets in force beside it")
@click.pass_context
def test(ctx: click.Context, ruleset: Path, scenario_files: tuple[Path, ...], rulesets_dir: Path) -> None:
    """Run scenarios (the ruleset's own, a sibling NAME.scenarios.yaml, and any given) against RULESET."""
    from api.scenarios import describe, load_scenarios, run_scenario, scenarios_from
    from engine.service import Runtime
    from policy.registry import Registry

    instruments = _instruments(ctx.obj["instruments_dir"])
    try:
        candidate = load_ruleset_file(ruleset, instruments)
    except RulesetInvalid as exc:
        click.echo("\n".join(str(i) for i in exc.issues))
        sys.exit(1)
    others = [r for r in load_directory(rulesets_dir, instruments) if r.ref != candidate.ref]
    runtime = Runtime(instruments, Registry(others + [candidate]))
    scenarios = scenarios_from(candidate.extra["scenarios"], str(ruleset)) if candidate.extra.get("scenarios") else []
    sibling = ruleset.with_suffix(".scenarios.yaml")
    for path in ([sibling] if sibling.exists() else []) + list(scenario_files):
        scenarios.extend(load_scenarios(path))
    if not scenarios:
        click.echo(f"no scenarios for {candidate.ref}: add `scenarios:` to it, a {sibling.name}, or give files")
        sys.exit(1)
    passed = failed = 0
    for scenario in scenarios:
        outcome = run_scenario(runtime, scenario)
        click.echo(describe(outcome))
        passed += outcome.passed
        failed += not outcome.passed
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path) -> None:
    """What changed from OLD to NEW (parameters, rules, citations)."""
    from policy.diff import diff as ruleset_diff

    instruments = _instruments(ctx.obj["instruments_dir"])
    try:
        a, b = load_ruleset_file(old, instruments), load_ruleset_file(new, instruments)
    except RulesetInvalid as exc:
        click.echo("\n".join(str(i) for i in exc.issues))
        sys.exit(1)
    lines = ruleset_diff(a, b)
    click.echo(f"{a.ref} -> {b.ref}: {len(lines) or 'no'} change(s)")
    for line in lines:
        click.echo(f"- {line}")


@main.command()
@click.option("--rulesets", "rulesets_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=RULESETS_DIR, show_default=True)
@click.option("--instrument", "only", default=None, help="one instrument id")
@click.pass_context
def coverage(ctx: click.Context, rulesets_dir: Path, only: str | None) -> None:
    """Every provision: the rules implementing it, or why it is out of scope."""
    from policy.coverage import coverage as compute, load_out_of_scope

    instruments = _instruments(ctx.obj["instruments_dir"])
    rulesets = load_directory(rulesets_dir, instruments)
    out_of_scope = load_out_of_scope()
    for inst_id, reasons in out_of_scope.items():
        if only and inst_id != only:
            continue
        inst = instruments[inst_id]
        click.echo(f"{inst_id} ({inst.status}): {inst.title['zh']}")
        for eid, cov in compute(inst, rulesets, reasons).items():
            label = inst.provisions[eid].label["en"]
            if cov.status == "implemented":
                click.echo(f"  {eid:<22} {label:<14} implemented by {'; '.join(cov.implemented_by)}")
            elif cov.status == "implemented_through_children":
                click.echo(f"  {eid:<22} {label:<14} implemented through its paragraphs/items")
            elif cov.status == "out_of_scope":
                click.echo(f"  {eid:<22} {label:<14} out of scope: {cov.out_of_scope['en']}")
            else:
                click.echo(f"  {eid:<22} {label:<14} GAP: neither implemented nor out of scope")


def _server_options(f):
    f = click.option("--server", envvar="REPOLICY_SERVER", default="http://127.0.0.1:8080", show_default=True)(f)
    f = click.option("--token", envvar="REPOLICY_TOKEN", required=True, help="bearer token (regulator)")(f)
    return f


def _call(server: str, token: str, method: str, path: str, body: bytes = b"") -> dict:
    req = urllib.request.Request(server.rstrip("/") + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        payload = json.loads(exc.read() or b"{}")
        click.echo(f"{exc.code}: {payload.get('message', '')}")
        for issue in payload.get("issues", []):
            click.echo(f"  {issue['file']}:{issue['line']}:{issue['column']}"
                       + (f" [rule {issue['rule']}]" if issue.get("rule") else "")
                       + f": {issue['message']}" + (f" (hint: {issue['hint']})" if issue.get("hint") else ""))
        for failure in payload.get("scenarios", []):
            click.echo(failure)
        sys.exit(1)
    except urllib.error.URLError as exc:
        click.echo(f"cannot reach {server}: {exc.reason}")
        sys.exit(2)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--activate", is_flag=True, help="make it active at once")
@click.option("--comment", default="", help="recorded in the audit log")
@_server_options
def publish(file: Path, activate: bool, comment: str, server: str, token: str) -> None:
    """Publish FILE as a new version (validated and tested by the server)."""
    from urllib.parse import urlencode

    query = urlencode({"file": str(file), "activate": "true" if activate else "false", "comment": comment})
    result = _call(server, token, "POST", f"/v1/rulesets?{query}", file.read_bytes())
    click.echo(f"{'published' if result.get('created') else 'already published'}: "
               f"{result['id']}@{result['version']} ({result['status']}) {result['digest']}")


@main.command()
@click.argument("ref")
@click.option("--comment", default="", help="recorded in the audit log")
@_server_options
def activate(ref: str, comment: str, server: str, token: str) -> None:
    """Make ID@VERSION active (activating an older version is a rollback)."""
    from urllib.parse import quote

    rid, _, version = ref.partition("@")
    result = _call(server, token, "POST", f"/v1/rulesets/{quote(rid)}/{quote(version)}/activate?comment={quote(comment)}")
    click.echo(f"activated {result['activated']}" + (f"; retired {', '.join(result['retired'])}" if result["retired"] else ""))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", default="200", show_default=True,
              help="how many recent decisions to re-evaluate (a number, or 'all')")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_server_options
def impact(file: Path, limit: str, output: str, server: str, token: str) -> None:
    """Re-evaluate recorded decisions with FILE in place of its active predecessor; show what would change.

    The server runs it as a job; a progress bar (on stderr) follows it until the report arrives.
    """
    import time
    from urllib.parse import quote, urlencode

    job = _call(server, token, "POST", f"/v1/rulesets/impact?{urlencode({'limit': limit, 'file': str(file)})}",
                file.read_bytes())
    state = job
    with click.progressbar(length=max(job["total"], 1), label=f"{job['candidate']}: re-evaluating",
                           file=sys.stderr, show_pos=True) as bar:
        shown = 0
        while state["status"] not in ("done", "failed"):
            time.sleep(0.3)
            state = _call(server, token, "GET", f"/v1/rulesets/impact/{quote(job['job_id'])}")
            bar.update(state["done"] - shown)
            shown = state["done"]
            if state.get("stale"):
                click.echo(f"\nthe job {job['job_id']} stopped making progress (its server process stopped?)",
                           err=True)
                sys.exit(1)
    if state["status"] == "failed":
        click.echo(f"the impact job failed: {state.get('error')}", err=True)
        sys.exit(1)
    report = {"job_id": job["job_id"], "candidate": job["candidate"], "replaces": job["replaces"],
              **state["result"]}
    if output == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_impact(report)


def _changed_details(pair: dict) -> str:
    old, new = pair["before"]["details"], pair["after"]["details"]
    return ", ".join(f"{k}={old.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def _print_impact(report: dict) -> None:
    """Counts first, then each changed decision: findings added (+), removed (-), restated with other details (~)."""
    from policy.impact import finding_line

    replaces = f" in place of {', '.join(report['replaces'])}" if report["replaces"] else ""
    click.echo(f"{report['candidate']}{replaces}: {report['decisions_examined']} decision(s) examined, "
               f"{report['decisions_changed']} would change; findings +{report['findings_added']} "
               f"-{report['findings_removed']} ~{report['findings_restated']}")
    if report["decisions_skipped_pinned"]:
        click.echo(f"{report['decisions_skipped_pinned']} pinned decision(s) skipped (activation does not affect them)")
    for row in report["by_rule"]:
        click.echo(f"  {row['ruleset']} {row['rule']}: +{row['added']} -{row['removed']} ~{row['restated']}")
    for failure in report["not_evaluated"]:
        click.echo(f"not evaluated: decision {failure['decision_id']}: {failure['error']}")
    for change in report["changed"]:
        click.echo(f"- decision {change['decision_id']} ({change['at']}):")
        for mark, side in (("+", "added"), ("-", "removed")):
            for finding in change[side]:
                click.echo(f"    {mark} {finding_line(finding)}")
        for pair in change["restated"]:
            click.echo(f"    ~ {finding_line(pair['after'])}, was {_changed_details(pair)}")


if __name__ == "__main__":
    main()
