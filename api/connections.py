"""How the server reads its clients, so that slow or stalled ones cannot take the service down.

gunicorn's gthread worker hands a connection to a thread that reads the headers and, while the
application runs, the body: with one thread a worker, two clients that send headers and one byte of a
large body held both workers indefinitely.  Here:

- every client socket has a read timeout (``REPOLICY_READ_TIMEOUT`` seconds for each read, and for the
  whole body): a client that stalls is disconnected, with a log line, instead of holding a thread;
- each worker has many connection threads (``REPOLICY_THREADS``, default 16), which read and buffer
  the request body completely (:class:`BufferedRequests`) before the request may run the application;
- at most ``REPOLICY_EVALUATION_SLOTS`` requests with a body (default 1) run the application at once
  in a worker: evaluation is CPU-bound and threads share one GIL, so more at once only lengthens the
  tail (bench/http.md), while reading, health checks and sending responses never wait for a slot.

So clients still sending, or slow to read their answer, hold only connection threads; evaluation goes on
at full speed for the others, and ``/healthz`` answers.  Behind a reverse proxy that buffers requests
(nginx's default) all this is redundant but harmless.
"""

from __future__ import annotations

import collections
import errno
import io
import logging
import socket
import threading
import time
from typing import Any
from collections.abc import Callable, Iterable

from gunicorn.workers.gthread import TConn, ThreadWorker

from api.errors import error_body

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SLOT_KEY = "repolicy.evaluation_slot"  # environ: releases this request's slot (see release_slot)


class _TimedSocket(socket.socket):
    """A client socket whose blocking mode has a timeout: gunicorn sets client sockets blocking
    (``setblocking(True)``) before reading; here that means "blocking for at most ``read_timeout``"."""

    __slots__ = ()
    read_timeout = 10.0

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.read_timeout)
        else:
            super().setblocking(False)

    def _timed_out(self) -> OSError:
        try:
            peer = self.getpeername()
        except OSError:
            peer = None
        log.warning("client %s sent nothing for %.1f s: connection closed", peer, self.gettimeout() or 0)
        return ConnectionResetError(errno.ECONNRESET, "read timeout")  # gunicorn closes it quietly

    def recv(self, *args: Any) -> bytes:
        try:
            return super().recv(*args)
        except TimeoutError:
            raise self._timed_out() from None

    def recv_into(self, *args: Any) -> int:
        try:
            return super().recv_into(*args)
        except TimeoutError:
            raise self._timed_out() from None


def set_read_timeout(seconds: float) -> None:
    """The client sockets' timeout (the ``read_timeout`` setting), set in the master before the workers fork."""
    _TimedSocket.read_timeout = seconds


class Worker(ThreadWorker):
    """gunicorn's gthread worker whose client sockets time out (see :class:`_TimedSocket`)."""

    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        client_sock.__class__ = _TimedSocket  # same layout: only setblocking/recv differ
        self.nr_conns += 1
        client_sock.setblocking(True)
        self.enqueue_req(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))


def release_slot(environ: dict[str, Any]) -> None:
    """Give back this request's evaluation slot before waiting on something else (e.g. the decision log's
    disk write), so that other requests evaluate meanwhile.  Idempotent; a no-op outside the server."""
    release = environ.pop(SLOT_KEY, None)
    if release is not None:
        release()


def _json_response(start_response: Callable, status: str, code: str, message: str) -> Iterable[bytes]:
    import json

    data = json.dumps(error_body(code, message)).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")]
    )
    return [data]


class FairSlots:
    """A counting semaphore that serves waiters in arrival order: a released slot is handed to the
    longest waiter, never taken by a request that just arrived (``threading.Semaphore`` lets newcomers
    overtake, which lengthens the latency tail under load)."""

    def __init__(self, slots: int):
        self._lock = threading.Lock()
        self._free = slots
        self._waiters: collections.deque[threading.Event] = collections.deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()  # set by release(): the slot is ours

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


class BufferedRequests:
    """WSGI middleware: read the whole request body (at most ``max_body + 1`` bytes, within ``read_timeout``
    seconds) before the application runs, and run at most ``slots`` requests with a body at once."""

    def __init__(self, app: Callable, max_body: int, read_timeout: float, slots: int):
        self.app, self.max_body, self.read_timeout = app, max_body, read_timeout
        self.slots = FairSlots(slots)

    def _buffer(self, environ: dict[str, Any]) -> bytes | None:
        """The body; None when the client was too slow (or went away)."""
        stream, sock = environ["wsgi.input"], environ.get("gunicorn.socket")
        length = environ.get("CONTENT_LENGTH")
        want = self.max_body + 1 if not length else min(int(length), self.max_body + 1)
        deadline = time.monotonic() + self.read_timeout
        parts, got = [], 0
        try:
            while got < want:
                if sock is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    sock.settimeout(left)
                chunk = stream.read(min(READ_CHUNK, want - got))
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
        except OSError:
            return None
        finally:
            if sock is not None:
                sock.settimeout(_TimedSocket.read_timeout)
        return b"".join(parts)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in BODY_METHODS:
            return self.app(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        if not (length.isdigit() and int(length) > self.max_body):  # over the limit: the app answers 413 unread
            body = self._buffer(environ)
            if body is None:
                return _json_response(
                    start_response,
                    "408 Request Timeout",
                    "request_timeout",
                    f"the request body did not arrive within {self.read_timeout:g} s",
                )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body over the limit is then refused (413)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        self.slots.acquire()
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                self.slots.release()

        environ[SLOT_KEY] = release
        try:
            return self.app(environ, start_response)
        finally:
            release()
