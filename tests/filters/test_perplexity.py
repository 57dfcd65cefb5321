"""perplexity: CCNet-style scoring, filtering and head/middle/tail buckets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataforge.document import Document
from dataforge.filters.perplexity import (Perplexity, PerplexityParams, TorchScorer, bucket_of, terciles,
                                          windows)
from dataforge.stage import RunInfo, TaskContext
from dataforge.stats import Stats

torch = pytest.importorskip("torch")


class LengthScorer:
    """A stand-in model: perplexity = number of words (lets the stage logic be checked exactly)."""

    def perplexities(self, texts: list[str], *, max_tokens: int, batch_size: int) -> list[float]:
        assert len(texts) <= batch_size
        return [float(len(t.split())) if t.split() else math.inf for t in texts]


def make(tmp_path: Path, **options) -> Perplexity:
    run = RunInfo(seed=1, output_dir=tmp_path / "out", work_dir=tmp_path / "work", sources=["web"])
    ctx = TaskContext(run=run, task_id="t0", label="0:perplexity", stats=Stats(), task_dir=tmp_path / "t",
                      publish_dir=tmp_path / "p")
    stage = Perplexity(PerplexityParams(model=str(tmp_path), **options), ctx)
    stage._scorer = LengthScorer()
    return stage


def docs(n_words: list[int]) -> list[Document]:
    return [Document(id=f"d{i}", text=" ".join(["word"] * n), source="web") for i, n in enumerate(n_words)]


def test_max_perplexity_filters_and_stores_the_score(tmp_path: Path) -> None:
    stage = make(tmp_path, max_perplexity=10, batch_size=2)
    out = list(stage.process(docs([5, 20, 10, 0])))
    assert [(d.id, d.meta["perplexity"]) for d in out] == [("d0", 5.0), ("d2", 10.0)]
    counts = stage.ctx.stats.to_dict()["0:perplexity"]["web"]
    assert counts["dropped.high_perplexity"] == 1 and counts["dropped.no_tokens"] == 1


def test_buckets_with_given_cutoffs(tmp_path: Path) -> None:
    stage = make(tmp_path, buckets=True, bucket_cutoffs=(3, 6))
    out = list(stage.process(docs([1, 3, 4, 6, 7, 50])))
    assert [d.meta["perplexity_bucket"] for d in out] == ["head", "head", "middle", "middle", "tail", "tail"]
    assert stage.ctx.stats.to_dict()["0:perplexity"]["web"]["bucket.tail"] == 2


def test_buckets_calibrated_on_the_task(tmp_path: Path) -> None:
    stage = make(tmp_path, buckets=True, calibration_docs=9, batch_size=4)
    out = list(stage.process(docs(list(range(1, 10)) + [1, 100])))
    assert stage.cutoffs == terciles([float(i) for i in range(1, 10)])
    got = [d.meta["perplexity_bucket"] for d in out]
    assert got[:9].count("head") == got[:9].count("middle") == got[:9].count("tail") == 3
    assert got[9:] == ["head", "tail"]  # after calibration: the same cut-offs


def test_pure_helpers() -> None:
    assert bucket_of(1, (2, 3)) == "head" and bucket_of(2.5, (2, 3)) == "middle" and bucket_of(9, (2, 3)) == "tail"
    assert windows([5, 6, 7, 8, 9], 0, 2, 100) == [[0, 5, 6], [6, 7, 8], [8, 9]]
    assert windows([5, 6, 7], 0, 8, 2) == [[0, 5, 6]]  # max_tokens
    assert windows([], 0, 4, 10) == []


def test_options_are_checked(tmp_path: Path) -> None:
    for bad in ({"max_perplexity": 0}, {"max_perplexity": float("inf")}, {"bucket_cutoffs": (5, 2), "buckets": True},
                {"bucket_cutoffs": (1, 2)}, {"calibration_docs": 1}):
        with pytest.raises(ValidationError):
            PerplexityParams(model=str(tmp_path), **bad)
    assert Perplexity.check(PerplexityParams(model=str(tmp_path / "none")))[0][0] == "model"


def test_torch_scorer_on_a_small_gpt(data_dir: Path) -> None:
    """A real (untrained) GPT and the bundled tokenizer: finite perplexities near the
    vocabulary size, the same whatever the batch size, long documents in several windows."""
    from tokenizers import Tokenizer

    from dataforge.train.model import GPT, GPTConfig

    torch.manual_seed(0)
    tok = Tokenizer.from_file(str(data_dir / "tokenizer.json"))
    scorer = TorchScorer.__new__(TorchScorer)
    scorer.model = GPT(GPTConfig(vocab_size=tok.get_vocab_size(), context=16, n_layer=1, n_head=2, d_model=32)).eval()
    scorer.tokenizer, scorer.eos, scorer.context = tok, 0, 16
    texts = [json.loads(line)["text"] for line in open(data_dir / "c4/tiny_c4_sample.jsonl", encoding="utf-8")][:5]
    a = scorer.perplexities(texts, max_tokens=100, batch_size=1)
    b = scorer.perplexities(texts, max_tokens=100, batch_size=7)
    assert a == pytest.approx(b, rel=1e-4)
    assert all(1000 < p < 50_000 for p in a)  # untrained: about uniform over 8,192 tokens
    assert scorer.perplexities([""], max_tokens=10, batch_size=1) == [math.inf]
