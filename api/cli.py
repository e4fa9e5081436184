"""``repolicy``: the regulators' command line.

    repolicy validate PATH...            check ruleset and instrument files (file:line:column, rule, hint)
    repolicy test FILE [SCENARIOS...]    run scenarios against a ruleset file, published or not
    repolicy diff OLD NEW                what changed between two ruleset files
    repolicy coverage [FILES...]         which rules implement each provision, and what is out of scope
    repolicy new-notice --from notice@2021 --year 2022
                                         draft next year's ruleset, instrument skeleton and scenarios
    repolicy publish FILE                send a ruleset version (--activate to switch at once) or an
                                         instrument's text (its next revision) to a server
    repolicy approve ID@VERSION RULE...  a legal reviewer signs off rules (needed before activation where
                                         the server requires sign-off)
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

from policy.instruments import (
    INSTRUMENTS_DIR,
    InstrumentError,
    error_line,
    load_instrument_text,
    load_instruments,
    looks_like_instrument,
    problem,
)
from policy.loader import RulesetInvalid, load_ruleset_file
from policy.registry import RULESETS_DIR, load_directory, ruleset_files
from policy.yamlsource import YamlSourceError


def _instruments(directory: Path):
    """The instrument files of the folder; a broken one ends the command with its file and line."""
    try:
        return load_instruments(directory)
    except InstrumentError as exc:
        click.echo(f"FAIL instruments folder: {exc}", err=True)
        sys.exit(1)


def _files(paths: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(ruleset_files(p) if p.is_dir() else [p])
    return out


@click.group()
@click.option(
    "--instruments",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=INSTRUMENTS_DIR,
    show_default=True,
    help="folder of instrument YAML files",
)
@click.pass_context
def main(ctx: click.Context, instruments: Path) -> None:
    """Validate, test, compare and publish rulesets and the law's texts (instruments).

    \b
    The commands that talk to a server (publish, approve, activate, impact) read:
      REPOLICY_SERVER  the server's address (or --server; default http://127.0.0.1:8080)
      REPOLICY_TOKEN   your bearer token (or --token): a regulator's; a legal reviewer's for approve
    e.g.  export REPOLICY_SERVER=https://rules.example.gov.cn REPOLICY_TOKEN=...
    """
    ctx.obj = {"instruments_dir": instruments}


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check ruleset and instrument files; exit 1 if any has a problem.

    Instruments given here are checked first, and the rulesets given with them may cite them.
    """
    instruments = dict(_instruments(ctx.obj["instruments_dir"]))
    bad = 0
    files = _files(paths)
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in files}
    for path in [p for p in files if looks_like_instrument(texts[p])]:
        try:
            inst = load_instrument_text(texts[path], str(path))
        except InstrumentError as exc:
            bad += 1
            line, column = error_line(exc, texts[path])
            click.echo(f"FAIL {path}: 1 problem(s)")
            click.echo(f"  {path}:{line}:{column}: {problem(exc)}" + (f" (hint: {exc.hint})" if exc.hint else ""))
            continue
        instruments[inst.id] = inst
        click.echo(
            f"OK   {path}: instrument {inst.id} ({inst.status}), {len(inst.provisions)} provisions"
            + ("" if inst.text_available else ", metadata only (text not available)")
        )
    for path in [p for p in files if not looks_like_instrument(texts[p])]:
        try:
            rs = load_ruleset_file(path, instruments)
            click.echo(f"OK   {path}: {rs.ref}, {len(rs.rules)} rules, {len(rs.parameters)} parameters")
            for warning in rs.extra.get("warnings", ()):
                click.echo(f"  warning: {warning}")
        except RulesetInvalid as exc:
            bad += 1
            click.echo(f"FAIL {path}: {len(exc.issues)} problem(s)")
            for issue in exc.issues:
                click.echo(f"  {issue}")
    sys.exit(1 if bad else 0)


