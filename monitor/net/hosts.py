"""Per-host politeness: at most N requests in flight to one host at a time.

The fetcher asks for a slot before each request (each redirect hop asks again, for its own host) and gives it
back when the response is closed. This module only counts; it knows nothing about HTTP or deadlines.
Idle hosts are forgotten, so a long-running service polling many hosts does not grow this table without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx


def host_key(url: httpx.URL) -> str:
    """``host[:port]`` of a URL: the unit the limit applies to (the port only when it is not the default)."""
    return f"{url.host}:{url.port}" if url.port is not None else url.host


class HostLimiter:
    """One asyncio.Semaphore of ``per_host`` slots for each host that has a request waiting or in flight."""

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, not {per_host}")
        self._per_host = per_host
        # host -> (semaphore, number of tasks holding or waiting for it)
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot on ``host``; hold it for the body of the ``async with``."""
        semaphore, users = self._hosts.get(host) or (asyncio.Semaphore(self._per_host), 0)
        self._hosts[host] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._hosts[host]
            if users == 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (semaphore, users - 1)

    def active_hosts(self) -> int:
        """How many hosts have a request waiting or in flight (for tests and metrics)."""
        return len(self._hosts)
