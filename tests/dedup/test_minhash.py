"""minhash_dedup end to end through map -> reduce -> apply on planted near-duplicates."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash, MinHashLSH

from dataforge.dedup.lsh import candidate_probability
from dataforge.dedup.minhash import MinhashDedup, MinhashParams
from dataforge.dedup.normalize import Normalize, shingles, words
from dataforge.dedup.store import DROP_DTYPE
from dataforge.document import Document

from .conftest import Harness, c4_texts
from .planted import Pair, jaccard, planted_pairs

THRESHOLD = 0.8


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    return planted_pairs(c4_texts())


def _split(pairs: list[Pair]) -> list[list[Document]]:
    """Two tasks: bases in one, copies in the other (pairs always cross tasks)."""
    return [[p.a for p in pairs], [p.b for p in pairs]]


def _same_cluster(run, pairs: list[Pair]) -> list[bool]:
    """A pair was judged duplicate when both are members of one cluster."""
    cluster = {m: i for i, row in enumerate(pq.read_table(run.out / "dedup" / "clusters.parquet").to_pylist())
               for m in row["members"]}
    return [p.a.id in cluster and cluster.get(p.b.id) == cluster[p.a.id] for p in pairs]


def test_planted_pairs_cover_both_sides_of_threshold(pairs: list[Pair]) -> None:
    assert sum(p.jaccard >= THRESHOLD + 0.05 for p in pairs) >= 60
    assert sum(p.jaccard <= THRESHOLD - 0.1 for p in pairs) >= 60


def test_recall_and_precision_on_planted_pairs(harness: Harness, pairs: list[Pair]) -> None:
    run = harness.run(MinhashDedup, {"threshold": THRESHOLD, "bands": 16, "rows": 6, "num_perm": 256,
                                     "verify": True}, _split(pairs))
    dup = _same_cluster(run, pairs)
    high = [d for d, p in zip(dup, pairs) if p.jaccard >= THRESHOLD + 0.05]
    low = [d for d, p in zip(dup, pairs) if p.jaccard <= THRESHOLD - 0.1]
    assert sum(high) / len(high) >= 0.95
    assert 1 - sum(low) / len(low) >= 0.95
    assert run.stats.get("1:dedup", "candidates_rejected") > 0  # verification did reject some


def test_default_decisions_agree_with_datasketch_lsh(harness: Harness, pairs: list[Pair]) -> None:
    run = harness.run(MinhashDedup, {"threshold": THRESHOLD}, _split(pairs))  # 128 perms -> 9 x 13
    ours = _same_cluster(run, pairs)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=128)
    theirs = []
    for i, p in enumerate(pairs):
        ma, mb = MinHash(num_perm=128), MinHash(num_perm=128)
        ma.update_batch(shingles(words(p.a.text, Normalize()), 5))
        mb.update_batch(shingles(words(p.b.text, Normalize()), 5))
        lsh.insert(f"a{i}", ma)
        theirs.append(f"a{i}" in lsh.query(mb))
    # Two independent LSH draws with candidate probability p agree with probability
    # 1 - 2p(1-p): certain far from the threshold, a coin toss on the S-curve's slope.
    prob = [candidate_probability(p.jaccard, 9, 13) for p in pairs]
    expected = sum(1 - 2 * q * (1 - q) for q in prob) / len(pairs)
    agree = [o == t for o, t in zip(ours, theirs)]
    clear = [a for a, q in zip(agree, prob) if q < 0.01 or q > 0.99]
    assert len(clear) >= 0.5 * len(pairs) and sum(clear) / len(clear) >= 0.99
    assert sum(agree) / len(agree) >= expected - 0.05


def test_clusters_are_transitive_and_report_jaccard(harness: Harness) -> None:
    base = c4_texts(40)[5]
    a = Document("a", base, "web")
    b = Document("b", base + " one more sentence at the end of the page.", "web")
    c = Document("c", base + " one more sentence at the end of the page. And yet another line here.", "web")
    other = Document("z", c4_texts(40)[9], "web")
    run = harness.run(MinhashDedup, {}, [[c, other], [b, a]])
    assert run.kept_ids == {"a", "z"}  # keeper: smallest id among equal sources
    table = pq.read_table(run.out / "dedup" / "clusters.parquet").to_pylist()
    assert len(table) == 1
    row = table[0]
    assert row["keeper"] == "a" and sorted(row["members"]) == ["a", "b", "c"] and row["size"] == 3
    assert sorted(row["removed"]) == ["b", "c"]
    docs = {"a": a, "b": b, "c": c}
    for rid, est in zip(row["removed"], row["jaccard"]):
        assert abs(est - jaccard(a.text, docs[rid].text)) < 0.12  # 112 hashes: sd ~0.04
    assert run.stats.get("1:dedup", "cluster_size.3-4") == 1
    assert run.stats.get("1:dedup", "dropped.duplicate") == 2


@pytest.mark.parametrize(("keep", "winner"), [("first", "w1"), ("longest", "w2"), ("quality", "w3")])
def test_keeper_policies(harness: Harness, keep: str, winner: str) -> None:
    base = c4_texts(20)[3]
    docs = [Document("w1", base, "wiki", {"quality": 0.1}),
            Document("w2", base + " Extra trailing words.", "web", {"quality": 0.2}),
            Document("w3", base, "web", {"quality": 0.9}),
            Document("w4", base, "web")]
    run = harness.run(MinhashDedup, {"keep": keep}, [docs[2:], docs[:2]], sources=["wiki", "web"])
    assert run.kept_ids == {winner}


def test_source_priority_beats_id(harness: Harness) -> None:
    text = c4_texts(20)[4]
    docs = [Document("a-web", text, "web"), Document("z-wiki", text, "wiki")]
    assert harness.run(MinhashDedup, {}, [docs], sources=["wiki", "web"], name="r1").kept_ids == {"z-wiki"}
    assert harness.run(MinhashDedup, {}, [docs], sources=["web", "wiki"], name="r2").kept_ids == {"a-web"}


def test_short_and_empty_documents(harness: Harness) -> None:
    docs = [Document("e1", "", "web"), Document("e2", " ... ", "web"),
            Document("s1", "Click here!", "web"), Document("s2", "click HERE", "web"),
            Document("s3", "read more", "web")]
    run = harness.run(MinhashDedup, {}, [docs], name="whole")
    assert run.kept_ids == {"e1", "e2", "s1", "s3"}  # same short text clusters; empty never does
    assert run.stats.get("1:dedup", "empty_docs") == 2 and run.stats.get("1:dedup", "short_docs") == 3
    run = harness.run(MinhashDedup, {"short_docs": "keep"}, [docs], name="keep")
    assert run.kept_ids == {d.id for d in docs}


def test_rerun_gives_the_same_drop_list(harness: Harness, pairs: list[Pair]) -> None:
    tasks = _split(pairs[:80])
    r1 = harness.run(MinhashDedup, {}, tasks, name="one")
    r2 = harness.run(MinhashDedup, {"buffer_docs": 7, "merge_buffer": 5}, tasks, name="two")
    assert r1.kept_ids == r2.kept_ids and len(r1.kept_ids) < 160  # spills and tiny buffers change nothing
    drops1 = sorted(p.name for p in (r1.barrier_dir / "drop").iterdir())
    assert drops1 == sorted(p.name for p in (r2.barrier_dir / "drop").iterdir())
    for name in drops1:
        a, b = (np.load(r.barrier_dir / "drop" / name) for r in (r1, r2))
        assert a.dtype == DROP_DTYPE and np.array_equal(a, b)


def test_params_reject_contradictions() -> None:
    with pytest.raises(ValueError, match="both bands and rows"):
        MinhashParams(bands=4)
    with pytest.raises(ValueError, match="verify needs a threshold"):
        MinhashParams(verify=True)
    assert MinhashParams().layout() == (14, 8, 112)
    assert MinhashParams(threshold=0.8).layout() == (9, 13, 128)
