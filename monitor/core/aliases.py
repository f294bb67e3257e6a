"""Anchors: what an English and a Japanese report of one story share, as comparable keys.

Pure: no I/O, standard library only. Two texts in different languages share no words, but they
name the same companies, people and places, and they give the same figures:
``SoftBank``/``ソフトバンク``/``软银`` is one key, ``$22.5 billion``/``225億ドル`` another, ``1GW``/
``1ギガワット``/``100万キロワット`` a third. ``anchors(text)`` returns those keys; the story
fingerprint compares them (and, within one language, uses figures to tell apart two reports that
differ only in a number: the 10th and the 9th meeting, the 48th and the 49th damage report).

The table covers the monitored domain (domain-topics.md); extending it is adding a row, not code.
Not responsible for weighting or deciding anything: that is ``clusters``.
"""

from __future__ import annotations

import re
from collections import defaultdict

from monitor.core.text import normalize

# kind -> canonical -> surface forms, matched after normalize() (NFKC, casefold). Latin forms
# match whole words; forms with Japanese or Chinese script match anywhere, with middle dots and
# spaces removed first (so a Latin part inside them, オープンai, is not held to word edges).
# Bare words that are also common English (son, arm) are left out.
TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "org": {
        "softbank": ("softbank", "sbg", "ソフトバンクグループ", "ソフトバンクg", "ソフトバンク", "软银", "軟銀"),
        "openai": ("openai", "open ai", "オープンai", "オープンエーアイ"),
        "oracle": ("oracle", "オラクル", "甲骨文"),
        "nvidia": ("nvidia", "エヌビディア", "英伟达", "輝達"),
        "mgx": ("mgx",),
        "g42": ("g42",),
        "sb-energy": ("sb energy", "sbエナジー"),
        "nscale": ("nscale",),
        "aker": ("aker", "アーカー"),
        "samsung": ("samsung", "サムスン", "三星"),
        "sk": ("sk hynix", "sk telecom", "skハイニックス", "skテレコム"),
        "amazon": ("amazon", "アマゾン"),
        "microsoft": ("microsoft", "マイクロソフト"),
        "sharp": ("sharp", "シャープ"),
        "rapidus": ("rapidus", "ラピダス"),
        "digital-agency": ("digital agency", "デジタル庁"),
        "meti": ("meti", "economy ministry", "経済産業省", "経産省"),
        "t-mobile": ("t-mobile", "tモバイル"),
        "sur-energy": ("sur energy", "スールエナジー"),
        "related-digital": ("related digital",),
        "wsj": ("wall street journal", "wsj", "ウォールストリートジャーナル"),
    },
    "person": {
        "son": ("masayoshi son", "son masayoshi", "孫正義", "孫氏", "孫会長", "孙正义"),
        "altman": ("sam altman", "altman", "サムアルトマン", "アルトマン", "奥特曼", "奧特曼", "奥尔特曼", "阿尔特曼"),
        "ishiba": ("shigeru ishiba", "ishiba", "石破茂", "石破"),
        "takaichi": ("sanae takaichi", "takaichi", "高市早苗", "高市"),
        "brockman": ("greg brockman", "brockman", "ブロックマン"),
        "trump": ("donald trump", "trump", "ドナルドトランプ", "トランプ", "特朗普"),
        "lehane": ("lehane", "レヘイン"),
        "lee-jae-myung": ("lee jae-myung", "李在明"),
        "milei": ("milei", "ミレイ"),
    },
    "place": {
        "abilene": ("abilene", "アビリーン", "阿比林"),
        "shackelford": ("shackelford", "シャックルフォード", "谢克尔福德"),
        "dona-ana": ("dona ana", "ドニャアナ", "多纳安娜"),
        "lordstown": ("lordstown", "ローズタウン", "洛兹敦"),
        "milam": ("milam", "ミラム", "米拉姆"),
        "saline": ("saline township", "セーライン"),
        "michigan": ("michigan", "ミシガン"),
        "texas": ("texas", "テキサス"),
        "ohio": ("ohio", "オハイオ"),
        "new-mexico": ("new mexico", "ニューメキシコ"),
        "narvik": ("narvik", "kvandal", "ナルビク"),
        "norway": ("norway", "norwegian", "ノルウェー"),
        "uae": ("uae", "united arab emirates", "アラブ首長国連邦"),
        "abu-dhabi": ("abu dhabi", "アブダビ"),
        "argentina": ("argentina", "アルゼンチン"),
        "patagonia": ("patagonia", "パタゴニア"),
        "korea": ("korea", "korean", "韓国"),
        "seoul": ("seoul", "ソウル"),
        "india": ("india", "インド"),
        "britain": ("britain", "united kingdom", "英国"),
        "sakai": ("sakai", "堺"),
        "osaka": ("osaka", "大阪"),
        "hokkaido": ("hokkaido", "北海道"),
        "tomakomai": ("tomakomai", "苫小牧"),
        "utah": ("utah", "ユタ"),
    },
    "thing": {
        "stargate": ("stargate", "スターゲート", "星际之门", "星際之門", "星门", "星門"),
        "sb-openai-japan": ("sb openai japan", "sbopenaijapan", "sbオープンaiジャパン", "sbopenaiジャパン"),
        "sb-oai-japan": ("sb oai japan",),
        "cristal": ("cristal intelligence", "crystal intelligence", "クリスタルインテリジェンス"),
        "gennai": ("gennai", "源内"),
        "ai-act": ("ai promotion act", "ai law", "ai推進法", "ai新法", "ai法"),
        "ai-hq": ("ai strategy headquarters", "ai strategy hq", "ai戦略本部", "人工知能戦略本部"),
        "basic-plan": ("basic plan", "基本計画"),
        "openai-for-countries": ("openai for countries",),
        "gb200": ("gb200",),
        "chie-4": ("chie-4", "chie 4"),
        "hpl-mxp": ("hpl-mxp",),
        "golden-share": ("golden share", "黄金株"),
        "blueprint": ("economic blueprint", "ブループリント"),
        "nvidia-stake": ("nvidia stake", "nvidia shares", "エヌビディア株"),
    },
    "concept": {
        "joint-venture": ("joint venture", "合弁"),
        "data-center": ("data center", "data centre", "データセンター"),
        "prime-minister": ("prime minister", "首相", "総理"),
        "cabinet": ("cabinet", "閣議"),
        "supercomputer": ("supercomputer", "スパコン"),
        "subsidy": ("subsidies", "subsidy", "補助金"),
        "trademark": ("trademark", "商標"),
        "valuation": ("valuation", "企業価値", "評価額"),
        "acquisition": ("acquire", "acquisition", "買収"),
    },
}

