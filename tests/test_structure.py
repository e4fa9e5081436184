"""The code's structure holds: the import contracts (docs/architecture.md), and the command line and the
scenario runner work without the web application."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    """setup.cfg [importlinter]: api above engine above policy; sqlalchemy only in the store module."""
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_command_line_and_the_scenario_runner_load_no_flask():
    """The CLI runs a ruleset's scenarios (validating each request as the API does) without Flask or a
    blueprint: the request checks raise a plain exception, mapped to HTTP only by api.evaluate."""
    code = (
        "import sys, api.cli, api.scenarios, api.evaluate_input, api.runtime\n"
        "loaded = sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask.')\n"
        "                or m in ('api.app', 'api.evaluate', 'api.ruleset_versions'))\n"
        "print(','.join(loaded))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_a_scenario_with_an_invalid_request_is_reported_not_raised(instruments, shipped):
    from api.runtime import Runtime
    from api.scenarios import Scenario, run_scenario
    from policy.registry import Registry

    runtime = Runtime(instruments, Registry(list(shipped.values())))
    body = {"as_of": "2024-13-01", "facts": {"enterprises": [{"id": "E1"}], "production": "none"}}
    result = run_scenario(runtime, Scenario("bad", "x.yaml", 1, body, []))
    assert not result.passed
    assert len(result.problems) == 1 and result.problems[0].startswith("request rejected: ")
    assert "as_of" in result.problems[0] and "facts.production" in result.problems[0]
