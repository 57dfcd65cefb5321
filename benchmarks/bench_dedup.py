"""Dedup benchmarks, side by side on the same documents (not run in CI).

Run in the bench venv (it has datatrove, datasketch and psutil):

    /work/bench-venv/bin/python benchmarks/bench_dedup.py sigs        # signatures/s per core
    /work/bench-venv/bin/python benchmarks/bench_dedup.py scale 100000 # end-to-end time + peak RSS
    /work/bench-venv/bin/python benchmarks/bench_dedup.py agree       # removed set vs datatrove 4-stage

Results are appended to benchmarks/results/dedup.md by hand from the printed lines.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dedup"))

C4 = Path("/work/shared/data/text/web/cs336")
REPO = Path(__file__).resolve().parents[1]


def real_texts() -> list[str]:
    with open(REPO / "data/c4/tiny_c4_sample.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def _patch_datatrove_xxhash() -> None:
    """datatrove 0.10.1 passes str to xxhash, which xxhash 4 refuses: encode as xxhash 3 did."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xx

    dt_xx.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
    dt_xx.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)


def bench_sigs(repeat: int = 2) -> None:
    from datasketch import MinHash
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from dataforge.dedup.normalize import Normalize, shingles, words
    from dataforge.dedup.signatures import band_keys, fast_shingle_hashes, make_permutations, signatures

    _patch_datatrove_xxhash()
    texts = real_texts()
    words_total = sum(len(t.split()) for t in texts)
    norm = Normalize()
    perms = make_permutations(112, 1, "fast")

    def ours() -> None:
        for i in range(0, len(texts), 256):
            sig = signatures([fast_shingle_hashes(words(t, norm), 5) for t in texts[i:i + 256]], perms)
            band_keys(sig, 14, 8)

    def datasketch_loop() -> None:
        for t in texts:  # the plain loop from datasketch's README: one update per shingle
            m = MinHash(num_perm=112)
            for s in shingles(words(t, norm), 5):
                m.update(s)

    def datasketch_batch() -> None:
        for t in texts:
            m = MinHash(num_perm=112)
            m.update_batch(shingles(words(t, norm), 5))

    dt = MinhashDedupSignature(tempfile.mkdtemp(), config=MinhashConfig())

    def datatrove() -> None:
        for t in texts:
            dt.get_signature(dt.get_shingles(t))

    rows = []
    for name, fn in [("dataforge fast", ours), ("datatrove MinhashDedupSignature", datatrove),
                     ("datasketch MinHash.update loop", datasketch_loop),
                     ("datasketch MinHash.update_batch", datasketch_batch)]:
        fn() if name.startswith("dataforge") else None  # warm caches
        best = min(_timed(fn) for _ in range(repeat))
        rows.append((name, len(texts) / best))
    base = rows[0][1]
    print(f"docs={len(texts)} mean_words={words_total / len(texts):.0f} (data/c4/tiny_c4_sample.jsonl), 112 hashes")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} docs/s | dataforge is {base / rate:.1f}x |")


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def generated_docs(n: int, *, seed: int = 0, dup_rate: float = 0.1):  # type: ignore[no-untyped-def]
    """n documents of 80 words drawn from real vocabulary; ``dup_rate`` are edited copies."""
    from dataforge.document import Document

    vocab = sorted({w for t in real_texts() for w in t.split()})
    rng = random.Random(seed)
    recent: list[str] = []
    for i in range(n):
        if recent and rng.random() < dup_rate:
            ws = rng.choice(recent).split()
            ws[rng.randrange(len(ws))] = rng.choice(vocab)  # one edit: Jaccard ~0.9
            text = " ".join(ws)
        else:
            text = " ".join(rng.choice(vocab) for _ in range(80))
            recent = (recent + [text])[-1000:]
        yield Document(f"{i:09d}", text, "gen")