# The place of the table that holds each smaller one: a report of a new site "in Texas" and one
# "in Milam County" may tell one story; "in Abilene" and "in Milam County" do not.
WITHIN = {
    "abilene": "texas",
    "shackelford": "texas",
    "milam": "texas",
    "dona-ana": "new-mexico",
    "lordstown": "ohio",
    "saline": "michigan",
    "narvik": "norway",
    "abu-dhabi": "uae",
    "patagonia": "argentina",
    "seoul": "korea",
    "sakai": "osaka",
    "tomakomai": "hokkaido",
}

_JOINERS = re.compile("[\\s\u30fb\uff65\u00b7\u2027]+")
_WORDS = re.compile("[a-z0-9]+")


def _compile() -> tuple[dict[str, str], dict[str, str], int]:
    """Latin forms keyed by their words joined with a space; other forms as ``normalize`` leaves
    them, which is how the text they are looked for in comes (谢克尔福德 is found as 谢克尔福徳)."""
    latin: dict[str, str] = {}
    other: dict[str, str] = {}
    for kind, entries in TABLE.items():
        for canonical, surfaces in entries.items():
            for surface in surfaces:
                key = f"{kind}:{canonical}"
                if surface.isascii():
                    latin[" ".join(_WORDS.findall(surface))] = key
                else:
                    other[_JOINERS.sub("", normalize(surface))] = key
    return latin, other, max(len(k.split()) for k in latin)


