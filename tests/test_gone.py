"""A source that answers 410 Gone is disabled: no poll of any kind fetches it until the user says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.store.schedule import Schedule
from tests.support.httpserver import TestServer
from tests.support.workspace import Workspace
from tests.test_cli import invoke
from tests.test_poll import rss


def _setup(http_server: TestServer, workspace: Workspace, **victim: object) -> None:
    http_server.route("/gone", "gone for good", status=410, content_type="text/plain")
    http_server.route("/alive", rss(("Alive", "https://example.com/alive")))
    workspace.write(sources=[{"name": "gone", "url": http_server.url("/gone"), **victim},
                             {"name": "alive", "url": http_server.url("/alive")}])


def _fetches(http_server: TestServer) -> int:
    return sum(1 for r in http_server.requests if r.path == "/gone")


def test_410_disables_until_sources_enable(http_server: TestServer, workspace: Workspace) -> None:
    _setup(http_server, workspace)
    code, out, _ = invoke(workspace, "poll")
    assert code == 0
    assert "gone: error: HTTP 410 Gone" in out and "disabled until its config entry changes or " \
        "`monitor sources enable gone`" in out, out
    assert _fetches(http_server) == 1

    code, out, _ = invoke(workspace, "poll")  # a one-shot poll skips it, and says why
    assert "gone: skipped, disabled: HTTP 410 Gone" in out and "alive: 0 new" in out, out
    assert _fetches(http_server) == 1
    code, out, _ = invoke(workspace, "poll", "--source", "gone")
    assert code == 1 and "skipped, disabled" in out and _fetches(http_server) == 1

    code, out, _ = invoke(workspace, "sources")
    (line,) = [ln for ln in out.splitlines() if ln.startswith("gone")]
    assert "disabled" in line and "next: never" in line and "HTTP 410 Gone" in line, line

    http_server.route("/gone", rss(("Back", "https://example.com/back")))
    code, out, _ = invoke(workspace, "sources", "enable", "gone")
    assert code == 0 and out.startswith("gone: enabled (was disabled: HTTP 410 Gone"), out
    code, out, _ = invoke(workspace, "sources", "enable", "gone")
    assert out.strip() == "gone: was not disabled"
    code, out, _ = invoke(workspace, "poll")
    assert "gone: 1 new" in out and _fetches(http_server) == 2, out


def test_an_edited_config_entry_enables_it_again(http_server: TestServer, workspace: Workspace) -> None:
    _setup(http_server, workspace)
    invoke(workspace, "poll")
    invoke(workspace, "poll")
    assert _fetches(http_server) == 1
    _setup(http_server, workspace, every="2h")  # same address, another setting: the user looked at it
    invoke(workspace, "poll")
    assert _fetches(http_server) == 2


def test_the_service_never_claims_a_disabled_source(http_server: TestServer, workspace: Workspace) -> None:
    _setup(http_server, workspace)
    invoke(workspace, "poll")
    app = workspace.app()
    try:
        later = datetime.now(UTC) + timedelta(days=30)
        claims = Schedule(app.engine).claim_due("w1", ["gone", "alive"], later, limit=10,
                                                lease=timedelta(minutes=1))
        assert [c.name for c in claims] == ["alive"]
        digest = app.digest(later.date())
        assert [(f.source, f.error.split(":")[0]) for f in digest.failures] == [("gone", "disabled")]
    finally:
        app.close()


def test_enabling_an_unknown_source_is_an_error(workspace: Workspace) -> None:
    workspace.write(sources=[{"name": "a", "url": "http://127.0.0.1:9/feed"}])
    code, _, err = invoke(workspace, "sources", "enable", "nope")
    assert code == 2 and "no source named 'nope'" in err
