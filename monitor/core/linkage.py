"""Average-link agglomerative clustering over a sparse similarity graph, with vetoes.

Pure, standard library only; knows nothing of news. ``monitor.core.clusters.group`` feeds it
the similarities of entry pairs and a veto (two entries that contradict each other, a story
that would span too long).

Why batch and not one entry at a time: assigned in time order, an entry can only join a story
that already exists, so two reports that started two stories stay apart for good, even when a
third report later shows they are one. Merging whole clusters, most alike first, lets the
evidence of every report count, whatever the order they came in.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence


def average_link(
    n: int,
    edges: Mapping[tuple[int, int], float],
    threshold: float,
    may_merge: Callable[[Sequence[int], Sequence[int]], bool],
) -> list[int]:
    """The cluster of each of ``n`` items: a label per item, the smallest item of its cluster.

    ``edges`` holds the similarity of item pairs (i < j); a pair not in it counts as 0. Two
    clusters merge, the pair with the highest mean similarity over all their cross pairs first,
    while that mean is at least ``threshold`` and ``may_merge(members_a, members_b)`` allows it;
    a refusal holds for any later clusters that contain those two (a veto is about members).
    The means of merged clusters are sums over sizes, so each merge costs the neighbours of the
    two clusters, not their members.
    """
    members: list[list[int]] = [[i] for i in range(n)]
    sums: list[dict[int, float]] = [{} for _ in range(n)]
    for (i, j), score in edges.items():
        if score > 0 and i != j:
            sums[i][j] = sums[i].get(j, 0.0) + score
            sums[j][i] = sums[j].get(i, 0.0) + score
    barred: list[set[int]] = [set() for _ in range(n)]
    heap = [(-s, i, j, 1, 1) for i in range(n) for j, s in sums[i].items() if i < j and s >= threshold]
    heapq.heapify(heap)
    while heap:
        _, a, b, size_a, size_b = heapq.heappop(heap)
        if len(members[a]) != size_a or len(members[b]) != size_b or b in barred[a]:
            continue  # stale: one of them has grown or been merged away (size 0) since
        if not may_merge(members[a], members[b]):
            barred[a].add(b)
            barred[b].add(a)
            continue
        if size_a < size_b:
            a, b = b, a
        _merge(a, b, members, sums, barred)
        for c, total in sums[a].items():
            mean = total / (len(members[a]) * len(members[c]))
            if mean >= threshold and c not in barred[a]:
                heapq.heappush(heap, (-mean, min(a, c), max(a, c), *_sizes(members, a, c)))
    label = list(range(n))
    for group in members:
        for item in group:
            label[item] = min(group)
    return label


def _sizes(members: list[list[int]], a: int, c: int) -> tuple[int, int]:
    return (len(members[a]), len(members[c])) if a < c else (len(members[c]), len(members[a]))


def _merge(a: int, b: int, members: list[list[int]], sums: list[dict[int, float]], barred: list[set[int]]) -> None:
    """Cluster ``b`` into ``a``: its members, its sums to every neighbour, its vetoes."""
    members[a].extend(members[b])
    members[b] = []
    for c, total in sums[b].items():
        del sums[c][b]
        if c != a:
            sums[a][c] = sums[a].get(c, 0.0) + total
            sums[c][a] = sums[c].get(a, 0.0) + total
    sums[b] = {}
    for c in barred[b]:
        barred[c].discard(b)
        if c != a:
            barred[c].add(a)
            barred[a].add(c)
    barred[b] = set()
