"""The ``tokenize`` step: options, checks, and the two barriers that run it.

In a pipeline file ``tokenize`` (after an optional ``mix``) is the last stage. The plan
turns it into barriers, like dedup:

* with ``train: {...}``, **TrainTokenizer**: map = a bounded, seeded sample of each task's
  kept text; reduce = train a byte-level BPE on the samples (in one worker); apply = the
  documents pass on to the encode phase;
* **TokenizeBarrier**: map = encode each task and decide each document's split
  (``encode.py``); reduce = the mixture plan from per-task counts, then parallel tasks
  that count, scatter and gather the packed rows into shards (``pack.py``). The runner
  publishes the shards and writes the manifest from its result.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow.parquet as pq
from pydantic import Field, model_validator

from ..document import Document
from ..errors import DataforgeError
from ..io import sha256_file
from ..mix import MixInputs, MixParams, plan_mixture
from ..paths import AbsolutePath
from ..stage import AnyParams, Barrier, Params, ReduceContext, Step, TaskContext
from .encode import (HIST_FILE, SAMPLE_FILE, encode_task, load_tokenizer, read_hist, read_summary, sample_task,
                     train_tokenizer, vocab_size)
from .pack import SPLITS, count_task, gather_bucket, layout, scatter_task
from .shards import ShardSpec

RESULT = "result.json"
#: the largest row a shard may hold: a buffer of seq_len tokens per row must stay sane
MAX_SEQ_LEN = 1 << 20


class TrainTokenizerParams(Params):
    """Train a byte-level BPE on the run's own kept text (HF tokenizers)."""

    vocab_size: int = Field(8192, ge=260, le=1 << 24)  # small corpora; GPT-2 used 50257
    min_frequency: int = Field(2, ge=0, le=1 << 30)  # merges seen fewer times are not learned (tokenizers: 0)
    # text sampled for training (the documents with the smallest seeded hashes, split evenly over
    # tasks); our choice: enough for a small vocabulary, bounded whatever the corpus size
    sample_bytes: int = Field(256 << 20, ge=1 << 10, le=1 << 40)


