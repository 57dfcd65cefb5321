"""Novelty filter (ROUGE-L F1 > 0.7 against the growing pool) vs brute-force rouge-score.

Peer: the originals' loop - every new instruction scored against the whole pool with
rouge-score (Alpaca generate_instruction.py: pre-tokenized pool + ``rouge_scorer._score_lcs``,
the faster of the two originals; Self-Instruct re-tokenizes every pair with
``scorer.score``). Both run single-process here (the originals add a multiprocessing
Pool; on 2 cores that changes the peer by < 2x).

1. Real instructions from ../shared/data/instructions (Self-Instruct seeds, GPTeacher
   code seeds, InstructionWild en, LLaMA-Factory alpaca_en_demo): full brute force,
   decisions compared one by one.
2. 50k generated variants (random word edits of the real ones): ours in full; the
   brute force on a random sample of queries against the identical pool state, its
   total extrapolated from the measured time per pair (running it all is hours).

Run: .venv/bin/python benchmarks/bench_novelty.py [--variants 50000] [--sample 300]
Writes benchmarks/results/selfinstruct.md (the novelty section).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

from rouge_score import rouge_scorer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dataforge.selfinstruct.novelty import NoveltyIndex  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "instructions"
RESULTS = REPO / "benchmarks" / "results"


def real_instructions() -> list[str]:
    out: list[str] = []
    for path in ("self-instruct/seed_tasks.jsonl", "gpteacher/code_seed_tasks.jsonl",
                 "instructionwild/seed_prompts_en.jsonl"):
        out += [json.loads(line)["instruction"] for line in (SHARED / path).read_text().splitlines() if line.strip()]
    out += [r["instruction"] for r in json.loads((SHARED / "llama-factory" / "alpaca_en_demo.json").read_text())]
    return out


def make_variants(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """0-6 random word deletions / insertions (words from other instructions) / swaps each."""
    rng = random.Random(seed)
    words_pool = [w for t in texts for w in t.split()]
    out = []
    for _ in range(n):
        words = rng.choice(texts).split()
        for _ in range(rng.randint(0, 6)):
            op = rng.random()
            if op < 0.35 and len(words) > 1:
                del words[rng.randrange(len(words))]
            elif op < 0.75:
                words.insert(rng.randrange(len(words) + 1), rng.choice(words_pool))
            elif len(words) > 1:
                j = rng.randrange(len(words) - 1)
                words[j], words[j + 1] = words[j + 1], words[j]
        out.append(" ".join(words))
    return out


def ours(stream: list[str]) -> tuple[list[bool], float, int]:
    idx = NoveltyIndex()
    t0 = time.perf_counter()
    decisions, scored = [], 0
    for text in stream:
        v = idx.check_and_add(text)
        decisions.append(v.novel)
        scored += v.scored
    return decisions, time.perf_counter() - t0, scored


def brute(stream: list[str], scorer: rouge_scorer.RougeScorer) -> tuple[list[bool], float, int]:
    t0 = time.perf_counter()
    pool: list[list[str]] = []
    decisions, pairs = [], 0
    for text in stream:
        toks = scorer._tokenizer.tokenize(text)
        pairs += len(pool)
        novel = not (pool and max(rouge_scorer._score_lcs(toks, p).fmeasure for p in pool) > 0.7)
        decisions.append(novel)
        if novel:
            pool.append(toks)
    return decisions, time.perf_counter() - t0, pairs


def sampled_brute(stream: list[str], decisions: list[bool], sample: int, scorer: rouge_scorer.RougeScorer
                  ) -> tuple[int, int, float, int]:
    """Brute force for ``sample`` random queries against the pool as it stood (per our decisions)."""
    rng = random.Random(1)
    queries = sorted(rng.sample(range(len(stream)), sample))
    tokens = [scorer._tokenizer.tokenize(t) for t in stream]
    agree, pairs, elapsed = 0, 0, 0.0
    pool_sizes = []
    pool: list[list[str]] = []
    qi = 0
    for i, toks in enumerate(tokens):
        if qi < len(queries) and queries[qi] == i:
            t0 = time.perf_counter()
            novel = not (pool and max(rouge_scorer._score_lcs(toks, p).fmeasure for p in pool) > 0.7)
            elapsed += time.perf_counter() - t0
            pairs += len(pool)
            agree += novel == decisions[i]
            qi += 1
        pool_sizes.append(len(pool))
        if decisions[i]:
            pool.append(toks)
    return agree, pairs, elapsed, sum(pool_sizes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", type=int, default=50_000)
    ap.add_argument("--sample", type=int, default=300)
    args = ap.parse_args()
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    real = real_instructions()

    d_ours, t_ours, scored = ours(real)
    d_brute, t_brute, pairs = brute(real, scorer)
    same = d_ours == d_brute
    lines = [f"### Novelty filter: {len(real)} real instructions (full brute force)", "",
             "| | time (s) | pairs scored exactly | kept | decisions |", "|---|---:|---:|---:|---|",
             f"| brute-force rouge-score (Alpaca loop) | {t_brute:.2f} | {pairs:,} | {sum(d_brute)} | |",
             f"| dataforge NoveltyIndex | {t_ours:.3f} | {scored:,} | {sum(d_ours)} | "
             f"{'identical' if same else 'DIFFERENT'} |", "",
             f"Speed-up: **{t_brute / t_ours:,.0f}x** with identical decisions ({len(real)} of {len(real)}).", ""]
    print("\n".join(lines))

    stream = real + make_variants(real, args.variants)
    d_big, t_big, scored_big = ours(stream)
    agree, s_pairs, s_time, total_pairs = sampled_brute(stream, d_big, args.sample, scorer)
    per_pair = s_time / max(s_pairs, 1)
    est = per_pair * total_pairs
    lines += [f"### Novelty filter: {len(real)} real + {args.variants:,} generated variants", "",
              "| | time (s) | pairs scored exactly | kept |", "|---|---:|---:|---:|",
              f"| brute-force rouge-score, extrapolated ({per_pair * 1e6:.1f} us/pair x {total_pairs:,} pairs) "
              f"| {est:,.0f} | {total_pairs:,} | |",
              f"| dataforge NoveltyIndex | {t_big:.2f} | {scored_big:,} | {sum(d_big)} |", "",
              f"Speed-up: **{est / t_big:,.0f}x** (extrapolated). Brute force re-run for {args.sample} random "
              f"queries against the identical pool: {agree}/{args.sample} decisions identical.", "",
              f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
              "single process for both.", ""]
    print("\n".join(lines[-12:]))
    write_section("novelty", "\n".join(lines))


def write_section(name: str, body: str) -> None:
    """Replace the ``name`` section of benchmarks/results/selfinstruct.md (the other stays)."""
    path = RESULTS / "selfinstruct.md"
    text = path.read_text() if path.exists() else "# dataforge self-instruct: benchmarks\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
