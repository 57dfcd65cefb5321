"""The kill loop in append (cron) mode: a nightly pipeline over several days of input files.

Each day adds files to the crawl folder: new documents (real web text from data/ and
../shared/data), and from the second day on a file that brings back documents of earlier
days, as exact copies and as near-copies (one sentence added), so the cross-run MinHash
index has work. The pipeline (``append: true``, ``minhash_dedup: {index: ...}``) runs once
per day.

1. **Clean sequence**: day 1 .. N, each run to completion, unkilled; the fingerprint of the
   output and the index after each day is the reference.
2. **Killed sequences** (``--append-rounds``): the same days from scratch, on the same paths;
   each day's run is killed 1-3 times in a row (each kill on a fresh start that resumes the
   last), then run to completion, and the fingerprint is compared with the clean one of that
   day before the next day's files arrive. A kill is one of: a **failpoint**
   (``DATAFORGE_KILL_AT``: the run SIGKILLs itself at ``published``, ``committed``,
   ``manifest``, ``confirmed`` or ``complete``; every point on every day over 5 rounds), a
   **moment** (a fraction of the clean day's wall time), or an **event** seen on disk plus
   0-250 ms (a task commit, the dedup reduce, packing, the manifest rewritten); SIGKILL to
   the whole process group.

Compared: shard sha256 list (re-hashed), every file under shards/, the manifest without
timestamps (its ``runs`` listed apart), every stats counter but timings, the index's
generations (name, run, state, docs, format, owner) and every file of every generation.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kill_loop import (REPO, SHARED, _count, _strip, _tree_sums, doc_counts, group_alive, kill_group, run_to_kill,
                       shard_sums, start)

from dataforge.runner.failpoints import POINTS

POOL = [REPO / "data/c4/tiny_c4_sample.jsonl", SHARED / "text/web/dclm/majority_data.jsonl"]
EVENTS = ("phase0_commit", "reduce", "pack", "manifest")
PIPELINE = """\
name: nightly
seed: 1234
output: {out}
append: true
executor: {{kind: local, workers: 2}}
inputs:
  crawl: {{reader: jsonl, paths: "{src}/*.jsonl"}}
stages:
  - gopher_quality: {{}}
  - minhash_dedup: {{index: {index}}}
  - tokenize: {{tokenizer: {repo}/data/tokenizer.json, seq_len: 256, shard_tokens: 65536}}
