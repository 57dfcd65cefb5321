"""`dataforge report` on outputs 1x, 10x and 100x the bundled run: time and peak memory.

The report reads stats.json (its size depends on stages x sources, not documents), streams
the clusters files, reads a few documents/ files per source and rejected/ files only
until every drop reason has its samples. So its cost should stay flat as the corpus
grows. This builds bigger outputs by copying the bundled run's documents/ and rejected/
files K times and its clusters K times (new ids), then times `dataforge report` in a
fresh process for each. No peer ships such a report (datatrove merges stats.json files
only), so the comparison is with itself at 1x.

    python benchmarks/bench_report.py          # needs out/pretrain_mix (dataforge run first)
Writes benchmarks/results/report.md.
"""

from __future__ import annotations

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
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_work", "report.html"))
    for folder in ("documents", "rejected"):
        for f in sorted((src / folder).rglob("*.jsonl*")):
            rel = f.relative_to(src)
            for i in range(1, k):
                shutil.copy(f, dst / rel.parent / f"copy{i:04d}-{f.name}")
    table = pq.read_table(src / "dedup" / "clusters.parquet")
    parts = [table]
    for i in range(1, k):
        parts.append(table.set_column(table.schema.get_field_index("keeper"), "keeper",
                                      pc.binary_join_element_wise(table["keeper"], pa.scalar(f"#{i}"), "")))
    pq.write_table(pa.concat_tables(parts), dst / "dedup" / "clusters.parquet")


def measure(out: Path) -> tuple[float, float]:
    code = ("import resource, sys, time; from click.testing import CliRunner; from dataforge.cli import main; "
            "t = time.perf_counter(); r = CliRunner().invoke(main, ['report', sys.argv[1], '-o', sys.argv[2]]); "
            "assert r.exit_code == 0, r.output; "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    best = None
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code, str(out), str(out / "r.html")], capture_output=True, text=True,
                           check=True, cwd=REPO)
        secs, rss = r.stdout.split()
        if best is None or float(secs) < best[0]:
            best = (float(secs), int(rss) / 1024)
    assert best is not None
    return best


def main() -> None:
    src = REPO / "out" / "pretrain_mix"
    if not (src / "stats.json").exists():
        sys.exit("run `dataforge run pipelines/pretrain_mix.yaml` first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, 10, 100):
            dst = Path(tmp) / f"x{k}"
            enlarge(src, dst, k)
            size = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file()) / 1e6
            secs, rss = measure(dst)
            rows.append((k, size, secs, rss, (dst / "r.html").stat().st_size / 1024))
            print(rows[-1], flush=True)
            shutil.rmtree(dst)
    base = rows[0]
    lines = ["# `dataforge report`: cost as the output grows", "",
             f"Made {time.strftime('%Y-%m-%d')} by `benchmarks/bench_report.py`: the bundled run's output with its "
             "documents/ and rejected/ files copied K times and its clusters file K times as long; best of 3, "
             "each in a fresh process (2-core machine shared with other jobs).", "",
             "| K | output MB | report seconds | vs 1x | peak RSS MB | report KB |", "|---:|---:|---:|---:|---:|---:|"]
    for k, size, secs, rss, kb in rows:
        lines.append(f"| {k} | {size:,.1f} | {secs:.2f} | {secs / base[2]:.2f}x | {rss:,.0f} | {kb:,.0f} |")
    lines += ["", "Peak RSS includes the Python interpreter with pyarrow, tokenizers and rich imported."]
    (REPO / "benchmarks" / "results" / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
