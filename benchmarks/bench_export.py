"""Export throughput (tokens/s) against reading the same Arrow shards raw with numpy.

Shards: real documents from ../shared/data (C4, Wikipedia, arXiv) tokenized with the bundled
tokenizer, EOS after each, repeated to ``--mtokens`` million tokens and concat-packed into
rows of 1024 (1 Mi-token shards, rows in stream order, so Megatron joins documents back).

Side by side, same process, warm page cache, best of ``--repeat``:

* raw: memory-map every shard (``pa.memory_map`` + the zero-copy numpy view) and copy its
  tokens into one buffer: the ceiling of anything that reads the shards;
* raw + write: the same read written to one file and fsynced: the disk floor of an export;
* each format, ``dataforge.export.export_shards`` end to end (verify, stream, fsync, rename),
  with ``verify="sha256"`` (the default) and ``verify="quick"``.

    python benchmarks/bench_export.py [--mtokens 32] [--repeat 3]
Writes benchmarks/results/export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

SEQ_LEN = 1024
ROWS_PER_SHARD = 1024


def documents() -> list[np.ndarray]:
    """Real documents as token ids + EOS (0)."""
    from tokenizers import Tokenizer

    texts = [json.loads(line)["text"] for line in open(SHARED / "text/web/recdp/tiny_c4_sample.jsonl", encoding="utf-8")]
    texts += [t for t in open(SHARED / "text/llama-factory/wiki_demo.txt", encoding="utf-8").read().splitlines() if t]
    texts += [json.loads(line)["text"] for line in open(SHARED / "text/llm-foundry/arxiv.jsonl", encoding="utf-8")]
    tok = Tokenizer.from_file(str(REPO / "data/tokenizer.json"))
    return [np.asarray(e.ids + [0], dtype=np.uint16) for e in tok.encode_batch(texts)]


def build(out: Path, docs: list[np.ndarray], tokens: int) -> None:
    from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest

    spec = ShardSpec(kind="pretrain", seq_len=SEQ_LEN, vocab_size=8192, eos_id=0, pad_id=0, tokenizer_sha256="0" * 64)
    writer = ShardWriter(out / "shards", spec, split="train", rows_per_shard=ROWS_PER_SHARD)
    pending, starts, written = np.zeros(0, dtype=np.uint16), [], 0
    i = 0
    while written < tokens:
        doc = docs[i % len(docs)]
        i += 1
        starts.append(len(pending))
        pending = np.concatenate((pending, doc))
        while len(pending) >= SEQ_LEN:
            writer.add(pending[:SEQ_LEN], doc_starts=[s for s in starts if s < SEQ_LEN])
            starts = [s - SEQ_LEN for s in starts if s >= SEQ_LEN]
            pending = pending[SEQ_LEN:]
            written += SEQ_LEN
    manifest = manifest_core(spec, writer.close())
    manifest["shuffle"] = False
    write_manifest(out, manifest)


def raw_read(src: Path) -> float:
    from dataforge.tokenize.shards import manifest_shards

    listed = manifest_shards(src)
    total = sum(e["rows"] for _, e in listed) * SEQ_LEN
    buf = np.empty(total, dtype=np.uint16)
    t0 = time.perf_counter()
    pos = 0
    for path, _ in listed:
        table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
        flat = table.column("input_ids").chunk(0).values.to_numpy(zero_copy_only=True)
        buf[pos:pos + flat.size] = flat
        pos += flat.size
    return time.perf_counter() - t0


def raw_copy(src: Path, dst: Path) -> float:
    """The disk floor of any export: the same numpy read, written to one file and fsynced."""
    from dataforge.tokenize.shards import manifest_shards

    t0 = time.perf_counter()
    with open(dst, "wb") as fh:
        for path, _ in manifest_shards(src):
            table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
            fh.write(table.column("input_ids").chunk(0).values.to_numpy(zero_copy_only=True))
        fh.flush()
        os.fsync(fh.fileno())
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


def export_once(src: Path, out: Path, fmt: str, verify: str) -> float:
    from dataforge.export import ExportParams, export_shards

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    export_shards(src, out, ExportParams(format=fmt, verify=verify))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mtokens", type=float, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tokens = int(args.mtokens * 1e6) // SEQ_LEN * SEQ_LEN
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        src = Path(tmp) / "src"
        build(src, documents(), tokens)
        raw_read(src)  # warm the page cache
        raw = min(raw_read(src) for _ in range(args.repeat))
        rows = [("raw numpy read (ceiling)", raw),
                ("raw numpy read + one file written, fsynced (disk floor)",
                 min(raw_copy(src, Path(tmp) / "copy.bin") for _ in range(args.repeat)))]
        for fmt in ("nanogpt-raw", "nanogpt", "megatron", "hf"):
            for verify in ("quick", "sha256"):
                best = min(export_once(src, Path(tmp) / "out", fmt, verify) for _ in range(args.repeat))
                rows.append((f"export {fmt} (verify {verify})", best))
    lines = ["# dataforge export vs a raw numpy read of the same shards\n",
             f"{tokens:,} uint16 tokens (real C4/Wikipedia/arXiv documents repeated), rows of {SEQ_LEN}, "
             f"{-(-tokens // (SEQ_LEN * ROWS_PER_SHARD))} shards; best of {args.repeat}, warm page cache; "
             f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared: figures are noisy).\n",
             "Command: `python benchmarks/bench_export.py " + " ".join(sys.argv[1:]) + "`\n",
             "| what | seconds | Mtokens/s | time vs raw |", "|---|---:|---:|---:|"]
    for name, sec in rows:
        lines.append(f"| {name} | {sec:.3f} | {tokens / sec / 1e6:.1f} | {sec / raw:.1f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / "export.md").write_text(text)


if __name__ == "__main__":
    main()
