"""Shared fixtures: the project's instruments, shipped rulesets and a test client."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, settings  # noqa: E402

from policy.instruments import load_instruments  # noqa: E402

# Property tests that do not fix their own number of examples run 100 each by default (a few hundred
# in all: fast enough for every run); `pytest --hypothesis-profile=long` runs 2,000 each (README).
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
from policy.registry import RULESETS_DIR, load_directory  # noqa: E402


_owned_by_fixtures: set[int] = set()  # serials of the registry pollers made by a fixture's setup


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """An app made by a fixture has its registry poller stopped (thread joined) when that fixture ends."""
    from api import reload
    before = reload.last_serial()
    yield
    made = set(range(before + 1, reload.last_serial() + 1))
    if made:
        _owned_by_fixtures.update(made)
        fixturedef.addfinalizer(lambda: reload.stop_serials(made))


@pytest.fixture(autouse=True)
def stop_pollers_of_test():
    """An app made in a test's body has its registry poller stopped (thread joined) after the test."""
    from api import reload
    before = reload.last_serial()
    yield
    reload.stop_serials(set(range(before + 1, reload.last_serial() + 1)) - _owned_by_fixtures)


@pytest.fixture(scope="session")
def instruments():
    return load_instruments()


@pytest.fixture(scope="session")
def shipped(instruments):
    return {rs.ref: rs for rs in load_directory(RULESETS_DIR, instruments)}


TOKENS = {"reg-token-1": "regulator", "legal-token-1": "legal", "caller-token-1": "caller"}


def token_config() -> str:
    from api.auth import token_digest
    return ";".join(f"{role}-user:{role}:{token_digest(tok)}" for tok, role in TOKENS.items())


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The service on a fresh SQLite registry, evaluation open (as bin/serve runs it)."""
    from api import create_app
    db = tmp_path_factory.mktemp("registry") / "repolicy.db"
    return create_app({"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config()})


def auth(role: str) -> dict:
    token = next(tok for tok, r in TOKENS.items() if r == role)
    return {"Authorization": f"Bearer {token}"}


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


def pg_unreachable_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens: a database that is down."""
    from servers import free_port
    return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"


def log_in(client, token: str) -> None:
    """Log the test client in to the pages as a reviewer would: the login form, with its CSRF token."""
    import re
    page = client.get("/ui/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/ui/login", data={"token": token, "csrf_token": csrf})
    assert answer.status_code == 302 and "/ui/login" not in answer.headers["Location"], "login refused"
