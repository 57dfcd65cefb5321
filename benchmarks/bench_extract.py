"""HTML -> article text: quality (F1 vs ground truth) and speed of each extractor, side by side.

    .venv/bin/python benchmarks/bench_extract.py            # ~3 min on 2 shared cores
    .venv/bin/python benchmarks/bench_extract.py --rounds 1 # quicker, noisier speed

Data: the Zyte (Scrapinghub) article extraction benchmark, 181 real pages with a
hand-checked ``articleBody`` each (../shared/data/html_extraction/article-extraction-benchmark,
from github.com/scrapinghub/article-extraction-benchmark, MIT repository, third-party pages).

Split, against over-fitting: a page is in the *development* half when the first byte of
sha256(its id) is even, else in the *held-out* half (91 / 90 pages). The fast extractor's
rules and thresholds were chosen looking at development pages only. The first held-out
run (kept in benchmarks/results/extract_first_heldout_run.md) showed four empty pages;
the two guards that fixed them were written after looking at those pages.

F1: the benchmark's own definition (its evaluate.py, re-implemented here): text is split
into ``\\w+`` tokens; shingles are 4 consecutive tokens; per page, TP/FP/FN are the
multiset overlaps of predicted and true shingles, normalised to sum 1 (every page weighs
the same); precision and recall are averaged over pages; F1 is the harmonic mean of the
two averages. ± is 1.96 x the standard deviation over 1,000 bootstrap resamples of pages
(as evaluate.py reports it; fixed seed here).

Speed: every extractor runs in this process on the same pages, one after the other (the
order rotating from round to round), timed in CPU seconds of this process
(``time.process_time``): the machine is shared, and CPU time is what another process's
load disturbs least. Best of ``--rounds`` rounds; the fast extractor's class-name cache
starts empty in every round. In-process calls, without the sandbox's pipe
(``benchmarks/bench_read_extract.py`` measures the whole reader).

Writes benchmarks/results/extract.md.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared/data/html_extraction/article-extraction-benchmark"
OUT = REPO / "benchmarks/results/extract.md"
_TOKEN = re.compile(r"\w+")


# ---- the benchmark's metric ------------------------------------------------------------


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def page_counts(true: str, pred: str) -> tuple[float, float, float]:
    """(TP, FP, FN) over shingles, normalised to sum 1 (0s when both texts are empty)."""
    t, p = shingles(true), shingles(pred)
    tp, fp, fn = sum((t & p).values()), sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def prf(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Mean precision, mean recall, and F1 of the two (evaluate.py's conventions)."""

    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    p = statistics.mean(precision(*c) for c in counts if c[0] + c[1] > 0)
    r = statistics.mean(recall(*c) for c in counts if c[0] + c[2] > 0)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def f1_interval(counts: list[tuple[float, float, float]], *, reps: int = 1000, seed: int = 0) -> float:
    rng = random.Random(seed)
    n = len(counts)
    return 1.96 * statistics.stdev(prf([counts[rng.randrange(n)] for _ in range(n)])[2] for _ in range(reps))


# ---- extractors --------------------------------------------------------------------------


def extractors() -> dict[str, Callable[[str], str | None]]:
    from resiliparse.extract.html2text import extract_plain_text

    from dataforge.readers.extract import ExtractOptions, extractor_kwargs
    from dataforge.readers.sandbox import run_extractor

    def ours(**options: object) -> Callable[[str], str | None]:
        kwargs = extractor_kwargs(ExtractOptions(**options))
        return lambda html: run_extractor(html, **kwargs)

    return {
        "fast (dataforge default)": ours(extractor="fast"),
        "resiliparse main content (DCLM; old default)": ours(extractor="resiliparse"),
        "resiliparse plain (extract_plain_text defaults)": extract_plain_text,
        "trafilatura (favour_precision, as dataforge runs it)": ours(extractor="trafilatura"),
        "trafilatura (library defaults)": ours(extractor="trafilatura", favour_precision=False),
    }


def ablations() -> dict[str, Callable[[str], str | None]]:
    """The fast extractor with one rule family off at a time (quality only)."""
    from dataforge.readers.extract import ExtractOptions, extractor_kwargs
    from dataforge.readers.sandbox import run_extractor

    def ours(**options: object) -> Callable[[str], str | None]:
        kwargs = extractor_kwargs(ExtractOptions(extractor="fast", **options))
        return lambda html: run_extractor(html, **kwargs)

    return {
        "fast": ours(),
        "- class/id vocabulary [drop_boilerplate: []]": ours(drop_boilerplate=()),
        "- content root [content_root: false]": ours(content_root=False),
        "- link density [max_link_density: 1.0]": ours(max_link_density=1.0),
        "- all three (resiliparse's rules with comments and post meta off, blockquotes kept, "
        "captions and alt texts dropped)": ours(drop_boilerplate=(), content_root=False, max_link_density=1.0),
    }


# ---- driver -----------------------------------------------------------------------------


def load_pages() -> list[tuple[str, str, str, str]]:
    """(id, half, html, articleBody) for every page, sorted by id."""
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        html = gzip.decompress((DATA / f"{key}.html.gz").read_bytes()).decode("utf-8")
        pages.append((key, split_half(key), html, truth[key].get("articleBody", "")))
    return pages


