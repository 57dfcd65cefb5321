"""``perplexity``: CCNet-style filtering by a small language model's perplexity (Wenzek et
al. 2020, "CCNet", section 3.3: a model trained on Wikipedia scores each document; low
perplexity = close to the reference text).

The model is one ``dataforge train`` trained on reference text (e.g. WikiText or the
bundled Wikipedia lines), given by its run folder. Each document gets
``meta.perplexity``: ``exp`` of the mean next-token loss over its first ``max_tokens``
tokens (the document is cut into windows of the model's context; the EOS token starts
it, as in training). Then, per the options:

* ``max_perplexity``: drop documents above it (``dropped.high_perplexity``);
* ``buckets``: write ``meta.perplexity_bucket`` = ``head`` / ``middle`` / ``tail``, CCNet's
  split at the 33rd and 66th percentiles of perplexity (CCNet computes them per language
  on a sample of the crawl). Give the two cut-offs as ``bucket_cutoffs`` (measured on a
  sample), or leave them out to take the terciles of each task's first
  ``calibration_docs`` documents (close to CCNet when tasks are alike; as the quality
  classifier's ``top_fraction``). Later stages and ``mix`` can select on the field.

Scoring is batched (``batch_size`` windows per forward pass) and needs torch (the
``train`` extra): a pipeline naming this stage without it fails with that message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..document import Document
from ..errors import DataforgeError
from ..paths import AbsolutePath
from ..stage import AnyParams, Filter, FilterParams, Scores, TaskContext

BUCKETS = ("head", "middle", "tail")


class PerplexityParams(FilterParams):
    # folder of a `dataforge train` run (its checkpoint and tokenizer)
    model: AbsolutePath
    # drop documents scoring above this; null = keep all (CCNet kept all and bucketed)
    max_perplexity: float | None = Field(None, gt=0, allow_inf_nan=False)
    # write meta.perplexity_bucket (CCNet head/middle/tail)
    buckets: bool = False
    # the two cut-offs (head <= a < middle <= b < tail); null = terciles per task
    bucket_cutoffs: tuple[float, float] | None = None
    # documents per task whose terciles are the cut-offs (when bucket_cutoffs is null)
    # (held in memory until then)
    calibration_docs: int = Field(1000, ge=3, le=1 << 20)
    # tokens scored per document (CCNet scores whole documents; a prefix is cheaper)
    max_tokens: int = Field(1024, ge=1, le=1 << 30)
    # windows per forward pass (throughput only); one batch of windows is in memory
    batch_size: int = Field(32, ge=1, le=1 << 16)
    # torch device for scoring (as train's device: auto, cpu, mps, cuda, cuda:N; checked before the run)
    device: str = Field("cpu", pattern=r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")

    @field_validator("bucket_cutoffs")
    @classmethod
    def _cutoffs(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (0 < v[0] <= v[1] and math.isfinite(v[1])):
            raise ValueError("bucket_cutoffs must be two finite perplexities, the smaller first, e.g. [150, 400]")
        return v

    @model_validator(mode="after")
    def _check(self) -> "PerplexityParams":
        if self.bucket_cutoffs is not None and not self.buckets:
            raise ValueError("bucket_cutoffs needs buckets: true")
        return self


def bucket_of(ppl: float, cutoffs: tuple[float, float]) -> str:
    return BUCKETS[0] if ppl <= cutoffs[0] else BUCKETS[1] if ppl <= cutoffs[1] else BUCKETS[2]


def terciles(values: list[float]) -> tuple[float, float]:
    """CCNet's cut-offs: the 33.3rd and 66.7th percentiles."""
    a, b = np.quantile(np.asarray(values, dtype=np.float64), [1 / 3, 2 / 3])
    return float(a), float(b)


def windows(ids: list[int], eos: int, context: int, max_tokens: int) -> list[list[int]]:
    """Token windows of at most ``context + 1`` ids (inputs plus the shifted target), EOS first."""
    seq = [eos] + ids[:max_tokens]
    out = []
    for start in range(0, len(seq) - 1, context):
        out.append(seq[start:start + context + 1])
    return out


