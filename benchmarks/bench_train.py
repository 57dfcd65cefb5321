"""The compact trainer on this CPU: throughput, the data loader's share, and whether the data is learnable.

Same tokens for every figure: real text from ../shared/data (Project Gutenberg books, Tiny
Shakespeare, WikiText-2, Botchan, Wikipedia articles), tokenized with data/tokenizer.json and
written as dataforge shards (rows of 256, every 20th row in the validation split).

1. Loader: batches of windows per second, dataforge's memory-mapped Arrow loader against
   datatrove's ``DatatroveFileDataset`` (its reader for tokenized ``.ds`` files) on the same
   tokens, random and sequential access.
2. Throughput: tokens/s of a full training step (``run_training``, logging and metrics
   included) for the tiny and small sizes, float32 and bf16 autocast, against a bare PyTorch
   loop with the same model on one in-memory batch (the ceiling: no loader, no bookkeeping),
   and the loader's share of step time.
3. Learnability: the same tiny run on the real shards and on shards holding the same tokens
   in shuffled order (same unigram distribution, no sequence); eval loss curves side by side.

Run with the bench venv (it has datatrove and torch):
    /work/bench-venv/bin/python benchmarks/bench_train.py [--steps 400]
Writes benchmarks/results/train.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text"
sys.path.insert(0, str(REPO))

from dataforge.io import sha256_file  # noqa: E402
from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest  # noqa: E402

SOURCES = ["gutenberg/11-0.txt", "gutenberg/1342-0.txt", "tinyshakespeare/input.txt",
           "wikitext-2/valid.txt", "sentencepiece/botchan.txt", "llama-factory/wiki_demo.txt"]
TOKENIZER = REPO / "data" / "tokenizer.json"
SEQ = 256


def corpus_stream() -> tuple[np.ndarray, list[str]]:
    """Each source file's documents (paragraph blocks), encoded, each followed by EOS."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    docs, used = [], []
    for rel in SOURCES:
        path = SHARED / rel
        if not path.exists():
            continue
        used.append(str(path.relative_to(SHARED)))
        text = path.read_text(encoding="utf-8", errors="replace")
        docs += [d for d in text.split("\n\n\n") if d.strip()] if "wiki_demo" not in rel else text.splitlines()
    ids: list[int] = []
    for enc in tok.encode_batch(docs):
        ids += enc.ids + [0]
    return np.asarray(ids, dtype=np.uint16), used