def split_half(key: str) -> str:
    return "dev" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "held-out"


def run(fns: dict[str, Callable[[str], str | None]], pages: list, rounds: int) -> tuple[dict, dict]:
    """Outputs per extractor and page, and the best round's CPU seconds per extractor.

    A round runs each extractor over all pages in turn (as a worker runs one extractor),
    the order of extractors rotating from round to round; caches the rules keep (class
    names seen) are emptied at the start of every extractor's turn.
    """
    from dataforge.readers import extract_rules

    names = list(fns)
    outputs: dict[str, dict[str, str]] = {name: {} for name in names}
    best = {name: float("inf") for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            extract_rules.clear_caches()
            gc.collect()
            start = time.process_time()
            for key, _, html, _ in pages:
                outputs[name][key] = fns[name](html) or ""
            best[name] = min(best[name], time.process_time() - start)
    return outputs, best


def quality(outputs: dict[str, str], pages: list) -> dict[str, tuple]:
    counts = {key: page_counts(truth, outputs[key]) for key, _, _, truth in pages}
    out = {}
    for half in ("dev", "held-out", "all"):
        rows = [counts[key] for key, h, _, _ in pages if half in ("all", h)]
        if rows:
            out[half] = (*prf(rows), f1_interval(rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (best is kept)")
    args = ap.parse_args()
    pages = load_pages()
    fns = extractors()
    outputs, cpu = run(fns, pages, args.rounds)
    scores = {name: quality(outputs[name], pages) for name in fns}
    abl_out, abl_cpu = run(ablations(), pages, args.rounds)
    abl_scores = {name: quality(abl_out[name], pages) for name in abl_out}
    write_report(pages, scores, cpu, abl_scores, abl_cpu, args.rounds)


def write_report(pages: list, scores: dict, cpu: dict, abl: dict, abl_cpu: dict, rounds: int) -> None:
    n = len(pages)
    halves = Counter(h for _, h, _, _ in pages)
    names = list(scores)
    fast, dclm, traf = names[0], names[1], names[3]
    rate = {name: n / cpu[name] for name in names}

    def cell(s: tuple) -> str:
        return f"{s[0]:.3f} / {s[1]:.3f} / **{s[2]:.3f}** ± {s[3]:.3f}"

    lines = [
        "# HTML extraction: F1 against ground truth, and speed",
        "",
        f"Zyte article extraction benchmark: {n} pages ({halves['dev']} development, "
        f"{halves['held-out']} held-out). The fast extractor's rules were developed on the development "
        "half; its first held-out run (F1 0.928, extract_first_heldout_run.md) found four pages emptied by "
        "a class name on the article's own container, which led to two generic guards (the headline's "
        "element is never dropped by name; enable/disable mark a state): since then the held-out half "
        "is no longer unseen. Cells: precision / recall / **F1** ± 95% bootstrap interval of F1, the "
        "benchmark's own metric (4-token shingles, per-page normalised, macro-averaged). "
        f"Speed: CPU seconds of one process running every extractor on the same pages in turn, "
        f"best of {rounds} rounds. Produced by `benchmarks/bench_extract.py` (2 shared cores, no GPU).",
        "",
        "| extractor | development half | held-out half | all pages | docs/s (CPU) | speed vs trafilatura (precision) |",
        "|---|---|---|---|---:|---:|",
    ]
    for name in names:
        s = scores[name]
        lines.append(f"| {name} | {cell(s['dev'])} | {cell(s['held-out'])} | {cell(s['all'])} "
                     f"| {rate[name]:.0f} | {rate[name] / rate[traf]:.1f}x |")
    d = {half: scores[fast][half][2] - scores[dclm][half][2] for half in ("dev", "held-out", "all")}
    lines += [
        "",
        f"fast vs resiliparse main content: F1 {d['dev']:+.3f} (development), {d['held-out']:+.3f} "
        f"(held-out), {d['all']:+.3f} (all); speed {rate[fast] / rate[dclm]:.2f}x. "
        f"fast vs trafilatura (precision): F1 {scores[fast]['all'][2] - scores[traf]['all'][2]:+.3f} (all), "
        f"speed {rate[fast] / rate[traf]:.1f}x.",
        "",
        "## What each rule family adds (fast with one family off; options in brackets)",
        "",
        "| configuration | development half | held-out half | all pages | docs/s (CPU) | speed vs trafilatura (precision) |",
        "|---|---|---|---|---:|---:|",
    ]
    for name, s in abl.items():
        speed = n / abl_cpu[name]
        lines.append(f"| {name} | {cell(s['dev'])} | {cell(s['held-out'])} | {cell(s['all'])} "
                     f"| {speed:.0f} | {speed / rate[traf]:.1f}x |")
    again = n / abl_cpu["fast"] / rate[traf]
    lines += ["", "Ablation rows ran after the main table, in the same process; compare their speeds "
              f"with each other and with the trafilatura row above. The fast extractor is in both tables: "
              f"{rate[fast] / rate[traf]:.1f}x and {again:.1f}x trafilatura's speed in this run, the spread "
              "of speed figures on this shared machine."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
