"""Shared fixtures: the project's instruments, shipped rulesets and a test client."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from policy.instruments import load_instruments  # noqa: E402
from policy.registry import RULESETS_DIR, load_directory  # noqa: E402


@pytest.fixture(scope="session")
def instruments():
    return load_instruments()


@pytest.fixture(scope="session")
def shipped(instruments):
    return {rs.ref: rs for rs in load_directory(RULESETS_DIR, instruments)}


@pytest.fixture(scope="session")
def app():
    from api import create_app
    return create_app()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def contract_schemas():
    base = ROOT / "tests" / "contract"
    return {name: json.loads((base / f"evaluate-v1.{name}.schema.json").read_text())
            for name in ("request", "response")}


def example(name: str) -> dict:
    return json.loads((ROOT / "examples" / f"{name}.json").read_text())