class TorchScorer:
    """Per-document perplexity under a trained dataforge GPT (loaded from its run folder)."""

    def __init__(self, run_dir: str, *, device: str = "cpu") -> None:
        try:
            import torch  # noqa: F401  # deferred: torch is the [train] extra, refused here when missing
        except ImportError:
            raise DataforgeError("the perplexity stage needs torch: pip install 'dataforge[train]' "
                                 "(then torch==2.13.0 for a CPU build, see pyproject.toml)") from None
        from ..train.sample import load_run  # deferred: imports torch

        self.model, self.tokenizer, self.eos = load_run(Path(run_dir), device=device)
        self.context = int(self.model.cfg.context)

    def perplexities(self, texts: list[str], *, max_tokens: int, batch_size: int) -> list[float]:
        import torch  # deferred: the [train] extra (present: __init__ checked)

        wins: list[tuple[int, list[int]]] = []
        for d, enc in enumerate(self.tokenizer.encode_batch(texts)):
            wins += [(d, w) for w in windows(enc.ids, self.eos, self.context, max_tokens)]
        nll = np.zeros(len(texts))
        count = np.zeros(len(texts))
        dev = next(self.model.parameters()).device
        with torch.inference_mode():
            for i in range(0, len(wins), batch_size):
                chunk = wins[i:i + batch_size]
                width = max(len(w) for _, w in chunk) - 1
                x = torch.full((len(chunk), width), self.eos, dtype=torch.long)
                y = torch.full((len(chunk), width), -1, dtype=torch.long)
                for r, (_, w) in enumerate(chunk):
                    x[r, : len(w) - 1] = torch.tensor(w[:-1])
                    y[r, : len(w) - 1] = torch.tensor(w[1:])
                logits = self.model(x.to(dev)).float()
                loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y.to(dev), ignore_index=-1,
                                                         reduction="none")
                mask = (y >= 0).to(dev)
                sums, ns = (loss * mask).sum(1).cpu().numpy(), mask.sum(1).cpu().numpy()
                for r, (d, _) in enumerate(chunk):
                    nll[d] += sums[r]
                    count[d] += ns[r]
        return [float(math.exp(min(n / c, 700))) if c else math.inf for n, c in zip(nll, count)]


class Perplexity(Filter[PerplexityParams]):
    """Score perplexity under a small trained model; filter by it or bucket it (CCNet)."""

    Params: ClassVar[type[PerplexityParams]] = PerplexityParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "no_tokens": "the text encodes to no token",
        "high_perplexity": "perplexity above `max_perplexity`",
    }

    def __init__(self, params: PerplexityParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self._scorer: Any = None
        self.cutoffs = params.bucket_cutoffs

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        assert isinstance(params, PerplexityParams)
        if not Path(params.model).is_dir():
            return [("model", f"{params.model!r} is not a `dataforge train` run folder; train one on reference "
                              "text, e.g. `dataforge train` on WikiText shards, and give its folder")]
        return []

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            self._scorer = TorchScorer(self.params.model, device=self.params.device)
        return self._scorer

    def score_batch(self, docs: list[Document]) -> list[Scores]:
        ppl = self.scorer.perplexities([d.text for d in docs], max_tokens=self.params.max_tokens,
                                       batch_size=self.params.batch_size)
        return [{"perplexity": round(p, 2) if math.isfinite(p) else None} for p in ppl]

    def annotate(self, doc: Document, scores: Scores) -> None:
        doc.meta.update(scores)
        if self.params.buckets and self.cutoffs is not None and scores["perplexity"] is not None:
            doc.meta["perplexity_bucket"] = bucket_of(scores["perplexity"], self.cutoffs)

    def reject(self, doc: Document) -> str | None:
        p, top = doc.meta.get("perplexity"), self.params.max_perplexity
        if p is None:
            return "no_tokens"
        return "high_perplexity" if top is not None and p > top else None

    def after(self, doc: Document, reason: str | None) -> None:
        if "perplexity_bucket" in doc.meta:
            self.count(doc, f"bucket.{doc.meta['perplexity_bucket']}")

    @property
    def batch_size(self) -> int:
        return self.params.batch_size

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        it = iter(docs)
        if self.params.buckets and self.cutoffs is None:
            held = list(islice(it, self.params.calibration_docs))  # bounded: calibration_docs
            scores: list[Scores] = []
            for i in range(0, len(held), self.batch_size):
                scores += self.score_batch(held[i:i + self.batch_size])
            finite = [s["perplexity"] for s in scores if s["perplexity"] is not None]
            if len(finite) >= 3:
                self.cutoffs = terciles(finite)
                self.ctx.log.info("%s: perplexity terciles %.1f / %.1f from %d documents", self.label,
                                  *self.cutoffs, len(finite))
            for doc, s in zip(held, scores):
                self.annotate(doc, s)
            for doc, reason in zip(held, self.reject_batch(held)):
                self.after(doc, reason)
                if reason is None:
                    yield doc
                else:
                    self.dropped(doc, reason, doc.meta.get("perplexity"))
        yield from super().process(it)
