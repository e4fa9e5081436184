"""The evaluate response, byte for byte, on every example and every shipped scenario.

Why: restructuring and speed work must not change what the service answers. Each request is posted to
``POST /v1/evaluate`` on a fresh registry (the shipped rulesets, nothing else), without and with
``?explain=unknowns,plain``, and the body is compared byte for byte with the copy recorded in
``tests/golden/``. A change that is meant to alter responses rewrites the copies on purpose:

    REPOLICY_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_responses.py

and the diff of ``tests/golden/`` is then reviewed with the change. Headers that differ per request
(request id) are not part of the body and are not compared; the body's ``decision_id``, new for every
decision, is replaced by a fixed mark before the comparison.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from helpers import ROOT, token_config

GOLDEN = ROOT / "tests" / "golden"
DECISION_ID = re.compile(rb'"decision_id":"[0-9a-f]+"')
VARIANTS = {"plain": "", "explained": "?explain=unknowns,plain"}


def _requests() -> list[tuple[str, dict]]:
    """(name, request body) for each example and each shipped scenario, in a stable order."""
    from api.scenarios import load_library

    items = [(f"example-{p.stem}", json.loads(p.read_text())) for p in sorted((ROOT / "examples").glob("*.json"))]
    for s in load_library():
        items.append((f"scenario-{Path(s.file).stem}-{s.line}", s.body))
    return items


REQUESTS = _requests()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A registry of its own: other tests publish versions into the shared one."""
    from api import create_app

    db = tmp_path_factory.mktemp("golden") / "repolicy.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config()})
    return app.test_client()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name,body", REQUESTS, ids=[n for n, _ in REQUESTS])
def test_response_bytes_unchanged(client, name: str, body: dict, variant: str) -> None:
    response = client.post(
        "/v1/evaluate" + VARIANTS[variant], data=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )
    got = DECISION_ID.sub(b'"decision_id":"-"', response.get_data())
    path = GOLDEN / f"{name}.{variant}.json"
    if os.environ.get("REPOLICY_UPDATE_GOLDEN") == "1":
        path.write_bytes(b"%d\n" % response.status_code + got)
        return
    assert path.exists(), f"no recorded response {path.name}: record with REPOLICY_UPDATE_GOLDEN=1"
    status, _, recorded = path.read_bytes().partition(b"\n")
    assert (response.status_code, got) == (int(status), recorded), (
        f"{name} ({variant}) differs from {path.relative_to(ROOT)}"
    )
