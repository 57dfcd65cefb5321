"""The curation operators of issue 15 against datatrove 0.10, side by side in one process.

For each stage with a datatrove peer: agreement on the same documents and CPU docs/s
(``time.process_time``: one process, so per core) of both, and the ratio:

* fix_text vs ``FTFYFormatter`` (identical output expected);
* c4_badwords vs ``C4BadWordsFilter`` (its list download pointed at our bundled lists);
* decontaminate vs ``NGramsDecontFilter`` (index built with ``NGramsDecontIndexer.compute_hashes``
  from the same ARC items; both at 13-grams), with 10 reference sets loaded, plus recall
  on ARC items planted in real web documents and false positives on the clean documents;
* sentence_dedup vs ``SentenceDedup`` (signature, find, filter), paragraph_dedup vs
  ``SentenceDedup`` with ``split_sentences=False, n_sentences=1`` (line dedup);
* code_quality: no datatrove peer (docs/s only).

datatrove 0.10.1's xxhash64 passes str to xxhash >= 4, which refuses it: its sha1 hash
is used (``HashConfig(hash_fc="sha1")``) for the sentence dedup and decontamination peers.

Also writes tests/dedup/datatrove_sentence_decisions.json (datatrove's SentenceDedup on
the test corpus), which tests/dedup/test_sentence.py checks without datatrove.

    .venv/bin/python benchmarks/bench_operators.py [--limit N] [--only decontaminate ...]
Writes benchmarks/results/operators.md. Needs the bench extra (datatrove, spacy).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from benchmarks.bench_filters import web_docs  # noqa: E402
from dataforge.document import Document  # noqa: E402
from dataforge.registry import STAGES, resolve  # noqa: E402
from dataforge.stage import RunInfo, TaskContext  # noqa: E402
from dataforge.stats import Stats  # noqa: E402
from tests.dedup.conftest import Harness, c4_texts  # noqa: E402
from tests.dedup.test_sentence import FIXTURE, corpus, digest  # noqa: E402
from tests.filters.test_decontaminate import arc_items, planted_docs  # noqa: E402

ROWS: list[str] = []


def row(stage: str, peer: str, agree: str, ours: float, theirs: float | None, note: str = "") -> None:
    ratio = f"{ours / theirs:.1f}x" if theirs else "-"
    ROWS.append(f"| {stage} | {peer} | {agree} | {ours:,.0f} | {f'{theirs:,.0f}' if theirs else '-'} | {ratio} | {note} |")
    print(ROWS[-1], flush=True)


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def stage(name: str, **options: Any) -> Any:
    cls = resolve(STAGES, name)
    tmp = Path(tempfile.mkdtemp(prefix="bench_ops_"))
    run = RunInfo(seed=0, output_dir=tmp / "out", work_dir=tmp / "work", sources=["web"])
    ctx = TaskContext(run=run, task_id="t0", label=f"0:{name}", stats=Stats(), task_dir=tmp / "t", publish_dir=tmp / "p")
    return cls(cls.Params(**options), ctx)


def ours_kept(name: str, texts: list[str], metas: list[dict] | None = None, **options: Any) -> dict[int, str]:
    st = stage(name, **options)
    docs = [Document(id=str(i), text=t, source="web", meta=dict(metas[i]) if metas else {}) for i, t in enumerate(texts)]
    out = {int(d.id): d.text for d in st.process(docs)}
    st.close()
    return out


def dt_kept(step: Any, texts: list[str], metas: list[dict] | None = None) -> dict[int, str]:
    from datatrove.data import Document as DtDoc

    docs = (DtDoc(text=t, id=str(i), metadata=dict(metas[i]) if metas else {}) for i, t in enumerate(texts))
    return {int(d.id): d.text for d in step.run(docs, rank=0, world_size=1)}


def agreement(a: dict[int, str], b: dict[int, str], n: int, *, text: bool) -> tuple[float, list[int]]:
    diffs = [i for i in range(n) if (i in a) != (i in b) or (text and i in a and a[i] != b[i])]
    return 1 - len(diffs) / n, diffs


# ---- fix_text ---------------------------------------------------------------------------------
def bench_fix_text(texts: list[str]) -> None:
    from datatrove.pipeline.formatters import FTFYFormatter

    t_dt, theirs = cpu(lambda: dt_kept(FTFYFormatter(), texts))
    t_us, ours = cpu(lambda: ours_kept("fix_text", texts))
    agree, diffs = agreement(ours, theirs, len(texts), text=True)
    changed = sum(1 for i, t in enumerate(texts) if ours.get(i, t) != t)
    row("fix_text", "FTFYFormatter", f"{agree:.2%} identical ({len(diffs)} differ)", len(texts) / t_us,
        len(texts) / t_dt, f"{changed} of {len(texts)} documents changed")


# ---- c4_badwords ------------------------------------------------------------------------------
def bench_badwords(texts: list[str]) -> None:
    """Every document as English (both sides' default_language: the web sample has no language field)."""
    import datatrove.pipeline.filters.c4_filters as c4f

    lists = REPO / "data" / "badwords" / "ldnoobw"
    c4f.cached_asset_path_or_download = lambda url, **_: str(lists / url.rsplit("/", 1)[-1])
    t_dt, theirs = cpu(lambda: dt_kept(c4f.C4BadWordsFilter(), texts))
    t_us, ours = cpu(lambda: ours_kept("c4_badwords", texts))
    agree, diffs = agreement(ours, theirs, len(texts), text=False)
    row("c4_badwords", "C4BadWordsFilter", f"{agree:.2%} ({len(diffs)} differ)", len(texts) / t_us, len(texts) / t_dt,
        f"dropped {len(texts) - len(ours)} of {len(texts)}")


# ---- decontaminate ----------------------------------------------------------------------------
def reference_sets(tmp: Path) -> list[dict[str, Any]]:
    """ARC-Challenge plus nine instruction sets from ../shared (Alpaca, Self-Instruct...) as
    stand-ins for more benchmarks: 10 sets of items with a question and an answer."""
    refs = [{"name": "arc_challenge", "path": str(REPO / "data/benchmarks/arc_challenge.jsonl"),
             "fields": ["query+choices[gold]"]}]
    alpaca = json.loads((SHARED / "instructions/llama-factory/alpaca_en_demo.json").read_text())
    pools = {"alpaca": [{"q": r["instruction"] + " " + r.get("input", ""), "a": r["output"]} for r in alpaca]}
    for name, rel in (("self_instruct", "self-instruct/seed_tasks.jsonl"), ("gpteacher", "gpteacher/code_seed_tasks.jsonl"),
                      ("wild", "instructionwild/seed_prompts_en.jsonl")):
        rows = [json.loads(line) for line in open(SHARED / "instructions" / rel, encoding="utf-8") if line.strip()]
        pools[name] = [{"q": json.dumps(r, ensure_ascii=False)[:2000], "a": ""} for r in rows]
    items = [x for p in pools.values() for x in p]
    random.Random(0).shuffle(items)
    for k in range(9):
        part = items[k::9]
        path = tmp / f"set{k}.jsonl"
        path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in part))
        refs.append({"name": f"set{k}", "path": str(path), "fields": ["q+a"]})
    return refs


