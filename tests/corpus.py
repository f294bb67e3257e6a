"""Where the shared corpus of real captured documents lives (read in place, never copied).

The corpus is ``<repo>/../shared/corpus`` (``/work/shared/corpus`` beside ``/work/main``), or
``$MONITOR_CORPUS``. ``MANIFEST.md`` there says where each file came from and what is odd about
it. CI has it; a checkout without it fails loudly rather than skipping the parser tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus_root() -> Path:
    """The corpus folder; pytest.fail with the remedy when it is missing."""
    root = Path(os.environ["MONITOR_CORPUS"]) if os.environ.get("MONITOR_CORPUS") else _DEFAULT
    if not (root / "real").is_dir():
        pytest.fail(f"test corpus not found at {root}: put the shared corpus there "
                    f"or set MONITOR_CORPUS to its folder (the one holding real/ and MANIFEST.md)")
    return root


def corpus_path(relative: str) -> Path:
    """``corpus_path("real/www.kantei.go.jp/index-jnews.rdf")`` -> the file, which must exist."""
    path = corpus_root() / relative
    if not path.is_file():
        pytest.fail(f"corpus file missing: {path} (see MANIFEST.md in {corpus_root()})")
    return path
