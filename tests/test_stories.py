"""Story clusters end to end: one story from several outlets is shown once in the digest."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.support.httpserver import TestServer
from tests.support.workspace import Clock, Workspace
from tests.test_poll import RSS, poll, rss

PUB = "<pubDate>Mon, 03 Feb 2025 09:00:00 +0900</pubDate>"


def test_one_story_from_three_outlets_is_one_digest_item_with_every_link(http_server: TestServer,
                                                                         workspace: Workspace) -> None:
    http_server.route("/jt", rss(("SoftBank and OpenAI set up joint venture SB OpenAI Japan",
                                  "https://www.japantimes.co.jp/business/jv",
                                  ("SoftBank Group and OpenAI agreed to form a 50-50 joint venture, SB OpenAI Japan, "
                                   "to sell Cristal intelligence to Japanese companies.")), extra=PUB))
    http_server.route("/nikkei", rss(("SoftBank, OpenAI to form joint venture SB OpenAI Japan",
                                      "https://asia.nikkei.com/jv",
                                      ("SoftBank and OpenAI will set up SB OpenAI Japan, a 50-50 joint venture "
                                       "selling Cristal intelligence to Japanese companies.")), extra=PUB))
    http_server.route("/other", rss(("Stargate Abilene site begins operations", "https://example.com/abilene",
                                     "OpenAI and Oracle start the first Stargate data center in Abilene, Texas."),
                                    extra=PUB))
    workspace.write(sources=[{"name": "japan-times", "url": http_server.url("/jt")},
                             {"name": "nikkei", "url": http_server.url("/nikkei")},
                             {"name": "other", "url": http_server.url("/other")}],
                    topics=[{"name": "jv", "title": "JV", "query": '"SB OpenAI Japan" OR Stargate'}])
    clock = Clock()
    poll(workspace, clock, "japan-times")
    clock.advance(minutes=10)
    poll(workspace, clock, "nikkei", "other")
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entries").fetchone()[0] == 3  # three entries, two stories
    app = workspace.app(clock)
    try:
        [section] = app.digest(date(2025, 2, 4)).sections
    finally:
        app.close()
    assert len(section.items) == 2
    jv = next(i for i in section.items if "SB OpenAI Japan" in i.title)
    assert jv.also == (("nikkei", "https://asia.nikkei.com/jv"),) or jv.also == (
        ("japan-times", "https://www.japantimes.co.jp/business/jv"),)
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "--stories",
                                      "--format", "json"])
    rows = json.loads(result.stdout)
    assert len(rows) == 2 and sorted(r["story_size"] for r in rows) == [1, 2]
    plain = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "--format", "json"])
    assert len(json.loads(plain.stdout)) == 3


KANTEI = [("高市総理は全国戦没者追悼式で式辞を述べました", "https://www.kantei.go.jp/jp/105/actions/a.html"),
          ("高市総理は千鳥ヶ淵戦没者墓苑を参拝しました", "https://www.kantei.go.jp/jp/105/actions/b.html")]
ELSEWHERE = [KANTEI[0], ("高市総理は千鳥ヶ淵戦没者墓苑を参拝しました", "https://www3.nhk.or.jp/news/html/b.html")]


@pytest.mark.parametrize(("feeds", "stories"), [
    ({"kantei": KANTEI}, 2),  # one site's two items in its template: two events
    ({"kantei": KANTEI[:1], "wire": KANTEI[1:]}, 2),  # the same site's items through another feed too
    ({"kantei": ELSEWHERE[:1], "wire": ELSEWHERE[1:]}, 1),  # the same words from two sites: one story
    ({"alerts": ELSEWHERE}, 1),  # an alert feed carries many sites: its items are not one outlet
])
def test_one_sites_alike_items_stay_apart(http_server: TestServer, workspace: Workspace,
                                          feeds: dict[str, list[tuple[str, str]]], stories: int) -> None:
    for name, items in feeds.items():
        http_server.route(f"/{name}", rss(*items, extra=PUB))
    workspace.write(sources=[{"name": name, "url": http_server.url(f"/{name}")} for name in feeds],
                    topics=[{"name": "pm", "title": "PM", "query": "高市総理"}])
    clock = Clock()
    poll(workspace, clock)
    app = workspace.app(clock)
    try:
        [section] = app.digest(date(2025, 2, 4)).sections
    finally:
        app.close()
    assert len(section.items) == stories
    assert sum(1 + len(item.also) for item in section.items) == 2  # every report reachable


def test_search_stories_do_not_change_with_the_limit(http_server: TestServer, workspace: Workspace) -> None:
    """One story told four times among 30 other items: `--limit 1` shows it with its four
    reports, as `--limit 3` does (stories were once worked out over 20 rows per story asked
    for, so a small limit saw part of the story). CSV carries story_id and story_size too."""
    story = ["SoftBank completes $22.5 billion investment in OpenAI", "SoftBank completes $22.5bn OpenAI investment",
             "SoftBank has completed its $22.5 billion investment in OpenAI",
             "SoftBank completes $22.5 billion OpenAI investment, stake 11%"]
    words = ["river", "garden", "violin", "harbor", "glacier", "lantern", "meadow", "orchard", "pepper", "quartz",
             "saddle", "tundra", "umbrella", "walnut", "yacht", "zebra", "anchor", "basalt", "cactus", "dolphin",
             "ember", "falcon", "granite", "hazel", "iris", "jasmine", "kettle", "lilac", "marble", "nectar"]
    items = []
    for n in range(34):  # newest first; the story's reports at 0, 10, 25 and 33
        title = story[[0, 10, 25, 33].index(n)] if n in (0, 10, 25, 33) else f"{words[n % 30]} {words[(n * 7) % 30]} news"
        items.append(f"<item><title>{title}</title><link>https://example.com/{n}</link>"
                     f"<pubDate>Mon, 03 Feb 2025 09:{59 - n:02d}:00 +0900</pubDate></item>")
    http_server.route("/feed", RSS.format(items="".join(items)))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    poll(workspace, Clock())

    def first(limit: int) -> tuple[str, int]:
        out = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "--stories",
                                       "--limit", str(limit), "--format", "json"])
        row = json.loads(out.stdout)[0]
        return row["title"], row["story_size"]

    assert first(1) == first(3) == (story[0], 4)
    out = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "--stories", "--limit", "1",
                                   "--format", "csv"]).stdout
    header, row = list(csv.reader(io.StringIO(out)))[:2]
    assert header[-2:] == ["story_id", "story_size"] and row[-1] == "4"
