"""Model-based quality filtering with a fastText classifier, as DCLM (Li et al. 2024,
"DataComp-LM", section 4.4: a bigram fastText model, top 10% of documents kept).

Every document gets ``meta['quality']``: the model's probability of the positive label
(``__label__hq`` for models from ``dataforge classifier train``). Then, per the options:

* ``threshold``: keep documents scoring at least this;
* ``top_fraction``: keep the best-scoring fraction. A stage sees one task's documents, not
  the corpus, so the cut-off is estimated **per task**: the first ``calibration_docs``
  documents of the task are scored and held, the cut-off is their ``1 - top_fraction``
  quantile, and it then applies to them and to the rest of the task. With tasks drawn
  from the same distribution this is close to a global top fraction; with a skewed task
  it is not (use ``threshold`` then, e.g. a quantile measured on a sample);
* neither: score only, keep everything.

Drops are counted as ``dropped.low_quality``. CJK and other text is scored like any
other; a model trained on English will give it low scores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..document import Document
from ..paths import absolute
from ..stage import Filter, FilterParams, Scores, TaskContext
from .fasttext_model import load_model, predict


class QualityClassifierParams(FilterParams):
    # the model shipped in data/quality (trained by `dataforge classifier train`)
    model: str = Field("data/quality/quality.ftz", validate_default=True)  # a default is checked too
    # the label whose probability is the score (dataforge classifier train: "hq")
    label: str = "hq"
    # keep documents scoring at least this; null = do not cut by score
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    # keep this best-scoring fraction (DCLM kept the top 10%: 0.1); null = off
    top_fraction: float | None = Field(None, gt=0.0, le=1.0)
    # documents per task used to estimate the top_fraction cut-off (held in memory until then)
    calibration_docs: int = Field(1000, ge=1, le=1 << 20)
    # documents per fastText call (throughput only); a batch is held in memory
    batch_size: int = Field(512, ge=1, le=1 << 20)

    @field_validator("model")
    @classmethod
    def _model_exists(cls, path: str) -> str:
        if not os.path.isfile(absolute(path)):
            raise ValueError(
                f"model file {path!r} not found (relative to the working directory {os.getcwd()}); train one with "
                "`dataforge classifier train --positive HQ.jsonl --negative LQ.jsonl --output model.ftz`"
            )
        return absolute(path)

    @model_validator(mode="after")
    def _one_rule(self) -> "QualityClassifierParams":
        if self.threshold is not None and self.top_fraction is not None:
            raise ValueError("set either `threshold` or `top_fraction`, not both")
        return self


def score_batch(model: object, texts: list[str], label: str) -> list[float]:
    """Probability of ``__label__<label>`` for each text."""
    labels, probs = predict(model, texts, k=-1)
    want = f"__label__{label}"
    out = []
    for labs, ps in zip(labels, probs):
        out.append(next((p for lab, p in zip(labs, ps) if lab == want), 0.0))
    return out


def top_fraction_cutoff(scores: list[float], fraction: float) -> float:
    """The score at or above which ``fraction`` of ``scores`` lie (higher-rank quantile)."""
    return float(np.quantile(np.asarray(scores), 1.0 - fraction, method="higher"))


class QualityClassifier(Filter[QualityClassifierParams]):
    """Score documents with a fastText quality model; keep by threshold or top fraction."""

    Params: ClassVar[type[QualityClassifierParams]] = QualityClassifierParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "low_quality": ("the classifier's `label` probability is under `threshold`, or under the cut-off of"
                        " `top_fraction`"),
    }

    def __init__(self, params: QualityClassifierParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self.cutoff = params.threshold  # top_fraction: set from the task's first documents

    def score_batch(self, docs: list[Document]) -> list[Scores]:
        model = load_model(self.params.model)
        return [{"quality": round(s, 4)} for s in score_batch(model, [d.text for d in docs], self.params.label)]

    def reject(self, doc: Document) -> str | None:
        return None if self.cutoff is None or doc.meta["quality"] >= self.cutoff else "low_quality"

    def after(self, doc: Document, reason: str | None) -> None:
        self.observe(doc, "quality_logit.kept" if reason is None else "quality_logit.dropped", doc.meta["quality"],
                     logit=True)

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        it = iter(docs)
        if self.params.top_fraction is not None:
            held = list(islice(it, self.params.calibration_docs))  # bounded: calibration_docs
            for i in range(0, len(held), self.batch_size):
                for doc, s in zip(held[i:i + self.batch_size], self.score_batch(held[i:i + self.batch_size])):
                    self.annotate(doc, s)
            if held:
                self.cutoff = top_fraction_cutoff([d.meta["quality"] for d in held], self.params.top_fraction)
                self.ctx.log.info("%s: top_fraction cut-off %.4f from %d documents", self.label, self.cutoff, len(held))
            for doc, reason in zip(held, self.reject_batch(held)):  # scored already
                self.after(doc, reason)
                if reason is None:
                    yield doc
                else:
                    self.dropped(doc, reason)
        yield from super().process(it)
