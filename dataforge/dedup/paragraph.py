"""``paragraph_dedup`` and ``sentence_dedup``: remove paragraphs, or spans of three
consecutive sentences, seen earlier in the corpus.

* ``paragraph_dedup``: a unit is one line of the text (``\\n``-separated: the paragraph of
  Dolma's ``paragraph`` dedup and CCNet's line dedup, Wenzek et al. 2020 section 3.1),
  keyed by the xxh3-64 of its normalised words; lines with no words are never units.
* ``sentence_dedup``: a unit is a span of ``n_sentences`` consecutive sentences (C4:
  "we discarded all but one of any three-sentence span occurring more than once";
  datatrove's ``SentenceDedup``), sentences split as spaCy's sentencizer does
  (``filters.text.split_sentences``); a duplicate span removes all its sentences, and the
  kept sentences are joined with the whitespace that preceded each, as datatrove does.

Words are normalised as datatrove's ``simplify_text`` (lowercase, digit runs -> 0,
diacritics and punctuation removed). The first occurrence is kept (cross-run index, then
source priority, input order and position: see ``spans.py``); a document that changed and
is left with fewer than ``min_words`` words (or ``min_sentences`` sentences) is dropped, as
datatrove's ``SentenceDedupFilter`` does. Counters: ``units`` (map), ``units_removed``,
``changed`` and ``dropped.too_few_words`` / ``dropped.too_few_sentences`` (apply).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import xxhash
from pydantic import Field, model_validator

from ..document import Document
from ..errors import DataforgeError
from ..filters.decontam_index import simplified
from ..filters.text import count_sentences, split_sentences, words
from ..io import atomic_write_text
from ..paths import AbsolutePath
from ..stage import Barrier, P, Params, ReduceContext, TaskContext, safe_name
from .spans import (Bloom, DropSpill, SpanStore, SpanStoreWriter, bloom_duplicates, bloom_fp_rate, bloom_size,
                    order_stores, read_drops, sorted_duplicates, write_drops)
from .generations import Generations
from .spans_index import SpanIndex
from .store import id_hash

RESULT = "result.json"


#: the largest Bloom filter a span dedup may hold in memory (our choice: a worker of a 64 GB machine)
MAX_BLOOM_BYTES = 16 << 30


class SpanDedupParams(Params):
    """Options both span dedups share."""

    # a changed document left with fewer words is dropped (datatrove SentDedupConfig.min_doc_words=50)
    min_words: int = Field(50, ge=0)
    # "sorted": exact (external merge of sorted runs); "bloom": a Bloom filter (as Dolma),
    # which may drop a unique unit with probability bloom_fp_rate
    method: Literal["sorted", "bloom"] = "sorted"
    # bloom: false-positive rate the filter is sized for (Dolma's examples use 1e-4)
    bloom_fp_rate: float = Field(1e-4, gt=0, lt=1, allow_inf_nan=False)
    # bloom: units the filter is sized for; null = this run's units (with an index: fix it
    # at a size for all runs to come, it cannot grow)
    # (the filter, ~19 bits a unit at 1e-4, is held in memory whole: at most MAX_BLOOM_BYTES)
    bloom_capacity: int | None = Field(None, ge=1, le=1 << 40)
    # units a task holds before writing a sorted run (map memory: ~20 B each); our choice
    # (at most 2**27: ~2.7 GB)
    buffer_units: int = Field(1_000_000, ge=1, le=1 << 27)
    # records held across a merge's runs (reduce memory: ~40 B each); as minhash_dedup
    merge_buffer: int = Field(65_536, ge=1024, le=1 << 26)
    # folder of the cross-run index (units kept by earlier runs); null = none
    index: AbsolutePath | None = None
    # dropped documents kept per task for inspection under rejected/<stage>/
    sample_rejected: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _bloom_fits(self) -> "SpanDedupParams":
        if self.bloom_capacity is not None:
            size = bloom_size(self.bloom_capacity, self.bloom_fp_rate)[0] // 8
            if size > MAX_BLOOM_BYTES:
                raise ValueError(f"a Bloom filter for bloom_capacity {self.bloom_capacity:,} units at bloom_fp_rate "
                                 f"{self.bloom_fp_rate:g} takes {size / 2**30:,.1f} GiB of memory, more than the "
                                 f"{MAX_BLOOM_BYTES >> 30} GiB limit; lower bloom_capacity, raise bloom_fp_rate, or "
                                 "use method: sorted")
        return self


class SpanDedup(Barrier[P]):
    """Subclasses set ``kind`` and implement ``units`` and ``rebuild``."""

    kind: ClassVar[str] = ""

    @property
    def p(self) -> Any:
        return self.params

    def units(self, text: str, language: str | None = None) -> tuple[list[int], list[int]]:
        """(keys, unit indices) of ``text``, its sentences split as ``language`` (meta.lang) is."""
        raise NotImplementedError

    def rebuild(self, text: str, dropped: set[int], language: str | None = None) -> str:
        raise NotImplementedError

    def min_sentences(self) -> int:
        return 0

    def fmt(self) -> dict[str, Any]:
        return {"kind": self.kind, "method": self.p.method, "normalize": "simplify_text/1"}

    # ---- map --------------------------------------------------------------------------------
    def map(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        w = SpanStoreWriter(ctx.stage_dir, spill=self.p.buffer_units, extra={"task_id": ctx.task_id, "format": self.fmt()})
        for doc in docs:
            keys, idx = self.units(doc.text, _lang(doc))
            w.add(id_hash(doc.id), doc.source, keys, idx)
            if keys:
                ctx.stats.add(ctx.label, doc.source, "units", len(keys))
            yield doc
        w.close()

    # ---- reduce -------------------------------------------------------------------------------
    def _index(self) -> SpanIndex | None:
        return SpanIndex(Path(self.p.index)) if self.p.index else None

    def index_paths(self) -> list[Path]:
        return [Path(self.p.index)] if self.p.index else []

    def reduce(self, ctx: ReduceContext) -> None:
        stores = order_stores([SpanStore(sd, td) for sd, td in zip(ctx.stage_dirs(), ctx.task_dirs)], ctx.run.sources)
        index = self._index()
        spill = DropSpill(ctx.barrier_dir / "_spill")
        units = sum(s.units for s in stores)
        summary: dict[str, Any] = {"units": units, "format": self.fmt(),
                                   "stores": [[str(s.folder), str(s.task_dir)] for s in stores]}
        if self.p.method == "sorted":
            for s in stores:
                s.verify()
            earlier = index.runs(self.fmt(), output=ctx.run.owner, own=ctx.run.append) if index else []
            dropped = sorted_duplicates(earlier, stores, spill,
                                        buffer=self.p.merge_buffer)
        else:
            bloom = index.bloom(self.fmt(), output=ctx.run.owner, own=ctx.run.append) if index else None
            if bloom is None:
                size = index.size(self.fmt()) if index else None  # a shared index keeps its first size
                bloom = Bloom(*(size or bloom_size(self.p.bloom_capacity or units, self.p.bloom_fp_rate)))
            dropped = bloom_duplicates(bloom, stores, spill)
            bloom.save(ctx.barrier_dir / "bloom.npy")
            fp = bloom_fp_rate(bloom.bits, bloom.hashes, units)
            summary["bloom"] = {"bits": bloom.bits, "hashes": bloom.hashes, "expected_fp_rate": fp}
            ctx.log.info("%s: Bloom filter %d bits, %d hashes: expected false-positive rate %.2g",
                         ctx.label, bloom.bits, bloom.hashes, fp)
        drop_dir = ctx.barrier_dir / "drop"
        for i, s in enumerate(stores):
            local = spill.read(i)
            name = safe_name(s.meta["task_id"])
            np.save(spill.folder / f"{name}.units.npy", local)
            write_drops(s, local, drop_dir / f"{name}.npy")
        summary["dropped_units"] = dropped
        atomic_write_text(ctx.barrier_dir / RESULT, json.dumps(summary, indent=1, sort_keys=True))
        ctx.log.info("%s: %d units, %d seen before", ctx.label, units, dropped)

    # ---- apply --------------------------------------------------------------------------------
    def apply(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        bdir = self.barrier_dir(ctx)
        if not (bdir / RESULT).exists():
            raise DataforgeError(f"{bdir / RESULT}: dedup result missing; rerun the pipeline so the reduce runs")
        rec = self.recorder(ctx)
        drops = read_drops(bdir / "drop" / f"{safe_name(ctx.task_id)}.npy")
        j = 0
        for i, doc in enumerate(docs):
            gone: set[int] = set()
            while j < len(drops) and drops["doc"][j] == i:
                if id_hash(doc.id) != int(drops["idhash"][j]):
                    raise DataforgeError(
                        f"{ctx.label}: task {ctx.task_id}: document {i} is {doc.id!r}, not the one the reduce "
                        "saw; apply must see the documents map saw, in the same order")
                gone.add(int(drops["unit"][j]))
                j += 1
            if not gone:
                yield doc
                continue
            lang = _lang(doc)  # words and sentences as the document's language has them (issue 19)
            text = self.rebuild(doc.text, gone, lang)
            rec.count(doc, "units_removed", len(gone))
            rec.count(doc, "changed")
            n_words = len(words(text, lang)) if self.p.min_words else 0
            if self.p.min_words and n_words < self.p.min_words:
                rec.dropped(doc, "too_few_words", n_words)
            elif self.min_sentences() and count_sentences(text, language=lang) < self.min_sentences():
                rec.dropped(doc, "too_few_sentences", count_sentences(text, language=lang))
            elif not text.strip():
                rec.dropped(doc, "empty")
            else:
                doc.text = text
                yield doc
        rec.close()

    # ---- commit -------------------------------------------------------------------------------
    def commit(self, ctx: ReduceContext) -> dict[str, Any] | None:
        index = self._index()
        if index is None:
            return None
        bdir = self.barrier_dir(ctx)
        result = json.loads((bdir / RESULT).read_text())
        stores = [SpanStore(Path(sd), Path(td)) for sd, td in result["stores"]]
        h = xxhash.xxh3_64(f"{ctx.run.work_dir}:{ctx.label}".encode())
        for s in stores:
            h.update(json.dumps([s.meta["task_id"], s.units, s.meta["spills"]]).encode())
        run_key = h.hexdigest()
        dropped = [np.load(bdir / "_spill" / f"{safe_name(s.meta['task_id'])}.units.npy") for s in stores]
        bloom = (int(result["bloom"]["bits"]), int(result["bloom"]["hashes"])) if self.p.method == "bloom" else None
        index.add(stores, dropped, fmt=self.fmt(), run_key=run_key, output=ctx.run.owner, bloom=bloom)
        return {"index": str(Path(self.p.index).resolve()), "run": run_key}

    def confirm(self, ctx: ReduceContext, token: dict[str, Any]) -> None:
        Generations(Path(token["index"])).confirm(token["run"], output=ctx.run.owner, replace_own=not ctx.run.append)


# ---- the two kinds of unit ---------------------------------------------------------------------
def _key(norm: str) -> int:
    return xxhash.xxh3_64_intdigest(norm.encode("utf-8", "surrogatepass"))


class ParagraphDedupParams(SpanDedupParams):
    pass


class ParagraphDedup(SpanDedup[ParagraphDedupParams]):
    """Remove lines (paragraphs) whose normalised words appeared earlier in the corpus."""

    Params: ClassVar[type[ParagraphDedupParams]] = ParagraphDedupParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "nothing left after removing duplicated spans",
        "too_few_words": "fewer than `min_words` words left after removing duplicated paragraphs",
    }
    rewrites_text: ClassVar[bool] = True
    kind: ClassVar[str] = "paragraph"

    def units(self, text: str, language: str | None = None) -> tuple[list[int], list[int]]:
        keys, idx = [], []
        for i, line in enumerate(text.split("\n")):
            norm = simplified(line)
            if norm:
                keys.append(_key(norm))
                idx.append(i)
        return keys, idx

    def rebuild(self, text: str, dropped: set[int], language: str | None = None) -> str:
        return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in dropped).strip()


class SentenceDedupParams(SpanDedupParams):
    # sentences per span (C4: "three-sentence span"; datatrove SentDedupConfig.n_sentences=3)
    n_sentences: int = Field(3, ge=1)
    # a changed document left with fewer sentences is dropped (datatrove min_num_sentences=3)
    min_sentences: int = Field(3, ge=0)


def _lang(doc: Document) -> str | None:
    """The language langid set (meta.lang), or None: the rule-based splitter."""
    lang = doc.meta.get("lang")
    return lang if isinstance(lang, str) and lang else None


def sentence_spans(text: str, language: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``split_sentences`` in ``text``."""
    out, at = [], 0
    for s in split_sentences(text, language=language):
        start = text.find(s, at)
        if start < 0:  # cannot happen (sentences are substrings in order); stay safe
            start = at
        out.append((start, start + len(s)))
        at = start + len(s)
    return out


