"""Issue 19: the filter chain on real non-English documents, before and after per-language units.

Inputs (../shared/data): 500 Chinese CLUECorpusSmall documents, 100 Japanese and 82
Danish FineWeb-2 documents (documents FineWeb-2's own filters kept), 30 Finnish HPLT
documents and 800 English FineWeb documents. Chain: langid (languages ja, zh, da, fi, en)
-> gopher_repetition -> gopher_quality -> c4 -> fineweb_quality, each with its defaults.

* before: the rules with no language (what every release before issue 19 did to every
  document: English units, English thresholds and stop words);
* after: each document's language from langid (``meta['lang']``), so its segmenter and
  its FineWeb-2 defaults.

Prints, per language, the share of documents each stage keeps (of those reaching it) and
the share surviving the chain, then docs/s and MB/s per core of the chain (langid left
out) on each language, segmented path vs the English path, in the same process.

    .venv/bin/python benchmarks/bench_multilingual.py [--out benchmarks/results/multilingual.md]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataforge.document import Document  # noqa: E402
from dataforge.registry import STAGES, resolve  # noqa: E402
from dataforge.stage import RunInfo, TaskContext  # noqa: E402
from dataforge.stats import Stats  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "text" / "web"
CHAIN = ["gopher_repetition", "gopher_quality", "c4", "fineweb_quality"]


def load_inputs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    lines = (SHARED / "uer-py" / "CLUECorpusSmall_sampled.txt").read_text(encoding="utf-8").splitlines()
    out["zh"] = [s for s in lines if s.strip()][:500]
    out["ja"] = [d["text"] for d in json.loads((SHARED / "fineweb2-ja" / "fineweb_100_samples.json").read_text())]
    csv.field_size_limit(1 << 30)
    with open(SHARED / "fineweb-c-da" / "fineweb2_data.csv", encoding="utf-8", newline="") as fh:
        out["da"] = [r["text"] for r in csv.DictReader(fh)]
    fi: list[str] = []
    for name in ("monotextor_sample1.jsonl.zst", "monotextor_sample2.jsonl.zst"):
        with open(SHARED / "hplt" / name, "rb") as raw:
            text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(raw), encoding="utf-8")
            fi += [json.loads(line)["text"] for line in text if line.strip()]
    out["fi"] = fi
    en: list[str] = []
    for i in (1, 2, 3, 4, 5, 6, 7, 8):
        path = SHARED / "fineweb-legal" / f"batch_00000{i}.parquet"
        if path.exists():
            en += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    out["en"] = en[:800]
    return out


def make(name: str, tmp: Path, **options: Any) -> Any:
    cls = resolve(STAGES, name)
    run = RunInfo(seed=1, output_dir=tmp / "out", work_dir=tmp / "work", sources=["web"])
    ctx = TaskContext(run=run, task_id="t0", label=f"0:{name}", stats=Stats(), task_dir=tmp / "task",
                      publish_dir=tmp / "publish")
    return cls(cls.Params(**options), ctx)


def funnel(docs: dict[str, list[str]], tmp: Path, *, languages: bool) -> dict[str, dict[str, Any]]:
    """Per input language: documents in, kept by each stage (chained), survivors."""
    langid = make("langid", tmp, languages=sorted(docs), sample_rejected=0)
    stages = {n: make(n, tmp, sample_rejected=0) for n in CHAIN}
    out: dict[str, dict[str, Any]] = {}
    for lang, texts in docs.items():
        batch = [Document(id=f"{lang}{i}", text=t, source="web") for i, t in enumerate(texts)]
        row: dict[str, Any] = {"docs": len(batch)}
        alive = list(langid.process(batch))
        row["langid"] = (len(alive), len(batch))
        for n in CHAIN:
            if not languages:
                for d in alive:
                    d.meta.pop("lang", None)
            before = len(alive)
            alive = list(stages[n].process(alive))
            row[n] = (len(alive), before)
        row["survive"] = len(alive)
        out[lang] = row
    return out


def speed(docs: dict[str, list[str]], tmp: Path, *, rounds: int = 2) -> dict[str, dict[str, float]]:
    """docs/s and MB/s of the four-stage chain per language (langid excluded), one core."""
    stages = [make(n, tmp, sample_rejected=0) for n in CHAIN]
    out: dict[str, dict[str, float]] = {}
    for lang, texts in docs.items():
        for path, tag in ((True, "segmented"), (False, "english")):
            if lang == "en" and path:
                continue
            best = float("inf")
            for _ in range(rounds):
                clear_caches()  # each round segments every document afresh, as a run does
                batch = [Document(id=str(i), text=t, source="web", meta={"lang": lang} if path else {})
                         for i, t in enumerate(texts)]
                t0 = time.perf_counter()
                for d in batch:  # every stage on every document (no chaining: same work per path)
                    for s in stages:
                        s.decide([d]) if s.Params.STAGE != "c4" else s.clean(d)
                best = min(best, time.perf_counter() - t0)
            mb = sum(len(t.encode()) for t in texts) / 1e6
            out[f"{lang}/{tag}"] = {"docs_s": len(texts) / best, "mb_s": mb / best}
    return out


def clear_caches() -> None:
    from dataforge.filters.text import words
    from dataforge.lang.segment import segmenter

    words.cache_clear()
    for lang in ("zh", "ja"):
        segmenter(lang)._lines.cache_clear()  # type: ignore[attr-defined]


def table(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> str:
    lines = ["| language | docs | stage | kept before | kept after |", "|---|---|---|---|---|"]
    for lang in before:
        for stage in ["langid", *CHAIN]:
            b, a = before[lang][stage], after[lang][stage]
            fmt = lambda x: f"{x[0]}/{x[1]} ({x[0] / x[1]:.0%})" if x[1] else "0/0"  # noqa: E731
            lines.append(f"| {lang} | {before[lang]['docs']} | {stage} | {fmt(b)} | {fmt(a)} |")
        n = before[lang]["docs"]
        lines.append(f"| {lang} | {n} | **whole chain** | {before[lang]['survive'] / n:.0%} | "
                     f"{after[lang]['survive'] / n:.0%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    docs = load_inputs()
    t0 = time.perf_counter()
    from dataforge.lang.segment import segmenter

    for lang in ("zh", "ja"):
        segmenter(lang).words("warm up")
    warm = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        before = funnel(docs, Path(tmp), languages=False)
        after = funnel(docs, Path(tmp), languages=True)
        sp = speed(docs, Path(tmp))
    report = [table(before, after), "", f"segmenter load (zh + ja): {warm:.2f} s once per process", "",
              "| input / path | docs/s per core | MB/s per core |", "|---|---|---|"]
    report += [f"| {k} | {v['docs_s']:.0f} | {v['mb_s']:.2f} |" for k, v in sp.items()]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
