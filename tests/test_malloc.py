"""`monitor run` caps glibc's malloc arenas (monitor.service.malloc), counted by glibc itself."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Eight threads allocate at once (blocks over pymalloc's 512 bytes go to malloc), then glibc's
# malloc_stats prints one "Arena N:" block per arena to stderr.
SCRIPT = textwrap.dedent(
    """
    import ctypes, sys, threading
    from monitor.service.malloc import cap_arenas
    applied = cap_arenas() if sys.argv[1] == "cap" else None
    barrier = threading.Barrier(8)
    kept = []
    def work():
        barrier.wait()
        kept.append([bytes(2000) for _ in range(2000)])
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print("applied", applied, file=sys.stderr, flush=True)
    ctypes.CDLL("libc.so.6").malloc_stats()
    """
)

glibc = pytest.mark.skipif(
    sys.platform != "linux" or not (ctypes.util.find_library("c") or "").startswith("libc.so"),
    reason="glibc only",
)


def arenas(mode: str, **env: str) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    environ["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=environ, check=True)
    lines = done.stderr.splitlines()
    return sum(1 for line in lines if line.startswith("Arena ")), next(l for l in lines if l.startswith("applied"))


@glibc
def test_without_the_cap_each_thread_gets_an_arena():
    count, _ = arenas("none")
    assert count > 2  # the check below could fail: glibc does make arenas per thread here


@glibc
def test_the_cap_keeps_two_arenas():
    count, applied = arenas("cap")
    assert applied == "applied True"
    assert count <= 2


@glibc
def test_an_explicit_malloc_arena_max_wins():
    count, applied = arenas("cap", MALLOC_ARENA_MAX="4")
    assert applied == "applied False"
    assert 2 < count <= 4


def test_run_caps_before_the_service_starts(monkeypatch, workspace):
    """`monitor run` calls cap_arenas before it builds the app and serves (its threads come later)."""
    from click.testing import CliRunner

    from monitor import app as app_module
    from monitor.cli import cli
    from monitor.service import malloc, scheduler

    calls: list[str] = []
    monkeypatch.setattr(malloc, "cap_arenas", lambda: calls.append("cap") or True)
    built = app_module.App.__init__

    def app_init(self, *args, **kwargs):
        calls.append("app")
        built(self, *args, **kwargs)

    async def serve(app, stop=None):
        calls.append("serve")

    monkeypatch.setattr(app_module.App, "__init__", app_init)
    monkeypatch.setattr(scheduler, "serve", serve)
    workspace.write(sources=[], topics=[])
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "run"])
    assert result.exit_code == 0, result.output
    assert calls == ["cap", "app", "serve"]