# A dictionary lookup per word n-gram and a substring test per Japanese form are ten times
# faster than one regular expression of all the forms.
_LATIN, _OTHER, _LONGEST = _compile()
_FIRST = frozenset(key.split()[0] for key in _LATIN if " " in key)
_BY_INITIAL: dict[str, list[tuple[str, str]]] = defaultdict(list)
for _form, _key in _OTHER.items():
    _BY_INITIAL[_form[0]].append((_form, _key))

# What goes with a name and says no more than it: a person's title, an honorific.
_ROLES_LATIN = frozenset(
    ["prime minister", "president", "chairman", "ceo", "chief executive", "founder", "minister", "pm", "mr", "ms"]
)
_ROLES_OTHER = ("首相", "総理", "大統領", "会長", "社長", "代表")  # 氏 only after a name: 氏名, 源氏
# What without_names cuts: companies, people, and the things that are names (products,
# programmes, bodies), not those that say what happened (a law, a plan, a golden share).
_NAMING_KINDS = ("org:", "person:")
_NAMED_THINGS = frozenset(
    f"thing:{k}" for k in ("stargate", "sb-openai-japan", "sb-oai-japan", "cristal", "gennai", "ai-hq",
                           "openai-for-countries", "gb200", "chie-4", "hpl-mxp")
)


def _naming(key: str) -> bool:
    return key.startswith(_NAMING_KINDS) or key in _NAMED_THINGS


# Names in Japanese or Chinese script, and titles, longest first (ソフトバンクグループ before ソフトバンク).
_NAME_FORMS = sorted(
    [form for form, key in _OTHER.items() if _naming(key)] + list(_ROLES_OTHER), key=len, reverse=True
)
_BREAK = "|"  # not a joiner: the shingles on either side of a removed name stay apart
_DOTS = re.compile("[\u30fb\uff65\u00b7\u2027]")
_NAMING_LATIN = frozenset(gram for gram, key in _LATIN.items() if _naming(key)) | _ROLES_LATIN
_NAMING_FIRST = frozenset(gram.split()[0] for gram in _NAMING_LATIN if " " in gram)


# Figures. A number is digits with thousands commas and a decimal point (7.10.26 is no number);
# Latin scales and Japanese 万/億/兆 multiply it; the unit says what kind of figure it is.
# Japanese compounds (3兆5000億円) are summed.
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "bil": 1e9,
    "billion": 1e9,
    "tn": 1e12,
    "trillion": 1e12,
    "万": 1e4,
    "億": 1e8,
    "兆": 1e12,
}
_UNIT = {
    "$": "usd",
    "us$": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "ドル": "usd",
    "美元": "usd",
    "¥": "jpy",
    "yen": "jpy",
    "円": "jpy",
    "gw": "w9",
    "gigawatt": "w9",
    "gigawatts": "w9",
    "ギガワット": "w9",
    "mw": "w6",
    "megawatt": "w6",
    "megawatts": "w6",
    "メガワット": "w6",
    "キロワット": "w3",
    "%": "pct",
    "percent": "pct",
    "パーセント": "pct",
    "回": "nth",
    "報": "nth",
    "次": "nth",
    "弾": "nth",
    "号": "nth",
    "日": "day",
    "月": "month",
}
_NUM = r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d.]*\d)"
_FIGURE = re.compile(
    r"(?P<pre>us\$|\$|¥)?\s?(?P<num>" + _NUM + r")\s?"
    r"(?P<scale>(?:兆(?:"
    + _NUM
    + r"億)?|億|万)|(?:thousand|million|billion|trillion|bil|bn|mn|tn|k|m|b)(?![a-z]))?\.?\s?"
    r"(?P<unit>ドル|美元|円|yen|dollars?|gigawatts?|megawatts?|gw|mw|ギガワット|メガワット|キロワット"
    r"|%|percent|パーセント|回|報|次|弾|号|日|月)?(?![a-z])"
)
_DIGIT = re.compile(r"\d")
_ORDINAL = re.compile(r"第\s?(" + _NUM + r")\s?(回|報|次|弾|号)")
_SI = {"w9": 1e9, "w6": 1e6, "w3": 1e3}


