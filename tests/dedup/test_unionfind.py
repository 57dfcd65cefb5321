"""Vectorised union-find against a plain one on random graphs."""

from __future__ import annotations

import numpy as np

from dataforge.dedup.unionfind import UnionFind, clustered


def _plain(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in edges:
        a, b = find(u), find(v)
        parent[max(a, b)] = min(a, b)
    return [find(x) for x in range(n)]


def test_components_match_a_plain_union_find() -> None:
    rng = np.random.default_rng(3)
    for n, m in [(50, 30), (200, 180), (1000, 900)]:
        u, v = rng.integers(0, n, m), rng.integers(0, n, m)
        uf = UnionFind(n)
        for s in range(0, m, 37):  # fed in chunks, like edge files
            uf.union(u[s:s + 37], v[s:s + 37])
        assert uf.roots().tolist() == _plain(n, list(zip(u.tolist(), v.tolist())))


def test_chain_collapses_to_smallest_id() -> None:
    uf = UnionFind(6)
    uf.union(np.array([5, 4, 3]), np.array([4, 3, 2]))
    assert uf.roots().tolist() == [0, 1, 2, 2, 2, 2]


def test_block_compression_and_clustered_ids_match_plain_components() -> None:
    rng = np.random.default_rng(5)
    n, m = 300, 120
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    uf = UnionFind(n)
    uf.union(u, v)
    roots = uf.roots(block=7)  # blocks much smaller than the chains: pointers cross blocks
    want = _plain(n, list(zip(u.tolist(), v.tolist())))
    assert roots.tolist() == want
    sizes = np.bincount(want, minlength=n)
    expect = sorted((r, i) for i, r in enumerate(want) if sizes[r] > 1)
    got = clustered(roots, block=11)
    assert [(want[i], i) for i in got.tolist()] == expect
    assert clustered(UnionFind(5).roots()).tolist() == []  # no duplicates: nothing listed
