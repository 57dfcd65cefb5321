"""Training a classifier on small real sets: deterministic split, sensible held-out scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dataforge.errors import ConfigError
from dataforge.filters.classifier import TrainOptions, auc_score, in_validation, iter_texts, train_classifier


def test_reference_text_vs_web_reaches_sensible_accuracy(data_dir: Path, tmp_path: Path) -> None:
    m = train_classifier(
        [str(data_dir / "wiki" / "wiki_demo.txt"), str(data_dir / "books" / "pride-and-prejudice.txt")],
        [str(data_dir / "c4" / "tiny_c4_sample.jsonl")],
        tmp_path / "m.bin",
        TrainOptions(quantize=False, bucket=20_000, valid_fraction=0.2),
    )
    assert m.n_train_hq == m.n_train_lq > 200  # balanced
    assert m.n_valid_hq > 20 and m.n_valid_lq > 20
    assert m.accuracy >= 0.7 and m.auc >= 0.8  # chance: 0.5 AUC
    assert (tmp_path / "m.bin").stat().st_size == m.model_bytes


def test_readers(data_dir: Path) -> None:
    books = list(iter_texts(str(data_dir / "books" / "alice.txt"), chunk_chars=2000))
    assert 60 < len(books) < 120 and all(len(b) < 4000 for b in books)
    assert len(list(iter_texts(str(data_dir / "web" / "fineweb-sample.parquet")))) == 100
    assert len(list(iter_texts(str(data_dir / "multilingual" / "hplt-fi.jsonl.zst")))) == 20
    with pytest.raises(ConfigError, match="no column"):
        list(iter_texts(str(data_dir / "web" / "fineweb-sample.parquet"), text_key="body"))


def test_split_is_deterministic() -> None:
    picks = [in_validation(7, "a.jsonl", i, 0.1) for i in range(2000)]
    assert picks == [in_validation(7, "a.jsonl", i, 0.1) for i in range(2000)]
    assert 150 < sum(picks) < 250


def test_auc() -> None:
    assert auc_score(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc_score(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert math.isnan(auc_score(np.array([1, 1]), np.array([0.1, 0.2])))
