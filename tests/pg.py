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
    """initdb, then :meth:`start`; :meth:`halt` and :meth:`start` again keep the data and the port
    (a database that goes away mid-run and comes back); :meth:`stop` removes everything."""

    def __init__(self) -> None:
        bindir = _bin_dir()
        if bindir is None:
            if os.environ.get("REPOLICY_REQUIRE_POSTGRES") == "1":
                raise RuntimeError("PostgreSQL is required (REPOLICY_REQUIRE_POSTGRES=1) but not installed")
            pytest.skip("PostgreSQL is not installed")
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="repolicy-pg-")
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        subprocess.run(
            self.as_user + [f"{bindir}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start the server on this data folder and port; returns once it accepts connections."""
        self.proc = subprocess.Popen(
            self.as_user
            + [
                f"{self.bindir}/postgres",
                "-D",
                self.data,
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.dir}",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    [f"{self.bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
                ).returncode
                == 0
            ):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("PostgreSQL did not start")

    def halt(self) -> None:
        """Stop the server now ("fast" shutdown: open sessions are cut), keeping its data."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # pg_ctl, not a signal to self.proc: as root that is runuser, which would pass on SIGTERM ("smart"
        # shutdown, waiting for every client to leave) and SIGKILL two seconds later
        subprocess.run(
            self.as_user + [f"{self.bindir}/pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w"],
            capture_output=True,
            timeout=30,
        )
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)
