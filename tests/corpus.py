"""Where the shared corpus of real captured documents lives (read in place, never copied).

The corpus is ``$MONITOR_CORPUS``, else ``<repo>/../shared/corpus`` (``/work/shared/corpus``
beside ``/work/main``), else the same beside the local checkout this one was cloned from (a
throwaway ``git clone /work/main /tmp/x/m`` finds ``/work/shared/corpus``). ``MANIFEST.md`` there
says where each file came from and what is odd about it. CI has it; a checkout without it fails
loudly rather than skipping the parser tests.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


@functools.cache
def _candidates() -> list[Path]:
    if os.environ.get("MONITOR_CORPUS"):
        return [Path(os.environ["MONITOR_CORPUS"])]
    found = [_REPO.parent / "shared" / "corpus"]
    try:
        origin = subprocess.run(["git", "-C", str(_REPO), "config", "--get", "remote.origin.url"],
                                check=False, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and Path(origin).is_dir():  # a local path, not a URL
        found.append(Path(origin).resolve().parent / "shared" / "corpus")
    return found


def corpus_root() -> Path:
    """The corpus folder; pytest.fail with the remedy when it is missing."""
    for root in _candidates():
        if (root / "real").is_dir():
            return root
    tried = ", ".join(str(p) for p in _candidates())
    pytest.fail(f"test corpus not found at {tried}: put the shared corpus there "
                f"or set MONITOR_CORPUS to its folder (the one holding real/ and MANIFEST.md)")


def corpus_path(relative: str) -> Path:
    """``corpus_path("real/www.kantei.go.jp/index-jnews.rdf")`` -> the file, which must exist."""
    path = corpus_root() / relative
    if not path.is_file():
        pytest.fail(f"corpus file missing: {path} (see MANIFEST.md in {corpus_root()})")
    return path
