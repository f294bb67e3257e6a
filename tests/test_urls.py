"""core.urls: the canonical URL is the article's key, so it must merge spellings and never merge articles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.urls import TRACKING_PARAMS, canonical_url, is_http_url, is_tracking_param

CANONICAL = [
    ("lower-scheme-host", "HTTPS://WWW.Example.COM/Path", "https://www.example.com/Path"),
    ("drop-http-80", "http://example.com:80/a", "http://example.com/a"),
    ("drop-https-443", "https://example.com:443/a", "https://example.com/a"),
    ("keep-other-port", "https://example.com:8443/a", "https://example.com:8443/a"),
    ("keep-80-on-https", "https://example.com:80/a", "https://example.com:80/a"),
    ("empty-path", "https://example.com", "https://example.com/"),
    ("empty-path-query", "https://example.com?id=1", "https://example.com/?id=1"),
    ("drop-fragment", "https://example.com/a#comments", "https://example.com/a"),
    ("keep-hashbang", "https://example.com/#!/story/42", "https://example.com/#!/story/42"),
    ("strip-whitespace", "  \n https://news.google.com/rss/articles/CBMi?oc=5 \n ",
     "https://news.google.com/rss/articles/CBMi?oc=5"),
    ("utm", "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://example.com/a"),
    ("utm-upper", "https://example.com/a?UTM_Source=rss", "https://example.com/a"),
    ("keep-order-of-the-rest", "https://example.com/a?b=2&fbclid=x&a=1&gclid=y", "https://example.com/a?b=2&a=1"),
    ("empty-pairs", "https://example.com/a?&&id=3&", "https://example.com/a?id=3"),
    ("idn-host", "https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ("idn-upper", "https://ÄBC.de/", "https://xn--bc-uia.de/"),
    ("trailing-dot-host", "https://example.com./a", "https://example.com/a"),
    ("upper-escapes", "https://example.com/%e3%81%82", "https://example.com/%E3%81%82"),
    ("decode-unreserved", "https://example.com/%7Euser/%41", "https://example.com/~user/A"),
    ("keep-escaped-slash", "https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("encode-raw-unicode", "https://example.com/ニュース?q=日本", "https://example.com/%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9?q=%E6%97%A5%E6%9C%AC"),
    ("encode-space", "https://example.com/a b", "https://example.com/a%20b"),
    ("keep-plus", "https://example.com/s?q=a+b", "https://example.com/s?q=a+b"),
    ("dot-segments", "https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("ipv6", "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


NOT_HTTP = [("none", None), ("empty", ""), ("blank", "   "), ("javascript", "javascript:alert(1)"),
            ("mailto", "mailto:press@example.com"), ("file", "file:///etc/passwd"), ("ftp", "ftp://example.com/"),
            ("relative", "/jp/105/index.html"), ("scheme-relative", "//example.com/a"), ("no-host", "http:///a"),
            ("bad-port", "http://example.com:99999/"), ("word-port", "http://example.com:abc/"),
            ("broken-ipv6", "http://[::1/"), ("data", "data:text/html,<b>x</b>")]


@pytest.mark.parametrize("url", [c[1] for c in NOT_HTTP], ids=[c[0] for c in NOT_HTTP])
def test_not_http_is_none(url: str | None) -> None:
    assert canonical_url(url) is None
    assert is_http_url(url) is False


@pytest.mark.parametrize("name", sorted(TRACKING_PARAMS) + ["utm_source", "utm_content", "utm_anything"])
def test_every_tracking_param_is_removed(name: str) -> None:
    assert is_tracking_param(name)
    assert canonical_url(f"https://example.com/a?id=7&{name}=v") == "https://example.com/a?id=7"


@pytest.mark.parametrize("name", ["id", "p", "page", "q", "oc", "ref", "article", "utm", "source", "s"])
def test_ordinary_params_are_kept(name: str) -> None:
    assert not is_tracking_param(name)
    assert canonical_url(f"https://example.com/a?{name}=v") == f"https://example.com/a?{name}=v"


DISTINCT = [
    ("path", "https://example.com/a", "https://example.com/b"),
    ("path-case", "https://example.com/A", "https://example.com/a"),
    ("query-value", "https://example.com/a?id=1", "https://example.com/a?id=2"),
    ("query-order", "https://example.com/a?x=1&y=2", "https://example.com/a?y=2&x=1"),
    ("scheme", "http://example.com/a", "https://example.com/a"),
    ("port", "https://example.com/a", "https://example.com:8443/a"),
    ("escaped-slash", "https://example.com/a/b", "https://example.com/a%2Fb"),
    ("hashbang", "https://example.com/#!/1", "https://example.com/#!/2"),
]


@pytest.mark.parametrize(("one", "other"), [c[1:] for c in DISTINCT], ids=[c[0] for c in DISTINCT])
def test_distinct_articles_stay_distinct(one: str, other: str) -> None:
    assert canonical_url(one) != canonical_url(other)


_piece = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_urls = st.builds(
    lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}/{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP", "hTtPs"]),
    st.one_of(st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z0-9-]{1,10}){0,2}", fullmatch=True),
              st.sampled_from(["例え.テスト", "ÄBC.de", "[::1]", "127.0.0.1", "xn--r8jz45g.jp"]), _piece),
    st.sampled_from(["", ":80", ":443", ":8080", ":", ":0"]),
    _piece,
    st.one_of(st.just(""), st.builds(lambda a, b: f"?{a}&utm_source=x&{b}", _piece, _piece)),
    st.one_of(st.just(""), st.builds(lambda a: f"#{a}", _piece)),
)


@given(st.one_of(_urls, st.text()))
def test_canonical_is_idempotent_and_never_raises(url: str) -> None:
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once
        assert is_http_url(once)
    assert is_http_url(url) == (once is not None)


@given(st.from_regex(r"[a-z0-9/_.~-]{0,20}", fullmatch=True), st.from_regex(r"[a-z0-9/_.~-]{0,20}", fullmatch=True))
def test_different_plain_paths_stay_different(a: str, b: str) -> None:
    one, other = canonical_url(f"https://example.com/x/{a}"), canonical_url(f"https://example.com/x/{b}")
    if "." not in a + b:  # dot segments are the one deliberate merge
        assert (one == other) == (a == b)
