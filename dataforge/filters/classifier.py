"""Training a fastText quality classifier (the library behind ``dataforge classifier``).

Positive ("hq") and negative ("lq") documents are read from JSONL (optionally .gz/.zst),
Parquet or plain-text files; a deterministic held-out split (xxhash of seed, file and
record number) measures precision, recall, accuracy and ROC AUC. The model is fastText
supervised with word bigrams (DCLM, Li et al. 2024, section 4.4) and is quantized to a
small ``.ftz`` by default. Training uses one thread so that a seed gives the same model.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ..errors import ConfigError, DataforgeError, InputError
from ..io import temp_path_for
from ..readers.lines import iter_lines
from .fasttext_model import fasttext_module, load_model, one_line
from .quality import score_batch

log = logging.getLogger(__name__)

POSITIVE, NEGATIVE = "hq", "lq"


@dataclass(frozen=True)
class TrainOptions:
    text_key: str = "text"  # JSONL/Parquet field holding the text
    valid_fraction: float = 0.1  # held out for the metrics
    seed: int = 0
    word_ngrams: int = 2  # DCLM: bigram fastText classifier
    dim: int = 16  # small: the shipped model is ~0.5 MB; bigger dims overfit small training sets
    epoch: int = 10  # fastText's supervised tutorial default range (5-25)
    lr: float = 0.5  # fastText text-classification tutorial: 0.5-1.0 (0.1 underfits a few hundred documents)
    min_count: int = 2  # ignore words seen once (noise on small training sets)
    bucket: int = 200_000  # hashed n-gram buckets (fastText default 2M: too big to ship)
    quantize: bool = True  # product-quantize to .ftz (fastText's -qnorm -cutoff recipe)
    cutoff: int = 20_000  # words + n-grams kept when quantizing
    balance: bool = True  # downsample the larger class in the training split (DCLM trains balanced)
    chunk_chars: int = 2000  # plain-text files are cut into documents of about this many characters


@dataclass(frozen=True)
class Metrics:
    n_train_hq: int
    n_train_lq: int
    n_valid_hq: int
    n_valid_lq: int
    precision: float
    recall: float
    accuracy: float
    auc: float
    model_bytes: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def iter_texts(path: str, *, text_key: str = "text", chunk_chars: int = 2000) -> Iterator[str]:
    """Documents of one file: JSONL records, Parquet rows, or chunks of a text file."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such file (give JSONL, Parquet or .txt files)")
    name = path.removesuffix(".gz").removesuffix(".zst").removesuffix(".zstd")
    if name.endswith(".parquet"):
        yield from _parquet_texts(path, text_key)
    elif name.endswith((".jsonl", ".json", ".ndjson")):
        yield from _jsonl_texts(path, text_key)
    else:
        yield from _text_chunks(path, chunk_chars)


def _jsonl_texts(path: str, text_key: str) -> Iterator[str]:
    for lineno, raw in enumerate(iter_lines(str(path)), 1):
        if not raw.strip():
            continue
        try:
            text = json.loads(raw)[text_key]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s", InputError(path, lineno, f"no {text_key!r} string ({exc.__class__.__name__})"))
            continue
        if isinstance(text, str) and text.strip():
            yield text