class TokenizeParams(Params):
    tokenizer: AbsolutePath | None = None  # path to a Hugging Face tokenizer.json
    train: TrainTokenizerParams | None = None  # or train one on the kept text
    eos: str = "<|endoftext|>"  # appended after every document (GPT-2's EOS token)
    seq_len: int = Field(1024, ge=2, le=MAX_SEQ_LEN)  # tokens per packed sequence (nanoGPT's block_size)
    shard_tokens: int = Field(1_048_576, ge=2, le=1 << 40)  # tokens per shard (rounded down to whole rows)
    packing: Literal["concat", "pad"] = "concat"  # concat+cut (GPT-style) or one document per padded row
    # share of documents (by stable hash) held out as validation shards
    validation_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    shuffle: bool = True  # global, seeded shuffle of packed sequences across shards
    shuffle_buffer_rows: int = Field(65_536, ge=1, le=1 << 32)  # rows a shuffle bucket holds (its memory)
    batch_size: int = Field(256, ge=1, le=1 << 20)  # documents per encode_batch call

    @model_validator(mode="after")
    def _one_source(self) -> "TokenizeParams":
        if (self.tokenizer is None) == (self.train is None):
            raise ValueError("give exactly one of 'tokenizer: PATH' (a tokenizer.json) or 'train: {vocab_size: N}'")
        if self.shard_tokens < self.seq_len:
            raise ValueError(f"shard_tokens ({self.shard_tokens}) must be at least seq_len ({self.seq_len})")
        if self.seq_len * self.shuffle_buffer_rows > 1 << 34:
            raise ValueError(f"seq_len x shuffle_buffer_rows = {self.seq_len * self.shuffle_buffer_rows:,} tokens "
                             "per shuffle bucket is more than 2**34; lower shuffle_buffer_rows")
        return self

    @property
    def rows_per_shard(self) -> int:
        return max(1, self.shard_tokens // self.seq_len)


class Tokenize(Step[TokenizeParams]):
    """Encode kept documents, append EOS, pack into fixed-length sequences, write Arrow shards."""

    Params: ClassVar[type[Params]] = TokenizeParams

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        if not isinstance(params, TokenizeParams) or params.tokenizer is None:
            return []
        path = Path(params.tokenizer)
        if not path.is_file():
            return [("tokenizer", f"tokenizer file '{params.tokenizer}' not found "
                                  "(give a tokenizer.json path, or use 'train: {vocab_size: N}')")]
        st = path.stat()
        return list(_tokenizer_problems(str(path), params.eos, st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=32)
def _tokenizer_problems(path: str, eos: str, size: int, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    """The checks of one tokenizer file, once per file version (a validate of many pipelines,
    or a test walking every option, reads a 0.5 MB tokenizer.json once, not each time)."""
    try:
        vocab = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return (("tokenizer", f"'{path}' is not a tokenizer.json ({exc})"),)
    try:
        tok = load_tokenizer(path)
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        return (("tokenizer", f"'{path}' cannot be loaded by tokenizers ({exc})"),)
    if tok.token_to_id(eos) is None:
        added = [t.get("content") for t in vocab.get("added_tokens", [])][:5]
        return (("eos", f"token '{eos}' is not in {path} (its special tokens: {added})"),)
    return ()


# ---- the barriers the plan makes of it ------------------------------------------------
class TrainSpec(Params):
    """What tokenizer training works from (made by the plan)."""

    params: TrainTokenizerParams
    eos: str
    budget_per_task: int  # bytes of text each task samples


class TrainTokenizer(Barrier[TrainSpec]):
    """map: sample kept text; reduce: train the run's tokenizer on the samples."""

    Params: ClassVar[type[Params]] = TrainSpec

    def map(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        yield from sample_task(docs, out_path=ctx.stage_dir / SAMPLE_FILE, seed=ctx.run.seed,
                               budget_bytes=self.params.budget_per_task)

    def reduce(self, ctx: ReduceContext) -> None:
        samples = [str(d / SAMPLE_FILE) for d in ctx.stage_dirs()]
        out = ctx.steps_dir / "tokenizer.json"
        p = self.params.params
        ctx.run_steps("train", train_on_samples, [(samples, str(out), p.vocab_size, p.min_frequency, self.params.eos)])
        shutil.copyfile(out, ctx.barrier_dir / "tokenizer.json")


def train_on_samples(samples: list[str], out: str, vocab: int, min_frequency: int, eos: str) -> dict[str, Any]:
    """In a worker: train on the tasks' samples, in task order."""

    def texts() -> Iterator[str]:
        for path in samples:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
                yield from batch.column(0).to_pylist()

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(out).with_suffix(".partial")
    train_tokenizer(texts(), vocab=vocab, min_frequency=min_frequency, eos=eos, out_path=tmp)
    tmp.replace(out)
    return {"sha256": sha256_file(out)}


class PackSpec(Params):
    """What the tokenize barrier works from (made by the plan from tokenize, mix and the inputs)."""

    tokenize: TokenizeParams
    mix: MixParams | None = None
    tokenizer_path: str  # the given tokenizer.json, or the TrainTokenizer barrier's result
    sources: tuple[str, ...]
    weights: dict[str, float | None]
    budgets: dict[str, int | None]
    start_index: dict[str, int] = Field(default_factory=dict)  # append: shard numbering continues


class TokenizeBarrier(Barrier[PackSpec]):
    """map: encode each task; reduce: plan the mixture, then count, scatter and gather."""

    Params: ClassVar[type[Params]] = PackSpec

    def map(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        t = self.params.tokenize
        encode_task(docs, out_dir=ctx.stage_dir, tokenizer_path=self.params.tokenizer_path, eos_token=t.eos,
                    batch_size=t.batch_size, validation_fraction=t.validation_fraction, seed=ctx.run.seed,
                    piece_tokens=self.params.mix.piece_tokens if self.params.mix else None, stats=ctx.stats,
                    label=ctx.label)
        return iter(())

    def spec(self) -> ShardSpec:
        tok = load_tokenizer(self.params.tokenizer_path)
        eos = tok.token_to_id(self.params.tokenize.eos)
        if eos is None:
            raise DataforgeError(f"{self.params.tokenizer_path}: has no token '{self.params.tokenize.eos}' (the EOS "
                                 "the tokenize stage appends); set tokenize.eos to one of its special tokens")
        t = self.params.tokenize
        return ShardSpec(kind="pretrain", seq_len=t.seq_len, vocab_size=vocab_size(tok), eos_id=eos, pad_id=eos,
                         tokenizer_sha256=sha256_file(self.params.tokenizer_path), packing=t.packing)

    def reduce(self, ctx: ReduceContext) -> None:
        started = time.perf_counter()
        t, seed = self.params.tokenize, ctx.run.seed
        dirs = ctx.stage_dirs()
        summaries = [read_summary(d) for d in dirs]
        mix = plan_mixture(summaries=summaries, hists=(read_hist(d / HIST_FILE) for d in dirs),
                           params=self.params.mix, inputs=MixInputs(self.params.sources, self.params.weights,
                                                                    self.params.budgets), seed=seed)
        plan = mix.to_json()
        counts = ctx.run_steps("count", _count, [(str(d), plan, t.seq_len, t.packing) for d in dirs])
        lays, offsets = layout(counts, seq_len=t.seq_len, packing=t.packing, rows_per_shard=t.rows_per_shard,
                               buffer_rows=t.shuffle_buffer_rows, start_index=self.params.start_index)
        spec = self.spec()
        lay_json = {s: vars(lays[s]) for s in SPLITS}
        scatter_dirs = [str(ctx.steps_dir / "scatter" / f"{i:06d}") for i in range(len(dirs))]
        ctx.run_steps("scatter", _scatter, [(str(d), out, plan, lay_json, offsets[i], t.seq_len, t.packing, t.shuffle,
                                             seed, spec.dtype.name, spec.pad_id, spec.eos_id)
                                            for i, (d, out) in enumerate(zip(dirs, scatter_dirs))])
        shard_dir = str(ctx.steps_dir / "shards")
        spec_json = vars(spec).copy()
        jobs = [(s, b, scatter_dirs, lay_json[s], spec_json, shard_dir) for s in SPLITS for b in range(lays[s].buckets)]
        gathered = ctx.run_steps("gather", gather_bucket, jobs)
        per_source: dict[str, dict[str, int]] = {}
        for c in counts:
            for source, keys in c["sources"].items():
                acc = per_source.setdefault(source, dict.fromkeys(keys, 0))
                for k, v in keys.items():
                    acc[k] += v
        for source, keys in per_source.items():
            for k, v in keys.items():
                ctx.stats.add("pack", source, k, v)
        truncated = sum(c["splits"][s]["truncated"] for c in counts for s in SPLITS)
        for s in SPLITS:
            ctx.stats.add("pack", "*", f"{s}_tokens_dropped_tail", lays[s].dropped_tail)
        ctx.stats.add("pack", "*", "tokens_truncated", truncated)
        ctx.stats.add("pack", "*", "seconds", time.perf_counter() - started)  # the driver's wall time of the steps
        result = {"shards": [d for group in gathered for d in group], "spec": spec_json | {"dtype": spec.dtype.name},
                  "mix": plan, "per_source": per_source, "shard_dir": shard_dir,
                  "dropped_tail": {s: lays[s].dropped_tail for s in SPLITS}, "truncated": truncated,
                  "layout": lay_json}
        (ctx.barrier_dir / RESULT).write_text(json.dumps(result, indent=1, sort_keys=True))


def _count(task_dir: str, plan: dict[str, Any], seq_len: int, packing: str) -> dict[str, Any]:
    return count_task(task_dir, plan, seq_len=seq_len, packing=packing)


def _scatter(task_dir: str, out: str, plan: dict[str, Any], layouts: dict[str, Any], offsets: dict[str, list[int]],
             seq_len: int, packing: str, shuffle: bool, seed: int, dtype: str, pad_id: int,
             eos_id: int) -> dict[str, int]:
    return scatter_task(task_dir, out, plan, layouts, offsets, seq_len=seq_len, packing=packing, shuffle=shuffle,
                        seed=seed, dtype=dtype, pad_id=pad_id, eos_id=eos_id)


def budget_per_task(total: int, tasks: int) -> int:
    return max(1, math.ceil(total / max(1, tasks)))
