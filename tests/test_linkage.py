"""Average-link agglomeration with vetoes (monitor.core.linkage), on hand-made graphs."""

from __future__ import annotations

import math
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


def naive(n: int, edges: dict[tuple[int, int], float], threshold: float) -> list[int]:
    """Average link by the book: every round, the two clusters with the highest mean over all
    their cross pairs (a missing pair is 0) merge, while that mean reaches the threshold."""
    clusters = [[i] for i in range(n)]
    while True:
        best, pair = threshold, None
        for x in range(len(clusters)):
            for y in range(x + 1, len(clusters)):
                total = sum(edges.get((min(a, b), max(a, b)), 0.0) for a in clusters[x] for b in clusters[y])
                mean = total / (len(clusters[x]) * len(clusters[y]))
                if mean >= best:
                    best, pair = mean, (x, y)
        if pair is None:
            break
        x, y = pair
        clusters[x] += clusters.pop(y)
    label = list(range(n))
    for c in clusters:
        for i in c:
            label[i] = min(c)
    return label


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20, unique=True),
       st.floats(0.05, 0.9))
def test_the_same_clusters_as_average_link_by_the_book(pairs: list[tuple[int, int]], threshold: float) -> None:
    """Sums over sizes, stale heap entries, merging the smaller into the larger: none of it
    changes the result. Weights are square roots' fractions, so no tie of means decides the order
    (with k/n weights, 2/27 and 6/81 tie, and each method breaks ties its own way)."""
    edges = {(min(a, b), max(a, b)): math.sqrt(k + 2) % 1 for k, (a, b) in enumerate(pairs) if a != b}
    assert average_link(8, edges, threshold, anything) == naive(8, edges, threshold)