def _parquet_texts(path: str, text_key: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if text_key not in pf.schema_arrow.names:
        raise ConfigError(f"{path}: no column {text_key!r} (use --text-key; columns: {', '.join(pf.schema_arrow.names)})")
    for batch in pf.iter_batches(columns=[text_key], batch_size=1024):
        yield from (t for t in batch.column(0).to_pylist() if isinstance(t, str) and t.strip())


def _text_chunks(path: str, chunk_chars: int) -> Iterator[str]:
    """Paragraphs (blank-line separated; lines if there are no blank lines) joined or cut
    into documents of about ``chunk_chars`` characters."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    pieces = text.split("\n\n") if "\n\n" in text else text.split("\n")
    buf: list[str] = []
    size = 0
    for piece in (p.strip() for p in pieces):
        while len(piece) > chunk_chars:  # cut long paragraphs at a space
            cut = piece.rfind(" ", chunk_chars // 2, chunk_chars)
            cut = cut if cut > 0 else chunk_chars
            yield piece[:cut]
            piece = piece[cut:].strip()
        if not piece:
            continue
        buf.append(piece)
        size += len(piece)
        if size >= chunk_chars:
            yield "\n\n".join(buf)
            buf, size = [], 0
    if buf:
        yield "\n\n".join(buf)


#: fastText's binary format (fasttext.cc saveModel / args, dictionary, matrix save): magic, newest version
FASTTEXT_MAGIC, FASTTEXT_VERSION = 793712314, 12


def check_model_file(path: str) -> None:
    """Refuse a file fastText would hang on (truncated: its reader loops past EOF) or crash on (damaged:
    std::bad_alloc): walk the header, arguments, dictionary and both matrices, and require the file to
    end exactly where they do. Raises ConfigError naming the file and the part that is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the model ({exc.strerror or exc})") from None
    pos, part = 0, "header"

    def short() -> ConfigError:
        return ConfigError(f"{path}: not a complete fastText model (it ends at byte {len(data):,}, inside the "
                           f"{part}); it is truncated or damaged: train or copy it again")

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise short()
        pos += size
        return struct.unpack_from(fmt, data, pos - size)

    def skip(n: int) -> None:
        nonlocal pos
        if n < 0 or pos + n > len(data):
            raise short()
        pos += n

    def quantizer() -> None:  # ProductQuantizer: dim, nsubq, dsub, lastdsub, then dim x 256 float centroids
        skip(take("<iiii")[0] * 256 * 4)

    magic, version = take("<ii")
    if magic != FASTTEXT_MAGIC or not 0 < version <= FASTTEXT_VERSION:
        raise ConfigError(f"{path}: not a fastText model (no fastText header); train one with "
                          "`dataforge classifier train`")
    part = "arguments"
    take("<12id")  # dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate, t
    part = "dictionary"
    size, _nwords, _nlabels, _ntokens, pruned = take("<iiiqq")
    for _ in range(max(size, 0)):
        end = data.find(b"\0", pos)
        if end < 0:
            raise short()
        pos = end + 1  # the word, NUL-terminated
        take("<qb")  # its count and entry type
    skip(8 * max(pruned, 0))  # pruned index pairs (-1: none)
    for part in ("input matrix", "output matrix"):
        (quantized,) = take("<?")
        if quantized:  # QuantMatrix: qnorm, rows, cols, codes, quantizer, then norm codes and their quantizer
            (qnorm,), (rows, _cols), (codes,) = take("<?"), take("<qq"), take("<i")
            skip(codes)
            quantizer()
            if qnorm:
                skip(rows)
                quantizer()
        else:  # DenseMatrix: rows, cols, float32 values
            rows, cols = take("<qq")
            skip(rows * cols * 4)
    if pos != len(data):
        raise ConfigError(f"{path}: {len(data) - pos:,} bytes after the end of the fastText model; "
                          "it is damaged or not one model: train or copy it again")


def _hash(key: str) -> int:
    return xxhash.xxh64_intdigest(key.encode("utf-8", "surrogatepass"))


def in_validation(seed: int, text: str, fraction: float) -> bool:
    """Deterministic held-out membership of a document, from its text and the seed alone.

    Not from the file's path or the record's place: the same documents copied elsewhere, or
    concatenated in another order, give the same split and so the same model."""
    h = _hash(f"{seed}:valid:{text}")
    return (h % 1_000_000) < fraction * 1_000_000


#: fewest documents per class a classifier is trained on: below this fastText's bigram model learns
#: nothing that holds up (and the held-out split has a document or two); our floor, not a published one
MIN_DOCS_PER_CLASS = 20
#: training-split AUC under which the model is refused: it cannot tell its own training classes apart
#: (chance is 0.5; separable classes reach ~1.0, and DCLM's hard human labels still ~0.9 on train)
MIN_TRAIN_AUC = 0.6


def _same_files(positive: list[str], negative: list[str]) -> list[str]:
    def key(p: str) -> str:
        return os.path.realpath(p)

    neg = {key(p) for p in negative}
    return [p for p in positive if key(p) in neg]


def split_examples(
    positive: list[str], negative: list[str], opts: TrainOptions
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, valid) lists of (label, text); the training split balanced if asked.

    Degenerate data is refused (ConfigError): one file given as both classes, a class with fewer
    than MIN_DOCS_PER_CLASS documents, or classes that are mostly the same documents."""
    both = _same_files(positive, negative)
    if both:
        raise ConfigError(f"{both[0]} is given as both --positive and --negative; a classifier needs "
                          "different documents for each label")
    docs: dict[str, list[tuple[str, int, str]]] = {POSITIVE: [], NEGATIVE: []}
    for label, paths in ((POSITIVE, positive), (NEGATIVE, negative)):
        for path in paths:
            docs[label] += [(path, i, text) for i, text in enumerate(
                iter_texts(path, text_key=opts.text_key, chunk_chars=opts.chunk_chars))]
    for label, flag in ((POSITIVE, "positive"), (NEGATIVE, "negative")):
        if len(docs[label]) < MIN_DOCS_PER_CLASS:
            raise ConfigError(f"only {len(docs[label])} {label} training documents in the --{flag} files; "
                              f"a classifier needs at least {MIN_DOCS_PER_CLASS} per class to learn more than chance")
    shared = {t for _, _, t in docs[POSITIVE]} & {t for _, _, t in docs[NEGATIVE]}
    if len(shared) * 2 >= min(len(docs[POSITIVE]), len(docs[NEGATIVE])):
        raise ConfigError(f"{len(shared)} documents are in both the --positive and the --negative files; "
                          "the two classes are mostly the same text, so no classifier can separate them")
    if shared:
        log.warning("%d documents are in both classes; they are left out of training and metrics", len(shared))
    train: dict[str, list[tuple[str, str]]] = {POSITIVE: [], NEGATIVE: []}
    valid: list[tuple[str, str]] = []
    for label, found in docs.items():
        for _path, _i, text in found:
            if text in shared:
                continue
            dest = valid if in_validation(opts.seed, text, opts.valid_fraction) else train[label]
            dest.append((label, text))
    for label in train:
        if not train[label]:
            raise ConfigError(f"no {label} training documents left after the held-out split: lower --valid-fraction")
    if opts.balance:
        n = min(len(v) for v in train.values())
        for label, kept in train.items():  # keep a deterministic pseudo-random subset
            kept.sort(key=lambda r: _hash(f"{opts.seed}:{r[1][:200]}"))
            del kept[n:]
    merged = train[POSITIVE] + train[NEGATIVE]
    merged.sort(key=lambda r: _hash(f"{opts.seed}:order:{r[1][:200]}"))  # shuffle for SGD
    return merged, valid


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney U with average ranks for ties); NaN if one class is missing."""
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse = np.unique(scores, return_inverse=True)  # average ranks within ties
    ranks = np.bincount(inverse, weights=ranks)[inverse] / np.bincount(inverse)[inverse]
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model: object, examples: list[tuple[str, str]], threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, accuracy (at ``threshold``) and AUC of ``model`` on (label, text) pairs."""
    if not examples:
        return {"precision": float("nan"), "recall": float("nan"), "accuracy": float("nan"), "auc": float("nan")}
    labels = np.array([lab == POSITIVE for lab, _ in examples], dtype=np.int64)
    scores = np.array(score_batch(model, [t for _, t in examples], POSITIVE))
    pred = scores >= threshold
    tp = int((pred & (labels == 1)).sum())
    return {
        "precision": tp / max(int(pred.sum()), 1),
        "recall": tp / max(int(labels.sum()), 1),
        "accuracy": float((pred == (labels == 1)).mean()),
        "auc": auc_score(labels, scores),
    }


def _refuse_foreign_file(output: Path) -> None:
    """An existing output must be a fastText model (one we may replace), never a user's other file."""
    if output.is_dir():
        raise ConfigError(f"{output}: is a directory; --output names the model file to write")
    if output.exists():
        with open(output, "rb") as fh:
            head = fh.read(4)
        if len(head) < 4 or struct.unpack("<i", head)[0] != FASTTEXT_MAGIC:
            raise ConfigError(f"{output}: exists and is not a fastText model; it would be overwritten: "
                              "choose another --output")


def train_classifier(positive: list[str], negative: list[str], output: str | Path, opts: TrainOptions) -> Metrics:
    """Train, measure on the held-out split, and write the model atomically to ``output``."""
    fasttext = fasttext_module()
    output = Path(output)
    _refuse_foreign_file(output)
    train, valid = split_examples(positive, negative, opts)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent) as tmp:
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8", errors="replace") as fh:
            for label, text in train:
                fh.write(f"__label__{label} {one_line(text)}\n")
        try:
            model = fasttext.train_supervised(
                input=train_file, wordNgrams=opts.word_ngrams, dim=opts.dim, epoch=opts.epoch, lr=opts.lr,
                minCount=opts.min_count, bucket=opts.bucket, thread=1, seed=opts.seed, verbose=0,
            )
            if opts.quantize:
                model.quantize(input=train_file, qnorm=True, retrain=True, cutoff=opts.cutoff, thread=1, verbose=0)
        except RuntimeError as exc:  # fastText: "Encountered NaN."
            raise DataforgeError(f"fastText training failed ({exc}); try a smaller --lr or another --seed") from exc
        learned = evaluate(model, train)["auc"]
        if not learned >= MIN_TRAIN_AUC:
            raise DataforgeError(f"the classifier cannot tell its own training documents apart (training AUC "
                                 f"{math.floor(learned * 100) / 100:.2f}, under the {MIN_TRAIN_AUC} needed; chance 0.5); nothing was written to {output}. Give classes "
                                 "that differ, or more documents")
        tmp_out = temp_path_for(output)
        model.save_model(str(tmp_out))
        os.replace(tmp_out, output)
    load_model.cache_clear()  # a model at this path may have been loaded before
    scores = evaluate(model, valid)
    return Metrics(
        n_train_hq=sum(1 for lab, _ in train if lab == POSITIVE),
        n_train_lq=sum(1 for lab, _ in train if lab == NEGATIVE),
        n_valid_hq=sum(1 for lab, _ in valid if lab == POSITIVE),
        n_valid_lq=sum(1 for lab, _ in valid if lab == NEGATIVE),
        model_bytes=output.stat().st_size,
        **scores,
    )


def evaluate_files(model_path: str, positive: list[str], negative: list[str], *, text_key: str = "text") -> dict[str, float]:
    """Metrics of a saved model on labelled files (all of them, no split)."""
    check_model_file(model_path)
    examples = [(POSITIVE, t) for p in positive for t in iter_texts(p, text_key=text_key)]
    examples += [(NEGATIVE, t) for p in negative for t in iter_texts(p, text_key=text_key)]
    return evaluate(load_model(model_path), examples)
