"""The compact trainer on this CPU: tokens/s and MFU before and after, what the settings buy, an ablation's cost.

Same tokens for every figure: real text from ../shared/data (Project Gutenberg books, Tiny
Shakespeare, Wikipedia articles; not WikiText-2 or Botchan, whose slices are the evaluation
sets), tokenized with data/tokenizer.json and written as dataforge shards (rows of 256, every
20th row validation).

1. Peak: FLOP/s of a 1024 x 1024 fp32 matmul, 1 and 2 threads (``throughput.measured_peak``).
2. Before / after: ``run_training`` of the trainer as it was before this change (the
   ``dataforge/`` tree of git commit BEFORE, extracted to a temp folder) against this one, in
   alternating fresh subprocesses with the same config; tokens/s (warm-up steps excluded) and
   MFU = tokens/s x FLOPs per token (6N + 12LHQT, PaLM appendix B) / the measured peak. On a
   shared machine the best of the rounds is the figure least moved by other jobs; the median
   is given too.
3. Settings (this trainer): threads, batch shape, torch.compile, and two 1-thread processes
   side by side (how an ablation should use 2 cores).
4. An ablation's cost: the sample pipeline's output (pipelines/pretrain_mix.yaml, run once),
   trained 12 times (4 variants x 3 seeds: here the same shards, what an ablation pays per run)
   at ~200k tokens each, 2 runs at a time with 1 thread each, each scored at the end on the
   bundled evaluation sets (WikiText-2, Botchan, ARC-Challenge); wall time measured.
5. Learnability: the same tiny run on the real shards and on shards holding the same tokens
   shuffled: eval loss, and bits per byte and ARC accuracy on the bundled sets.

Run:  .venv/bin/python benchmarks/bench_train.py [--quick]
Writes benchmarks/results/train.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text"
# a worker for the before-trainer imports the old dataforge tree (spawn sets BENCH_CODE_ROOT)
sys.path.insert(0, os.environ.get("BENCH_CODE_ROOT", str(REPO)))

from dataforge.io import sha256_file  # noqa: E402
from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest  # noqa: E402

#: the last commit with the trainer as it was before the chunked head, verification and eval sets
BEFORE = "ff522dacc35f9faa8e65d5b86d5c73feb7d90eb4"
SOURCES = ["gutenberg/11-0.txt", "gutenberg/1342-0.txt", "tinyshakespeare/input.txt", "llama-factory/wiki_demo.txt"]
TOKENIZER = REPO / "data" / "tokenizer.json"
EVAL_TEXT = [str(REPO / "data" / "eval" / "wikitext2_valid_head.txt"), str(REPO / "data" / "eval" / "botchan_head.txt")]
EVAL_MC = [str(REPO / "data" / "benchmarks" / "arc_challenge.jsonl")]
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
        used.append(rel)
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


# ---- worker: one measurement in a fresh process -------------------------------------------------------
def worker(job: dict[str, Any]) -> dict[str, Any]:
    if job["kind"] == "peak":
        from dataforge.train.throughput import measured_peak

        return {"peak": measured_peak("cpu", "float32", job["threads"], n=1024)}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if job["code"] == "before":
        from dataforge.train.config import TrainConfig  # the old package, first on sys.path
        from dataforge.train.loop import run_training
        known = set(TrainConfig.model_fields)
        summary = run_training(TrainConfig(**{k: v for k, v in job["config"].items() if k in known}),
                               shards=Path(job["shards"]), output=Path(job["output"]))
    else:
        from dataforge.train import TrainConfig, run_training

        summary = run_training(TrainConfig(**job["config"]), shards=Path(job["shards"]), output=Path(job["output"]))
    return {"summary": summary, "cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0}


def spawn(job: dict[str, Any], *, before_root: Path | None = None) -> dict[str, Any]:
    root = str(before_root if job.get("code") == "before" else REPO)
    env = {**os.environ, "BENCH_CODE_ROOT": root, "PYTHONPATH": root}
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"worker failed: {job}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def extract_before(tmp: Path) -> Path:
    root = tmp / "before"
    root.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE, "dataforge"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def flops(model: str, *, context: int) -> int:
    from dataforge.train.config import MODEL_SIZES
    from dataforge.train.throughput import flops_per_token

    return flops_per_token(MODEL_SIZES[model], vocab=8192, context=context)


def config(model: str, batch: int, window: int, steps: int, threads: int, **extra: Any) -> dict[str, Any]:
    return {"model": model, "steps": steps, "batch_size": batch, "seq_len": window, "dtype": "float32",
            "eval_every": 0, "eval_batches": 1, "log_every": 1000, "checkpoint_every": 0, "warmup": 2,
            "threads": threads, **extra}


def before_after(shards: Path, tmp: Path, before_root: Path, *, rounds: int, peak1: float) -> list[dict[str, Any]]:
    rows = []
    for model, batch, window, steps, n in (("tiny", 16, 128, 23, rounds + 1), ("small", 8, 256, 11, rounds)):
        rates: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(n):
            for code in ("before", "after"):
                out = tmp / f"ba-{model}-{code}-{r}"
                res = spawn({"kind": "train", "code": code, "shards": str(shards), "output": str(out),
                             "config": config(model, batch, window, steps, 1)}, before_root=before_root)
                rates[code].append(res["summary"]["tokens_per_s"])
                shutil.rmtree(out)
        fpt = flops(model, context=window)
        best = {k: max(v) for k, v in rates.items()}
        rows.append({"model": model, "shape": f"{batch} x {window}", "fpt": fpt, **{f"{k}_rates": v for k, v in rates.items()},
                     "before": best["before"], "after": best["after"],
                     **{f"median_{k}": float(np.median(v)) for k, v in rates.items()},
                     "mfu_before": best["before"] * fpt / peak1, "mfu_after": best["after"] * fpt / peak1})
    return rows


def settings_sweep(shards: Path, tmp: Path, *, with_compile: bool, peaks: dict[int, float]) -> list[dict[str, Any]]:
    jobs = [("1 thread, 16 x 128", config("tiny", 16, 128, 23, 1)),
            ("2 threads, 16 x 128", config("tiny", 16, 128, 23, 2)),
            ("1 thread, 32 x 128", config("tiny", 32, 128, 13, 1)),
            ("1 thread, 8 x 512", config("tiny", 8, 512, 13, 1)),
            ("1 thread, 64 x 64", config("tiny", 64, 64, 13, 1))]
    if with_compile:
        jobs.append(("1 thread, 16 x 128, torch.compile", config("tiny", 16, 128, 43, 1, compile=True)))
    rows = []
    for name, cfg in jobs:
        res = spawn({"kind": "train", "code": "after", "shards": str(shards), "output": str(tmp / "sweep"),
                     "config": cfg})
        shutil.rmtree(tmp / "sweep")
        s = res["summary"]
        rows.append({"name": name, "tokens_per_s": s["tokens_per_s"], "wall": res["wall"],
                     "mfu": s["tokens_per_s"] * s["flops_per_token"] / peaks[cfg["threads"]]})
    # two 1-thread processes at once: the aggregate rate an ablation gets from 2 cores
    with ThreadPoolExecutor(2) as pool:
        pair = list(pool.map(lambda i: spawn({"kind": "train", "code": "after", "shards": str(shards),
                                              "output": str(tmp / f"pair{i}"),
                                              "config": config("tiny", 16, 128, 23, 1)}), range(2)))
    rows.append({"name": "2 processes x 1 thread, 16 x 128 (sum)", "wall": max(p["wall"] for p in pair),
                 "tokens_per_s": sum(p["summary"]["tokens_per_s"] for p in pair),
                 "mfu": sum(p["summary"]["tokens_per_s"] for p in pair) * pair[0]["summary"]["flops_per_token"] / peaks[2]})
    return rows


def ablation(tmp: Path, *, tokens_per_run: int) -> dict[str, Any]:
    """The sample pipeline once, then 12 trainings + evaluations, 2 at a time with 1 thread each."""
    out = tmp / "pretrain_mix"
    t0 = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "dataforge"), "run", str(REPO / "pipelines" / "pretrain_mix.yaml"),
                    "--output", str(out)], cwd=REPO, capture_output=True, check=True)
    pipeline_s = time.perf_counter() - t0
    manifest = json.loads((out / "manifest.json").read_text())
    batch, window = 16, 128
    steps = max(tokens_per_run // (batch * window), 1)
    jobs = [{"kind": "train", "code": "after", "shards": str(out), "output": str(tmp / f"abl-{v}-{s}"),
             "config": config("tiny", batch, window, steps, 1, seed=s, eval_text=EVAL_TEXT, eval_mc=EVAL_MC)}
            for v in range(4) for s in range(3)]
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(spawn, jobs))
    wall = time.perf_counter() - t0
    rates = [r["summary"]["tokens_per_s"] for r in results]
    cpu = sum(r["cpu"] for r in results)  # each run's whole process: start-up, verification, training, evaluation
    train_s = [r["summary"]["tokens_seen"] / r["summary"]["tokens_per_s"] for r in results]
    return {"pipeline_s": pipeline_s, "wall": wall, "cpu": cpu, "load": (load0, os.getloadavg()[0]),
            "runs": len(jobs), "steps": steps, "tokens": steps * batch * window,
            "shard_tokens": sum(s["tokens"] for s in manifest["shards"] if s["split"] == "train"),
            "rate": float(np.median(rates)), "train_share": sum(train_s) / 2 / wall,
            "metrics": {k: float(np.mean([r["summary"]["eval_sets"][k] for r in results])) for k in
                        ("wikitext2_valid_head/bpb", "botchan_head/bpb", "arc_challenge/acc", "arc_challenge/acc_norm",
                         "arc_challenge/chance")}}


def learnability(real: Path, shuffled: Path, tmp: Path, *, steps: int) -> dict[str, dict[str, Any]]:
    out = {}
    for name, shards in (("real", real), ("shuffled", shuffled)):
        cfg = config("tiny", 16, 128, steps, 1, warmup=20, eval_every=max(steps // 8, 1), eval_batches=16,
                     eval_text=EVAL_TEXT, eval_mc=EVAL_MC)
        res = spawn({"kind": "train", "code": "after", "shards": str(shards), "output": str(tmp / f"curve-{name}"),
                     "config": cfg})
        records = [json.loads(line) for line in (tmp / f"curve-{name}" / "metrics.jsonl").read_text().splitlines()]
        out[name] = {"curve": [(r["step"], r["eval_loss"]) for r in records if r["event"] == "eval"],
                     "sets": res["summary"]["eval_sets"]}
    return out


def hash_rate(path: Path) -> float:
    t0 = time.perf_counter()
    n = sum(p.stat().st_size for p in path.glob("shards/*.arrow"))
    for p in sorted(path.glob("shards/*.arrow")):
        sha256_file(p)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="one round, no compile, shorter runs")
    ap.add_argument("--steps", type=int, default=300, help="steps of each learnability run")
    ap.add_argument("--only", default="", help="comma-separated sections to measure again (peak, before_after, "
                                               "settings, ablation, learnability); the rest from results/train.json")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker)), default=str))
        return
    import torch

    saved_path = REPO / "benchmarks" / "results" / "train.json"
    only = {x for x in args.only.split(",") if x}
    saved = json.loads(saved_path.read_text()) if only and saved_path.exists() else {}
    todo = only or {"peak", "before_after", "settings", "ablation", "learnability"}
    stream, used = corpus_stream()
    shuffled_stream = np.random.default_rng(0).permutation(stream)
    results = dict(saved)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        real = write_shards(tmp / "real", stream)
        shuffled = write_shards(tmp / "shuffled", shuffled_stream)
        results["load_start"] = os.getloadavg()[0]
        if "peak" in todo or "peaks" not in results:
            results["peaks"] = {str(t): spawn({"kind": "peak", "threads": t})["peak"] for t in (1, 2)}
        peaks = {int(k): v for k, v in results["peaks"].items()}
        if "before_after" in todo:
            results["ba"] = before_after(real, tmp, extract_before(tmp), rounds=1 if args.quick else 2, peak1=peaks[1])
        if "settings" in todo:
            results["sweep"] = settings_sweep(real, tmp, with_compile=not args.quick, peaks=peaks)
        if "ablation" in todo:
            results["abl"] = ablation(tmp, tokens_per_run=100_000 if args.quick else 200_000)
        if "learnability" in todo:
            results["curves"] = learnability(real, shuffled, tmp, steps=100 if args.quick else args.steps)
        results["sha"] = hash_rate(real)
    results["load_end"] = os.getloadavg()[0]
    saved_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_report(stream=stream, used=used, peaks=peaks, ba=results["ba"], sweep=results["sweep"], abl=results["abl"],
                 curves=results["curves"], sha=results["sha"], load=(results["load_start"], results["load_end"]),
                 torch_version=torch.__version__)


def unigram_entropy(stream: np.ndarray) -> float:
    counts = np.bincount(stream, minlength=8192).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def write_report(*, stream: np.ndarray, used: list[str], peaks: dict[int, float], ba: list[dict[str, Any]],
                 sweep: list[dict[str, Any]], abl: dict[str, Any], curves: dict[str, dict[str, Any]], sha: float,
                 load: tuple[float, float], torch_version: str) -> None:
    lines = [
        "# Compact trainer on this CPU (benchmarks/bench_train.py)", "",
        f"Same tokens everywhere: {len(stream):,} tokens of real text ({', '.join(used)} from ../shared/data), "
        f"data/tokenizer.json (8192), dataforge shards of {SEQ}-token rows, every 20th row validation. "
        f"CPU: {os.cpu_count()} cores (AMD EPYC, AVX2, no native bf16), torch {torch_version}; load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after: other jobs shared the 2 cores, so absolute figures move; "
        "before and after ran alternately in fresh processes, minutes apart at most.", "",
        "## 1. Peak (measured): FLOP/s of a 1024 x 1024 float32 matmul", "",
        f"1 thread: {peaks[1] / 1e9:,.1f} GFLOP/s; 2 threads: {peaks[2] / 1e9:,.1f} GFLOP/s. "
        "MFU below is model FLOPs (6N + 12LHQT per token, PaLM appendix B; N counts the tied embedding once, "
        "as the head) x tokens/s over this peak.", "",
        f"## 2. Before / after (run_training, float32, 1 thread, warm-up steps excluded; before = commit {BEFORE[:7]})",
        "", "| model | batch x window | MFLOP/token | before tok/s | after tok/s | speed-up | MFU before | MFU after "
            "| speed-up of the medians |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ba:
        lines.append(f"| {r['model']} | {r['shape']} | {r['fpt'] / 1e6:.1f} | {r['before']:,.0f} | {r['after']:,.0f} | "
                     f"{r['after'] / r['before']:.2f}x | {r['mfu_before']:.0%} | {r['mfu_after']:.0%} | "
                     f"{r['median_after'] / r['median_before']:.2f}x |")
    lines += ["", "Best of the alternating rounds (every round: " + "; ".join(
        f"{r['model']} before {', '.join(f'{x:,.0f}' for x in r['before_rates'])}, after "
        f"{', '.join(f'{x:,.0f}' for x in r['after_rates'])}" for r in ba) + ").", "",
        "## 3. What the settings buy (this trainer, tiny, float32)", "",
        "| setting | tok/s | MFU (of the peak for its threads) | wall of the run |", "|---|---:|---:|---:|"]
    for r in sweep:
        lines.append(f"| {r['name']} | {r['tokens_per_s']:,.0f} | {r['mfu']:.0%} | {r['wall']:.1f} s |")
    lines += ["", "Two threads in one process gain little on a tiny model and lose badly whenever another process holds "
              "one of the cores (torch's OpenMP threads wait for each other at every op); two one-thread processes "
              "use both cores. torch.compile's first step compiles for most of a minute on these cores, more than "
              "a short run saves.",
              "", "## 4. An ablation's cost: 4 variants x 3 seeds on the sample pipeline's output", "",
              f"`dataforge run pipelines/pretrain_mix.yaml` took {abl['pipeline_s']:.0f} s once "
              f"({abl['shard_tokens']:,} train tokens). Then {abl['runs']} runs of tiny, 16 x 128, {abl['steps']} steps "
              f"({abl['tokens']:,} tokens each), 2 processes with 1 thread each, each scored at the end on "
              "WikiText-2 (121 kB), Botchan (101 kB) and ARC-Challenge (1,172 questions): "
              f"**{abl['wall'] / 60:.1f} minutes** in all at a load average of {abl['load'][0]:.1f} to {abl['load'][1]:.1f} "
              f"(median {abl['rate']:,.0f} tok/s per run; training {abl['train_share']:.0%} of the wall time, shard "
              f"verification, evaluation and start-up the rest). The 12 processes used {abl['cpu'] / 60:.1f} CPU "
              f"minutes, so on 2 idle cores the ablation takes about **{abl['cpu'] / 2 / 60:.1f} minutes**. At the "
              f"before-trainer's best {ba[0]['before']:,.0f} tok/s the training alone would need "
              f"{abl['runs'] * abl['tokens'] / ba[0]['before'] / 60:.1f} CPU minutes, against "
              f"{abl['runs'] * abl['tokens'] / ba[0]['after'] / 60:.1f} now.", "",
              "Mean over the 12 runs: " + ", ".join(f"{k} {v:.3f}" for k, v in abl["metrics"].items()) + ".", "",
              "## 5. Learnability: tiny, 16 x 128, 1 thread; real shards against the same tokens shuffled", "",
              f"Unigram entropy of the tokens: {unigram_entropy(stream):.3f} nats.", "",
              "| step | real: eval loss | shuffled: eval loss | gap |", "|---:|---:|---:|---:|"]
    for (step, a), (_, b) in zip(curves["real"]["curve"], curves["shuffled"]["curve"]):
        lines.append(f"| {step} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    lines += ["", "| evaluation set (independent of both) | real | shuffled |", "|---|---:|---:|"]
    for key in sorted(curves["real"]["sets"]):
        if key.endswith(("/bytes", "/tokens", "/questions")):
            continue
        lines.append(f"| {key} | {curves['real']['sets'][key]:.4f} | {curves['shuffled']['sets'][key]:.4f} |")
    lines += ["", f"Shard verification (sha256, the default): {sha / 1e9:.2f} GB/s here, so a 1 GB output costs "
              f"{1e9 / sha:.1f} s per start; `--verify quick` skips the hash."]
    out = REPO / "benchmarks" / "results" / "train.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