"""


# ---- the days --------------------------------------------------------------------------------
def day_files(*, days: int, per_day: int, seed: int) -> list[dict[str, bytes]]:
    """For each day, file name -> bytes: two files of ``per_day`` new documents in all, and
    from day 2 one more of earlier days' documents (1 in 5 of them: half exact, half with a
    sentence added)."""
    texts = []
    for path in POOL:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text", "") if line.strip() else ""
            if len(text) > 300:
                texts.append(text)
    random.Random(seed).shuffle(texts)
    out: list[dict[str, bytes]] = []
    seen: list[str] = []
    for d in range(days):
        new = texts[d * per_day:(d + 1) * per_day]
        files = {f"day{d + 1}-a.jsonl": _jsonl(f"d{d + 1}a", new[: len(new) // 2]),
                 f"day{d + 1}-b.jsonl": _jsonl(f"d{d + 1}b", new[len(new) // 2:])}
        if seen:
            back = seen[::5]
            again = [t if k % 2 == 0 else t + " This page was updated since." for k, t in enumerate(back)]
            files[f"day{d + 1}-c.jsonl"] = _jsonl(f"d{d + 1}c", again)
        seen += new
        out.append(files)
    return out


def _jsonl(prefix: str, texts: list[str]) -> bytes:
    return "".join(json.dumps({"id": f"{prefix}-{k}", "text": t}) + "\n" for k, t in enumerate(texts)).encode()


def add_day(src: Path, files: dict[str, bytes], day: int) -> None:
    """Write one day's files with fixed modification times: an input's version (and so the task
    ids and the index's run keys) is the same in every sequence of days."""
    src.mkdir(parents=True, exist_ok=True)
    for k, (name, data) in enumerate(sorted(files.items())):
        (src / name).write_bytes(data)
        t = 1_700_000_000_000_000_000 + day * 86_400_000_000_000 + k * 1_000_000_000
        os.utime(src / name, ns=(t, t))


# ---- fingerprint -----------------------------------------------------------------------------
def fingerprint(out: Path, index: Path) -> dict[str, Any]:
    manifest = _strip(json.loads((out / "manifest.json").read_text()))
    state = json.loads((index / "index.json").read_text())
    return {"shards": shard_sums(out), "shard_files": _tree_sums(out / "shards"), "stats": doc_counts(out),
            "manifest": {k: v for k, v in manifest.items() if k != "runs"}, "runs": manifest.get("runs"),
            "generations": _strip(state["generations"]),
            "index_files": {k: v for k, v in _tree_sums(index).items() if not k.startswith(".") and k != "index.json"}}


def differences(got: dict[str, Any] | None, want: dict[str, Any]) -> list[str]:
    if got is None:
        return ["no output"]
    out = []
    for key in want:
        if got.get(key) == want[key]:
            continue
        if key == "generations":
            a, b = got[key], want[key]
            out.append(f"generations: {[(g['name'], g['state'], g.get('docs')) for g in a]} vs clean "
                       f"{[(g['name'], g['state'], g.get('docs')) for g in b]}")
        elif isinstance(want[key], dict):
            keys = sorted(set(got.get(key) or {}) ^ set(want[key]) |
                          {k for k in want[key] if (got.get(key) or {}).get(k) != want[key][k]})
            out.append(f"{key}: {keys[:6]}{' ...' if len(keys) > 6 else ''}")
        else:
            out.append(key)
    return out


# ---- one killed start ----------------------------------------------------------------------------
def _manifest_mtime(out: Path) -> float:
    try:
        return (out / "manifest.json").stat().st_mtime_ns
    except OSError:
        return 0


def event_predicate(kind: str, k: int, out: Path) -> Callable[[], bool]:
    """True once the event has happened on disk since the start (earlier days' files discounted)."""
    if kind == "phase0_commit":
        base = _count(out, "_work/*/phase-0/*.done")
        return lambda: _count(out, "_work/*/phase-0/*.done") >= base + k
    if kind == "reduce":
        return lambda: _count(out, "_work/*/barriers/.tmp-*") > 0
    if kind == "pack":
        return lambda: _count(out, "_work/*/.tmp-pack-*") > 0
    if kind == "manifest":
        before = _manifest_mtime(out)
        return lambda: _manifest_mtime(out) != before
    raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENTS}")


def kill_day(pipeline: Path, out: Path, point: dict[str, Any], clean_s: float, log: Path) -> str:
    """Start the run and kill it at ``point``; returns "killed" or why not."""
    if point["kind"] == "failpoint":
        proc = start(pipeline, None, log, DATAFORGE_KILL_AT=point["at"])
        rc = proc.wait()
        kill_group(proc)  # the driver killed itself: its workers go with it
        return "killed" if rc == -9 else f"not reached (exit {rc})"
    return run_to_kill(pipeline, out, point, clean_s, log, override=False, predicate=event_predicate)


def finish(pipeline: Path, log: Path) -> int:
    proc = start(pipeline, None, log)
    rc = proc.wait()
    deadline = time.monotonic() + 30
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return rc


def draw(rng: random.Random, *, rnd: int, day: int) -> list[dict[str, Any]]:
    """1-3 kills for one day: the failpoint this (round, day) owns, and random moments or events."""
    group: list[dict[str, Any]] = [{"kind": "failpoint", "at": POINTS[(rnd + day) % len(POINTS)]}]
    for _ in range(rng.randint(0, 2)):
        if rng.random() < 0.5:
            group.append({"kind": "time", "at": rng.uniform(0.0, 1.05)})
        else:
            group.append({"kind": rng.choice(EVENTS), "k": rng.randint(1, 3), "delay": rng.uniform(0.0, 0.25)})
    rng.shuffle(group)
    return group


