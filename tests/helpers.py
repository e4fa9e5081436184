"""What the tests share that is not a fixture: request bodies, ruleset and instrument texts, tokens,
fact generators, and :func:`wait_until` and :func:`unread_bytes` (waiting on observable state instead of
sleeping).

Where test code lives:

- ``tests/helpers.py`` (this module): every helper or constant more than one test file uses. Test files
  import from here, never from each other or from ``conftest``.
- ``tests/conftest.py``: fixtures only (the app, clients, engines for the shipped rulesets), the
  hypothesis profiles, and the test tiers (markers given by what a test starts).
- ``tests/servers.py`` and ``tests/pg.py``: starting and stopping real processes (gunicorn, PostgreSQL);
  the benchmarks in ``bench/`` use ``servers.py`` too.
- ``tests/rules_helpers.py``: small rulesets written inline and evaluated by the engine and the reference.
- ``tests/ruleset_strategies.py``: hypothesis strategies for generated rulesets; ``tests/oracle.py``: the
  independent oracle of the rule language.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hypothesis import strategies as st

from policy import results
from policy.registry import RULESETS_DIR

if TYPE_CHECKING:
    from servers import Server

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll ``condition`` until it returns something true, or ``timeout`` seconds pass; return its last value.

    Tests wait on what they can observe (a count, a row, a log line, a status) rather than for a fixed time:
    fast when the machine is idle, still correct when it is loaded. Use as ``assert wait_until(...)``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def unread_bytes(server_port: int, client: socket.socket) -> int | None:
    """Bytes ``client`` has sent that the server on ``server_port`` has not read yet (the receive queue of the
    server's end of the connection, from ``/proc/net/tcp``); None while the kernel lists no such connection.
    0 means the server has read all the client sent: observable state to wait on instead of a sleep."""
    client_port = client.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, _state, queues = line.split()[1:5]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(queues.split(":")[1], 16)
    return None


# ---------------------------------------------------------------------------------------------- tokens, requests

TOKENS = {"reg-token-1": "regulator", "legal-token-1": "legal", "caller-token-1": "caller"}


def token_config() -> str:
    """``REPOLICY_TOKENS`` for :data:`TOKENS`: one user per role."""
    from api.auth import token_digest

    return ";".join(f"{role}-user:{role}:{token_digest(tok)}" for tok, role in TOKENS.items())


def auth(role: str) -> dict:
    """The Authorization header of :data:`TOKENS`' user with ``role``."""
    token = next(tok for tok, r in TOKENS.items() if r == role)
    return {"Authorization": f"Bearer {token}"}


EXAMPLES = ["over-quota", "over-quota-draft", "compliant-group", "late-report-and-small-smelter"]  # examples/*.json


def example(name: str) -> dict:
    """A request body from ``examples/``."""
    return json.loads((ROOT / "examples" / f"{name}.json").read_text())


def log_in(client, token: str) -> None:
    """Log the test client in to the pages as a reviewer would: the login form, with its CSRF token."""
    page = client.get("/ui/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/ui/login", data={"token": token, "csrf_token": csrf})
    assert answer.status_code == 302 and "/ui/login" not in answer.headers["Location"], "login refused"


def pg_unreachable_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens: a database that is down."""
    from servers import free_port

    return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"


def logged_ids(url: str) -> list[str]:
    """Every decision id in the table (none before a server has created it)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("decisions"):
                return []
            return [r[0] for r in conn.execute(text("SELECT decision_id FROM decisions"))]
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- running servers


def repolicy(
    *args: str, server: Server | None = None, cwd: Path, token: str = "dev-regulator"
) -> subprocess.CompletedProcess:
    """The ``repolicy`` CLI in ``cwd``, against ``server`` if given, as ``token``'s user."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPOLICY_TOKEN": token}
    if server:
        env["REPOLICY_SERVER"] = server.url
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def workers_of(server: Server) -> list[int]:
    """The process ids of the gunicorn workers of ``server`` (the children of its master)."""
    pid = server.proc.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def load(server: Server, seconds: float, answered: list[str], during=None) -> None:
    """4 clients evaluating for ``seconds``; the decision ids answered 200 go to ``answered``;
    ``during`` runs once, when the clients have had a few answers."""
    stop = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < stop:
            try:
                status, body = server.request(
                    "POST", "/v1/evaluate", example("over-quota"), {"Content-Type": "application/json"}
                )
            except OSError:
                continue  # its worker was killed: no answer, nothing owed
            if status == 200:
                answered.append(body["decision_id"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    if during is not None:
        # under way (every client has been answered) before the fault, or the fault is tested under no load
        assert wait_until(lambda: len(answered) >= 8, seconds), f"{len(answered)} answers in {seconds} s"
        during()
    for t in threads:
        t.join()


# ---------------------------------------------------------------------------------------------- rulesets, instruments

NOTICE = (RULESETS_DIR / "notice" / "2021.yaml").read_text(encoding="utf-8")
FLOOR_3000 = NOTICE.replace('version: "2021"', 'version: "2021-floor3000"').replace(
    "    value: 2000\n    unit: t_reo_per_year", "    value: 3000\n    unit: t_reo_per_year"
)


def smelter_2500(designated: bool | None = None) -> dict:
    """A request: a 2,500 t smelter of group G1 with a banned process and an 800 t quota for 2021, as of the
    year's end. Compliant under the notice's 2,000 t capacity floor, barred under a floor of 3,000 t or more:
    the decision that a raised floor changes. ``designated``: G1's flag (left out, unknown, if None)."""
    group: dict = {"id": "G1"} if designated is None else {"id": "G1", "designated": designated}
    return {
        "as_of": "2021-12-31",
        "facts": {
            "groups": [group],
            "enterprises": [
                {
                    "id": "E2",
                    "group": "G1",
                    "activities": ["smelting_separation"],
                    "banned_process": True,
                    "separation_capacity_t_reo": 2500,
                }
            ],
            "allocations": [
                {
                    "enterprise": "E2",
                    "group": "G1",
                    "year": 2021,
                    "activity": "smelting_separation",
                    "amount_t_reo": 800,
                }
            ],
        },
    }


SMELTER_2500 = smelter_2500()

NEW_NOTICE = """\
# A notice for a test year: two paragraphs, the second with two items.
id: notice-test
title: {zh: 关于下达测试年度稀土指标的通知, en: Notice issuing the test year's rare-earth quotas}
short_title: {zh: 测试年度通知, en: Test-year notice}
issuer: {zh: 工业和信息化部, en: Ministry of Industry and Information Technology}
document_number: 工信部联原〔2099〕1号
date: 2099-03-01
status: in_force
complete: true
source: https://example.org/notice-test
provisions:
- eid: para_1
  kind: paragraph
  label: {zh: 通知第一条, en: Notice para. 1}
  text: 任何单位和个人不得无指标和超指标生产。
  text_en: No entity or individual may produce without or over quota.
- eid: para_2
  kind: paragraph
  label: {zh: 通知第二条, en: Notice para. 2}
  intro: 各稀土集团：
  text: |-
    各稀土集团：
    按指标组织生产。
    按时上报数据。
  children:
  - eid: para_2__item_1
    kind: item
    label: {zh: 通知第二条第（一）项, en: Notice para. 2(1)}
    text: 按指标组织生产。
  - eid: para_2__item_2
    kind: item
    label: {zh: 通知第二条第（二）项, en: Notice para. 2(2)}
    text: 按时上报数据。
"""


def ruleset_citing(instrument: str, eid: str, version: str = "1") -> str:
    """A one-rule ruleset citing ``instrument`` ``eid`` (the rule: production over the enterprise's quota)."""
    return f"""\
ruleset: test-notice
version: "{version}"
status: draft
instrument: {instrument}
title: {{zh: 测试规则集, en: Test ruleset}}
derived:
  production_totals:
    from: production
    group_by: [enterprise, year, activity]
    sum: {{amount_t_reo: amount_t_reo}}
  allocation_totals:
    from: allocations
    group_by: [enterprise, year, activity]
    sum: {{amount_t_reo: amount_t_reo}}
rules:
  - id: quota.over-production
    title: {{zh: 超指标生产, en: Production over quota}}
    severity: serious
    when:
      - fact: production_totals
        as: produced
      - fact: allocation_totals
        as: quota
        where: >-
          quota.enterprise == produced.enterprise and quota.year == produced.year
          and quota.activity == produced.activity and quota.amount_t_reo < produced.amount_t_reo
    subject: {{type: enterprise, id: produced.enterprise}}
    period: produced.year
    message:
      zh: "{{subject}}超指标生产"
      en: "{{subject}} produced over quota"
    citations:
      - {{instrument: {instrument}, eid: {eid}}}
"""


def not_a_violation_entries() -> list[tuple[str, str, dict]]:
    """Every ``not_a_violation`` entry of rulesets/coverage.yaml (a sentence of an implemented provision that is
    no duty, quoted, with its reason), as (instrument, eid, entry)."""
    import yaml

    doc = yaml.safe_load((RULESETS_DIR / "coverage.yaml").read_text(encoding="utf-8"))
    return [
        (inst, eid, entry)
        for inst, body in doc["instruments"].items()
        for eid, entry in (body.get("not_a_violation") or {}).items()
    ]


# ---------------------------------------------------------------------------------------------- facts for the shipped rulesets

FLAGS = (
    "designated",
    "mining_license",
    "safety_license",
    "recycling_project_expired",
    "ordered_to_suspend",
    "banned_process",
    "emissions_compliant",
    "radiation_compliant",
    "tailings_compliant",
    "long_term_shutdown",
    "traceability_system",
    "flow_records",
    "national_traceability_entry",
    "data_security_system",
)


def next_month_day(month: int, day: int) -> str:
    return f"2022-01-{day:02d}" if month == 12 else f"2021-{month + 1:02d}-{day:02d}"


def random_request(rng: random.Random, n_ent: int = 6) -> dict:
    """Facts that trip every shipped rule in some places and not in others; some fields left unknown."""
    groups = [{"id": "G1", "designated": True}, {"id": "G2", "designated": rng.random() < 0.7}, {"id": "G3"}]
    enterprises, allocations, production, reports, transactions = [], [], [], [], []
    for i in range(n_ent):
        eid = f"E{i}"
        act = rng.choice(["mining", "smelting_separation", "comprehensive_utilization"])
        ent = {"id": eid, "group": rng.choice(["G1", "G2", "G3", None]), "activities": [act]}
        if rng.random() < 0.2:
            del ent["activities"]
        for flag in FLAGS:
            if rng.random() < 0.5:
                ent[flag] = rng.random() < 0.8
        if rng.random() < 0.8:
            ent["separation_capacity_t_reo"] = rng.choice([1000, 1999, 2000, 2001, 5000])
        enterprises.append(ent)
        produced = 0
        for m in range(1, rng.randint(1, 12) + 1):
            amount = rng.choice([0, 100, 250.5, 400])
            produced += amount
            production.append({"enterprise": eid, "period": f"2021-{m:02d}", "activity": act, "amount_t_reo": amount})
            if rng.random() < 0.6:
                reports.append(
                    {
                        "reporter": eid,
                        "level": "enterprise",
                        "period": f"2021-{m:02d}",
                        "recipient": rng.choice(["provincial_miit", "provincial_miit", "miit"]),
                        "submitted_on": rng.choice([None, next_month_day(m, 5)]),
                        "reported_amount_t_reo": rng.choice([amount, amount + 1]),
                    }
                )
        for _ in range(rng.choice([0, 1, 1, 2])):
            alloc = {
                "enterprise": eid,
                "group": ent["group"],
                "year": rng.choice([2021, 2021, 2022]),
                "activity": act,
                "amount_t_reo": rng.choice([produced, produced / 2, produced + 1, 100]),
                "issued_on": rng.choice(["2021-09-01", "2021-09-07", "2021-09-08"]),
                "filed_on": rng.choice([None, "2021-09-10"]),
            }
            if rng.random() < 0.3:
                del alloc["filed_on"]
            allocations.append(alloc)
        for _ in range(rng.choice([0, 1])):
            transactions.append(
                {
                    "enterprise": eid,
                    "date": f"2021-{rng.randint(1, 12):02d}-15",
                    "type": rng.choice(["toll_processing", "purchase", "raw_material_use", "import"]),
                    "material": rng.choice(["rare_earth_mineral_product", "other"]),
                    "source_legal": rng.random() < 0.5,
                    "import_compliant": rng.random() < 0.5,
                }
            )
    for g in groups:
        for m in range(1, 12):
            day = rng.choice([None, 8, 10, 11, 12, 15])
            reports.append(
                {
                    "reporter": g["id"],
                    "level": "group",
                    "period": f"2021-{m:02d}",
                    "recipient": rng.choice(["miit", "miit", "provincial_miit"]),
                    "includes_traceability_data": rng.random() < 0.8,
                    "submitted_on": None if day is None else next_month_day(m, day),
                }
            )
        reports.append({"reporter": g["id"], "level": "group", "period": "2021", "submitted_on": None})
    group_quotas = [
        {"group": g["id"], "year": 2021, "activity": act, "amount_t_reo": rng.choice([100, 1000, 90000])}
        for g in groups
        for act in ("mining", "smelting_separation")
        if rng.random() < 0.7
    ]
    return {
        "groups": groups,
        "enterprises": enterprises,
        "allocations": allocations,
        "production": production,
        "reports": reports,
        "transactions": transactions,
        "group_quotas": group_quotas,
    }


def canonical(ruleset, matches, instruments, back=None) -> list:
    """Violations as comparable tuples, with fact indices mapped back to the original order."""
    out = []
    for v in results.violations(ruleset, matches, instruments):
        facts = sorted((f["list"], back[f["list"]][f["index"]] if back else f["index"]) for f in v["facts"])
        out.append((v["rule"], v["subject"]["id"], v.get("period"), tuple(facts), tuple(sorted(v["details"].items()))))
    return sorted(out)


ACTS = ["mining", "smelting_separation", "comprehensive_utilization"]
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731 - None: the field is left out (unknown)


@st.composite
def requests(draw):
    year = draw(st.sampled_from([2021, 2025]))
    groups = [
        {"id": g, **({"designated": d} if d is not None else {})}
        for g, d in zip(["G1", "G2"], draw(st.lists(maybe(st.booleans()), min_size=2, max_size=2)))
    ]
    n = draw(st.integers(1, 4))
    enterprises, allocations, production, reports, flows, penalties = [], [], [], [], [], []
    for i in range(n):
        eid = f"E{i}"
        ent = {"id": eid, "group": draw(st.sampled_from(["G1", "G2", None]))}
        acts = draw(maybe(st.lists(st.sampled_from(ACTS), max_size=2, unique=True)))
        if acts is not None:
            ent["activities"] = acts
        for flag in FLAGS:
            value = draw(maybe(st.booleans()))
            if value is not None:
                ent[flag] = value
        cap = draw(maybe(st.sampled_from([1999, 2000, 2000.5, 3000])))
        if cap is not None:
            ent["separation_capacity_t_reo"] = cap
        gains = draw(maybe(st.sampled_from([0, 499999, 500000, 600000])))
        if gains is not None:
            ent["illegal_gains_yuan"] = gains
        enterprises.append(ent)
        act = draw(st.sampled_from(ACTS))
        for month in draw(st.lists(st.integers(1, 12), max_size=4, unique=True)):
            amount = draw(st.sampled_from([0, 10, 10.5, 100]))
            production.append(
                {"enterprise": eid, "period": f"{year}-{month:02d}", "activity": act, "amount_t_reo": amount}
            )
            if draw(st.booleans()):
                reports.append(
                    {
                        "reporter": eid,
                        "level": "enterprise",
                        "period": f"{year}-{month:02d}",
                        "recipient": draw(st.sampled_from(["provincial_miit", "miit", "county"])),
                        "submitted_on": draw(
                            st.sampled_from([None, f"{year + (month == 12)}-{month % 12 + 1:02d}-05"])
                        ),
                        "reported_amount_t_reo": draw(st.sampled_from([amount, amount + 1])),
                    }
                )
            if year == 2025 and draw(st.booleans()):
                flows.append(
                    {
                        "enterprise": eid,
                        "period": f"{year}-{month:02d}",
                        "entered_on": draw(
                            st.sampled_from(
                                [
                                    None,
                                    f"{year + (month == 12)}-{month % 12 + 1:02d}-10",
                                    f"{year + (month == 12)}-{month % 12 + 1:02d}-11",
                                ]
                            )
                        ),
                    }
                )
        for _ in range(draw(st.integers(0, 2))):
            alloc = {
                "enterprise": eid,
                "year": year,
                "activity": act,
                "amount_t_reo": draw(st.sampled_from([0, 20, 100, 500])),
                "issued_on": draw(st.sampled_from([f"{year}-09-01", f"{year}-09-08"])),
            }
            group = draw(maybe(st.sampled_from(["G1", "G2"])))
            if group is not None:
                alloc["group"] = group
            filed = draw(st.sampled_from(["absent", None, f"{year}-09-09"]))
            if filed != "absent":
                alloc["filed_on"] = filed
            allocations.append(alloc)
        if draw(st.booleans()):
            penalties.append({"enterprise": eid, "date": f"{year}-10-01"})
    for g in groups:
        for month in draw(st.lists(st.integers(1, 12), max_size=3, unique=True)):
            reports.append(
                {
                    "reporter": g["id"],
                    "level": "group",
                    "period": f"{year}-{month:02d}",
                    "recipient": draw(st.sampled_from(["miit", "provincial_miit"])),
                    "includes_traceability_data": draw(st.booleans()),
                    "submitted_on": draw(
                        st.sampled_from(
                            [
                                None,
                                f"{year + (month == 12)}-{month % 12 + 1:02d}-10",
                                f"{year + (month == 12)}-{month % 12 + 1:02d}-12",
                            ]
                        )
                    ),
                }
            )
    group_quotas = [
        {"group": g["id"], "year": year, "activity": "mining", "amount_t_reo": draw(st.sampled_from([50, 170000]))}
        for g in groups
        if draw(st.booleans())
    ]
    facts = {
        "groups": groups,
        "enterprises": enterprises,
        "allocations": allocations,
        "production": production,
        "reports": reports,
        "flow_entries": flows,
        "penalties": penalties,
        "group_quotas": group_quotas,
    }
    return facts, dt.date(year + 1, 2, 15)


def dev_server(tmp_path: Path, workers: int | None = None):
    """``repolicy-serve`` in development mode on a registry of its own (logs in ``tmp_path``), evaluation
    open and hot reload every half second: the server the regulators' guides assume. Stop it after use."""
    from servers import Server

    settings = {
        "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "REPOLICY_DEV_MODE": "1",
        "REPOLICY_OPEN_EVALUATE": "1",
        "REPOLICY_RELOAD_INTERVAL": "0.5",
        "LOG_DIR": str(tmp_path),
    }
    return Server(settings) if workers is None else Server(settings, workers=workers)