@main.command()
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scenario_files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rulesets",
    "rulesets_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=RULESETS_DIR,
    show_default=True,
    help="the other rulesets in force beside it",
)
@click.pass_context
def test(ctx: click.Context, ruleset: Path, scenario_files: tuple[Path, ...], rulesets_dir: Path) -> None:
    """Run scenarios (the ruleset's own, a sibling NAME.scenarios.yaml, and any given) against RULESET."""
    from api.scenarios import describe, load_scenarios, never_fired, run_scenario, scenarios_from
    from api.runtime import Runtime
    from policy.registry import Registry

    instruments = _instruments(ctx.obj["instruments_dir"])
    try:
        candidate = load_ruleset_file(ruleset, instruments)
    except RulesetInvalid as exc:
        click.echo("\n".join(str(i) for i in exc.issues))
        sys.exit(1)
    others = [r for r in load_directory(rulesets_dir, instruments) if r.ref != candidate.ref]
    runtime = Runtime(instruments, Registry(others + [candidate]))
    try:
        scenarios = (
            scenarios_from(candidate.extra["scenarios"], str(ruleset)) if candidate.extra.get("scenarios") else []
        )
    except YamlSourceError as exc:
        click.echo(f"FAIL {exc.message}")
        sys.exit(1)
    sibling = ruleset.with_suffix(".scenarios.yaml")
    try:
        for path in ([sibling] if sibling.exists() else []) + list(scenario_files):
            scenarios.extend(load_scenarios(path))
    except YamlSourceError as exc:
        click.echo(f"FAIL {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""))
        sys.exit(1)
    if not scenarios:
        click.echo(f"no scenarios for {candidate.ref}: add `scenarios:` to it, a {sibling.name}, or give files")
        sys.exit(1)
    outcomes = [run_scenario(runtime, scenario) for scenario in scenarios]
    for outcome in outcomes:
        click.echo(describe(outcome))
    passed = sum(o.passed for o in outcomes)
    failed = len(outcomes) - passed
    silent = never_fired(candidate, outcomes)
    if silent:
        click.echo(
            f"warning: {len(silent)} of {len(candidate.rules)} rules fire in no passing scenario: "
            f"{', '.join(silent)} (a rule tested only where nothing happens is untested: add a "
            f"scenario, quoting the law, where it fires)"
        )
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path) -> None:
    """What changed from OLD to NEW (parameters, rules, citations): each change in Chinese, then English."""
    from policy.diff import bilingual, diff as ruleset_diff

    instruments = _instruments(ctx.obj["instruments_dir"])
    try:
        a, b = load_ruleset_file(old, instruments), load_ruleset_file(new, instruments)
    except RulesetInvalid as exc:
        click.echo("\n".join(str(i) for i in exc.issues))
        sys.exit(1)
    lines = ruleset_diff(a, b)
    click.echo(f"{a.ref} -> {b.ref}: {len(lines)} 处变化 / {len(lines) or 'no'} change(s)")
    for line in lines:
        click.echo(f"- {bilingual(line)}")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rulesets",
    "rulesets_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=RULESETS_DIR,
    show_default=True,
)
@click.option("--instrument", "only", default=None, help="one instrument id")
@click.option(
    "--coverage",
    "coverage_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the out-of-scope and partly-implemented notes  [default: rulesets/coverage.yaml]",
)
@click.pass_context
def coverage(
    ctx: click.Context, files: tuple[Path, ...], rulesets_dir: Path, only: str | None, coverage_file: Path | None
) -> None:
    """Every provision: the rules implementing it (wholly or partly), or why it is out of scope.

    FILES are rulesets (and instrument texts) not yet published, counted as if they were: a new notice's
    ruleset shows which of its provisions it leaves uncovered.  Exits 1 when a provision is a gap.
    """
    from policy.coverage import (
        COVERAGE_FILE,
        coverage as compute,
        load_not_a_violation,
        load_out_of_scope,
        load_partly_implemented,
    )

    instruments = dict(_instruments(ctx.obj["instruments_dir"]))
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in files}
    candidates = []
    try:
        for path in [p for p in files if looks_like_instrument(texts[p])]:
            inst = load_instrument_text(texts[path], str(path))
            instruments[inst.id] = inst
        for path in [p for p in files if not looks_like_instrument(texts[p])]:
            candidates.append(load_ruleset_file(path, instruments))
    except InstrumentError as exc:
        click.echo(f"FAIL {exc}")
        sys.exit(1)
    except RulesetInvalid as exc:
        click.echo("\n".join(f"FAIL {i}" for i in exc.issues))
        sys.exit(1)
    given = {c.ref for c in candidates}
    rulesets = [r for r in load_directory(rulesets_dir, instruments) if r.ref not in given] + candidates
    coverage_file = coverage_file or COVERAGE_FILE
    out_of_scope, partly = load_out_of_scope(coverage_file), load_partly_implemented(coverage_file)
    not_duties = load_not_a_violation(coverage_file)
    if only is not None and only not in instruments:
        click.echo(f"no instrument {only!r}; known: {', '.join(sorted(instruments))}")
        sys.exit(1)
    gaps = 0
    for inst_id in [only] if only else sorted(instruments):
        inst = instruments[inst_id]
        click.echo(f"{inst_id} ({inst.status}): {inst.title['zh']}")
        for eid, cov in compute(
            inst, rulesets, out_of_scope.get(inst_id, {}), partly.get(inst_id, {}), not_duties.get(inst_id)
        ).items():
            label = inst.provisions[eid].label["en"]
            if cov.status == "implemented":
                click.echo(f"  {eid:<22} {label:<14} implemented by {'; '.join(cov.implemented_by)}")
            elif cov.status == "partly_implemented":
                click.echo(
                    f"  {eid:<22} {label:<14} partly implemented by {'; '.join(cov.implemented_by)}; "
                    f"not implemented: {cov.partly['en']}"
                )
            elif cov.status == "implemented_through_children":
                click.echo(f"  {eid:<22} {label:<14} implemented through its paragraphs/items")
            elif cov.status == "out_of_scope":
                click.echo(f"  {eid:<22} {label:<14} out of scope: {cov.out_of_scope['en']}")
            else:
                gaps += 1
                click.echo(f"  {eid:<22} {label:<14} GAP: neither implemented nor out of scope")
            if cov.not_a_violation:
                note = cov.not_a_violation
                click.echo(f"  {'':<22} {'':<14} not a violation: “{note['text']}”: {note['en']}")
    if gaps:
        click.echo(f"{gaps} gap(s): implement them, or give the reason they are out of scope in rulesets/coverage.yaml")
    sys.exit(1 if gaps else 0)