def dt_hashes(label: str, query: str, cfg: Any, tok: Any, hash_func: Any) -> list[int]:
    """What ``NGramsDecontIndexer.compute_hashes`` returns (its class cannot be built without
    lighteval, so its steps are called here: label n-grams plus query/label overlap n-grams)."""
    from datatrove.utils.text import ngrams, simplify_text

    n = cfg.n_grams
    lab = tok.word_tokenize(simplify_text(label, cfg.norm_config))
    qry = tok.word_tokenize(simplify_text(query, cfg.norm_config))
    grams = [list(g) for g in ngrams(lab, n)]
    grams += [qry[-n + 1 + i:] + lab[: i + 1] for i in range(n - 1) if len(qry) >= n - 1 - i and len(lab) >= i + 1]
    return [hash_func(" ".join(g)) for g in grams]


def dt_decont(refs: list[dict[str, Any]], tmp: Path, n: int) -> Any:
    import numpy as np
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.utils.hashing import HashConfig, create_hash_func
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    cfg = NGramsDecontConfig(n_grams=n, hash_config=HashConfig(hash_fc="sha1"))
    tok, hash_func = load_word_tokenizer("en"), create_hash_func(cfg.hash_config)
    folder = tmp / "dt_index"
    folder.mkdir()
    for ref in refs:
        hashes: set[int] = set()
        for line in open(ref["path"], encoding="utf-8"):
            r = json.loads(line)
            q, a = (r["query"], r["choices"][r["gold"]]) if "gold" in r else (r["q"], r["a"] or r["q"])
            hashes.update(dt_hashes(a, q, cfg, tok, hash_func))
        np.array(sorted(hashes), dtype=np.uint64).tofile(folder / f"{ref['name']}.index.hashes")
    return NGramsDecontFilter(index_folder=str(folder), config=cfg)


