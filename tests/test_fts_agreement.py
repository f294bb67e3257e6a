"""The FTS5 back end finds exactly what the Python matcher matches (issue 2: one meaning).

A real in-memory SQLite FTS5 table, filled the way the store fills ``entry_fts``, holds
hand-written English and Japanese headlines with the known traps; every query, from a table
and from hypothesis, must select the same documents through SQL as through ``matches``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.matcher import document, matches
from monitor.core.query import Node, parse, term
from monitor.core.text import tokenize
from monitor.store.fts import CREATE_TABLE, index_text, leaf_match, where_clause
from tests.test_query import trees

DOCS: list[tuple[str, str]] = [
    ("SoftBank and OpenAI form SB OpenAI Japan", "A joint venture to sell Cristal intelligence"),
    ("SB OAI Japan launches Crystal intelligence", "The venture opened in Tokyo"),
    ("AI-driven growth lifts Japan's AI push", ""),
    ("Officials said the plan is on track", "Nothing about artificial intelligence"),
    ("Dubai hosts an expo", "Mumbai markets rally"),
    ("OpenAI's new model", "Released on Monday"),
    ("政府のAI政策", "AI戦略本部が初会合"),
    ("ソフトバンクとオープンAIが合弁会社", "クリスタル・インテリジェンスを販売"),
    ("クリスタル インテリジェンスの導入", ""),
    ("クリスタルインテリジェンス発表", "合併ではなく合弁"),
    ("ＯｐｅｎＡＩが日本法人", "全角の表記"),
    ("ｿﾌﾄﾊﾞﾝｸｸﾞﾙｰﾌﾟの決算", "半角カナ"),
    ("Stargate project expands", "Stargate SG-1 is a TV show"),
    ("スターゲート計画", "米国で始動"),
    ("米価が高騰", "石破首相が対策"),
    ("北米市場", "日米関係"),
    ("未来の技術", "生成AIの規制"),
    ("生成するAI", "AI新戦略本部"),
    ("Investment in AI surges", "investors cheer"),
    ("Reinvestment plan", "invest now"),
    ("Café culture in Tokyo", "Zürich office"),
    ("Title only stargate", ""),
    ("", "Summary only stargate"),
    ("SB-OpenAI, Japan", "punctuation between words"),
    ("Japan OpenAI SB", "reversed order"),
    ("AI\u3000政策", "ideographic space"),
    ("政府 AI", "新政府のAI"),
    ("米", "one character"),
    ("石破茂", "首相談話"),
    ("カス", "ガス"),
    ("OR and NOT are words", "or not"),
    ("Crystal\u3000Intelligence", "全角スペース"),
    ("「クリスタル・インテリジェンス」", "括弧つき"),
    ("クリスタル、インテリジェンス", "読点で区切る"),
    ("SoftBank Vision Fund", "invests in OpenAI"),
    ("Japan's government AI strategy", "AI Strategy Headquarters"),
    ("AI戦略本部", ""),
    ("経済安全保障", "半導体"),
    ("Mumbai AI summit", "said Dubai AI"),
    ("", ""),
    ("Stargate site of 1.5GW in Milam", "200MW first phase"),
    ("A 1.5 GW campus", "G7 leaders, H100 chips"),
    ("Visitors totaled 13,251", "5,000億円を投資"),
    ("Star\u00adgate and Soft\u200bBank", "ソフト\u200bバンク"),
]

QUERIES = [
    ("unit-alone", "gw"),
    ("number-and-unit-phrase", '"1.5 GW"'),
    ("number-and-unit-written-together", "1.5GW"),
    ("letter-digits-whole", "g7 OR h100"),
    ("grouped-number", "13251 OR 5000億円"),
    ("invisible-characters", "stargate softbank ソフトバンク"),
    ("and", "openai japan"),
    ("or", "stargate OR スターゲート"),
    ("precedence", "ai said OR dubai"),
    ("not", "ai -dubai"),
    ("pure-negation", "-ai"),
    ("not-group", "-(ai OR 米)"),
    ("parentheses", "(openai OR softbank) japan"),
    ("phrase-punctuation", '"SB OpenAI Japan"'),
    ("phrase-order", '"Japan OpenAI"'),
    ("title", "title:stargate"),
    ("summary", "summary:stargate"),
    ("title-group", "title:(openai OR ai)"),
    ("title-negated", "-title:ai"),
    ("prefix", "invest*"),
    ("prefix-phrase", '"SB OpenAI Jap"*'),
    ("title-prefix", "title:invest*"),
    ("nfkc-full-width", "ＯｐｅｎＡＩ"),
    ("nfkc-half-width", "ソフトバンク"),
    ("ideographic-space", '"crystal intelligence"'),
    ("whole-word-ai", "AI"),
    ("whole-word-possessive", "OpenAI"),
    ("mixed-script", "AI戦略本部"),
    ("mixed-script-cjk-first", "生成AI"),
    ("japanese-substring", "合弁"),
    ("japanese-middle-dot", "クリスタル・インテリジェンス"),
    ("japanese-one-char", "米"),
    ("japanese-one-char-title", "title:米"),
    ("japanese-two-chars", "米価 OR 石破"),
    ("japanese-voiced", "ガス"),
    ("diacritics", "cafe OR zurich"),
    ("lowercase-keywords", "or not"),
    ("phrase-latin-japanese", '"AI 政策"'),
    ("phrase-japanese-latin", '"政府 AI"'),
    ("config-jv", '"SB OpenAI Japan" OR "SB OAI Japan" OR ((cristal OR crystal) intelligence) OR 合弁'),
]


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY)")
    connection.execute(CREATE_TABLE)
    for rowid, (title, summary) in enumerate(DOCS, start=1):
        connection.execute("INSERT INTO entries (id) VALUES (?)", (rowid,))
        connection.execute(
            "INSERT INTO entry_fts (rowid, title, summary) VALUES (?, ?, ?)",
            (rowid, index_text(tokenize(title)), index_text(tokenize(summary))),
        )
    yield connection
    connection.close()


def by_fts(db: sqlite3.Connection, tree: Node) -> set[int]:
    sql, params = where_clause(tree)
    return {row[0] for row in db.execute(f"SELECT id FROM entries WHERE {sql}", params)}


def by_matcher(tree: Node) -> set[int]:
    return {i for i, (title, summary) in enumerate(DOCS, start=1) if matches(tree, document(title, summary))}


@pytest.mark.parametrize("query", [q for _, q in QUERIES], ids=[name for name, _ in QUERIES])
def test_fts_agrees_with_matcher(db: sqlite3.Connection, query: str) -> None:
    tree = parse(query)
    found = by_matcher(tree)
    assert by_fts(db, tree) == found
    assert found or query.startswith("-")  # every query of the table selects something


WORDS = [
    "AI",
    "OpenAI",
    "said",
    "Dubai",
    "invest",
    "Japan",
    "SB",
    "stargate",
    "合弁",
    "会社",
    "米",
    "政府",
    "政策",
    "クリスタル",
    "インテリジェンス",
    "生成",
    "ソフトバンク",
    "ｿﾌﾄﾊﾞﾝｸ",
    "戦略本部",
    "石破",
    "ＯｐｅｎＡＩ",
]
GENERATED_TERMS = st.builds(
    lambda words, sep, star, field: term(sep.join(words), star=star, field=field),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    st.sampled_from([" ", "", "・", "-"]),
    st.booleans(),
    st.sampled_from([None, None, "title", "summary"]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees(GENERATED_TERMS))  # type: ignore[arg-type]
def test_fts_agrees_on_generated_queries(db: sqlite3.Connection, tree: Node) -> None:
    assert by_fts(db, tree) == by_matcher(tree)


def test_leaf_match_forms() -> None:
    assert leaf_match(term("SB OpenAI Japan")) == '"sb openai japan"'
    assert leaf_match(term("invest", star=True, field="title")) == '{title} : "invest" *'
    assert leaf_match(term("米")) == '"米" *'


def test_where_clause_binds_every_value() -> None:
    sql, params = where_clause(parse('ai -"ai"'), id_column="e.id")
    assert params == {"q0": '"ai"'}
    assert "ai" not in sql.replace("entry_fts", "")
    assert sql == (
        "(e.id IN (SELECT rowid FROM entry_fts WHERE entry_fts MATCH :q0) AND "
        "NOT (e.id IN (SELECT rowid FROM entry_fts WHERE entry_fts MATCH :q0)))"
    )
