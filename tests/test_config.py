"""Config loading: every error names the file, the key path and what is wrong."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from monitor.config import load, resolve_path
from monitor.errors import ConfigError

GOOD = """
database: sqlite:///data/monitor.db
timezone: Asia/Tokyo
fetch:
  user_agent: "test-agent/1"
  timeout: 5
  max_bytes: 1000
sources:
  - name: japan-times
    url: https://www.japantimes.co.jp/feed/
    every: 30m
  - name: cao-ai
    type: html
    url: https://www8.cao.go.jp/cstp/ai/index.html
    item: "ul.newslist li"
    date: "span.date"
topics:
  - name: stargate
    title: Stargate AI infrastructure
    query: '(Stargate OR スターゲート) -"SG-1"'
digest:
  at: "07:30"
  dir: out
  lookback: 2d
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    assert config.database_url == f"sqlite:///{(tmp_path / 'data/monitor.db').resolve()}"
    assert config.digest_dir == tmp_path.absolute() / "out"
    assert config.digest.at == time(7, 30)
    assert config.digest.lookback == timedelta(days=2)
    assert config.sources[0].every == timedelta(minutes=30)
    assert config.sources[0].type == "feed"
    assert config.sources[1].item == "ul.newslist li"
    assert config.sources[1].title == "a" and config.sources[1].link == "a"
    assert config.fetch.timeout == 5
    assert config.topics[0].heading == "Stargate AI infrastructure"
    assert str(config.tz) == "Asia/Tokyo"


def test_absolute_and_non_sqlite_urls_are_kept(tmp_path: Path) -> None:
    config = load(write(tmp_path, "database: postgresql://u@localhost/monitor\n"))
    assert config.database_url == "postgresql://u@localhost/monitor"
    config = load(write(tmp_path, "database: sqlite:////var/lib/monitor.db\n"))
    assert config.database_url == "sqlite:////var/lib/monitor.db"