def bench_scale(n: int, tasks: int = 8) -> None:
    from conftest import SerialExecutor  # the tests' hand-built contexts

    from dataforge.dedup.minhash import MinhashDedup
    from dataforge.stage import ReduceContext, RunInfo, TaskContext
    from dataforge.stats import Stats

    root = Path(tempfile.mkdtemp(prefix="dedup-scale-"))
    info = RunInfo(seed=1, output_dir=root / "out", work_dir=root / "work", sources=["gen"])
    p = MinhashDedup.Params(buffer_docs=50_000, merge_buffer=65_536)
    stats, tdirs = Stats(), []
    docs = generated_docs(n)
    per = n // tasks
    t0 = time.perf_counter()
    for k in range(tasks):
        ctx = TaskContext(run=info, task_id=f"t{k}", label="1:minhash", stats=stats,
                          task_dir=root / "work" / f"t{k}", publish_dir=info.output_dir)
        for _ in MinhashDedup(p, ctx).map(next(docs) for _ in range(per)):
            pass
        tdirs.append(ctx.task_dir)
    t_map = time.perf_counter() - t0
    rss_map = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rctx = ReduceContext(run=info, label="1:minhash", stats=stats, task_dirs=tdirs,
                         barrier_dir=root / "work" / "barrier", executor=SerialExecutor(), publish_dir=info.output_dir)
    t1 = time.perf_counter()
    MinhashDedup(p, rctx).reduce()
    t_reduce = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dropped = json.loads((rctx.barrier_dir / "result.json").read_text())["dropped"]
    print(f"| {n:,} | {t_map:.0f} s | {t_reduce:.1f} s | {rss_map:.0f} MiB | {rss:.0f} MiB | {dropped:,} |")


def bench_agree(n_copies: int = 3) -> None:
    """Removed sets of dataforge minhash_dedup vs datatrove's 4-stage MinHash, 14 x 8, 5-grams."""
    from conftest import Harness
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from planted import planted_pairs

    from dataforge.dedup.minhash import MinhashDedup
    from dataforge.document import Document

    _patch_datatrove_xxhash()
    texts = real_texts()
    pairs = planted_pairs(texts * n_copies, seed=3)  # bases repeat across copies: clusters > 2
    docs = [Document(f"{i:06d}", d.text, "web") for i, d in enumerate(x for p in pairs for x in (p.a, p.b))]
    root = Path(tempfile.mkdtemp(prefix="dedup-agree-"))
    (root / "in").mkdir()
    with open(root / "in" / "docs.jsonl", "w") as fh:
        for d in docs:
            fh.write(json.dumps({"id": d.id, "text": d.text}) + "\n")
    cfg = MinhashConfig()
    sig, buck, clus = root / "sig", root / "buckets", root / "remove"
    t = time.perf_counter()
    LocalPipelineExecutor([JsonlReader(str(root / "in")), MinhashDedupSignature(str(sig), config=cfg)],
                          tasks=1, logging_dir=str(root / "l1")).run()
    LocalPipelineExecutor([MinhashDedupBuckets(str(sig), str(buck), config=cfg)], tasks=cfg.num_buckets,
                          logging_dir=str(root / "l2")).run()
    LocalPipelineExecutor([MinhashDedupCluster(str(buck), str(clus), config=cfg)], tasks=1,
                          logging_dir=str(root / "l3")).run()
    LocalPipelineExecutor([JsonlReader(str(root / "in")), MinhashDedupFilter(str(clus), exclusion_writer=JsonlWriter(
        str(root / "removed"), compression=None)), JsonlWriter(str(root / "kept"), compression=None)],
        tasks=1, logging_dir=str(root / "l4")).run()
    t_dt = time.perf_counter() - t
    removed_dt = {json.loads(line)["id"] for f in (root / "removed").glob("*.jsonl") for line in open(f)}
    t = time.perf_counter()
    run = Harness(root / "df").run(MinhashDedup, {}, [docs], seed=1)
    t_df = time.perf_counter() - t
    removed_df = {d.id for d in docs} - run.kept_ids
    both = removed_df & removed_dt
    print(f"docs={len(docs)} datatrove removed={len(removed_dt)} dataforge removed={len(removed_df)} "
          f"both={len(both)} agreement(removed, Jaccard of sets)={len(both) / len(removed_df | removed_dt):.3f} "
          f"doc-level agreement={1 - len(removed_df ^ removed_dt) / len(docs):.4f} "
          f"time datatrove={t_dt:.1f}s dataforge={t_df:.1f}s")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "sigs"
    if cmd == "sigs":
        bench_sigs()
    elif cmd == "scale":
        bench_scale(int(sys.argv[2]))
    elif cmd == "agree":
        bench_agree()
