"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, started on a loopback port.

Skips when PostgreSQL is not installed, unless REPOLICY_REQUIRE_POSTGRES=1 (CI), where it fails.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from servers import free_port


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return found[-1] if found else None


class Postgres:
    def __init__(self) -> None:
        bindir = _bin_dir()
        if bindir is None:
            if os.environ.get("REPOLICY_REQUIRE_POSTGRES") == "1":
                raise RuntimeError("PostgreSQL is required (REPOLICY_REQUIRE_POSTGRES=1) but not installed")
            pytest.skip("PostgreSQL is not installed")
        self.dir = tempfile.mkdtemp(prefix="repolicy-pg-")
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_user + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                       check=True, capture_output=True)
        self.proc = subprocess.Popen(
            self.as_user + [f"{bindir}/postgres", "-D", data, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                            "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if subprocess.run([f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("PostgreSQL did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