def write_shards(out: Path, stream: np.ndarray) -> Path:
    rows = stream[: len(stream) // SEQ * SEQ].reshape(-1, SEQ)
    val = np.zeros(len(rows), dtype=bool)
    val[19::20] = True
    spec = ShardSpec(kind="pretrain", seq_len=SEQ, vocab_size=8192, eos_id=0, pad_id=0,
                     tokenizer_sha256=sha256_file(TOKENIZER))
    infos = []
    for split, part in (("train", rows[~val]), ("validation", rows[val])):
        writer = ShardWriter(out / "shards", spec, split=split, rows_per_shard=1024)
        for row in part:
            writer.add(row)
        infos += writer.close()
    write_manifest(out, manifest_core(spec, infos))
    shutil.copyfile(TOKENIZER, out / "tokenizer.json")
    return out


def bench_loader(shards: Path, stream: np.ndarray, tmp: Path, *, batch: int, window: int, n: int) -> dict[str, float]:
    """Batches/s: dataforge (random / epoch) vs datatrove .ds reader (random / sequential), torch tensors out."""
    import torch
    from datatrove.utils.dataset import DatatroveFileDataset

    from dataforge.train.data import load_data, train_batch

    data = load_data(shards, window=window, holdout=0.0, model_vocab=8192)
    ds_file = tmp / "tokens.ds"
    stream.tofile(ds_file)
    peer = DatatroveFileDataset(str(ds_file), seq_len=window, token_size=2)
    rng = np.random.default_rng(0)

    def ours(sampling: str) -> None:
        for k in range(n):
            b = train_batch(data.train, k, batch_size=batch, seed=1, sampling=sampling)
            torch.from_numpy(b.x), torch.from_numpy(b.y)

    def theirs(sequential: bool) -> None:
        for k in range(n):
            idx = range(k * batch, (k + 1) * batch) if sequential else rng.integers(0, len(peer), batch)
            rows = torch.stack([peer[int(i) % len(peer)]["input_ids"] for i in idx])
            rows[:, :-1], rows[:, 1:]

    out = {}
    for name, fn in (("dataforge random", lambda: ours("random")), ("dataforge epoch", lambda: ours("epoch")),
                     ("datatrove random", lambda: theirs(False)), ("datatrove sequential", lambda: theirs(True))):
        fn()  # warm the page cache and any lazy opens
        t0 = time.perf_counter()
        fn()
        out[name] = n / (time.perf_counter() - t0)
    return out


def bare_loop(model_name: str, *, batch: int, window: int, bf16: bool, steps: int, threads: int) -> float:
    """Tokens/s of forward+backward+AdamW on one fixed in-memory batch: the ceiling for a step."""
    import torch
    import torch.nn.functional as F

    from dataforge.train.config import MODEL_SIZES
    from dataforge.train.model import GPT, GPTConfig, param_groups

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_size(MODEL_SIZES[model_name], vocab_size=8192, context=window))
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    x = torch.randint(0, 8192, (batch, window))
    y = torch.randint(0, 8192, (batch, window))
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        with ctx():
            logits = model(x)
        F.cross_entropy(logits.float().reshape(-1, 8192), y.reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * batch * window / (time.perf_counter() - t0)


def bench_throughput(shards: Path, tmp: Path, *, model: str, batch: int, window: int, dtype: str,
                     steps: int, threads: int) -> dict[str, float]:
    from dataforge.train.config import TrainConfig
    from dataforge.train.loop import run_training

    config = TrainConfig(model=model, steps=steps + 3, batch_size=batch, seq_len=window, dtype=dtype,
                         eval_every=0, eval_batches=1, log_every=1000, checkpoint_every=0, warmup=2,
                         threads=threads)
    out = tmp / f"tp-{model}-{dtype}"
    summary = run_training(config, shards=shards, output=out, resume=False)
    shutil.rmtree(out)
    ceiling = bare_loop(model, batch=batch, window=window, bf16=dtype == "bfloat16", steps=steps, threads=threads)
    return {"tokens_per_s": summary["tokens_per_s"], "data_share": summary["data_share"],
            "ceiling": ceiling, "params": summary["params"]}


def bench_curves(real: Path, shuffled: Path, tmp: Path, *, steps: int,
                 threads: int) -> dict[str, list[tuple[int, float]]]:
    from dataforge.train.config import TrainConfig
    from dataforge.train.loop import run_training

    config = TrainConfig(model="tiny", steps=steps, batch_size=16, seq_len=128, eval_every=max(steps // 8, 1),
                         eval_batches=16, log_every=max(steps // 8, 1), warmup=20, threads=threads)
    curves: dict[str, list[tuple[int, float]]] = {}
    for name, shards in (("real", real), ("shuffled", shuffled)):
        run_training(config, shards=shards, output=tmp / f"curve-{name}")
        records = map(json.loads, (tmp / f"curve-{name}" / "metrics.jsonl").read_text().splitlines())
        curves[name] = [(r["step"], r["eval_loss"]) for r in records if r["event"] == "eval"]
    return curves


def unigram_entropy(stream: np.ndarray) -> float:
    counts = np.bincount(stream, minlength=8192).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400, help="steps of each learnability run")
    ap.add_argument("--tp-steps", type=int, default=10, help="timed steps per throughput config")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU threads to time")
    args = ap.parse_args()
    stream, used = corpus_stream()
    shuffled_stream = np.random.default_rng(0).permutation(stream)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        real = write_shards(tmp / "real", stream)
        shuffled = write_shards(tmp / "shuffled", shuffled_stream)
        loader = {w: bench_loader(real, stream, tmp, batch=16, window=w, n=200) for w in (128, 1024)}
        tp = {(m, dt, th): bench_throughput(real, tmp, model=m, batch=b, window=w, dtype=dt, steps=args.tp_steps,
                                            threads=th)
              for th in args.threads for m, b, w in (("tiny", 16, 128), ("small", 8, 256))
              for dt in ("float32", "bfloat16")}
        curves = bench_curves(real, shuffled, tmp, steps=args.steps, threads=min(args.threads))
    load1 = os.getloadavg()[0]
    write_report(stream, used, loader, tp, curves, args, (load0, load1))


def write_report(stream: np.ndarray, used: list[str], loader: dict, tp: dict, curves: dict, args: argparse.Namespace,
                 load: tuple[float, float]) -> None:
    h = unigram_entropy(stream)
    lines = [
        "# Compact trainer on this CPU (benchmarks/bench_train.py)", "",
        f"Same tokens everywhere: {len(stream):,} tokens of real text ({', '.join(used)} from ../shared/data), "
        f"data/tokenizer.json (8192), dataforge shards of {SEQ}-token rows, every 20th row validation. "
        f"CPU: 2 cores (Xeon with AMX-bf16); load average {load[0]:.1f} before, {load[1]:.1f} after "
        "(other jobs shared the machine; absolute figures move with that, the ratios less).", "",
        "## 1. Loader: batches of 16 windows per second (torch tensors out)", "",
        "| window | dataforge random | dataforge epoch | datatrove .ds random | datatrove .ds sequential | "
        "dataforge random / datatrove sequential |", "|---:|---:|---:|---:|---:|---:|",
    ]
    for w, r in loader.items():
        lines.append(f"| {w} | {r['dataforge random']:,.0f} | {r['dataforge epoch']:,.0f} "
                     f"| {r['datatrove random']:,.0f} | {r['datatrove sequential']:,.0f} "
                     f"| {r['dataforge random'] / r['datatrove sequential']:.2f} |")
    lines += ["", "## 2. Training throughput (tokens/s, 3 warm-up steps excluded)", "",
              "| model | params | batch x window | dtype | threads | run_training tok/s | bare loop tok/s (ceiling) | "
              "ratio | loader share of step |", "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    shapes = {"tiny": "16 x 128", "small": "8 x 256"}
    for (m, dt, th), r in tp.items():
        lines.append(f"| {m} | {r['params'] / 1e6:.1f}M | {shapes[m]} | {dt} | {th} | {r['tokens_per_s']:,.0f} | "
                     f"{r['ceiling']:,.0f} | {r['tokens_per_s'] / r['ceiling']:.2f} | {r['data_share']:.2%} |")
    lines += ["", f"## 3. Learnability: tiny, 16 x 128, {args.steps} steps, {min(args.threads)} thread(s), "
              "eval loss on 16 fixed validation batches",
              "", f"Unigram entropy of the tokens: {h:.3f} nats (the best a model without context can do; "
              "the shuffled run cannot beat it by much).", "",
              "| step | real shards | shuffled tokens | gap (shuffled - real) |", "|---:|---:|---:|---:|"]
    for (s, a), (_, b) in zip(curves["real"], curves["shuffled"]):
        lines.append(f"| {s} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    final_real, final_shuf = curves["real"][-1][1], curves["shuffled"][-1][1]
    lines += ["", f"Final eval perplexity: real {math.exp(final_real):,.0f}, shuffled {math.exp(final_shuf):,.0f} "
              f"({math.exp(final_shuf) / math.exp(final_real):.2f}x)."]
    lines += ["", "Notes: rows of table 2 were timed minutes apart; on a shared machine the load moves single rows."]
    out = REPO / "benchmarks" / "results" / "train.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
