"""Bold matched terms in the search table (monitor.render.results.highlight)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.render.results import BOLD, RESET, UNDATED_NOTE, as_table, highlight, times
from monitor.store.reading import EntryRow


def bold(text: str) -> str:
    return f"{BOLD}{text}{RESET}"


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        # a Latin term is a whole word, as the matcher reads it: not AI inside Takaichi
        ("Takaichi on AI rules", ["Takaichi", "AI"], f"{bold('Takaichi')} on {bold('AI')} rules"),
        ("Dubai said", ["AI"], "Dubai said"),
        # no bold inside bold: the longer term wins where two overlap
        ("SB OAI Japan launches", ["SB OAI Japan", "OAI"], f"{bold('SB OAI Japan')} launches"),
        # a prefix term takes the rest of its word
        ("SoftBank invests again", ["invest*"], f"SoftBank {bold('invests')} again"),
        # Japanese terms wherever they stand; case-insensitive Latin
        ("高市首相、ソフトバンクと会談", ["ソフトバンク"], f"高市首相、{bold('ソフトバンク')}と会談"),
        ("openai and OPENAI", ["OpenAI"], f"{bold('openai')} and {bold('OPENAI')}"),
        ("nothing to mark", ["", " ", "*"], "nothing to mark"),
        # where the matcher finds a term, it is bold (an exploratory test's finds): full width,
        # half width, with or without the middle dot, an ideographic space inside Japanese
        ("ＳＢ ＯＡＩ Ｊａｐａｎが始動", ["SB OAI Japan"], f"{bold('ＳＢ ＯＡＩ Ｊａｐａｎ')}が始動"),
        ("ｿﾌﾄﾊﾞﾝｸとｵｰﾌﾟﾝAI", ["ソフトバンク", "オープンAI"], f"{bold('ｿﾌﾄﾊﾞﾝｸ')}と{bold('ｵｰﾌﾟﾝAI')}"),
        ("クリスタルインテリジェンス開始", ["クリスタル・インテリジェンス"], f"{bold('クリスタルインテリジェンス')}開始"),
        ("クリスタル・インテリジェンス開始", ["クリスタルインテリジェンス"], f"{bold('クリスタル・インテリジェンス')}開始"),
        ("クリスタル　インテリジェンス", ["クリスタルインテリジェンス"], bold("クリスタル　インテリジェンス")),
        ("Ｉｎｖｅｓｔｓ in Café", ["invest*", "cafe"], f"{bold('Ｉｎｖｅｓｔｓ')} in {bold('Café')}"),
        ("髙島屋と山﨑社長", ["高島屋", "山崎"], f"{bold('髙島屋')}と{bold('山﨑')}社長"),  # kanji variants
        # words apart as the matcher reads them (a review's finds): any break between words,
        # none needed between Latin and Japanese; a whole word in any script
        ("SB-OAI Japan starts", ["SB OAI Japan"], f"{bold('SB-OAI Japan')} starts"),
        ("SB  OAI Japan starts", ["SB OAI Japan"], f"{bold('SB  OAI Japan')} starts"),
        ("SBOAI Japan", ["SB OAI Japan"], "SBOAI Japan"),
        ("政府、AI 基本計画を決定", ["AI基本計画"], f"政府、{bold('AI 基本計画')}を決定"),
        ("aiсистема and AI", ["AI"], f"aiсистема and {bold('AI')}"),
        ("政府のAI政策", ["AI"], f"政府の{bold('AI')}政策"),
        # a number runs into its unit, as the tokens split them: 1.5GW is 1.5 GW
        ("a 1.5GW campus", ["GW"], f"a 1.5{bold('GW')} campus"),
        ("a 1.5GW campus", ["1.5 GW"], f"a {bold('1.5GW')} campus"),
        ("a 1.5 GW campus", ["1.5GW"], f"a {bold('1.5 GW')} campus"),
        ("GPT4o and H100", ["o", "100"], "GPT4o and H100"),
        ("Model ABC12345x launched", ["x"], "Model ABC12345x launched"),
        ("totaled 13,251 this year", ["13251", "251", "13"], f"totaled {bold('13,251')} this year"),
        ("totaled 13251 this year", ["13,251"], f"totaled {bold('13251')} this year"),
        ("Star\u00adgate grows", ["Stargate"], f"{bold('Star' + chr(0xad) + 'gate')} grows"),
        # where the tokens split numbers, the highlight follows (a review's finds)
        ("2024,2025 and v1.2 at 192.168.1.5", ["2025", "2", "5"],
         f"2024,{bold('2025')} and v1.{bold('2')} at 192.168.1.{bold('5')}"),
        ("1.5.3.4 and 50,00", ["1.5", "5000"], "1.5.3.4 and 50,00"),
        ("12,345 and 1.5", ["345", "5", "1"], "12,345 and 1.5"),
    ],
)
def test_highlight(text: str, terms: list[str], expected: str) -> None:
    assert highlight(text, terms) == expected


def _row(title: str, published: datetime | None, first_seen: datetime) -> EntryRow:
    return EntryRow(1, title, "https://example.com/a", "", published, first_seen, "s", ("s",), ())


def test_the_time_column_carries_zones_when_offsets_differ_and_marks_undated_entries() -> None:
    """An exploratory test's find: on the day clocks go back, 01:10 (GMT) listed above 01:30
    (BST) read out of order, and an undated entry showed its first-seen time as if published."""
    london = ZoneInfo("Europe/London")
    repeated = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)  # 01:10 GMT, after
    first = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 01:30 BST, before
    rows = [_row("after", repeated, repeated), _row("before", first, first)]
    assert times(rows, london) == ["2025-10-26 01:10 GMT", "2025-10-26 01:30 BST"]
    assert times(rows[:1], london) == ["2025-10-26 01:10"]  # one offset: no zone needed
    undated = [_row("undated", None, datetime(2025, 2, 3, 3, 0, tzinfo=UTC)), _row("dated", first, first)]
    assert times(undated, UTC) == ["2025-02-03 03:00*", "2025-10-26 00:30"]
    table = as_table(undated, UTC)
    assert table.splitlines()[0].startswith("2025-02-03 03:00*  s") and table.endswith(UNDATED_NOTE)
    assert UNDATED_NOTE not in as_table(undated[1:], UTC)


def test_a_table_cuts_titles_to_the_terminal_and_keeps_them_whole_in_a_pipe() -> None:
    """A helper's find: the table cut titles at about 60 columns whatever the output, so
    `monitor search ... | grep Crystal` missed the word at the end of a long headline."""
    when = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
    title = "SoftBank and OpenAI launch their joint venture in Tokyo, to sell Crystal intelligence"
    rows = [_row(title, when, when)]
    cut = as_table(rows, UTC, width=100).splitlines()[0]
    assert "Crystal" not in cut and cut.endswith("…")
    assert len(cut) <= 100
    whole = as_table(rows, UTC, width=None).splitlines()[0]
    assert whole.endswith(title)
