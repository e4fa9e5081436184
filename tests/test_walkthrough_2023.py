"""docs/regulators.md's 2023 third-batch walkthrough, run as written: every command from the guide, in an
empty folder, the CLI against a real server (gunicorn), each output line the guide shows checked."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess

import pytest

from helpers import ROOT, dev_server

DOC = (ROOT / "docs" / "regulators.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## Walkthrough: the 2023 third-batch notice") :]


def _commands() -> list[str]:
    """The guide's command lines of the walkthrough, in order (indented lines starting with a command)."""
    return [
        line.strip()
        for line in SECTION.splitlines()
        if re.match(r"    (mkdir |cp |repolicy |REPOLICY_TOKEN=|curl )", line)
    ]


def _shown(output: str) -> list[str]:
    """Output lines the guide shows (they are quoted in the guide's section, indented)."""
    return [line for line in output.splitlines() if line.strip() and line.strip() in SECTION]


@pytest.fixture()
def server(tmp_path):
    s = dev_server(tmp_path, workers=1)
    yield s
    s.stop()


def test_the_2023_third_batch_from_an_empty_folder_to_activation(tmp_path, server):
    project = tmp_path / "project"
    project.mkdir()
    (project / "rulesets").symlink_to(ROOT / "rulesets")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPOLICY_SERVER": server.url,
        "REPOLICY_TOKEN": "dev-regulator",
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    commands = _commands()
    assert len(commands) == 16 and commands[0] == "mkdir work2023"
    outputs = []
    for command in commands:
        r = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=180)
        outputs.append((command, r.returncode, r.stdout, r.stderr))

    def result(prefix: str, nth: int = 0) -> tuple[int, str]:
        found = [(rc, out) for c, rc, out, _ in outputs if c.startswith(prefix)]
        return found[nth]

    rc, out = result("repolicy validate work2023/notice-2023.instrument.yaml")
    assert rc == 1 and "FAIL work2023/notice-2023.yaml: 12 problem(s)" in out and len(_shown(out)) >= 2
    rc, out = result("repolicy validate work2023/notice-2023-1.yaml")
    assert rc == 0 and len(_shown(out)) == 4, out
    rc, out = result("repolicy test ")
    assert rc == 0 and out.strip().endswith("10 passed, 0 failed")
    rc, out = result("repolicy coverage ")
    assert rc == 0 and len(_shown(out)) == 2, out
    for nth in range(3):
        rc, out = result("repolicy publish ", nth)
        assert rc == 0, out
    assert "already published: notice@2023 (draft)" in result("repolicy publish ", 2)[1]
    rc, out = result("repolicy activate ", 0)
    assert rc == 1 and out.splitlines()[0] in SECTION
    rc, out = result("REPOLICY_TOKEN=dev-legal repolicy approve")
    assert rc == 0 and "signed off allocation.split-late in notice@2023" in out
    rc, out = result("repolicy activate ", 1)
    assert rc == 0 and out.strip() == "activated notice@2023"
    rc, out = result("curl ")
    answer = json.loads(out)
    [finding] = answer["violations"]
    assert (finding["ruleset"], finding["rule"]) == ("notice@2023", "allocation.split-late")
    assert " ".join(finding["message"]["en"].split()) in " ".join(SECTION.replace('"', " ").split())
    assert all(rc in (0, 1) for _, rc, _, _ in outputs), [(c, rc, err) for c, rc, _, err in outputs if rc > 1]
    assert shlex.split(commands[1])[:2] == ["repolicy", "new-notice"] and result("repolicy new-notice")[0] == 0
