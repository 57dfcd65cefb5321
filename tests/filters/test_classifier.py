"""Training a classifier on small real sets: deterministic split, sensible held-out scores, degenerate data and
damaged model files refused."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from dataforge.errors import ConfigError, DataforgeError
from dataforge.filters.classifier import (
    TrainOptions,
    auc_score,
    check_model_file,
    in_validation,
    iter_texts,
    train_classifier,
)


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
    texts = [f"document number {i}" for i in range(2000)]
    picks = [in_validation(7, t, 0.1) for t in texts]
    assert picks == [in_validation(7, t, 0.1) for t in texts]
    assert 150 < sum(picks) < 250
    assert picks != [in_validation(8, t, 0.1) for t in texts]  # the seed draws another split


def test_the_same_documents_elsewhere_give_the_same_model(labelled: tuple[str, str], tmp_path: Path) -> None:
    # the held-out split once hashed the file's path: a copy of the data in another folder
    # (another checkout, a pytest tmp dir, a CI machine) trained another model
    hq, lq = labelled
    models = []
    for where in ("a", "b/deeper"):
        folder = tmp_path / where
        folder.mkdir(parents=True)
        pos, neg = folder / "hq.jsonl", folder / "lq.jsonl"
        pos.write_bytes(Path(hq).read_bytes())
        neg.write_bytes(Path(lq).read_bytes())
        train_classifier([str(pos)], [str(neg)], folder / "m.bin", FASTOPTS)
        models.append((folder / "m.bin").read_bytes())
    assert models[0] == models[1]


def test_auc() -> None:
    assert auc_score(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc_score(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert math.isnan(auc_score(np.array([1, 1]), np.array([0.1, 0.2])))


def _jsonl(path: Path, texts: list[str]) -> str:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return str(path)


@pytest.fixture
def labelled(data_dir: Path, tmp_path: Path) -> tuple[str, str]:
    rows = [json.loads(line) for line in open(data_dir / "quality" / "dclm_labelled.jsonl", encoding="utf-8")]
    return (_jsonl(tmp_path / "hq.jsonl", [r["text"] for r in rows if r["label"] == 1]),
            _jsonl(tmp_path / "lq.jsonl", [r["text"] for r in rows if r["label"] == 0]))


FASTOPTS = TrainOptions(quantize=False, bucket=20_000)


def test_degenerate_training_data_is_refused_and_nothing_is_written(labelled: tuple[str, str], tmp_path: Path) -> None:
    hq, lq = labelled
    out = tmp_path / "m.bin"
    empty = _jsonl(tmp_path / "empty.jsonl", [])
    cases = [
        ([hq], [empty], "only 0 lq training documents in the --negative files"),  # one class
        ([hq], [hq], "is given as both --positive and --negative"),  # the same file twice
        ([_jsonl(tmp_path / "few.jsonl", ["a good text.", "another one.", "a third."])], [lq],
         "only 3 hq training documents"),  # a handful
        ([hq], [_jsonl(tmp_path / "copy.jsonl", [json.loads(x)["text"] for x in open(hq, encoding="utf-8")])],
         "documents are in both the --positive and the --negative files"),  # a copy under another name
    ]
    for positive, negative, message in cases:
        with pytest.raises(ConfigError, match=message):
            train_classifier(positive, negative, out, FASTOPTS)
        assert not out.exists()


def test_a_model_that_cannot_tell_the_classes_apart_is_not_written(tmp_path: Path) -> None:
    # different strings, the same words: fastText splits on whitespace, so every document of
    # either class is the same token sequence, whichever documents the held-out split draws
    text = "the river runs past the old mill near the town"
    positive = _jsonl(tmp_path / "p.jsonl", [text + " " * (2 * k) for k in range(40)])
    negative = _jsonl(tmp_path / "n.jsonl", [text + " " * (2 * k + 1) for k in range(40)])
    with pytest.raises(DataforgeError, match=r"cannot tell its own training documents apart \(training AUC 0\.50, "
                                             r"under the 0\.6 needed"):
        train_classifier([positive], [negative], tmp_path / "m.bin", FASTOPTS)
    assert not (tmp_path / "m.bin").exists()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[:1000], "not a complete fastText model (it ends at byte 1,000, inside the dictionary)"),
    (lambda b: b[: len(b) * 3 // 4], "inside the input matrix"),
    (lambda b: b[:200] + b"\xff" * 60 + b[260:], "not a complete fastText model"),  # counts turned to garbage
    (lambda b: b + b"extra", "5 bytes after the end of the fastText model"),
    (lambda b: b'{"not": "fasttext"}', "not a fastText model (no fastText header)"),
    (lambda b: b"", "it ends at byte 0, inside the header"),
])
def test_a_damaged_model_file_is_refused_before_fasttext_reads_it(data_dir: Path, tmp_path: Path, damage,  # type: ignore[no-untyped-def]
                                                                  message: str) -> None:
    bad = tmp_path / "bad.ftz"
    bad.write_bytes(damage((data_dir / "quality" / "quality.ftz").read_bytes()))  # fastText hangs or crashes on these
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_model_file(str(bad))
    check_model_file(str(data_dir / "quality" / "quality.ftz"))  # the shipped model (quantized) passes
