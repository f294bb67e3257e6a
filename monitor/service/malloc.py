"""Cap glibc's malloc arenas for the long-running service.

glibc gives each thread that allocates its own arena, up to eight per core, and keeps the
memory freed in each: a service whose threads (``asyncio.to_thread``, SQLite calls, DNS)
come and go for months then holds a little more in each arena. The 20-minute soak
(``bench/soak.py``) showed that growth is malloc's, not Python objects' or SQLite's, and that
``MALLOC_ARENA_MAX=2`` halves it. Setting the variable is left to whoever writes the unit file,
so ``monitor run`` sets the same limit itself through ``mallopt``, which glibc consults each
time it would make a new arena. An explicit ``MALLOC_ARENA_MAX`` wins; on a C library other
than glibc (musl, macOS) there is nothing to cap and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENA_MAX = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def cap_arenas(limit: int = ARENA_MAX) -> bool:
    """Limit glibc to ``limit`` malloc arenas unless MALLOC_ARENA_MAX is set; True if applied.

    Call it before the service starts its threads: arenas made before stay.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_ARENA_MAX, limit) == 1
