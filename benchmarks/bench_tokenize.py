"""Tokenize-and-write throughput against raw `tokenizers`, and the shuffle's memory.

Side by side on the same text (real documents from ../shared/data, repeated to size):

* ceiling: `Tokenizer.encode_batch_fast` over the texts, nothing written (one thread);
* dataforge: the final phase of a pipeline (encode + EOS + index, then mix plan, pack,
  global shuffle and Arrow shard writing), one worker, timed from its own stats.

Then the peak RSS of the pack + shuffle step as the corpus (and so the shard count)
grows, each size in a fresh subprocess.

    python benchmarks/bench_tokenize.py [--mb 20]
Writes benchmarks/results/tokenize.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAYON_NUM_THREADS", "1")


def corpus(mb: float) -> list[str]:
    """The real texts, repeated to about ``mb`` MB (each repeat differs by a suffix)."""
    texts: list[str] = []
    for line in open(SHARED / "text/web/recdp/tiny_c4_sample.jsonl", encoding="utf-8"):
        texts.append(json.loads(line)["text"])
    texts += [t for t in open(SHARED / "text/llama-factory/wiki_demo.txt", encoding="utf-8").read().splitlines() if t]
    for line in open(SHARED / "text/llm-foundry/arxiv.jsonl", encoding="utf-8"):
        texts.append(json.loads(line)["text"])
    base = sum(len(t.encode()) for t in texts)
    reps = max(1, int(mb * 1e6 / base))
    return [f"{t}\n[{r}]" for r in range(reps) for t in texts]  # repeats differ by a suffix


def ceiling(texts: list[str]) -> tuple[float, int]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(REPO / "data/tokenizer.json"))
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(texts), 256):
        n += sum(len(e.ids) for e in tok.encode_batch_fast(texts[i:i + 256], add_special_tokens=False))
    return time.perf_counter() - t0, n


PIPE = """\
name: bench
seed: 1
output: {out}
executor: {{workers: 1}}
inputs:
  text: {{reader: jsonl, paths: {inp}}}
stages:
  - tokenize: {{tokenizer: {tok}, seq_len: 1024, shard_tokens: {shard_tokens}, shuffle_buffer_rows: {buf}}}
"""


def write_input(texts: list[str], inp: Path) -> None:
    with open(inp, "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": str(i), "text": t}) + "\n")


def run_pipeline(inp: Path, work: Path, *, shard_tokens: int, buf: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    pipe = work / "p.yaml"
    pipe.write_text(PIPE.format(out=work / "out", inp=inp, tok=REPO / "data/tokenizer.json",
                                shard_tokens=shard_tokens, buf=buf))
    from dataforge.config import load_pipeline
    from dataforge.runner import run_pipeline as run

    t0 = time.perf_counter()
    res = run(load_pipeline(pipe))
    wall = time.perf_counter() - t0
    enc = res.stats.totals("0:tokenize")
    pack = res.stats.totals("pack")
    return {"wall": wall, "encode_s": enc["seconds"], "pack_s": pack["seconds"], "tokens": int(enc["tokens"]),
            "shards": len(res.manifest["shards"])}


def rss_child(inp: str, buf: int) -> None:
    """Run in a fresh process on an input file written by the parent: peak RSS is the pipeline's."""
    with tempfile.TemporaryDirectory() as d:
        r = run_pipeline(Path(inp), Path(d), shard_tokens=1 << 18, buf=buf)
    print(json.dumps({**r, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--rss-child", default=None)
    ap.add_argument("--buf", type=int, default=4096)
    args = ap.parse_args()
    if args.rss_child is not None:
        rss_child(args.rss_child, args.buf)
        return
    texts = corpus(args.mb)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    c_s, c_tok = ceiling(texts)
    tmp = Path(tempfile.mkdtemp())
    write_input(texts, tmp / "in.jsonl")
    ours = run_pipeline(tmp / "in.jsonl", tmp / "run", shard_tokens=1 << 20, buf=65536)
    ours_s = ours["encode_s"] + ours["pack_s"]
    lines = [
        "# Tokenize-and-write vs raw `tokenizers` (benchmarks/bench_tokenize.py)",
        "",
        f"Same text: {len(texts):,} real documents (C4, Wikipedia, arXiv from ../shared/data, repeated), "
        f"{mb:.1f} MB, {c_tok:,} tokens; data/tokenizer.json (byte-level BPE, 8192); one core "
        "(RAYON_NUM_THREADS=1, one worker).",
        "",
        "| | seconds | tokens/s | ratio to ceiling |",
        "|---|---:|---:|---:|",
        f"| raw `encode_batch_fast`, nothing written (ceiling) | {c_s:.2f} | {c_tok / c_s:,.0f} | 1.00 |",
        f"| dataforge encode + index + mix + pack + shuffle + Arrow shards | {ours_s:.2f} | "
        f"{ours['tokens'] / ours_s:,.0f} | {(ours['tokens'] / ours_s) / (c_tok / c_s):.2f} |",
        f"| (of which encode+index / pack+shuffle+write) | {ours['encode_s']:.2f} / {ours['pack_s']:.2f} | | |",
        "",
        "## Shuffle peak RSS against shard count (pack + bucket shuffle, 4,096-row buffer, 256k-token shards)",
        "",
        "| corpus MB | shards | peak RSS MB (whole process) |",
        "|---:|---:|---:|",
    ]
    del texts
    for size in (args.mb / 4, args.mb, args.mb * 4):
        inp = tmp / f"in-{size:.0f}.jsonl"
        write_input(corpus(size), inp)
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(inp), "--buf", "4096"],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        lines.append(f"| {size:.0f} | {r['shards']} | {r['max_rss_mb']:.0f} |")
        inp.unlink()
    out_path = REPO / "benchmarks/results/tokenize.md"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
