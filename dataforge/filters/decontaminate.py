"""``decontaminate``: remove (or cut out) text that contains benchmark test data.

N-gram overlap on normalised words, as GPT-3 did (Brown et al. 2020, appendix C: 13-grams;
for test items shorter than that, the whole item, at least 8 words) and datatrove's
``NGramsDecontFilter`` does (12-grams by default): a document is contaminated when one of
its n-grams is an n-gram of a reference item. References are JSONL files with
configurable fields (see ``decontam_index.Reference``); the index of their n-grams is
built once per run and shared by the tasks (see ``decontam_index``).

``mode: remove`` drops the document (``dropped.contaminated``). ``mode: redact`` cuts out
each matched n-gram with ``redact_margin`` characters on either side and keeps the rest,
as GPT-3 did (appendix C: a 200-character window; pieces under 200 characters dropped; a
document split into more than 10 pieces removed); a document left with nothing is dropped.

``fields`` names what is scanned: ``text`` (the document text) and/or meta keys, so the
same stage serves instruction data (``fields: [text, instruction, output]``); redaction
applies to each field on its own.

Counters (stats.json): ``contaminated.<benchmark>`` documents matching that benchmark
(a document matching two counts in both), ``redacted`` documents cut, ``redacted_chars``.
The contamination table, per task, is ``decontamination/<stage>/<task>.jsonl`` in the output: one
line per contaminated document and benchmark, ``{"doc", "source", "benchmark", "items":
[matched item ids, at most max_items], "ngrams": matched n-gram count, "action":
"removed"|"redacted"}``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..document import Document
from ..stage import AnyParams, Filter, FilterParams, TaskContext, safe_name
from .decontam_index import (Index, Reference, check_references, shared_index, text_word_hashes, word_hashes,
                             word_spans)

TABLE_DIR = "decontamination"


class DecontaminateParams(FilterParams):
    # the benchmarks' test items (at least one)
    references: list[Reference] = Field(min_length=1)
    # words per n-gram: GPT-3's 13 (Brown et al. 2020, appendix C); datatrove's default is 12
    ngram: int = Field(13, ge=1, le=64)
    # items (segments) shorter than ngram are matched whole if they have at least this
    # many words (GPT-3: "a lower bound of 8"); shorter ones are not indexed (counted)
    min_ngram: int = Field(8, ge=1)
    # remove the document, or cut the matched text out (GPT-3's redaction)
    mode: Literal["remove", "redact"] = "remove"
    # redact: characters cut on each side of a match (GPT-3: 200)
    redact_margin: int = Field(200, ge=0)
    # redact: pieces left with fewer characters are dropped too (GPT-3: 200)
    min_piece_chars: int = Field(200, ge=0)
    # redact: a document cut into more pieces than this is removed (GPT-3: 10)
    max_pieces: int = Field(10, ge=1)
    # what to scan: "text" = the document text; other names = meta keys (instruction data)
    fields: list[str] = Field(default_factory=lambda: ["text"], min_length=1)
    # most item ids listed per document and benchmark in the contamination table
    max_items: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "DecontaminateParams":
        if self.min_ngram > self.ngram:
            raise ValueError(f"min_ngram ({self.min_ngram}) must not exceed ngram ({self.ngram})")
        return self


class Decontaminate(Filter[DecontaminateParams]):
    """Drop or redact documents whose n-grams overlap a benchmark's test items."""

    Params: ClassVar[type[DecontaminateParams]] = DecontaminateParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "contaminated": "an `ngram`-word n-gram (normalised words) of a reference item occurs (mode: remove)",
    }
    rewrites_text: ClassVar[bool] = True  # in redact mode

    def __init__(self, params: DecontaminateParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self._index: Index | None = None
        self._table: Any = None

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        if not isinstance(params, DecontaminateParams):
            return []
        return check_references(params.references)

    @property
    def index(self) -> Index:
        if self._index is None:
            p = self.params
            self._index, folder = shared_index(self.ctx.run.work_dir, p.references, p.ngram, p.min_ngram)
            self.ctx.log.info("%s: decontamination index %s (%d items)", self.label, folder, len(self._index.item_names))
        return self._index

    # ---- matching ---------------------------------------------------------------------------
    def texts(self, doc: Document) -> list[tuple[str, str]]:
        """(field, text) pairs to scan."""
        out = []
        for f in self.params.fields:
            v = doc.text if f == "text" else doc.meta.get(f)
            if isinstance(v, str) and v:
                out.append((f, v))
        return out

    def hits(self, doc: Document) -> np.ndarray:
        found = [self.index.lookup(text_word_hashes(t)) for _, t in self.texts(doc)]
        return np.concatenate(found) if found else np.empty(0, dtype=np.uint32)

    def reject(self, doc: Document) -> str | None:
        return "contaminated" if len(self.hits(doc)) else None

    def record(self, doc: Document, hits: np.ndarray, action: str) -> None:
        """Count the document per benchmark and write its contamination-table lines."""
        names = self.index.item_names
        per_bench: dict[str, Counter[str]] = {}
        for item, n in zip(*np.unique(hits, return_counts=True)):
            bench, item_id = names[int(item)]
            per_bench.setdefault(bench, Counter())[item_id] += int(n)
        if self._table is None:
            # one folder per stage: two decontaminate stages never write the same file
            path = self.ctx.publish_dir / TABLE_DIR / safe_name(self.label) / f"{safe_name(self.ctx.task_id)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._table = open(path, "w", encoding="utf-8")
        for bench, items in sorted(per_bench.items()):
            self.count(doc, f"contaminated.{bench}")
            top = [i for i, _ in items.most_common(self.params.max_items)]
            self._table.write(json.dumps({"doc": doc.id, "source": doc.source, "benchmark": bench, "items": top,
                                          "ngrams": sum(items.values()), "action": action}, ensure_ascii=False) + "\n")

    # ---- redaction --------------------------------------------------------------------------
    def redact(self, text: str) -> str | None:
        """``text`` with matched n-grams (and the margin) cut out; None = remove the document."""
        words, spans = word_spans(text)
        matched = self.index.matched_spans(word_hashes(words))
        if not matched:
            return text
        m = self.params.redact_margin
        cuts: list[list[int]] = []
        for a, b in matched:  # word ranges -> merged character ranges with the margin
            lo, hi = max(0, spans[a][0] - m), min(len(text), spans[b - 1][1] + m)
            if cuts and lo <= cuts[-1][1]:
                cuts[-1][1] = max(cuts[-1][1], hi)
            else:
                cuts.append([lo, hi])
        pieces, last = [], 0
        for lo, hi in cuts:
            pieces.append(text[last:lo])
            last = hi
        pieces.append(text[last:])
        pieces = [p.strip() for p in pieces if p.strip()]
        if len(pieces) > self.params.max_pieces:
            return None
        kept = [p for p in pieces if len(p) >= self.params.min_piece_chars]
        return "\n".join(kept) if kept else None

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            hits = self.hits(doc)
            if not len(hits):
                yield doc
                continue
            if self.params.mode == "remove":
                self.record(doc, hits, "removed")
                self.dropped(doc, "contaminated", sorted({self.index.item_names[int(i)][0] for i in hits}))
                continue
            new: dict[str, str | None] = {f: self.redact(t) for f, t in self.texts(doc)}
            if any(v is None for v in new.values()):
                self.record(doc, hits, "removed")
                self.dropped(doc, "contaminated", sorted({self.index.item_names[int(i)][0] for i in hits}))
                continue
            self.record(doc, hits, "redacted")
            before = sum(len(t) for _, t in self.texts(doc))
            for f, v in new.items():
                if f == "text":
                    doc.text = v or ""
                else:
                    doc.meta[f] = v
            self.count(doc, "redacted")
            self.count(doc, "redacted_chars", before - sum(len(t) for _, t in self.texts(doc)))
            yield doc

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
            self._table = None
        super().close()
