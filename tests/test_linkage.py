"""Average-link agglomeration with vetoes (monitor.core.linkage), on hand-made graphs."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from monitor.core.linkage import average_link


def anything(a: Sequence[int], b: Sequence[int]) -> bool:
    return True


def test_nothing_to_cluster() -> None:
    assert average_link(0, {}, 0.1, anything) == []
    assert average_link(3, {}, 0.1, anything) == [0, 1, 2]


def test_the_mean_not_the_closest_pair_decides() -> None:
    """Single link would chain 2 onto 1; its mean over {0, 1} is (0 + 0.2) / 2."""
    assert average_link(3, {(0, 1): 0.9, (1, 2): 0.2}, 0.15, anything) == [0, 0, 2]
    assert average_link(3, {(0, 1): 0.9, (1, 2): 0.2, (0, 2): 0.1}, 0.15, anything) == [0, 0, 0]


def test_a_later_item_joins_two_clusters_into_one() -> None:
    """0 and 1 share nothing; 2 resembles both: one cluster, whatever the order of the items."""
    assert average_link(3, {(0, 2): 0.5, (1, 2): 0.5}, 0.2, anything) == [0, 0, 0]
    assert average_link(3, {(0, 1): 0.5, (0, 2): 0.5}, 0.2, anything) == [0, 0, 0]


def test_a_veto_holds_for_the_clusters_that_grow_from_it() -> None:
    """0 and 3 may never be together: {0, 1} and {2, 3} stay apart though 1 and 2 are alike."""
    def apart(a: Sequence[int], b: Sequence[int]) -> bool:
        both = {*a, *b}
        return not {0, 3} <= both

    edges = {(0, 1): 0.9, (2, 3): 0.9, (1, 2): 0.8, (0, 2): 0.8, (1, 3): 0.8}
    assert average_link(4, edges, 0.1, apart) == [0, 0, 2, 2]


def test_the_most_alike_merge_first() -> None:
    """1 is like 0 (0.3) and more like 2 (0.6); 0 and 2 may not be together: 1 goes with 2."""
    def apart(a: Sequence[int], b: Sequence[int]) -> bool:
        return not {0, 2} <= {*a, *b}

    assert average_link(3, {(0, 1): 0.3, (1, 2): 0.6}, 0.1, apart) == [0, 1, 1]


@given(st.dictionaries(st.tuples(st.integers(0, 7), st.integers(0, 7)).filter(lambda p: p[0] < p[1]),
                       st.floats(0.0, 1.0), max_size=20),
       st.floats(0.05, 0.9))
def test_every_cluster_is_linked_at_the_threshold_on_average(edges: dict[tuple[int, int], float],
                                                            threshold: float) -> None:
    """Each label is its cluster's smallest item, and every cluster of two or more holds a pair
    at least as alike as the threshold (its first merge)."""
    label = average_link(8, edges, threshold, anything)
    for item, first in enumerate(label):
        assert first <= item and label[first] == first
        if sum(1 for x in label if x == first) > 1:
            members = [i for i, x in enumerate(label) if x == first]
            assert max(edges.get((a, b), 0.0) for a in members for b in members if a < b) >= threshold