def test_a_sqlite_path_from_home_is_the_users_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///~/m.db made a folder named ~ beside the config."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load(write(tmp_path, "database: sqlite:///~/m.db\n"))
    assert config.database_url == f"sqlite:///{(tmp_path / 'home' / 'm.db').resolve()}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("every: 30m", "evry: 30m"), "sources[0].evry: unknown key"),
        (GOOD.replace("every: 30m", "every: 30 minutes"), "sources[0].every: '30 minutes' is not a duration"),
        (GOOD.replace("timezone: Asia/Tokyo", "timezone: Tokyo/Asia"), "timezone: 'Tokyo/Asia' is not an IANA"),
        (GOOD.replace("  at: \"07:30\"", "  at: \"25:00\""), "digest.at: '25:00' is not a time of day"),
        (GOOD.replace("name: japan-times", "name: japan times"), "sources[0].name: 'japan times' may only"),
        (GOOD.replace("name: stargate", "name: スターゲート"),
         "topics[0].name: 'スターゲート' may only hold ASCII letters, digits, - and _ (a name is typed in commands; "
         + "write 'スターゲート' as the topic's title"),
        (GOOD.replace("url: https://www.japantimes.co.jp/feed/", "url: ftp://x/feed"),
         "sources[0].url: 'ftp://x/feed' is not an http(s) address"),
        (GOOD.replace('    item: "ul.newslist li"\n', ""), "sources[1]: an html source needs `item`"),
        (GOOD.replace("name: cao-ai", "name: japan-times"), "sources[1].name: 'japan-times' is used twice"),
        (GOOD.replace("(Stargate OR", "((Stargate OR"), "topics[0].query: topic 'stargate':"),
        (GOOD.replace("  timeout: 5", "  timeout: -5"), "fetch.timeout:"),
        (GOOD + "extra: 1\n", "extra: unknown key"),
        (GOOD.replace("    every: 30m", "    every: 30m\n    every: 1h"), "key 'every' is written twice"),
        (GOOD.replace("    title: Stargate AI infrastructure\n", "    titel: x\n"), "topics[0].titel: unknown key"),
        ("sources: [\n", "not valid YAML: while parsing a flow node expected the node content, but found '<stream end>' at line 2"),
        ("- a\n- b\n", "the top level must be a mapping"),
        (GOOD.replace("    query: '(Stargate OR スターゲート) -\"SG-1\"'\n", ""), "topics[0].query: required key"),
        (GOOD.replace("sqlite:///data/monitor.db", "nosuch://x"), "database: 'nosuch://x' is not a database URL"),
        (GOOD.replace("every: 30m", "every: 999999999999d"), "sources[0].every: '999999999999d' is longer"),
        (GOOD.replace('item: "ul.newslist li"', 'item: "li["'), "sources[1]: item: 'li[' is not a valid CSS"),
        (GOOD.replace("    every: 30m", "    every: 30m\n    title: h2"), "sources[0]: title: selectors are for html"),
        (GOOD.replace('  at: "07:30"', "  at: 8"), "digest.at: 8 is not a time of day: write HH:MM"),
        (GOOD.replace("sqlite:///data/monitor.db", "mysql://u@localhost/monitor"), "database: mysql is not supported"),
        (GOOD.replace("    title: Stargate AI infrastructure\n",
                      "    title: Stargate AI infrastructure\n    alert: immediate\n    alert_to: [desk@example.org]\n"),
         "topics[0].alert: topic 'stargate' alerts by e-mail but there is no digest.email"),
        (GOOD.replace("timezone: Asia/Tokyo", "timezone: no"),
         "timezone: Input should be a valid string (YAML reads an unquoted yes/no/on/off as false"),
        (GOOD.replace('user_agent: "test-agent/1"', 'user_agent: "モニター/1.0"'),
         "fetch.user_agent: 'モニター/1.0' is not a valid User-Agent: use printable ASCII only"),
        (GOOD.replace("url: https://www.japantimes.co.jp/feed/", "url: http://127.0.0.1:99999/feed"),
         "sources[0].url: 'http://127.0.0.1:99999/feed' is not an http(s) address: Port out of range"),
        (GOOD.replace("url: https://www.japantimes.co.jp/feed/", "url: http://127.0.0.1:0/feed"),
         "sources[0].url: 'http://127.0.0.1:0/feed' is not an http(s) address: port 0 is no port"),
        (GOOD.replace("  timeout: 5", "  timeout: .nan"), "fetch.timeout: Input should be a finite number"),
        (GOOD.replace("sqlite:///data/monitor.db", "sqlite://"), "database: 'sqlite://' is a database in memory"),
        (GOOD.replace("sqlite:///data/monitor.db", "'sqlite:///file:m?mode=memory&uri=true'"),
         "database: 'sqlite:///file:m?mode=memory&uri=true' is a database in memory"),
    ],
    ids=["unknown-key", "bad-duration", "bad-timezone", "bad-clock", "bad-name", "japanese-topic-name", "non-http-url",
         "html-needs-item", "duplicate-source", "bad-topic-query", "negative-timeout", "unknown-top-key",
         "duplicate-yaml-key", "unknown-topic-key", "broken-yaml", "not-a-mapping", "missing-query",
         "bad-database-url", "huge-duration", "bad-selector", "selector-on-feed", "clock-as-number",
         "mysql", "alert-without-email", "yaml-boolean", "non-ascii-user-agent", "port-out-of-range", "port-zero", "nan-timeout",
         "sqlite-in-memory", "sqlite-uri-in-memory"],
)
def test_errors_name_the_file_and_key_path(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_an_empty_section_is_empty_not_invalid(tmp_path: Path) -> None:
    """`topics:` with every topic commented out is YAML null: it said "Input should be a valid tuple"."""
    config = load(write(tmp_path, "sources:\n#  - name: x\ntopics:\ndigest:\nfetch:\n"))
    assert config.sources == () and config.topics == () and config.digest.at == time(8, 0)
    assert config.fetch.max_bytes > 0


def test_a_google_news_source_without_query_says_what_query_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a google_news source needs `query`: the words to search Google News for"):
        load(write(tmp_path, "sources:\n  - name: g\n    type: google_news\n"))


def test_an_unquoted_octal_file_mode_is_named_as_written(tmp_path: Path) -> None:
    """`file_mode: 0600` arrives as 384: the error said "384 is not a file mode", and a first
    fix guessed "0670" for a decimal 440."""
    with pytest.raises(ConfigError, match='file_mode: 0600 unquoted is the number 384 to YAML, not a file mode; '
                                          'write it in quotes, "0600"'):
        load(write(tmp_path, "file_mode: 0600\n"))
    with pytest.raises(ConfigError, match='file_mode: 440 is not a file mode; write it as an octal string in quotes, '
                                          '"0440"'):
        load(write(tmp_path, "file_mode: 440\n"))
    assert load(write(tmp_path, 'file_mode: "0640"\n')).file_mode == 0o640


def test_unquoted_clock_time_is_read_back(tmp_path: Path) -> None:
    # YAML 1.1 reads an unquoted 18:30 as the base-60 integer 1110; the config's loader does not.
    assert load(write(tmp_path, "digest:\n  at: 18:30\n")).digest.at == time(18, 30)
    assert load(write(tmp_path, "digest:\n  at: 8:05\n")).digest.at == time(8, 5)


def test_missing_file_says_how_to_choose_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file; pass --config PATH or set MONITOR_CONFIG"):
        load(tmp_path / "nope.yaml")


def test_config_path_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    assert resolve_path(None) == Path("config.yaml")
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor.yaml")
    assert resolve_path(None) == Path("/etc/monitor.yaml")
    assert resolve_path("given.yaml") == Path("given.yaml")


def test_shipped_config_is_valid() -> None:
    config = load(Path(__file__).parents[1] / "config.yaml")
    assert {s.name for s in config.sources} >= {"japan-times", "kantei"}
    assert len(config.topics) == 3
