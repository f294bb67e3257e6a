"""ingest.charset: every path to an encoding, on real Japanese pages (../shared/corpus/MANIFEST.md).

hardsoft.at.webry.info says Shift_JIS but needs CP932 (①, Ⅰ, №); www2.chuo-u.ac.jp says
``x-sjis`` and uses the Windows extension kanji; the rdf/atom.ycf.nanet.co.jp and andore.com
feeds are real EUC-JP and Shift_JIS bytes, used here with their declaration removed in memory.
"""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.ingest.charset import codec_for_label, decode_html, read_html
from tests.corpus import corpus_path

HARDSOFT = "real/hardsoft.at.webry.info/index.html"
CHUO = "real/www2.chuo-u.ac.jp/suishin.html"
NHK = "real/www3.nhk.or.jp/news__easy__k10011959621000__k10011959621000.html"
MAFF = "real/www.maff.go.jp/j__press__index.html"
EUC_RDF = "real/rdf.ycf.nanet.co.jp/index.rdf.xml"
EUC_ATOM = "real/atom.ycf.nanet.co.jp/atom.xml"
SJIS_RDF = "real/andore.com/money.rdf.xml"
SJIS_RSS = "real/moon-light.ne.jp/index.rss2.xml"


def read(relative: str) -> bytes:
    return corpus_path(relative).read_bytes()


def undeclared(relative: str) -> bytes:
    """The document with its XML encoding declaration taken out (the file itself is untouched)."""
    return re.sub(rb'\sencoding="[^"]*"', b"", read(relative), count=1)


# (id, file, Content-Type header, text that must come out intact)
PAGES = [
    ("header-shift-jis-needs-cp932", HARDSOFT, "text/html; charset=Shift_JIS", "CP932、MacJapanese の違い"),
    ("header-cp932-gaiji", HARDSOFT, "text/html; charset=shift_jis", "①"),
    ("meta-shift-jis", HARDSOFT, "text/html", "ハードなソフトの話"),
    ("meta-shift-jis-no-header", HARDSOFT, None, "Ⅰ"),
    ("meta-x-sjis", CHUO, None, "髙"),
    ("meta-x-sjis-ibm-kanji", CHUO, "text/html", "德"),
    ("bom-utf8", NHK, None, "子どもへの体罰を禁止する法律ができる"),
    ("bom-beats-wrong-header", NHK, "text/html; charset=Shift_JIS", "子どもへの体罰を禁止する法律ができる"),
    ("meta-utf8", MAFF, None, "報道発表資料"),
    ("header-utf8", MAFF, "text/html; charset=utf-8", "報道発表資料"),
    ("xml-declaration-euc-jp", EUC_RDF, None, "andoのページの雑記帳"),
    ("header-euc-jp", EUC_ATOM, "text/html; charset=EUC-JP", "さだまさし"),
    ("xml-declaration-shift-jis", SJIS_RDF, None, "この道はいつか来た道"),
]


@pytest.mark.parametrize(("relative", "content_type", "expected"), [c[1:] for c in PAGES], ids=[c[0] for c in PAGES])
def test_declared_and_bom_paths(relative: str, content_type: str | None, expected: str) -> None:
    text = decode_html(read(relative), content_type)
    assert expected in text
    assert "\ufffd" not in text


DETECTED = [
    ("undeclared-euc-jp-rdf", EUC_RDF, "andoのページの雑記帳"),
    ("undeclared-euc-jp-atom", EUC_ATOM, "さだまさし"),
    ("undeclared-shift-jis-rdf", SJIS_RDF, "この道はいつか来た道"),
    ("undeclared-shift-jis-rss", SJIS_RSS, "大晦日視聴率"),
]


@pytest.mark.parametrize(("relative", "expected"), [c[1:] for c in DETECTED], ids=[c[0] for c in DETECTED])
def test_undeclared_japanese_is_detected(relative: str, expected: str) -> None:
    body = undeclared(relative)
    assert b"encoding=" not in body[:200]
    for content_type in (None, "text/html", "text/html; charset=x-no-such-charset"):
        text = decode_html(body, content_type)
        assert expected in text and "\ufffd" not in text