@main.command("new-notice")
@click.option("--from", "from_ref", required=True, help="last year's version, e.g. notice@2021")
@click.option("--year", type=int, required=True, help="the new quota year, e.g. 2022")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("work"),
    show_default=True,
    help="folder to write the draft into",
)
@click.option(
    "--rulesets",
    "rulesets_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=RULESETS_DIR,
    show_default=True,
    help="where last year's version and scenarios are",
)
@click.pass_context
def new_notice(ctx: click.Context, from_ref: str, year: int, out_dir: Path, rulesets_dir: Path) -> None:
    """Draft next year's notice from last year's: ruleset, instrument skeleton, scenarios moved on.

    The parameters the new notice must give are left unset and listed; `repolicy validate` names each
    with its file and line until it is set.
    """
    from policy.next_year import draft_next_year

    instruments = _instruments(ctx.obj["instruments_dir"])
    rulesets = {r.ref: r for r in load_directory(rulesets_dir, instruments)}
    if from_ref not in rulesets:
        click.echo(f"no ruleset {from_ref} in {rulesets_dir}; known: {', '.join(sorted(rulesets))}")
        sys.exit(1)
    source = rulesets[from_ref]
    scenario_dir = rulesets_dir / "scenarios"
    texts = {
        str(p.relative_to(rulesets_dir.parent)) if p.is_relative_to(rulesets_dir.parent) else str(p): p.read_text(
            encoding="utf-8"
        )
        for p in sorted(scenario_dir.glob("*.yaml"))
    }
    try:
        draft = draft_next_year(source, instruments[source.instrument], texts, year, out_dir, instruments)
    except ValueError as exc:
        click.echo(str(exc))
        sys.exit(1)
    click.echo(f"wrote {draft.ruleset} ({draft.ref}, draft)")
    click.echo(
        f"wrote {draft.instrument} (instrument {draft.instrument_id}: structure of {source.instrument}, no text yet)"
    )
    for path in draft.instruments[1:]:  # the year's other notices the ruleset cites (one per batch)
        click.echo(f"wrote {path} (instrument skeleton, no text yet)")
    for path in draft.scenarios:
        click.echo(f"wrote {path}")
    click.echo(f"{len(draft.unset)} parameter(s) to set from the new notice:")
    for p in draft.unset:
        click.echo(f"  {p.name} (cites {', '.join(p.cites)}; {source.version}: {p.previous})")
    texts_in = " and ".join(str(path) for path in draft.instruments)
    click.echo(
        f"next: enter the notice's text in {texts_in}, set the parameters, then "
        f"repolicy validate {' '.join(str(path) for path in draft.instruments)} {draft.ruleset}"
    )


def _server_options(f):
    f = click.option(
        "--server",
        envvar="REPOLICY_SERVER",
        default="http://127.0.0.1:8080",
        show_default=True,
        show_envvar=True,
        help="the server's address",
    )(f)
    f = click.option(
        "--token",
        envvar="REPOLICY_TOKEN",
        required=True,
        show_envvar=True,
        help="bearer token (regulator; legal for approve)",
    )(f)
    return f


