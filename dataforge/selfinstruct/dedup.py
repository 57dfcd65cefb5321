"""``dataforge dedup-instructions``: benchmark decontamination, then the novelty filter, over an instruction file.

Decontamination is the pretraining ``decontaminate`` stage's index (``filters.decontam_index``:
13-gram overlap on normalised words, whole items of at least 8 words, GPT-3 appendix C)
over the record's ``instruction``, ``input`` and ``output``; a record that matches is
dropped and counted per benchmark (``contaminated.<benchmark>``, a record matching two
counts in both). The survivors then go through the ROUGE-L novelty filter.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..filters.decontam_index import Reference, build, load, text_word_hashes
from ..io import atomic_write_text
from .novelty import NoveltyIndex
from .records import read_instructions, write_records
from .rouge import ROUGE_THRESHOLD


def dedup_records(records: Iterable[dict[str, Any]], *, threshold: float = ROUGE_THRESHOLD,
                  against: Iterable[str] = (), index: NoveltyIndex | None = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep, in order, each record whose instruction has ROUGE-L F1 <= ``threshold`` with every
    earlier kept instruction (and every ``against`` instruction). Returns (kept, dropped);
    each dropped entry names the pool instruction that exceeded the threshold."""
    pool = index or NoveltyIndex(threshold)
    for text in against:
        pool.add(text)
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for rec in records:
        verdict = pool.check_and_add(rec["instruction"])
        if verdict.novel:
            kept.append(rec)
        else:
            idx, score = verdict.similar[0]
            dropped.append({"instruction": rec["instruction"], "similar_to": pool.texts[idx], "rouge_l": score})
    return kept, dropped


DECONTAM_FIELDS = ("instruction", "input", "output")


def decontaminate_records(records: Iterable[dict[str, Any]], references: dict[str, Path], *, ngram: int = 13,
                          min_ngram: int = 8) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    """(clean records, dropped entries with their benchmarks and items, per-benchmark counts)."""
    refs = [Reference(name=name, path=str(path)) for name, path in sorted(references.items())]
    with tempfile.TemporaryDirectory(prefix="dataforge-decontam-") as tmp:
        build(Path(tmp) / "index", refs, ngram, min_ngram)
        index = load(Path(tmp) / "index")
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        for rec in records:
            hits = [int(i) for f in DECONTAM_FIELDS if isinstance(rec.get(f), str) and rec[f]
                    for i in index.lookup(text_word_hashes(rec[f]))]
            if not hits:
                kept.append(rec)
                continue
            per_bench: dict[str, set[str]] = {}
            for item in hits:
                bench, item_id = index.item_names[item]
                per_bench.setdefault(bench, set()).add(item_id)
            for bench in per_bench:
                counts[f"contaminated.{bench}"] += 1
            dropped.append({"instruction": rec.get("instruction"), "reason": "contaminated",
                            "benchmarks": {b: sorted(ids)[:10] for b, ids in sorted(per_bench.items())}})
    return kept, dropped, counts


def dedup_file(src: Path, dst: Path, *, threshold: float = ROUGE_THRESHOLD, against: Sequence[Path] = (),
               report: Path | None = None, references: dict[str, Path] | None = None) -> dict[str, int]:
    """Filter ``src`` into ``dst`` (JSON or JSONL by suffix); optional JSONL report of drops."""
    pool_texts = [rec["instruction"] for path in against for _, rec in read_instructions(path)]
    records = [rec for _, rec in read_instructions(src)]
    contaminated: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    if references:
        records, contaminated, counts = decontaminate_records(records, references)
    kept, dropped = dedup_records(records, threshold=threshold, against=pool_texts)
    write_records(dst, kept)
    if report is not None:
        atomic_write_text(report, "".join(json.dumps(d, ensure_ascii=False) + "\n"
                                          for d in contaminated + [{**d, "reason": "rouge_similar"} for d in dropped]))
    return {"read": len(kept) + len(dropped) + len(contaminated), "kept": len(kept), "dropped": len(dropped),
            "contaminated": len(contaminated), **dict(sorted(counts.items()))}