def test_header_wins_over_meta() -> None:
    body = '<meta charset="utf-8"><p>日本語のページ</p>'.encode("cp932")
    assert "日本語のページ" in decode_html(body, "text/html; charset=Shift_JIS")


def test_meta_http_equiv_and_unknown_header_label() -> None:
    body = '<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP"><p>報道発表</p>'.encode("euc_jp")
    assert "報道発表" in decode_html(body, "text/html; charset=bogus")


def test_undeclared_iso_2022_jp_and_utf16_bom() -> None:
    assert "報道発表" in decode_html("<p>報道発表</p>".encode("iso2022_jp"), None)
    assert "報道発表" in decode_html(codecs.BOM_UTF16_LE + "<p>報道発表</p>".encode("utf-16-le"), None)


def test_wrong_utf8_label_is_detected_but_a_stray_byte_is_not() -> None:
    text = decode_html("<p>日本語</p>".encode("cp932"), "text/html; charset=utf-8")
    assert "日本語" in text  # declared UTF-8 but mostly invalid: the better Japanese reading wins
    damaged = ("<p>" + "日本語のページです。" * 50).encode() + b"\xff" + "続きの文章".encode()
    assert decode_html(damaged, "text/html; charset=utf-8").endswith("です。\ufffd続きの文章")
    assert read_html(damaged, "text/html; charset=utf-8")[1] == (
        "its declared charset utf-8 does not fit its bytes; bytes it cannot decode became U+FFFD")
    assert read_html("<p>日本語</p>".encode(), "text/html; charset=utf-8")[1] == ""
    assert read_html("<meta charset=euc-jp><p>日本語</p>".encode("euc_jp"), None)[1] == ""
    # the note names the label the page wrote, not the codec it maps to (a review nit)
    assert read_html("<meta charset=Shift_JIS><p>日本語</p>".encode() + b"\xff\xfe", None)[1].startswith(
        "its declared charset Shift_JIS does not fit")


def test_a_legacy_label_that_decodes_wrongly_is_not_believed() -> None:
    """A hostile-input test's find: a UTF-8 page served as charset=shift_jis decoded without a
    single error, as mojibake (繧ｽ繝輔ヨ...), on listing and article pages alike, with no note;
    feeds were already read right. EUC-JP bytes labelled Shift_JIS likewise."""
    page = '<meta charset="utf-8"><p>ソフトバンクとOpenAIが合弁会社</p>'
    text, note = read_html(page.encode(), "text/html; charset=shift_jis")
    assert "ソフトバンクとOpenAIが合弁会社" in text
    assert note == "its declared charset shift_jis does not fit its bytes; decoded them by detection"
    euc = read(EUC_ATOM)
    assert "さだまさし" in decode_html(euc, "text/html; charset=Shift_JIS")
    # a page that is what it says stays as it was, without a note
    assert read_html(read(HARDSOFT), "text/html; charset=Shift_JIS")[1] == ""
    assert read_html("<p>Café crème</p>".encode("cp1252"), "text/html; charset=iso-8859-1") == (
        "<p>Café crème</p>", "")


LABELS = [("Shift_JIS", "cp932"), ("sjis", "cp932"), ("x-sjis", "cp932"), ("Windows-31J", "cp932"),
          ("EUC-JP", "euc_jp"), ("x-euc-jp", "euc_jp"), ("ISO-2022-JP", "iso2022_jp"), ("UTF-8", "utf-8"),
          ("iso-8859-1", "cp1252"), ("us-ascii", "cp1252"), ("utf-16", "utf-8"), ("koi8-r", "koi8-r"),
          ("base64", None), ("utf-7", None), ("rot13", None), ("no-such", None)]


@pytest.mark.parametrize(("label", "codec"), LABELS, ids=[label for label, _ in LABELS])
def test_label_mapping(label: str, codec: str | None) -> None:
    assert codec_for_label(label) == codec


@given(st.binary(max_size=300), st.one_of(st.none(), st.text(max_size=40)))
def test_any_bytes_decode_without_raising(body: bytes, content_type: str | None) -> None:
    assert isinstance(decode_html(body, content_type), str)
