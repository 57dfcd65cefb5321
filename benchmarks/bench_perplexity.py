"""docs/s per core of the ``perplexity`` stage, against the bare model forward on the same windows.

There is no peer stage to run side by side: CCNet and datatrove score with KenLM, which is
not installed here. The ceiling is the same trained GPT run directly: encode, cut windows,
one forward pass per batch, no stage around it. The ratio says what the stage costs on top
(bucket bookkeeping, stats, meta), the docs/s what a user can plan with.

    .venv/bin/python benchmarks/bench_perplexity.py [--model RUN_DIR] [--docs 400] [--steps 60]

Without ``--model`` a tiny model is trained first on the bundled books (a few hundred steps
would be better for real use; the speed does not depend on how well it is trained).
Writes benchmarks/results/perplexity.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def train_model(work: Path, steps: int) -> Path:
    """A tiny GPT trained on the bundled books' shards (dataforge run + run_training)."""
    import yaml

    from dataforge.api import run
    from dataforge.train import run_training
    from dataforge.train.config import TrainConfig

    out = work / "books"
    run(yaml.safe_load(f"""
output: {out}
inputs:
  books: {{reader: text, paths: "{DATA}/books/*.txt", split: paragraph}}
stages:
  - tokenize: {{tokenizer: {DATA}/tokenizer.json, seq_len: 128, validation_fraction: 0}}
"""))
    cfg = TrainConfig(model="tiny", steps=steps, batch_size=8, warmup=5, eval_every=steps, threads=1)
    run_training(cfg, shards=out, output=work / "lm", resume="auto")
    return work / "lm"


def web_docs(n: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in (DATA / "c4" / "tiny_c4_sample.jsonl").open()]
    while len(texts) < n:
        texts = texts + texts
    return texts[:n]


def stage_rate(model: Path, texts: list[str], work: Path, *, max_tokens: int, batch: int) -> tuple[float, float]:
    """(docs per CPU second, docs per wall second) of the stage, buckets on."""
    from dataforge.document import Document
    from dataforge.filters.perplexity import Perplexity, PerplexityParams
    from dataforge.stage import RunInfo, TaskContext
    from dataforge.stats import Stats

    run = RunInfo(seed=1, output_dir=work / "o", work_dir=work / "w", sources=["web"])
    ctx = TaskContext(run=run, task_id="t", label="0:perplexity", stats=Stats(), task_dir=work / "t",
                      publish_dir=work / "p")
    stage = Perplexity(PerplexityParams(model=str(model), buckets=True, max_tokens=max_tokens, batch_size=batch,
                                        calibration_docs=100), ctx)
    docs = [Document(id=f"d{i}", text=t, source="web") for i, t in enumerate(texts)]
    list(stage.process(docs[:8]))  # load the model, warm up
    c0, t0 = _cpu(), time.perf_counter()
    kept = list(stage.process(docs))
    c1, t1 = _cpu(), time.perf_counter()
    assert len(kept) == len(docs) and all("perplexity" in d.meta for d in kept)
    return len(docs) / (c1 - c0), len(docs) / (t1 - t0)


def bare_rate(model: Path, texts: list[str], *, max_tokens: int, batch: int) -> tuple[float, float]:
    """The same scoring without the stage: TorchScorer.perplexities on the texts, in batches."""
    from dataforge.filters.perplexity import TorchScorer

    scorer = TorchScorer(str(model))
    scorer.perplexities(texts[:8], max_tokens=max_tokens, batch_size=batch)
    c0, t0 = _cpu(), time.perf_counter()
    for i in range(0, len(texts), 64):
        got = scorer.perplexities(texts[i:i + 64], max_tokens=max_tokens, batch_size=batch)
        assert all(math.isfinite(p) or p == math.inf for p in got)
    c1, t1 = _cpu(), time.perf_counter()
    return len(texts) / (c1 - c0), len(texts) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a dataforge train run folder (default: train a tiny one)")
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_perplexity"))
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "perplexity.md")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # per core
    args.work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    model = args.model or train_model(args.work, args.steps)
    texts = web_docs(args.docs)
    rows = []
    for max_tokens in (256, 1024):
        s_cpu, s_wall = stage_rate(model, texts, args.work / f"s{max_tokens}", max_tokens=max_tokens, batch=32)
        b_cpu, b_wall = bare_rate(model, texts, max_tokens=max_tokens, batch=32)
        rows.append((max_tokens, s_cpu, s_wall, b_cpu, b_wall))
    load1 = os.getloadavg()
    lines = ["# perplexity: docs/s per core (benchmarks/bench_perplexity.py)", "",
             f"{args.docs} web documents (data/c4/tiny_c4_sample.jsonl, repeated), the tiny GPT (1.45M parameters, "
             f"context 128) {'from ' + str(args.model) if args.model else f'trained {args.steps} steps on the bundled books'}, "
             "one torch thread, buckets on, batches of 32 windows. Ceiling: the same model's forward on the same "
             "windows without the stage (TorchScorer alone); no peer stage exists without KenLM (CCNet, "
             f"datatrove), which is not installed. Load average {load0[0]:.2f} before, {load1[0]:.2f} after.", "",
             "| tokens scored per document | stage docs/s per CPU second | stage docs/s wall | bare forward docs/s "
             "per CPU second | stage / bare |", "|---:|---:|---:|---:|---:|"]
    for max_tokens, s_cpu, s_wall, b_cpu, _ in rows:
        lines.append(f"| {max_tokens} | {s_cpu:,.0f} | {s_wall:,.0f} | {b_cpu:,.0f} | {s_cpu / b_cpu:.2f} |")
    lines += ["", "The stage is the model's forward plus encoding; the cost per document grows with the tokens "
              "scored (`max_tokens`, CCNet scores whole documents). A larger model costs in proportion to its "
              "FLOPs per token."]
    args.results.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
