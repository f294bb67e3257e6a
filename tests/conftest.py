"""Shared fixtures. Each one says what it gives and where its data comes from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.httpserver import TestServer


@pytest.fixture(scope="session")
def _http_server_session() -> Iterator[TestServer]:
    with TestServer() as server:
        yield server


@pytest.fixture
def http_server(_http_server_session: TestServer) -> TestServer:
    """A real HTTP/1.1 server on 127.0.0.1 with no routes and an empty request log.

    One server for the session (starting one per test costs a thread and a port), reset before each test.
    For a second host, start another: ``with TestServer(host="127.0.0.2") as other: ...``.
    """
    _http_server_session.reset()
    return _http_server_session


@pytest.fixture
def workspace(tmp_path):  # type: ignore[no-untyped-def]
    """A config file, SQLite file and digest folder under tmp_path (see tests/support/workspace.py)."""
    from tests.support.workspace import Workspace

    return Workspace(tmp_path, tmp_path / "config.yaml")