def _value(match: re.Match[str]) -> tuple[str, float] | None:
    unit = _UNIT.get(match["unit"] or "") or _UNIT.get(match["pre"] or "")
    scale_text = match["scale"] or ""
    value = float(match["num"].replace(",", ""))
    if scale_text.startswith("兆") and len(scale_text) > 1:  # 3兆5000億
        value = value * 1e12 + float(scale_text[1:-1].replace(",", "")) * 1e8
    else:
        value *= _SCALE.get(scale_text, 1.0)
    if unit is None:
        # a bare number (a year, a count) says too little; a scaled one (500 billion, 5000億) does
        return ("num", value) if scale_text else None
    if unit in _SI:
        value, unit = value * _SI[unit], "watt"
    return unit, value


def figures(text: str) -> set[str]:
    """Figures as ``unit:value`` keys: ``$22.5 billion`` and ``225億ドル`` -> ``usd:2.25e+10``.

    Units: usd, jpy, watt, pct, nth (第N回/報/号), day, month; ``num`` is a scaled number with no
    unit (``500 billion``, ``5000億``).
    """
    return _figures(normalize(text))


def _figures(text: str) -> set[str]:
    if not _DIGIT.search(text):
        return set()
    found = {f"nth:{float(n.replace(',', '')):.4g}" for n, _ in _ORDINAL.findall(text)}
    for match in _FIGURE.finditer(_ORDINAL.sub(" ", text)):
        got = _value(match)
        if got is not None and got[1] > 0:
            found.add(f"{got[0]}:{got[1]:.3g}")
    return found


def names(text: str) -> set[str]:
    """The table's keys named in ``text``: ``{"org:softbank", "place:abilene", ...}``."""
    return _names(normalize(text))


def _names(text: str) -> set[str]:
    words = _WORDS.findall(text)
    found = {key for key in map(_LATIN.get, words) if key}
    for i, word in enumerate(words):
        if word in _FIRST:
            for n in range(2, _LONGEST + 1):
                key = _LATIN.get(" ".join(words[i : i + n]))
                if key:
                    found.add(key)
    if not text.isascii():
        joined = _JOINERS.sub("", text)
        for initial in _BY_INITIAL.keys() & set(joined):
            found.update(key for form, key in _BY_INITIAL[initial] if form in joined)
    return found


def without_names(text: str) -> str:
    """``text`` (normalised) with the companies, people and products of the table (things:
    Stargate, Crystal intelligence, 人工知能戦略本部), and people's titles (首相, CEO, 氏, prime
    minister), cut out: what is left says what happened, not who or to what.
    ``Takaichi meets OpenAI's Altman`` -> ``| meets |'s |``; 高市首相、アルトマン氏と会談 ->
    ``||、|と会談`` (氏 only right after a name: 氏名 stays). Places stay: where is news."""
    text = normalize(text)
    spans = [m.span() for m in _WORDS.finditer(text)]
    words = [text[a:b] for a, b in spans]
    cut = [False] * len(words)
    for i, word in enumerate(words):
        if word in _NAMING_FIRST:
            for n in range(min(_LONGEST, len(words) - i), 1, -1):
                if " ".join(words[i : i + n]) in _NAMING_LATIN:
                    cut[i : i + n] = [True] * n
                    break
        if word in _NAMING_LATIN:
            cut[i] = True
    out, last = [], 0
    for (a, b), gone in zip(spans, cut):
        if gone:
            out += [text[last:a], _BREAK]
            last = b
    text = "".join([*out, text[last:]])
    if not text.isascii():
        text = _DOTS.sub("", text)  # サム・アルトマン is サムアルトマン, as the table spells it
        for form in _NAME_FORMS:
            if form in text:
                text = text.replace(form, _BREAK)
        text = text.replace(_BREAK + "氏", _BREAK)
    return text


def anchors(text: str) -> set[str]:
    """Names and figures together: what a report in another language would share."""
    text = normalize(text)
    return _names(text) | _figures(text)
