"""The entity guard: XML bombs and external entities are refused before any parser runs."""

from __future__ import annotations

import codecs

import pytest

from monitor.errors import ParseError
from monitor.ingest.entities import EXPANSION_LIMIT, VALUE_LIMIT, check_entities
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
