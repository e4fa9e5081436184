"""Starting real service processes (gunicorn) for tests, on loopback ports, and stopping them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m api.serve`` with the given environment; waits until /readyz answers.

    ``workers`` / ``threads`` None: the server's own defaults; ``root``: the source tree to run (a benchmark
    may run an older tree side by side)."""

    def __init__(self, env: dict[str, str], workers: int | None = 2, threads: int | None = 4, root: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "REPOLICY_BIND": f"127.0.0.1:{self.port}", "PYTHONPATH": str(root)}
        for var, value in (("REPOLICY_WORKERS", workers), ("REPOLICY_THREADS", threads)):
            if value is None:
                full_env.pop(var, None)
            else:
                full_env[var] = str(value)
        # its own folder unless told (LOG_DIR): a port is reused by a later server, in this process or another
        log_dir = env.get("LOG_DIR") or tempfile.mkdtemp(prefix="repolicy-server-")
        self.log = open(Path(log_dir) / f"server-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.serve"],
            cwd=root,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become ready in 60 s")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, dict]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, bytes, dict[str, str]]:
        """Status, body bytes and headers, whatever the content type."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def log_entries(self) -> list[dict]:
        """The JSON lines the server has logged so far (a line still being written is left out)."""
        text = Path(self.log.name).read_text()
        text = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
