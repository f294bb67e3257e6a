"""Blocking jobs of `monitor run` (mail, alerts, digests) in daemon threads, so that a stop can
leave one behind: a mail to a server that does not answer waits out smtplib's 30 s timeout,
and asyncio's own threads (``to_thread``) are joined at exit, whatever the grace."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


class Background:
    """Jobs that block on a mail server or build a digest, each in a daemon thread: a stop waits
    for them only what is left of the grace. In asyncio's own threads (``to_thread``) a mail to a
    server that does not answer held the exit up to its 30 s timeout after ``event=stopped``.
    An abandoned mail keeps its outbox lease and is tried again after it (two minutes)."""

    def __init__(self) -> None:
        self.threads: set[threading.Thread] = set()

    def run(self, job: Callable[[], object], name: str) -> asyncio.Future[object]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()

        def settle(result: object, error: Exception | None) -> None:
            if done.done():  # cancelled meanwhile: the scheduler stopped
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

        def target() -> None:
            try:
                result, error = job(), None
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting job, which logs it
                result, error = None, exc
            finally:
                self.threads.discard(threading.current_thread())
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:  # the loop is closed: the service has stopped
                pass

        thread = threading.Thread(target=target, name=f"monitor-{name}", daemon=True)
        self.threads.add(thread)
        thread.start()
        return done

    async def settle(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the jobs running; how many are still running."""
        end = asyncio.get_running_loop().time() + seconds
        while (alive := [t for t in list(self.threads) if t.is_alive()]) and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.05)
        return len(alive)
