"""`dataforge classifier`: train and evaluate fastText quality classifiers."""

from __future__ import annotations

import math

import click

from ..filters.classifier import TrainOptions, evaluate_files, train_classifier
from .common import handle_errors

_DEFAULTS = TrainOptions()


@click.group()
def classifier() -> None:
    """Train and evaluate fastText quality classifiers (for the quality_classifier stage).

    \b
    Example:
      dataforge classifier train --positive data/wiki/wiki_demo.txt \\
          --positive data/books/alice.txt --negative data/c4/tiny_c4_sample.jsonl \\
          --output out/quality.ftz
    """


def _fmt(x: float) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


@classifier.command()
@click.option("--positive", "positive", multiple=True, required=True, metavar="FILE",
              help="High-quality documents: JSONL(.gz/.zst), Parquet or .txt (repeatable).")
@click.option("--negative", "negative", multiple=True, required=True, metavar="FILE",
              help="Low-quality documents, same formats (repeatable).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (.ftz or .bin); an existing file that is not a fastText model is refused.")
@click.option("--text-field", "--text-key", "text_key", default=_DEFAULTS.text_key, show_default=True,
              help="JSONL/Parquet text field (as a pipeline's text_field; --text-key is the old name).")
@click.option("--validation-fraction", "--valid-fraction", "valid_fraction", default=_DEFAULTS.valid_fraction,
              show_default=True, type=click.FloatRange(0, 0.9),
              help="Share of documents held out for the metrics (--valid-fraction is the old name).")
@click.option("--seed", default=_DEFAULTS.seed, show_default=True, type=click.IntRange(0, 2**31 - 1),
              help="Seed of the held-out split and of fastText's training.")
@click.option("--word-ngrams", default=_DEFAULTS.word_ngrams, show_default=True, type=click.IntRange(1, 5),
              help="Word n-gram length (DCLM: bigrams).")
@click.option("--dim", default=_DEFAULTS.dim, show_default=True, type=click.IntRange(2, 512),
              help="Embedding size.")
@click.option("--epoch", default=_DEFAULTS.epoch, show_default=True, type=click.IntRange(1, 200),
              help="Passes over the training documents.")
@click.option("--lr", default=_DEFAULTS.lr, show_default=True, type=click.FloatRange(0, 5, min_open=True),
              help="fastText learning rate.")
@click.option("--min-count", default=_DEFAULTS.min_count, show_default=True, type=click.IntRange(1),
              help="Ignore words seen fewer times.")
@click.option("--bucket", default=_DEFAULTS.bucket, show_default=True, type=click.IntRange(0, 50_000_000),
              help="Hashed n-gram buckets.")
@click.option("--quantize/--no-quantize", default=_DEFAULTS.quantize, show_default=True,
              help="Write a small quantized model (.ftz).")
@click.option("--balance/--no-balance", default=_DEFAULTS.balance, show_default=True,
              help="Downsample the larger class for training.")
@handle_errors
def train(positive: tuple[str, ...], negative: tuple[str, ...], output: str, text_key: str, valid_fraction: float,
          seed: int, word_ngrams: int, dim: int, epoch: int, lr: float, min_count: int, bucket: int,
          quantize: bool, balance: bool) -> None:
    """Train a fastText quality classifier and print held-out precision, recall and AUC.

    Documents from --positive files get the label "hq", from --negative files "lq"; the
    quality_classifier stage scores documents by the probability of "hq". Degenerate data
    is refused (exit 2): one file as both classes, fewer than 20 documents in a class, or
    classes that are mostly the same documents; a model that cannot tell its own training
    documents apart is not written (exit 1).

    \b
    Example:
      dataforge classifier train --positive HQ.jsonl --negative LQ.jsonl --output model.ftz
    """
    opts = TrainOptions(text_key=text_key, valid_fraction=valid_fraction, seed=seed, word_ngrams=word_ngrams,
                        dim=dim, epoch=epoch, lr=lr, min_count=min_count, bucket=bucket, quantize=quantize,
                        balance=balance)
    m = train_classifier(list(positive), list(negative), output, opts)
    click.echo(f"trained on {m.n_train_hq} hq + {m.n_train_lq} lq documents; "
               f"held out {m.n_valid_hq} hq + {m.n_valid_lq} lq")
    click.echo(f"precision {_fmt(m.precision)}  recall {_fmt(m.recall)}  "
               f"accuracy {_fmt(m.accuracy)}  AUC {_fmt(m.auc)}  (held-out, threshold 0.5)")
    click.echo(f"wrote {output} ({m.model_bytes:,} bytes)")


@classifier.command()
@click.option("--model", required=True, type=click.Path(exists=True, dir_okay=False), help="A trained model.")
@click.option("--positive", "positive", multiple=True, required=True, metavar="FILE", help="Known good documents.")
@click.option("--negative", "negative", multiple=True, required=True, metavar="FILE", help="Known bad documents.")
@click.option("--text-field", "--text-key", "text_key", default=_DEFAULTS.text_key, show_default=True,
              help="JSONL/Parquet text field (as a pipeline's text_field; --text-key is the old name).")
@handle_errors
def evaluate(model: str, positive: tuple[str, ...], negative: tuple[str, ...], text_key: str) -> None:
    """Print precision, recall, accuracy and AUC of a model on labelled files.

    \b
    Example:
      dataforge classifier evaluate --model data/quality/quality.ftz \\
          --positive good.jsonl --negative bad.jsonl
    """
    r = evaluate_files(model, list(positive), list(negative), text_key=text_key)
    click.echo("  ".join(f"{k} {_fmt(v)}" for k, v in r.items()))
