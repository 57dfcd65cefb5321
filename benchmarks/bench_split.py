"""What cutting a big file into tasks costs: split() + count() against a plain read.

Builds a ~120 MB JSONL from the real C4 sample in ../shared/data (repeated with new ids),
as plain .jsonl, as bgzip-style .jsonl.gz (64 KiB members, lines cut anywhere) and as
multi-frame .jsonl.zst (1 MiB frames), then for each measures, in this process, side by
side:

* ``read``: the whole file through ``JsonlReader.read`` (one task: today's baseline);
* ``split``: ``split()`` in the driver (must be a stat and a few small reads);
* ``count``: ``count()`` over every part (runs in the workers, in parallel in a run);
* ``parts``: ``read(span)`` over every part, one after the other (the same total work
  as ``read``, spread over tasks).

Run: ``.venv/bin/python benchmarks/bench_split.py [--mb 120] [--task-mb 16]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import zstandard

from dataforge.readers.base import number_spans
from dataforge.readers.jsonl import JsonlReader
from dataforge.stats import Stats

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCE = SHARED / "text" / "web" / "recdp" / "tiny_c4_sample.jsonl"


def build(out: Path, mb: int) -> bytes:
    lines = [json.loads(x) for x in SOURCE.read_text(encoding="utf-8").splitlines() if x.strip()]
    buf: list[bytes] = []
    size, n = 0, 0
    while size < mb << 20:
        for rec in lines:
            line = json.dumps({"id": f"c4-{n}", "text": rec["text"], "meta": rec.get("meta")}).encode() + b"\n"
            buf.append(line)
            size += len(line)
            n += 1
    return b"".join(buf)


def write_variants(raw: bytes, out: Path) -> dict[str, Path]:
    paths = {"plain": out / "big.jsonl", "bgzip": out / "big.jsonl.gz", "zstd-frames": out / "big.jsonl.zst"}
    paths["plain"].write_bytes(raw)
    with paths["bgzip"].open("wb") as fh:  # 64 KiB blocks as bgzip makes them (lines cut anywhere)
        for i in range(0, len(raw), 1 << 16):
            fh.write(gzip.compress(raw[i:i + (1 << 16)], compresslevel=6, mtime=0))
    cctx = zstandard.ZstdCompressor(level=3)
    with paths["zstd-frames"].open("wb") as fh:
        for i in range(0, len(raw), 1 << 20):
            fh.write(cctx.compress(raw[i:i + (1 << 20)]))
    return paths


def measure(path: Path, task_bytes: int) -> dict[str, float]:
    def reader() -> JsonlReader:
        return JsonlReader(JsonlReader.Params(), source="bench", stats=Stats())

    t0 = time.perf_counter()
    whole = sum(1 for _ in reader().read(str(path)))
    t_read = time.perf_counter() - t0

    r = reader()
    t0 = time.perf_counter()
    spans = r.split(str(path), size=path.stat().st_size, task_bytes=task_bytes)
    t_split = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = [r.count(str(path), s) for s in spans]
    t_count = time.perf_counter() - t0
    spans = number_spans(spans, counts)
    t0 = time.perf_counter()
    parts = sum(1 for s in spans for _ in reader().read(str(path), s))
    t_parts = time.perf_counter() - t0
    assert parts == whole, (parts, whole)
    return {"docs": whole, "parts": len(spans), "read": t_read, "split": t_split, "count": t_count,
            "parts_read": t_parts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=120)
    ap.add_argument("--task-mb", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        raw = build(out, args.mb)
        paths = write_variants(raw, out)
        print(f"{len(raw) / 1e6:.0f} MB of JSONL; task_bytes = {args.task_mb} MiB (stored bytes)")
        print(f"{'file':12} {'stored MB':>9} {'parts':>5} {'read s':>7} {'split ms':>8} {'count s':>7} "
              f"{'parts s':>7} {'(split+count)/read':>18} {'parts/read':>10}")
        for name, path in paths.items():
            m = measure(path, args.task_mb << 20)
            print(f"{name:12} {path.stat().st_size / 1e6:9.1f} {m['parts']:5d} {m['read']:7.2f} "
                  f"{m['split'] * 1e3:8.2f} {m['count']:7.2f} {m['parts_read']:7.2f} "
                  f"{(m['split'] + m['count']) / m['read']:18.3f} {m['parts_read'] / m['read']:10.3f}")


if __name__ == "__main__":
    main()
