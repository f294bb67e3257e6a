"""The entity guard: XML bombs and external entities are refused before any parser runs."""

from __future__ import annotations

import codecs
from datetime import UTC

import pytest

from monitor.errors import ParseError
from monitor.ingest.entities import EXPANSION_LIMIT, VALUE_LIMIT, check_entities, valid_char_refs
from monitor.ingest.feed import parse_feed
from tests.support.faults import billion_laughs


def _doc(subset: str, body: str = "<rss version='2.0'><channel/></rss>") -> bytes:
    return f"<?xml version='1.0'?>\n<!DOCTYPE rss [\n{subset}\n]>\n{body}".encode()


@pytest.mark.parametrize(("doc", "says"), [
    (billion_laughs(), "in terms of other entities"),
    (_doc('<!ENTITY x SYSTEM "file:///etc/passwd">'), "external entity 'x'"),
    (_doc('<!ENTITY x PUBLIC "-//x//EN" "http://169.254.169.254/latest/meta-data/">'), "external entity 'x'"),
    (_doc(f'<!ENTITY a "{"A" * (VALUE_LIMIT + 1)}">'), "of 1025 bytes"),
    (_doc('<!ENTITY a "' + "A" * 1000 + '">', "<rss>" + "&a;" * (EXPANSION_LIMIT // 1000 + 1) + "</rss>"),
     "expand by more than"),
    (_doc('<!ENTITY a "]>"> <!ENTITY lol1 "&lol;&lol;">'), "cannot be read safely"),  # a ']' hides the rest
    (_doc("<!-- <!ENTITY ignored 'x'> --> <!ENTITY x SYSTEM 'file:///etc/passwd'>"), "external entity 'x'"),
    (codecs.BOM_UTF16_LE + billion_laughs().decode().encode("utf-16-le"), "in terms of other entities"),
])
def test_dangerous_declarations_are_refused_with_the_reason(doc: bytes, says: str) -> None:
    with pytest.raises(ParseError, match="refused") as caught:
        check_entities(doc)
    assert says in str(caught.value)


@pytest.mark.parametrize("doc", [
    b"<rss version='2.0'><channel/></rss>",
    (b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
    b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"/>'),
    _doc('<!ENTITY id "tag:example.com,"> <!ENTITY nbsp "&#160;">', "<rss>&id;&nbsp;&id;</rss>"),
    _doc('<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN" "xhtml-lat1.ent">\n%HTMLlat1;'),
    b"<rss><channel><description><![CDATA[<!DOCTYPE html><p>hi</p>]]></description></channel></rss>",
])
def test_ordinary_doctypes_pass(doc: bytes) -> None:
    check_entities(doc)


@pytest.mark.parametrize(("ref", "title"), [
    (b"&#xD800;", "a \ufffd b"), (b"&#0;", "a \ufffd b"), (b"&#1114112;", "a \ufffd b"), (b"&#x110000;", "a \ufffd b"),
    (b"&#x1b;[31m", "a [31m b"), (b"&#8217;", "a \u2019 b"), (b"&#x1F600;", "a \U0001f600 b"),
])
def test_a_character_reference_to_no_character_costs_one_character_not_the_feed(ref: bytes, title: str) -> None:
    doc = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a ' + ref
           + b" b</title><link>http://a.example/1</link></item><item><title>ok</title>"
           b"<link>http://a.example/2</link></item></channel></rss>")
    parsed = parse_feed(doc, url="http://a.example/", content_type=None, tz=UTC)
    assert [d.title for d in parsed.drafts] == [title, "ok"]
    assert valid_char_refs(b"&#xd800;&#55296;&#65;") == b"&#xFFFD;&#xFFFD;&#65;"
