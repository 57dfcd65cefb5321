"""``dataforge dedup-instructions``: the novelty filter over an existing instruction file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def dedup_file(src: Path, dst: Path, *, threshold: float = ROUGE_THRESHOLD, against: list[Path] = (),  # type: ignore[assignment]
               report: Path | None = None) -> dict[str, int]:
    """Filter ``src`` into ``dst`` (JSON or JSONL by suffix); optional JSONL report of drops."""
    pool_texts = [rec["instruction"] for path in against for _, rec in read_instructions(path)]
    kept, dropped = dedup_records((rec for _, rec in read_instructions(src)), threshold=threshold,
                                  against=pool_texts)
    write_records(dst, kept)
    if report is not None:
        atomic_write_text(report, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dropped))
    return {"read": len(kept) + len(dropped), "kept": len(kept), "dropped": len(dropped)}
