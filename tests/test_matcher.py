"""The Python matcher: every rule of the query language on real-looking headlines (issue 2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.matcher import Document, Matcher, document, hits, matches
from monitor.core.query import Node, Term, parse, term
from tests.test_query import trees

# (rule, query, title, summary, expected)
RULES: list[tuple[str, str, str, str, bool]] = [
    ("and-both-present", "openai softbank", "OpenAI and SoftBank team up", "", True),
    ("and-one-missing", "openai softbank", "OpenAI alone", "", False),
    ("and-terms-in-different-fields", "openai japan", "OpenAI expands", "a venture in Japan", True),
    ("and-written", "openai AND japan", "OpenAI in Japan", "", True),
    ("or-first", "stargate OR スターゲート", "Stargate site chosen", "", True),
    ("or-second", "stargate OR スターゲート", "スターゲート計画が始動", "", True),
    ("or-neither", "stargate OR スターゲート", "OpenAI news", "", False),
    ("or-lowercase-is-a-word-missing", "stargate or openai", "Stargate and OpenAI", "", False),
    ("or-lowercase-is-a-word-present", "stargate or openai", "Stargate or OpenAI?", "", True),
    ("precedence-or-looser-than-and", "a b OR c", "c", "", True),
    ("precedence-and-binds-first", "a b OR c", "a", "", False),
    ("precedence-not-tightest", "NOT a b", "b", "", True),
    ("precedence-not-applies-to-one-term", "NOT a b", "a b", "", False),
    ("not-minus-excludes", "ai -dubai", "AI conference in Dubai", "", False),
    ("not-minus-keeps-others", "ai -dubai", "AI conference in Tokyo", "", True),
    ("not-keyword-excludes", "ai NOT dubai", "AI in Dubai", "", False),
    ("not-looks-at-every-field", "ai -dubai", "AI conference", "held in Dubai", False),
    ("not-pure-negation", '-"SG-1"', "Stargate AI", "", True),
    ("not-pure-negation-excludes", '-"SG-1"', "Stargate SG-1 reboot", "", False),
    ("not-lowercase-is-a-word", "not ai", "AI is not here", "", True),
    ("parentheses-group-or", "(a OR b) c", "b c", "", True),
    ("parentheses-group-needs-and", "(a OR b) c", "a", "", False),
    ("parentheses-negated-group", "-(a OR b)", "c", "", True),
    ("parentheses-negated-group-excludes", "-(a OR b)", "b", "", False),
    ("phrase-adjacent-in-order", '"SB OpenAI Japan"', "SB OpenAI Japan launched", "", True),
    ("phrase-punctuation-between", '"SB OpenAI Japan"', "SB-OpenAI, Japan", "", True),
    ("phrase-order-matters", '"Japan OpenAI"', "OpenAI Japan", "", False),
    ("phrase-gap-breaks", '"SB Japan"', "SB OpenAI Japan", "", False),
    ("phrase-not-across-fields", '"openai japan"', "OpenAI", "Japan", False),
    ("phrase-in-summary", '"crystal intelligence"', "JV launch", "sells Crystal Intelligence", True),
    ("phrase-latin-then-japanese", '"AI 政策"', "政府のAI政策", "", True),
    ("phrase-japanese-then-latin", '"政府 AI"', "新政府のAI", "", False),
    ("title-only-in-title", "title:stargate", "Stargate grows", "", True),
    ("title-not-in-summary", "title:stargate", "AI news", "Stargate grows", False),
    ("summary-field", "summary:stargate", "AI news", "Stargate grows", True),
    ("title-phrase", 'title:"sb oai japan"', "SB OAI Japan opens", "", True),
    ("title-group", "title:(stargate OR openai)", "news", "OpenAI", False),
    ("title-group-hit", "title:(stargate OR openai)", "OpenAI", "", True),
    ("title-negated", "ai -title:dubai", "AI", "Dubai", True),
    ("prefix-longer-word", "invest*", "Investment surges", "", True),
    ("prefix-same-word", "invest*", "They invest", "", True),
    ("prefix-not-inside-word", "invest*", "reinvestment", "", False),
    ("prefix-without-star-is-whole-word", "invest", "Investment surges", "", False),
    ("prefix-last-word-of-phrase", '"SB OpenAI Jap"*', "SB OpenAI Japan", "", True),
    ("nfkc-full-width-query", "ＯｐｅｎＡＩ", "OpenAI says", "", True),
    ("nfkc-full-width-document", "OpenAI", "ＯｐｅｎＡＩが発表", "", True),
    ("nfkc-half-width-query", "ｿﾌﾄﾊﾞﾝｸ", "ソフトバンクグループ", "", True),
    ("nfkc-half-width-document", "ソフトバンク", "ｿﾌﾄﾊﾞﾝｸｸﾞﾙｰﾌﾟ", "", True),
    ("nfkc-ideographic-space-in-phrase", '"crystal\u3000intelligence"', "Crystal intelligence", "", True),
    ("case-insensitive", "OPENAI", "openai", "", True),
    ("latin-diacritics-ignored", "cafe", "Café culture", "", True),
    ("japanese-voiced-marks-kept", "ガス", "カス", "", False),
    ("whole-word-alone", "AI", "AI", "", True),
    ("whole-word-hyphenated", "AI", "AI-driven growth", "", True),
    ("whole-word-after-possessive", "AI", "Japan's AI push", "", True),
    ("whole-word-script-change", "AI", "政府のAI政策", "", True),
    ("whole-word-not-said", "AI", "Officials said", "", False),
    ("whole-word-not-dubai", "AI", "Dubai expo", "", False),
    ("whole-word-not-mumbai", "AI", "Mumbai markets", "", False),
    ("whole-word-possessive", "OpenAI", "OpenAI's new model", "", True),
    ("whole-word-hyphenated-term", "AI-driven", "AI driven growth", "", True),
    ("mixed-script-joined", "AI戦略本部", "AI戦略本部が初会合", "", True),
    ("mixed-script-space-between", "AI戦略本部", "AI 戦略本部", "", True),
    ("mixed-script-runs-must-touch", "AI戦略本部", "AI新戦略本部", "", False),
    ("mixed-script-order", "AI戦略本部", "戦略本部とAI", "", False),
    ("mixed-script-cjk-first", "生成AI", "生成AIの規制", "", True),
    ("mixed-script-cjk-first-must-end-run", "生成AI", "生成するAI", "", False),
    ("japanese-substring-start", "合弁", "合弁会社を設立", "", True),
    ("japanese-substring-middle", "会社", "合弁会社を設立", "", True),
    ("japanese-substring-three-chars", "合弁会", "合弁会社", "", True),
    ("japanese-different-word", "合弁", "合併", "", False),
    (
        "japanese-middle-dot-query-plain-doc",
        "クリスタル・インテリジェンス",
        "クリスタルインテリジェンス",
        "",
        True,
    ),
    (
        "japanese-middle-dot-query-space-doc",
        "クリスタル・インテリジェンス",
        "クリスタル インテリジェンス",
        "",
        True,
    ),
    ("japanese-plain-query-dot-doc", "クリスタルインテリジェンス", "クリスタル・インテリジェンス", "", True),
    ("japanese-half-width-dot-doc", "クリスタルインテリジェンス", "クリスタル･インテリジェンス", "", True),
    (
        "japanese-space-in-phrase",
        '"クリスタル インテリジェンス"',
        "「クリスタル・インテリジェンス」",
        "",
        True,
    ),
    ("japanese-comma-ends-run", "クリスタルインテリジェンス", "クリスタル、インテリジェンス", "", False),
    ("japanese-one-char-alone", "米", "米", "", True),
    ("japanese-one-char-start", "米", "米国の関税", "", True),
    ("japanese-one-char-end", "米", "北米", "", True),
    ("japanese-one-char-middle", "米", "日米関係", "", True),
    ("japanese-one-char-absent", "米", "未来", "", False),
    ("japanese-two-chars", "米価", "米価が高騰", "", True),
    ("japanese-two-chars-absent", "米価", "コメ価格", "", False),
    ("japanese-two-chars-name", "石破", "石破首相が表明", "", True),
    ("japanese-two-chars-title", "title:石破", "首相談話", "石破氏", False),
    # a number and its unit, written together or apart (an exploratory test's find)
    ("unit-after-number", "GW", "Stargate site of 1.5GW in Milam", "", True),
    ("number-unit-phrase-written-together", '"1.5 GW"', "Stargate site of 1.5GW", "", True),
    ("number-unit-together-written-apart", "1.5GW", "a 1.5 GW campus", "", True),
    ("number-unit-in-japanese", '"4.5 GW"', "オラクルと4.5GW追加", "", True),
    ("letter-digits-stay-whole", "100", "Nvidia H100 chips", "", False),
    ("decimal-not-a-date", "1.4", "12/29〜1/4発売の演劇チケット", "", False),
    ("decimal-not-a-range", "1.4", "rounds 1-4 of talks", "", False),
    ("decimal-found", "1.4", "Nissan to invest $1.4 billion", "", True),
    ("whole-part-of-decimal", "22", "SoftBank pays $22.5bn", "", False),
    ("grouped-number-without-commas", "13251", "totaled 13,251 this year", "", True),
    ("number-without-commas-grouped-query", "13,251", "totaled 13251 this year", "", True),
    ("grouped-number-japanese", "5000億円", "5,000億円を投資", "", True),
    ("part-of-grouped-number", "251", "totaled 13,251 this year", "", False),
    ("soft-hyphen-inside-word", "Stargate", "Star\u00adgate expands", "", True),
    ("zero-width-space-inside-japanese", "ソフトバンク", "ソフト\u200bバンク、新サービス", "", True),
]


@pytest.mark.parametrize(
    ("query", "title", "summary", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule(query: str, title: str, summary: str, expected: bool) -> None:
    tree = parse(query)
    doc = document(title, summary)
    assert matches(tree, doc) is expected
    assert (Matcher({"t": tree}).match(doc) != {}) is expected


def test_hits_are_positive_terms_that_occur() -> None:
    tree = parse('("SB OpenAI Japan" OR 合弁 OR stargate) -dubai invest*')
    doc = document("SB OpenAI Japan: 合弁会社", "investors cheer")
    assert hits(tree, doc) == ("SB OpenAI Japan", "合弁", "invest*")


def test_hits_skip_negated_terms() -> None:
    tree = parse("ai -(dubai -mumbai)")
    assert hits(tree, document("AI in Dubai and Mumbai")) == ("ai", "mumbai")


@pytest.mark.parametrize(
    ("query", "title", "why"),
    [("AI基本計画 OR (政府 -閣議)", "政府、AI基本計画を閣議決定", ("AI基本計画",)),  # 政府's branch failed
     ('"basic plan" OR (高市 AI)', "Japan cabinet approves AI Basic Plan", ("basic plan",)),  # 高市 absent
     ("(stargate OR openai) (japan OR 日本)", "OpenAI and Stargate in Japan", ("stargate", "openai", "japan")),
     ("-(dubai -ai)", "AI in Dubai", ("ai",)),
     ("(OpenAI -rumor) OR (openai deal)", "OpenAI deal rumor", ("openai", "deal"))],  # one leaf, two terms
    ids=["not-in-failed-branch", "half-an-and", "every-true-or-branch", "double-negation", "shared-leaf"],
)
def test_only_the_terms_that_decided_the_match_explain_it(query: str, title: str, why: tuple[str, ...]) -> None:
    """An exploratory test's find: "matched:" listed 政府 for a query whose 政府 branch a NOT had
    ruled out, and terms of an AND of which only half occurred."""
    tree, doc = parse(query), document(title)
    assert hits(tree, doc) == why
    assert Matcher({"t": tree}).match(doc) == {"t": why}
    assert tuple(h.term for h in Matcher({"t": tree}).explain(doc)["t"]) == why


def test_matcher_many_topics() -> None:
    matcher = Matcher(
        {
            "jv": parse('"SB OpenAI Japan" OR "SB OAI Japan" OR 合弁'),
            "stargate": parse('(Stargate OR スターゲート) -"SG-1"'),
            "quiet": parse("-ai"),
            "title-only": parse("title:合弁"),
        }
    )
    assert matcher.match(document("SB OAI Japan launches", "スターゲート計画と合弁")) == {
        "jv": ("SB OAI Japan", "合弁"),
        "stargate": ("スターゲート",),
        "quiet": (),
    }
    assert matcher.match(document("合弁", "AI")) == {"jv": ("合弁",), "title-only": ("合弁",)}


def test_document_from_tokens_keeps_extra_fields() -> None:
    doc = Document.from_tokens({"title": ["ai"], "summary": [], "text": ["stargate"]})
    assert matches(parse("stargate"), doc)
    assert not matches(parse("title:stargate"), doc)


WORDS = [
    "AI",
    "ai",
    "OpenAI",
    "said",
    "Dubai",
    "invest",
    "investment",
    "合弁",
    "会社",
    "米",
    "米国",
    "北米",
    "政府",
    "政策",
    "クリスタル",
    "インテリジェンス",
    "生成",
    "SB",
    "Japan",
    "ｿﾌﾄﾊﾞﾝｸ",
    "ソフトバンク",
]
SEPARATORS = [" ", "", "・", "、", "-", "'s ", "\u3000"]
FIELD_TEXT = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=8).map(
    lambda parts: "".join(w + s for w, s in parts)
)
VOCAB_TERMS = st.builds(
    lambda words, sep, star, field: term(sep.join(words), star=star, field=field),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    st.sampled_from([" ", "", "・"]),
    st.booleans(),
    st.sampled_from([None, None, "title", "summary"]),
)


@settings(max_examples=300)
@given(st.lists(trees(VOCAB_TERMS), min_size=1, max_size=6), FIELD_TEXT, FIELD_TEXT)  # type: ignore[arg-type]
def test_matcher_agrees_with_matches(topics: list[Node], title: str, summary: str) -> None:
    """The fast many-topic Matcher says what the plain recursive evaluation says."""
    doc = document(title, summary)
    named = {f"t{i}": tree for i, tree in enumerate(topics)}
    expected = {name: hits(tree, doc) for name, tree in named.items() if matches(tree, doc)}
    assert Matcher(named).match(doc) == expected


def test_shared_leaf_keeps_each_label() -> None:
    matcher = Matcher({"a": parse("OpenAI"), "b": parse("ＯｐｅｎＡＩ")})
    assert matcher.match(document("OpenAI")) == {"a": ("OpenAI",), "b": ("ＯｐｅｎＡＩ",)}


def _leaf(node: Node) -> Term:
    assert isinstance(node, Term)
    return node


def test_field_restricted_and_free_leaves_differ() -> None:
    assert _leaf(parse("title:ai")) != _leaf(parse("ai"))
