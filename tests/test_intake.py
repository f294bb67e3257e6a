"""The intake decider: identity, duplicates, revisions by the first source only, sightings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.core.entry import EntryDraft
from monitor.core.intake import Known, decide, entry_key, identify

T0 = datetime(2025, 2, 3, tzinfo=UTC)


def test_key_is_canonical_url_else_scoped_id() -> None:
    assert entry_key(EntryDraft("t", link="HTTPS://Example.com:443/a?utm_source=x#top"), "s") == (
        "https://example.com/a", "https://example.com/a")
    assert entry_key(EntryDraft("t", link="javascript:x()", guid="item_1"), "kantei") == ("id:kantei:item_1", None)
    assert entry_key(EntryDraft("t", guid="tag:example.com,2025:1"), "s") == ("id:tag:example.com,2025:1", None)
    assert entry_key(EntryDraft("t", link="mailto:a@b"), "s") is None
    assert entry_key(EntryDraft("t"), "s") is None


def test_new_duplicates_and_skips() -> None:
    drafts = [EntryDraft("A", link="https://x.org/a"), EntryDraft("A again", link="https://x.org/a#frag"),
              EntryDraft("no id"), EntryDraft("B", link="https://x.org/b")]
    intents = decide(identify(drafts, "s"), source_id=1, known={})
    assert [e.title for e in intents.new] == ["A", "B"]
    assert intents.duplicates == 1 and intents.skipped == 1


def test_only_the_first_source_revises_and_others_are_sightings() -> None:
    known = {"https://x.org/a": Known(7, 1, "Old title", "", None, seen_by_source=False)}
    by_other = decide(identify([EntryDraft("Other title", link="https://x.org/a")], "s2"), source_id=2,
                      known=known)
    assert by_other.revisions == [] and by_other.sightings == [7] and by_other.new == []
    known = {"https://x.org/a": Known(7, 1, "Old title", "", None, seen_by_source=True)}
    by_origin = decide(identify([EntryDraft("New title", link="https://x.org/a")], "s1"), source_id=1,
                       known=known)
    assert [(r.entry_id, r.title) for r in by_origin.revisions] == [(7, "New title")]
    assert by_origin.sightings == []


def test_unchanged_entry_changes_nothing() -> None:
    known = {"https://x.org/a": Known(7, 1, "Same", "sum", T0, seen_by_source=True)}
    intents = decide(identify([EntryDraft("Same", link="https://x.org/a", summary="sum", published=T0)], "s1"),
                     source_id=1, known=known)
    assert (intents.new, intents.revisions, intents.sightings) == ([], [], [])


def test_a_feed_without_summary_keeps_the_stored_one() -> None:
    """The article page's og:description filled the summary the feed lacks: polling the feed
    again is no revision, and a new title keeps that summary."""
    known = {"https://x.org/a": Known(7, 1, "Same", "from the page", T0, seen_by_source=True)}
    unchanged = decide(identify([EntryDraft("Same", link="https://x.org/a")], "s1"), source_id=1, known=known)
    assert unchanged.revisions == []
    retitled = decide(identify([EntryDraft("New", link="https://x.org/a")], "s1"), source_id=1, known=known)
    assert [(r.title, r.summary, r.published) for r in retitled.revisions] == [("New", "from the page", T0)]
    resummarised = decide(identify([EntryDraft("Same", link="https://x.org/a", summary="the feed's")], "s1"),
                          source_id=1, known=known)
    assert [r.summary for r in resummarised.revisions] == ["the feed's"]


def _counted(titles: list[str], first: int = 1, links: bool = True) -> list[EntryDraft]:
    return [EntryDraft(t, link=f"https://x.org/{t}" if links and t != "no link" else None, guid=f"item_{n}",
                       published=T0) for n, t in enumerate(titles, first)]


def test_positional_ids_are_no_ids() -> None:
    """kantei numbers its items item_1 … item_25 in order: a link-less item is keyed by title and date."""
    today = identify(_counted(["a", "no link", "b"]), "kantei")
    tomorrow = identify(_counted(["new", "a", "no link", "b"]), "kantei")
    assert today[1].key == tomorrow[2].key and today[1].key.startswith("item:kantei:")
    assert [i.key for i in today if i.draft.title != "no link"] == ["https://x.org/a", "https://x.org/b"]
    # another link-less item at the same position is another entry, not a revision
    other = identify([*_counted(["a"]), EntryDraft("other", guid="item_2", published=T0)], "kantei")
    assert other[1].key != today[1].key
    # decided item by item: a gap in the numbering or an item without an id changes no key
    gappy = identify([EntryDraft("x", link="https://x.org/x"), EntryDraft("no link", guid="item_9", published=T0)],
                     "kantei")
    assert gappy[1].key == today[1].key


@pytest.mark.parametrize("guid", ["tag:example.com,2025:1", "urn:uuid:1b4e28ba", "post-a1b2", "12345", "2025-02-03-1"])
def test_ids_that_are_not_a_short_count_stay_ids(guid: str) -> None:
    [item] = identify([EntryDraft("x", guid=guid)], "s")
    assert item.key is not None and item.key.startswith("id:")