def _call(
    server: str, token: str, method: str, path: str, body: bytes = b"", content_type: str = "application/yaml"
) -> dict:
    req = urllib.request.Request(
        server.rstrip("/") + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        payload = json.loads(exc.read() or b"{}")
        click.echo(f"{exc.code}: {payload.get('message', '')}")
        for issue in payload.get("issues", []):
            click.echo(
                f"  {issue['file']}:{issue['line']}:{issue['column']}"
                + (f" [rule {issue['rule']}]" if issue.get("rule") else "")
                + f": {issue['message']}"
                + (f" (hint: {issue['hint']})" if issue.get("hint") else "")
            )
        for failure in payload.get("scenarios", []):
            click.echo(failure)
        for rule in payload.get("rules", []):
            click.echo(f"  awaiting sign-off: {rule['rule']} ({rule['rule_digest']})")
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
    """Publish FILE: a ruleset as a new version (validated and tested by the server), or an instrument's
    text as its next revision."""
    from urllib.parse import urlencode

    body = file.read_bytes()
    if looks_like_instrument(body.decode("utf-8", errors="replace")):
        query = urlencode({"file": str(file), "comment": comment})
        result = _call(server, token, "POST", f"/v1/instruments?{query}", body)
        click.echo(
            f"{'published' if result.get('created') else 'already published'}: instrument "
            f"{result['id']} revision {result['revision']} ({result['status']}) {result['digest']}"
        )
        return
    query = urlencode({"file": str(file), "activate": "true" if activate else "false", "comment": comment})
    result = _call(server, token, "POST", f"/v1/rulesets?{query}", body)
    click.echo(
        f"{'published' if result.get('created') else 'already published'}: "
        f"{result['id']}@{result['version']} ({result['status']}) {result['digest']}"
    )
    for w in result.get("warnings", []):
        click.echo(f"  warning: {w['file']}:{w['line']}:{w['column']}: {w['message']}")


@main.command()
@click.argument("ref")
@click.option("--comment", default="", help="recorded in the audit log")
@click.option(
    "--override-reason",
    default="",
    help="emergency only: activate although changed rules are not signed off yet (audited, shown on "
    "the rule pages until signed)",
)
@_server_options
def activate(ref: str, comment: str, override_reason: str, server: str, token: str) -> None:
    """Make ID@VERSION active (activating an older version is a rollback).

    Where the server requires legal sign-off (maker-checker), each changed rule must be signed off by a
    legal reviewer other than the publisher first; the server lists those still waiting.
    """
    from urllib.parse import urlencode, quote

    rid, _, version = ref.partition("@")
    query = urlencode({"comment": comment, **({"override_reason": override_reason} if override_reason else {})})
    result = _call(server, token, "POST", f"/v1/rulesets/{quote(rid)}/{quote(version)}/activate?{query}")
    click.echo(
        f"activated {result['activated']}" + (f"; retired {', '.join(result['retired'])}" if result["retired"] else "")
    )
    if result.get("overridden"):
        click.echo(f"WITHOUT SIGN-OFF (override): {', '.join(result['overridden'])}")


@main.command()
@click.argument("ref")
@click.argument("rules", nargs=-1, required=True)
@click.option("--comment", default="", help="recorded with the sign-off")
@_server_options
def approve(ref: str, rules: tuple[str, ...], comment: str, server: str, token: str) -> None:
    """Sign off RULES of ID@VERSION as they stand (a legal reviewer's token; not the publisher's)."""
    from urllib.parse import quote

    body = json.dumps({"comment": comment} if comment else {}).encode()
    for rule in rules:
        result = _call(
            server, token, "POST", f"/v1/rules/{quote(ref)}/{quote(rule)}/approvals", body, "application/json"
        )
        click.echo(f"signed off {rule} in {ref} ({result['review']['status']})")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--limit", default="200", show_default=True, help="how many recent decisions to re-evaluate (a number, or 'all')"
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_server_options
def impact(file: Path, limit: str, output: str, server: str, token: str) -> None:
    """Re-evaluate recorded decisions with FILE in place of its active predecessor; show what would change.

    The server runs it as a job; a progress bar (on stderr) follows it until the report arrives.
    """
    import time
    from urllib.parse import quote, urlencode

    job = _call(
        server,
        token,
        "POST",
        f"/v1/rulesets/impact?{urlencode({'limit': limit, 'file': str(file)})}",
        file.read_bytes(),
    )
    state = job
    with click.progressbar(
        length=max(job["total"], 1), label=f"{job['candidate']}: re-evaluating", file=sys.stderr, show_pos=True
    ) as bar:
        shown = 0
        while state["status"] not in ("done", "failed"):
            time.sleep(0.3)
            state = _call(server, token, "GET", f"/v1/rulesets/impact/{quote(job['job_id'])}")
            bar.update(state["done"] - shown)
            shown = state["done"]
            if state.get("stale"):
                click.echo(f"\nthe job {job['job_id']} stopped making progress (its server process stopped?)", err=True)
                sys.exit(1)
    if state["status"] == "failed":
        click.echo(f"the impact job failed: {state.get('error')}", err=True)
        sys.exit(1)
    report = {"job_id": job["job_id"], "candidate": job["candidate"], "replaces": job["replaces"], **state["result"]}
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
    click.echo(
        f"{report['candidate']}{replaces}: {report['decisions_examined']} decision(s) examined, "
        f"{report['decisions_changed']} would change; findings +{report['findings_added']} "
        f"-{report['findings_removed']} ~{report['findings_restated']}"
    )
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