def bench_decontaminate(clean: list[str], limit: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_decont_"))
    refs = reference_sets(tmp)
    items = arc_items(REPO / "data/benchmarks/arc_challenge.jsonl")
    hosts = clean[:limit]
    planted = planted_docs(hosts, items, edited=False) + planted_docs(hosts, items, edited=True, seed=1)
    texts = hosts + planted
    flt = dt_decont(refs, tmp, 13)
    # both indexes are loaded before the clock starts: each is built or read once per run
    # (ours: by the first task, then memory-mapped), so docs/s is the per-document cost
    t_build, _ = cpu(flt.load_index_hashes)
    ours_stage = stage("decontaminate", references=refs)
    t_ours_build, _ = cpu(lambda: ours_stage.index)

    def ours_run(batch: list[str]) -> dict[int, str]:
        docs = [Document(id=str(i), text=t, source="web") for i, t in enumerate(batch)]
        return {int(d.id): d.text for d in ours_stage.process(docs)}

    t_dt, theirs = cpu(lambda: dt_kept(flt, texts))
    t_us, ours = cpu(lambda: ours_run(texts))
    agree, _ = agreement(ours, theirs, len(texts), text=False)
    n = len(hosts)
    fp_us, fp_dt = n - sum(i in ours for i in range(n)), n - sum(i in theirs for i in range(n))
    rec = lambda kept, lo, hi: sum(i not in kept for i in range(lo, hi)) / (hi - lo)  # noqa: E731
    m = len(items)
    row("decontaminate", "NGramsDecontFilter (13-grams)", f"{agree:.2%} of {len(texts)}", len(texts) / t_us,
        len(texts) / t_dt,
        f"10 sets; {n} clean + {2 * m} planted (70% contaminated); recall whole/edited ours "
        f"{rec(ours, n, n + m):.3f}/{rec(ours, n + m, n + 2 * m):.3f}, "
        f"datatrove {rec(theirs, n, n + m):.3f}/{rec(theirs, n + m, n + 2 * m):.3f}; "
        f"false positives on {n} clean docs: ours {fp_us}, datatrove {fp_dt}; "
        f"index build+load once per run: ours {t_ours_build:.2f} s, datatrove load {t_build:.2f} s")
    t_clean, _ = cpu(lambda: ours_run(hosts * 2))
    t_clean_dt, _ = cpu(lambda: dt_kept(flt, hosts * 2))
    ours_stage.close()
    row("decontaminate (clean docs only)", "NGramsDecontFilter", "-", 2 * n / t_clean, 2 * n / t_clean_dt,
        "the common case: no match")


# ---- span dedup -------------------------------------------------------------------------------
def dt_sentence(texts: list[str], tmp: Path, *, lines: bool) -> dict[int, str]:
    from datatrove.pipeline.dedup.sentence_dedup import (SentDedupConfig, SentenceDedupFilter, SentenceDedupSignature,
                                                         SentenceFindDedups)
    from datatrove.utils.hashing import HashConfig

    cfg = (SentDedupConfig(n_sentences=1, split_sentences=False, min_num_sentences=0, hash_config=HashConfig(hash_fc="sha1"))
           if lines else SentDedupConfig(hash_config=HashConfig(hash_fc="sha1")))
    SentenceDedupSignature(output_folder=str(tmp / "sigs"), config=cfg).run(mk_dt(texts), rank=0, world_size=1)
    SentenceFindDedups(data_folder=str(tmp / "sigs"), output_folder=str(tmp / "dups"), config=cfg).run(rank=0, world_size=1)
    return dt_kept(SentenceDedupFilter(data_folder=str(tmp / "dups"), config=cfg), texts)


def mk_dt(texts: list[str]) -> list[Any]:
    from datatrove.data import Document as DtDoc

    return [DtDoc(text=t, id=str(i)) for i, t in enumerate(texts)]


def ours_span(name: str, texts: list[str], tmp: Path, **options: Any) -> dict[int, str]:
    cls = resolve(STAGES, name)
    run = Harness(tmp).run(cls, options, [[Document(id=str(i), text=t, source="web") for i, t in enumerate(texts)]])
    return {int(d.id): d.text for t in run.kept for d in t}


def bench_span_dedup(texts: list[str]) -> None:
    for name, lines, peer in (("sentence_dedup", False, "SentenceDedup"),
                              ("paragraph_dedup", True, "SentenceDedup(split_sentences=False, n_sentences=1)")):
        t_dt, theirs = cpu(lambda: dt_sentence(texts, Path(tempfile.mkdtemp()), lines=lines))
        t_us, ours = cpu(lambda: ours_span(name, texts, Path(tempfile.mkdtemp())))
        if lines:  # datatrove lstrips the rebuilt text; we strip both ends
            theirs = {i: t.rstrip() for i, t in theirs.items()}
        agree, diffs = agreement(ours, theirs, len(texts), text=True)
        changed = sum(1 for i, t in enumerate(texts) if ours.get(i) != t)
        row(name, peer, f"{agree:.2%} same decision and text ({len(diffs)} differ)", len(texts) / t_us,
            len(texts) / t_dt, f"{len(texts)} docs, {changed} changed or dropped")
        t_b, bl = cpu(lambda: ours_span(name, texts, Path(tempfile.mkdtemp()), method="bloom"))
        a_b, _ = agreement(bl, ours, len(texts), text=True)
        row(f"{name} (method: bloom)", peer, f"{a_b:.2%} same as sorted", len(texts) / t_b, len(texts) / t_dt, "p = 1e-4")


def record_sentence_fixture() -> None:
    texts = corpus(c4_texts())
    kept = dt_sentence(texts, Path(tempfile.mkdtemp()), lines=False)
    FIXTURE.write_text(json.dumps({"datatrove": "0.10", "corpus": "tests/dedup/test_sentence.py:corpus(c4_texts())",
                                   "decisions": [digest(kept[i]) if i in kept else None for i in range(len(texts))]},
                                  indent=0) + "\n")


# ---- code_quality -----------------------------------------------------------------------------
def bench_code_quality() -> None:
    from tests.filters.test_code_quality import github_sample

    docs = github_sample(REPO / "data") * 20
    st = stage("code_quality")
    t, kept = cpu(lambda: sum(1 for _ in st.process(docs)))
    row("code_quality", "(none in datatrove)", "-", len(docs) / t, None, f"bundled GitHub sample x20: kept {kept} of {len(docs)}")


BENCHES = ("fix_text", "c4_badwords", "decontaminate", "span_dedup", "code_quality")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=2000, help="web documents per comparison")
    ap.add_argument("--only", action="append", choices=BENCHES,
                    help="run these comparisons only and replace just their rows in the results file")
    args = ap.parse_args()
    only = set(args.only or BENCHES)
    texts = [t for _, t in web_docs()][: args.limit]
    if "span_dedup" in only:
        record_sentence_fixture()
    if "fix_text" in only:
        bench_fix_text(texts)
    if "c4_badwords" in only:
        bench_badwords(texts)
    if "decontaminate" in only:
        bench_decontaminate([t for _, t in web_docs()], min(args.limit, 1000))
    if "span_dedup" in only:
        bench_span_dedup(corpus(texts, mixes=len(texts) // 5))
    if "code_quality" in only:
        bench_code_quality()
    out = REPO / "benchmarks" / "results" / "operators.md"
    rows = ROWS
    if args.only and out.exists():  # keep the other comparisons' rows, in their places
        fresh = {r.split(" | ")[0]: r for r in ROWS}
        old = [line for line in out.read_text().splitlines() if line.startswith("| ") and not line.startswith("| stage")]
        rows = [fresh.pop(line.split(" | ")[0], line) for line in old] + list(fresh.values())
        # the closing remark is about the decontamination rows: it goes when they are measured again
        text = out.read_text()
        notes = text.split("\n\n")[-1].strip() if "\n\nAfter" in text and "decontaminate" not in only else ""
    else:
        notes = ""
    out.write_text("\n".join([
        "# Curation operators against datatrove 0.10 (benchmarks/bench_operators.py)", "",
        f"Same documents, same process; docs/s = documents per CPU-second (one core). "
        f"Web documents: ../shared/data/text/web (DCLM, C4, FineWeb, HPLT, Data-Juicer), first {args.limit}.", "",
        "| stage | datatrove peer | agreement | ours docs/s | datatrove docs/s | ratio | notes |",
        "|---|---|---|---|---|---|---|", *rows, "", *([notes] if notes else [])]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
