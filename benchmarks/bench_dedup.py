"""Dedup benchmarks, side by side on the same documents (not run in CI).

Run in the bench venv (it has datatrove, datasketch and psutil):

    /work/bench-venv/bin/python benchmarks/bench_dedup.py sigs        # signatures/s per core
    /work/bench-venv/bin/python benchmarks/bench_dedup.py scale 100000 # map, then the reduce in its own process
    /work/bench-venv/bin/python benchmarks/bench_dedup.py reduce ROOT 8 # the reduce again on a kept map folder
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


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dedup"))

C4 = Path("/work/shared/data/text/web/cs336")
REPO = Path(__file__).resolve().parents[1]


def real_texts() -> list[str]:
    with open(REPO / "data/c4/tiny_c4_sample.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def more_texts() -> list[str]:
    """Real web text from /work/shared/data (RedPajama-format C4 and DCLM samples)."""
    out = []
    for f in sorted(Path("/work/shared/data/text/web").rglob("*.jsonl")):
        with open(f, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    t = json.loads(line).get("text")
                except ValueError:
                    continue
                if isinstance(t, str):
                    out.append(t)
    return out


def _patch_datatrove_xxhash() -> None:
    """datatrove 0.10.1 passes str to xxhash, which xxhash 4 refuses: encode as xxhash 3 did."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xx

    dt_xx.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
    dt_xx.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)


def bench_sigs(repeat: int = 3) -> None:
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
        print(f"  {name}: best of {repeat} = {best:.3f} s CPU", flush=True)
    base = rows[0][1]
    print(f"docs={len(texts)} mean_words={words_total / len(texts):.0f} (data/c4/tiny_c4_sample.jsonl), 112 hashes")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} docs/s | dataforge is {base / rate:.1f}x |")


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds of one call (the machine is shared: wall time would measure the neighbours)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


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


def _scale_setup(root: Path, n: int, tasks: int):  # type: ignore[no-untyped-def]
    from dataforge.dedup.minhash import MinhashDedup
    from dataforge.stage import RunInfo

    info = RunInfo(seed=1, output_dir=root / "out", work_dir=root / "work", sources=["gen"])
    p = MinhashDedup.Params(buffer_docs=50_000, merge_buffer=65_536)
    return info, p, [root / "work" / f"t{k}" for k in range(tasks)]


def bench_scale(n: int, tasks: int = 8) -> None:
    """Map ``n`` generated docs over ``tasks`` tasks (kept in a temp folder), then the reduce
    in a fresh process (``reduce ROOT N``) so its peak RSS is its own."""
    import subprocess

    from dataforge.dedup.minhash import MinhashDedup
    from dataforge.stage import TaskContext
    from dataforge.stats import Stats

    root = Path(tempfile.mkdtemp(prefix=f"dedup-scale-{n}-"))
    info, p, tdirs = _scale_setup(root, n, tasks)
    docs = generated_docs(n)
    per = n // tasks
    c0 = time.process_time()
    for k, tdir in enumerate(tdirs):
        ctx = TaskContext(run=info, task_id=f"t{k}", label="1:minhash", stats=Stats(),
                          task_dir=tdir, publish_dir=info.output_dir)
        for _ in MinhashDedup(p, ctx).map(next(docs) for _ in range(per)):
            pass
    t_map = time.process_time() - c0
    rss_map = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"map: {n:,} docs, {t_map:.0f} s CPU, peak RSS {rss_map:.0f} MiB; kept in {root}", flush=True)
    subprocess.run([sys.executable, __file__, "reduce", str(root), str(tasks)], check=True)


def _warm_arrow() -> None:
    """Page in Arrow's library code before the baseline: the first table built in a process
    adds ~50 MiB of RSS whatever its size (shared code pages, with any memory pool), which a
    pipeline process has already paid when its tasks wrote their Parquet outputs."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"members": [["x"] * 3] * 100, "jaccard": [[0.5]] * 100}), io.BytesIO())


def bench_reduce(root: Path, tasks: int, profile: bool = False) -> None:
    """The reduce alone on a kept map folder: CPU time, peak RSS, RSS sampled every 50 ms."""
    import threading

    from conftest import SerialExecutor  # the tests' hand-built contexts

    from dataforge.dedup.minhash import MinhashDedup
    from dataforge.stage import ReduceContext
    from dataforge.stats import Stats

    info, p, tdirs = _scale_setup(root, 0, tasks)
    bdir = root / "work" / "barrier"
    rctx = ReduceContext(run=info, label="1:minhash", stats=Stats(), task_dirs=tdirs,
                         barrier_dir=bdir, executor=SerialExecutor(), publish_dir=info.output_dir)
    _warm_arrow()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    samples: list[tuple[float, float, float]] = []
    done = threading.Event()

    def status() -> tuple[float, float]:
        with open("/proc/self/status") as fh:
            kb = {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in fh) if k in ("RssAnon", "RssFile")}
        return kb["RssAnon"] / 1024, kb["RssFile"] / 1024

    anon0, file0 = status()

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.wait(0.02):
            samples.append((time.perf_counter() - t0, *status()))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    if profile:
        import tracemalloc
        tracemalloc.start(12)
    c0 = time.process_time()
    MinhashDedup(p, rctx).reduce()
    t_reduce = time.process_time() - c0
    done.set()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if profile:
        print(f"tracemalloc peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB")
    result = json.loads((bdir / "result.json").read_text())
    n = result["docs"]
    anon = max((a for _, a, _ in samples), default=anon0)
    fpeak = max((f for _, _, f in samples), default=file0)
    print(f"reduce: {n:,} docs, {t_reduce:.1f} s CPU, RSS before {base:.0f} MiB, peak {rss:.0f} MiB "
          f"(+{rss - base:.0f} MiB = {(rss - base) * 2**20 / max(n, 1):.1f} B/doc), dropped {result['dropped']:,}; "
          f"sampled every 20 ms: heap (RssAnon) {anon0:.0f} -> peak {anon:.0f} MiB, "
          f"file-backed (RssFile: library code, page cache maps) {file0:.0f} -> peak {fpeak:.0f} MiB")


def bench_agree() -> None:
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
    pairs = planted_pairs(texts + more_texts(), seed=3)
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
    from dataforge.dedup.lsh import candidate_probability as prob
    expect = sum(2 * q * (1 - q) for q in (prob(p.jaccard, 14, 8) for p in pairs))
    print(f"pairs={len(pairs)}; expected disagreeing pairs for two independent 14x8 LSH draws: {expect:.1f}; "
          f"observed disagreeing docs: {len(removed_df ^ removed_dt)}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "sigs"
    if cmd == "sigs":
        bench_sigs()
    elif cmd == "scale":
        bench_scale(int(sys.argv[2]))
    elif cmd == "reduce":
        bench_reduce(Path(sys.argv[2]), int(sys.argv[3]), profile="--profile" in sys.argv)
    elif cmd == "agree":
        bench_agree()