class SentenceDedup(SpanDedup[SentenceDedupParams]):
    """Remove spans of consecutive sentences seen earlier in the corpus (C4, datatrove)."""

    Params: ClassVar[type[SentenceDedupParams]] = SentenceDedupParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "nothing left after removing duplicated sentence spans",
        "too_few_words": "fewer than `min_words` words left after removing duplicated spans",
        "too_few_sentences": "fewer than `min_sentences` sentences left after removing duplicated spans",
    }
    rewrites_text: ClassVar[bool] = True
    kind: ClassVar[str] = "sentence"

    def fmt(self) -> dict[str, Any]:
        return {**super().fmt(), "n_sentences": self.p.n_sentences}

    def min_sentences(self) -> int:
        return self.p.min_sentences

    def units(self, text: str, language: str | None = None) -> tuple[list[int], list[int]]:
        n = self.p.n_sentences
        sents = [simplified(s) for s in split_sentences(text, language=language)]
        keys, idx = [], []
        for j in range(len(sents) - n + 1):
            norm = " ".join(sents[j:j + n]).strip()
            if norm:
                keys.append(_key(norm))
                idx.append(j)
        return keys, idx

    def rebuild(self, text: str, dropped: set[int], language: str | None = None) -> str:
        n = self.p.n_sentences
        gone = {k for j in dropped for k in range(j, j + n)}
        parts, last = [], 0
        for k, (_, end) in enumerate(sentence_spans(text, language)):
            if k not in gone:
                parts.append(text[last:end])  # the sentence with the whitespace before it
            last = end
        return "".join(parts).lstrip()
