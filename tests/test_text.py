"""Normalisation and tokenisation: the tokens both query back ends see (issue 2)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.text import cjk_tokens, normalize, runs, tokenize

NORMALIZE = [
    ("nfkc-full-width-latin", "ＯｐｅｎＡＩ", "openai"),
    ("nfkc-half-width-katakana", "ｿﾌﾄﾊﾞﾝｸ", "ソフトバンク"),
    ("nfkc-half-width-voiced-mark-composes", "ｶﾞｽ", "ガス"),
    ("nfkc-ideographic-space", "政府\u3000AI", "政府 ai"),
    ("nfkc-full-width-digits", "２０２５年", "2025年"),
    ("casefold", "OpenAI STRASSE Straße", "openai strasse strasse"),
    ("latin-diacritics-dropped", "Café Ñandú Zürich", "cafe nandu zurich"),
    ("latin-diacritic-combining-mark", "Cafe\u0301", "cafe"),
    ("japanese-voiced-marks-kept", "ガギグゲゴ パピプ", "ガギグゲゴ パピプ"),
    ("ascii-fast-path", "Japan's AI", "japan's ai"),
    ("kanji-variants-of-names", "髙島屋 山﨑 渡邉 齋藤 𠮷野家", "高島屋 山崎 渡辺 斎藤 吉野家"),
    ("kanji-variant-after-nfkc", "ＡＩと髙市", "aiと高市"),
    ("common-kanji-untouched", "高市総理 斉藤 国会", "高市総理 斉藤 国会"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in NORMALIZE], ids=[c[0] for c in NORMALIZE])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


TOKENIZE = [
    ("word-run-is-one-token", "OpenAI 2025", ["openai", "2025"]),
    ("hyphen-splits-words", "AI-driven", ["ai", "driven"]),
    ("apostrophe-splits-words", "OpenAI's", ["openai", "s"]),
    ("underscore-splits-words", "snake_case", ["snake", "case"]),
    ("script-change-is-a-boundary", "政府のAI政策", ["政府", "府の", "の", "ai", "政策", "策"]),
    ("cjk-run-bigrams-then-unigram", "合弁会社", ["合弁", "弁会", "会社", "社"]),
    ("cjk-one-char-run", "米", ["米"]),
    ("cjk-middle-dot-joins", "クリスタル・インテリジェンス", cjk_tokens("クリスタルインテリジェンス")),
    (
        "cjk-half-width-middle-dot-joins",
        "クリスタル･インテリジェンス",
        cjk_tokens("クリスタルインテリジェンス"),
    ),
    ("cjk-space-joins", "クリスタル インテリジェンス", cjk_tokens("クリスタルインテリジェンス")),
    (
        "cjk-ideographic-space-joins",
        "クリスタル\u3000インテリジェンス",
        cjk_tokens("クリスタルインテリジェンス"),
    ),
    ("cjk-prolonged-sound-mark", "スターゲート", ["スタ", "ター", "ーゲ", "ゲー", "ート", "ト"]),
    ("cjk-iteration-mark", "人々", ["人々", "々"]),
    ("cjk-punctuation-ends-run", "東京、大阪。", ["東京", "京", "大阪", "阪"]),
    ("cjk-brackets-end-run", "「合弁」会社", ["合弁", "弁", "会社", "社"]),
    ("space-between-cjk-and-latin-does-not-join", "生成 AI", ["生成", "成", "ai"]),
    ("hangul-is-a-word", "삼성 AI", ["삼성", "ai"]),
    ("cyrillic-is-a-word", "Россия", ["россия"]),
    ("separators-only", "!!! — ...", []),
    # a number ends where letters follow it, so 1.5GW is found as 1.5 GW and GW; a letter's
    # digits stay in its word (an exploratory test's find: "GW" did not match 1.5GW)
    ("number-then-unit-splits", "1.5GW 200MW $22.5bn", ["1\u066b5", "gw", "200", "mw", "22\u066b5", "bn"]),
    # a decimal is one number (1.4 is not 1/4, an exploratory test's find); a dotted run of
    # three or more is not a decimal (a date 2025.2.3), nor are a word's digits (v1.2)
    ("decimal-is-one-number", "1.4 and 1/4, 2025.2.3, v1.2, 4.5GW追加",
     ["1\u066b4", "and", "1", "4", "2025", "2", "3", "v1", "2", "4\u066b5", "gw", "追加", "加"]),
    ("letter-then-digits-stays", "G7 H100 GPT4o", ["g7", "h100", "gpt4o"]),
    ("number-unit-in-japanese", "出力1.5GWの拠点", ["出力", "力", "1\u066b5", "gw", "の拠", "拠点", "点"]),
    ("number-unit-cyrillic", "5гвт", ["5", "гвт"]),
    # a number in groups of three is one number (an exploratory test's find: 13251 missed
    # "13,251", 5000億円 missed "5,000億円"); a list of numbers is not grouped
    ("grouped-number-is-one", "totaled 13,251, or 1,000,000.5", ["totaled", "13251", "or", "1000000\u066b5"]),
    ("grouped-number-japanese", "５，０００億円", ["5000", "億円", "円"]),
    ("list-of-numbers-stays", "2024,2025 and 1,2,3 and 12,34", ["2024", "2025", "and", "1", "2", "3", "and", "12", "34"]),
    # what shows nothing breaks no word (soft hyphen, zero-width space, word joiner, BOM)
    ("invisible-characters-dropped", "Star\u00adgate Soft\u200bBank ソフト\u2060バンク\ufeff",
     ["stargate", "softbank", *cjk_tokens("ソフトバンク")]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in TOKENIZE], ids=[c[0] for c in TOKENIZE])
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_runs_name_the_script() -> None:
    assert runs("生成AI・クリスタル インテリジェンス") == [
        (True, "生成"),
        (False, "ai"),
        (True, "クリスタルインテリジェンス"),
    ]


MIXED = st.text(
    alphabet=st.sampled_from(
        list("aZé9 -'・･·‧\u3000、。政府の米合弁ガｶﾞｿﾌﾄー々삼Ｏ_\t") + ["\u0301", "İ", "ß"]
    ),
    max_size=40,
)


@given(st.one_of(st.text(max_size=60), MIXED))
def test_tokenize_is_runs_flattened(text: str) -> None:
    """The fast tokenizer and the run splitter the query side uses agree on every text."""
    flat = [tok for cjk, run in runs(text) for tok in (cjk_tokens(run) if cjk else [run])]
    assert tokenize(text) == flat


@given(st.one_of(st.text(max_size=60), MIXED))
def test_tokens_are_what_fts5_ascii_sees(text: str) -> None:
    """FTS5's ascii tokenizer splits on ASCII non-alphanumerics only: tokens must have none."""
    for token in tokenize(text):
        assert token
        assert all(not c.isascii() or c.isalnum() for c in token)
        assert not any(c.isspace() for c in token)


@given(
    st.one_of(
        st.text(max_size=60), MIXED, st.text(alphabet="ＡＢａ１！（）\u3000\u0301\u3099ｶﾞ…㈱①", max_size=20)
    )
)
def test_normalize_shortcut_is_nfkc(text: str) -> None:
    """The full-width shortcut taken before NFKC changes nothing NFKC would not."""
    assert normalize(text) == normalize(unicodedata.normalize("NFKC", text))
