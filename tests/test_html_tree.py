"""The nesting guard in front of lexbor: pathological pages are refused in time, real ones never."""

from __future__ import annotations

import time

import pytest

from monitor.errors import ParseError
from monitor.ingest.charset import decode_html
from monitor.ingest.html_tree import DEPTH_BUDGET, check_nesting, parse_html
from tests.corpus import corpus_root


def test_a_deeply_nested_page_is_refused_before_lexbor_stalls_on_it() -> None:
    page = "<html><body>" + "<div>" * 100_000 + "x"  # lexbor alone takes ~30 s on this
    started = time.monotonic()
    with pytest.raises(ParseError, match="nests its elements too deeply"):
        parse_html(page)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("opener", ["<div/>", "<DIV />", "<svg></svg><span/>", "<svg><div/>"])
def test_a_self_closing_slash_on_html_elements_still_nests(opener: str) -> None:
    """A hostile-input test's find: 100,000 <div/> passed the guard (it took the slash as closing)
    and lexbor spent half a minute, since HTML ignores that slash; so does a <div/> that ends an
    <svg>."""
    with pytest.raises(ParseError, match="nests its elements too deeply"):
        check_nesting("<html><body>" + opener * 100_000)


def test_self_closed_svg_and_mathml_elements_do_not_nest() -> None:
    check_nesting("<svg>" + "<path d='M0 0'/><circle r='1' />" * 50_000 + "</svg><math>" + "<mi/>" * 50_000 + "</math>")


def test_many_shallow_nests_add_up() -> None:
    block = "<div>" * 2_000 + "x" + "</div>" * 2_000  # ~2,000,000 a block: ten of them pass, more do not
    check_nesting(block * (DEPTH_BUDGET // 2_001_000))
    with pytest.raises(ParseError):
        check_nesting(block * (DEPTH_BUDGET // 2_001_000 + 1))


@pytest.mark.parametrize("page", [
    "<ul>" + "<li><a href='/x'>item</a> <br><img src=x>" * 20_000 + "</ul>",  # big but flat
    "<table>" + "<tr><td>1<td>2" * 10_000 + "</table>",  # end tags left out, as HTML allows
    "<script>" + "if (a<b && c<d) {}" * 20_000 + "</script><p>text",  # no tags in scripts
    "<!--" + "<div>" * 20_000 + "--><p>text",  # nor in comments
])
def test_big_ordinary_pages_pass(page: str) -> None:
    assert parse_html(page).body is not None


def test_every_corpus_page_passes() -> None:
    pages = [p for p in (corpus_root() / "real").rglob("*.htm*") if p.is_file()]
    assert len(pages) >= 15
    for path in pages:
        check_nesting(decode_html(path.read_bytes(), None))