# ---- the loop --------------------------------------------------------------------------------
def append_loop(work: Path, *, days: int, per_day: int, rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    plan = day_files(days=days, per_day=per_day, seed=seed)
    seq = work / "nightly"  # every sequence runs on these same paths (doc ids and run keys depend on them)
    out, index, src = seq / "out", seq / "index", seq / "crawl"
    pipeline = work / "nightly.yaml"
    pipeline.write_text(PIPELINE.format(out=out, index=index, src=src, repo=REPO))

    shutil.rmtree(seq, ignore_errors=True)
    clean, clean_s = [], []
    for d, files in enumerate(plan):
        add_day(src, files, d)
        t0 = time.monotonic()
        rc = finish(pipeline, logs / "clean.log")
        clean_s.append(time.monotonic() - t0)
        if rc != 0:
            raise SystemExit(f"clean day {d + 1} failed (exit {rc}); see {logs / 'clean.log'}")
        clean.append(fingerprint(out, index))
        print(f"clean day {d + 1}: {clean_s[-1]:.1f} s, {len(clean[-1]['shards'])} shards, "
              f"{len(clean[-1]['generations'])} generations", flush=True)

    groups = []
    for r in range(rounds):
        shutil.rmtree(seq, ignore_errors=True)
        for d, files in enumerate(plan):
            add_day(src, files, d)
            log = logs / f"round{r}-day{d + 1}.log"
            group = draw(rng, rnd=r, day=d)
            for p in group:
                p["result"] = kill_day(pipeline, out, p, clean_s[d], log)
            rc = finish(pipeline, log)
            try:
                got = fingerprint(out, index) if rc in (0, 4) else None
            except (OSError, ValueError, KeyError) as exc:
                got, rc = None, f"{rc} ({type(exc).__name__}: {exc})"
            diff = differences(got, clean[d]) if got is not None else [f"exit {rc}"]
            groups.append({"round": r, "day": d + 1, "points": group, "rerun_exit": rc, "diff": diff})
            desc = ", ".join(f"{_name(p)}: {p['result']}" for p in group)
            print(f"round {r + 1} day {d + 1}: {desc}; rerun exit {rc}; differences: {diff or 'none'}", flush=True)
    return {"groups": groups, "clean_s": clean_s, "days": days, "per_day": per_day, "rounds": rounds,
            "files": sum(len(f) for f in plan), "docs": sum(len(b.splitlines()) for f in plan for b in f.values())}


def _name(p: dict[str, Any]) -> str:
    if p["kind"] == "failpoint":
        return f"failpoint {p['at']}"
    return f"{p['kind']}@{p['at']:.2f}" if p["kind"] == "time" else f"{p['kind']}#{p['k']}"


def report_lines(res: dict[str, Any]) -> list[str]:
    groups = res["groups"]
    points = [p for g in groups for p in g["points"]]
    kinds = [*(f"failpoint {x}" for x in POINTS), "time", *EVENTS]
    key = (lambda p: f"failpoint {p['at']}" if p["kind"] == "failpoint" else p["kind"])
    drawn = Counter(key(p) for p in points)
    delivered = Counter(key(p) for p in points if p["result"] == "killed")
    bad = [g for g in groups if g["diff"]]
    lines = [
        "## Append mode (cron): a nightly pipeline over several days, killed every day",
        "",
        f"{res['days']} days, {res['files']} JSONL files, {res['docs']} documents (real web text: data/c4 and "
        "shared DCLM; from day 2 a file of earlier days' documents, half exact copies, half with a sentence "
        "added); pipeline `append: true`: gopher_quality -> minhash_dedup with `index:` -> tokenize, local "
        f"executor with 2 workers. Clean days took {', '.join(f'{s:.1f}' for s in res['clean_s'])} s.",
        "",
        f"Rounds (the whole sequence of days from scratch, each day killed then completed, then compared with "
        f"the clean sequence's same day): **{res['rounds']}**; days run: {len(groups)}. Kill points drawn: "
        f"**{len(points)}**; delivered: **{sum(delivered.values())}**; **days with any difference: {len(bad)}**.",
        "",
        "| kill point | drawn | delivered |",
        "|---|---:|---:|",
        *(f"| {k} | {drawn.get(k, 0)} | {delivered.get(k, 0)} |" for k in kinds),
        "",
        "Completing runs' exit codes: " + ", ".join(f"{k}: {v}" for k, v in
                                                    sorted(Counter(str(g["rerun_exit"]) for g in groups).items())),
        "",
    ]
    for g in bad:
        lines.append(f"- DIFFERENCE on day {g['day']} (round {g['round'] + 1}) after "
                     f"{[(_name(p), p['result']) for p in g['points']]}: {g['diff']}")
    return lines + [""] if bad else lines
