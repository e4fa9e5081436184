"""Request and decision ids: random 128-bit hex, like ``uuid4().hex`` but without a system call.

Under a busy gthread worker every call that releases the GIL (``os.urandom``, which ``uuid4`` uses)
waits up to a switch interval to get it back.  These ids must be unique, not unpredictable (decisions
are read only with a token), so a per-process generator seeded from the system at start and again in
every forked worker (workers of one master must not share a sequence) does.
"""

from __future__ import annotations

import os
import random

_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


def new_id() -> str:
    return f"{_random.getrandbits(128):032x}"
