"""`dataforge report` and `dataforge why` on outputs 1x, 10x and 100x the bundled run: time and peak memory.

The report reads stats.json (its size depends on stages x sources, not documents), streams
the clusters files, reads a few documents/ files per source and rejected/ files only
until every drop reason has its samples. So its cost should stay flat as the corpus
grows. `why` streams: for an id of the form source/file:line it reads only the files of
that input's tasks (flat); for an id of the input's own it reads rejected/ and
documents/ in full, a line at a time (linear time, flat memory). This builds bigger
outputs by copying the bundled run's documents/, rejected/ and decontamination/ files K
times under other task names and its clusters K times (new ids), then times each
command in a fresh process. No peer ships a report or a per-document trace (datatrove
merges stats.json files only), so the report is compared with itself at 1x, and the
own-id `why` with what one would do by hand: `zstdcat documents/*/* | grep -F ID` plus
`grep -rF ID rejected/` over the same files.

    python benchmarks/bench_report.py [OUTPUT]   # default out/pretrain_mix (dataforge run first)
Writes benchmarks/results/report.md.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent


def enlarge(src: Path, dst: Path, k: int) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_work", "report.html", ".dataforge*"))
    for folder in ("documents", "rejected", "decontamination"):
        for f in sorted((src / folder).rglob("*.jsonl*")) if (src / folder).is_dir() else []:
            rel = f.relative_to(src)
            source, _, rest = f.name.partition("--")
            for i in range(1, k):  # another task of the same source
                shutil.copy(f, dst / rel.parent / f"{source}--copy{i:04d}-{rest}")
    table = pq.read_table(src / "dedup" / "clusters.parquet")
    parts = [table]
    for i in range(1, k):
        parts.append(table.set_column(table.schema.get_field_index("keeper"), "keeper",
                                      pc.binary_join_element_wise(table["keeper"], pa.scalar(f"#{i}"), "")))
    pq.write_table(pa.concat_tables(parts), dst / "dedup" / "clusters.parquet")


MEASURE = ("import resource, sys, time; from click.testing import CliRunner; from dataforge.cli import main; "
           "t = time.perf_counter(); r = CliRunner().invoke(main, sys.argv[1:]); "
           "assert r.exit_code == 0, r.output; "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def measure(args: list[str], repeat: int = 3) -> tuple[float, float]:
    """Best of ``repeat``: seconds of the command itself, its own module imports included (Python start-up excluded), peak RSS in MB."""
    best = None
    for _ in range(repeat):
        r = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=True,
                           cwd=REPO)
        secs, rss = r.stdout.split()[-2:]
        if best is None or float(secs) < best[0]:
            best = (float(secs), int(rss) / 1024)
    assert best is not None
    return best


def by_hand(out: Path, doc_id: str, repeat: int = 3) -> float:
    """zstdcat + grep over documents/ and grep over rejected/: the shell's way to find an id."""
    needle = shlex.quote(json.dumps(doc_id))
    cmd = (f"zstdcat {out}/documents/*/*.zst | grep -cF {needle}; grep -rcF {needle} {out}/rejected | "
           "grep -v ':0$' | wc -l")
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(["sh", "-c", cmd], capture_output=True, check=False)
        secs = time.perf_counter() - t
        best = secs if best is None else min(best, secs)
    assert best is not None
    return best


def ids(src: Path) -> dict[str, str]:
    """A kept source/file:line id, an own id that is nowhere (full scans), one dropped unsampled."""
    from dataforge.report.samples import doc_files, jsonl_records

    written = [rec["id"] for f in doc_files(src / "documents") for rec in jsonl_records(f)]
    kept = next(i for i in written if i.startswith("c4/"))
    head = kept.rsplit(":", 1)[0]
    seen = set(written) | {rec["id"] for f in sorted((src / "rejected").glob("*/*.jsonl")) for rec in jsonl_records(f)}
    unsampled = next(f"{head}:{n}" for n in range(1, 10**6) if f"{head}:{n}" not in seen)
    return {"kept (source/file:line)": kept, "dropped, not sampled": unsampled, "own id, not found": "<urn:none>"}


def main(src: Path) -> None:
    if not (src / "stats.json").exists():
        sys.exit(f"{src}: no stats.json: run `dataforge run pipelines/pretrain_mix.yaml` first")
    cases = ids(src)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, 10, 100):
            dst = Path(tmp) / f"x{k}"
            enlarge(src, dst, k)
            size = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file()) / 1e6
            row = {"k": k, "mb": size, "report": measure(["report", str(dst), "-o", str(dst / "r.html")]),
                   "kb": (dst / "r.html").stat().st_size / 1024}
            for name, doc_id in cases.items():
                row[name] = measure(["why", str(dst), doc_id, "--json"])
            row["by hand"] = by_hand(dst, cases["own id, not found"])
            rows.append(row)
            print(row, flush=True)
            shutil.rmtree(dst)
    base = rows[0]
    lines = ["# `dataforge report` and `dataforge why`: cost as the output grows", "",
             f"Made {time.strftime('%Y-%m-%d')} by `benchmarks/bench_report.py {src.relative_to(REPO) if src.is_relative_to(REPO) else src}`: "
             "the bundled run's output with its documents/, rejected/ and decontamination/ files copied K times "
             "(as other tasks of the same sources) and its clusters file K times as long; best of 3, each in a "
             "fresh process, seconds of the command itself, its own module imports included (Python start-up excluded); 2-core machine shared with other jobs.",
             "", "| K | output MB | report s | vs 1x | peak RSS MB | report KB |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        secs, rss = r["report"]
        lines.append(f"| {r['k']} | {r['mb']:,.1f} | {secs:.2f} | {secs / base['report'][0]:.2f}x | {rss:,.0f} | "
                     f"{r['kb']:,.0f} |")
    lines += ["", "| K | `why` on | seconds | vs 1x | peak RSS MB |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        for name in cases:
            secs, rss = r[name]
            lines.append(f"| {r['k']} | {name} | {secs:.2f} | {secs / base[name][0]:.2f}x | {rss:,.0f} |")
    lines += ["", "The own id is searched in every rejected/ and documents/ file; by hand (zstdcat | grep -F, grep -rF) "
              "over the same files:", "", "| K | why s | by hand s | why / by hand |", "|---:|---:|---:|---:|"]
    for r in rows:
        w = r["own id, not found"][0]
        lines.append(f"| {r['k']} | {w:.2f} | {r['by hand']:.2f} | {w / r['by hand']:.1f}x |")
    lines += ["", "Peak RSS includes the Python interpreter with pyarrow, tokenizers and rich imported. About 0.7 s of "
              "`report` is the import of pandas that pyarrow's `Array.to_numpy` triggers when a shard is opened "
              "(tokenize/shards.py); `why` at 1x is mostly module imports."]
    (REPO / "benchmarks" / "results" / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "out" / "pretrain_mix")
