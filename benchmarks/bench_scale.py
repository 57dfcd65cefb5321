"""Scale-out figures of `dataforge run`, all from one command on the same input:

1. local-1, local-2 and Ray on 2 CPUs, same pipeline and seed (langid -> Gopher -> C4 ->
   FineWeb filters -> minhash_dedup -> write -> mix -> tokenize) on real files from data/
   and ../shared/data plus a generated JSONL corpus up to ``--mb`` (documents made of
   halves of two real documents, so the dedup keeps them): wall, CPU, cores busy, the
   local-2 / local-1 speedup, Ray-2 / local-2 without Ray's start, shards byte-identical.
2. The serial share: the wall time spent outside every executor map call (from the
   executor's profile, ``$DATAFORGE_EXECUTOR_PROFILE``) and the driver's own CPU seconds.
3. An Amdahl table to 16 and 64 workers from local-1's measured serial seconds and each
   map call's task seconds (each call's tasks packed longest-first onto n workers, so a
   call can never finish before its longest task).
4. One big JSONL file (``--big-mb``, 1 GB by default) through the same chain on 2 workers,
   split into tasks (``executor.task_bytes``) and not: wall, tasks, each worker's CPU.

    .venv/bin/python benchmarks/bench_scale.py            # the full figures (~1 h on 2 cores)
    .venv/bin/python benchmarks/bench_scale.py --quick    # 20 MB, a 100 MB big file (~10 min)
Writes benchmarks/results/scale.md (scale-quick.md with --quick). Needs the ray extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

# source -> (reader options, files); names keep their suffix, the reader picks by it
SOURCES: dict[str, tuple[str, list[Path]]] = {
    "web": ("{reader: warc}", [*sorted((REPO / "data/warc").glob("*.warc.gz")),
                               *sorted((SHARED / "warc/servo").glob("*.warc.gz")),
                               SHARED / "warc/dolma/sample-0000.warc.gz",
                               SHARED / "warc/resiliparse/warcfile.warc.gz",
                               SHARED / "warc/node-warc/parseMe.warc.gz",
                               SHARED / "text/web/dolma/sample-0001.warc.gz"]),
    "fineweb": ("{reader: parquet}", [REPO / "data/web/fineweb-sample.parquet",
                                      *sorted((SHARED / "text/web/fineweb-legal").glob("*.parquet"))]),
    "c4": ("{reader: jsonl}", [REPO / "data/c4/tiny_c4_sample.jsonl", REPO / "data/c4/olmo-c4-sample.01.jsonl.gz",
                               SHARED / "text/web/dclm/majority_data.jsonl",
                               *sorted((SHARED / "text/dolma").glob("cc_en_head-*.jsonl")),
                               *sorted((SHARED / "text/web/data-juicer").glob("redpajama-*.jsonl"))]),
    "wiki": ("{reader: text, split: line}", [REPO / "data/wiki/wiki_demo.txt", SHARED / "text/wikitext-2/valid.txt"]),
    "books": ("{reader: text, split: file}", [*sorted((REPO / "data/books").glob("*.txt")),
                                              SHARED / "text/gutenberg/1342-0.txt"]),
}
# real English web text (JSONL, field "text") the generated corpus is made from
GEN_FROM = [REPO / "data/c4/tiny_c4_sample.jsonl", SHARED / "text/web/dclm/majority_data.jsonl",
            *sorted((SHARED / "text/dolma").glob("cc_en_head-*.jsonl")),
            *sorted((SHARED / "text/web/data-juicer").glob("redpajama-*.jsonl")),
            SHARED / "text/web/recdp/tiny_c4_sample.jsonl", SHARED / "text/llama-factory/c4_demo.jsonl"]

PIPELINE = """\
name: bench_scale
seed: 1234
output: {out}
executor: {executor}
inputs:
{inputs}
stages:
  - langid: {{languages: [en], min_score: 0.65}}
  - gopher_repetition: {{sources: {filtered}}}
  - gopher_quality: {{sources: {filtered}}}
  - c4: {{filter_no_terminal_punct: false, sources: {filtered}}}
  - fineweb_quality: {{sources: {filtered}}}
  - minhash_dedup: {{}}
  - write: {{format: jsonl}}
  - mix: {{target_tokens: {target_tokens}, max_epochs: 2}}
  - tokenize: {{tokenizer: {repo}/data/tokenizer.json, seq_len: 512, shard_tokens: 1048576, validation_fraction: 0.02}}
"""

EXECUTORS = {"local-1": "{kind: local, workers: 1}", "local-2": "{kind: local, workers: 2}",
             "ray-2": "{kind: ray, num_cpus: 2}"}
PROFILE_ENV = "DATAFORGE_EXECUTOR_PROFILE"  # dataforge.runner.executor.PROFILE_ENV


# ---- inputs -------------------------------------------------------------------------------------
def base_texts() -> list[str]:
    texts = []
    for path in GEN_FROM:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text", "") if line.strip() else ""
            if len(text) > 400:
                texts.append(text)
    return texts


def _half(text: str, first: bool) -> str:
    mid = text.find(" ", len(text) // 2)
    mid = len(text) // 2 if mid < 0 else mid
    return text[:mid] if first else text[mid:]


def write_corpus(dest: Path, *, mb: float, files: int, name: str = "gen") -> list[Path]:
    """``files`` JSONL files of about ``mb`` MB in all; document (k, i) is the first half of
    real document i and the second half of document i + k (Jaccard to its neighbours ~1/3,
    under the dedup threshold: the dedup keeps them and the tokenizer sees them all)."""
    texts = base_texts()
    n, budget = len(texts), int(mb * 1e6)
    per_file = budget // max(1, files)
    dest.mkdir(parents=True, exist_ok=True)
    paths, k, i = [], 1, 0
    for f in range(files):
        path = dest / f"{name}-{f:03d}.jsonl"
        paths.append(path)
        if path.exists() and abs(path.stat().st_size - per_file) < per_file * 0.05 + 1e5:
            continue
        written = 0
        with open(path, "w", encoding="utf-8") as fh:
            while written < per_file:
                line = json.dumps({"id": f"{name}-{k}-{i}", "text": _half(texts[i], True) +
                                   _half(texts[(i + k) % n], False)}) + "\n"
                fh.write(line)
                written += len(line.encode())
                i += 1
                if i == n:
                    i, k = 0, k + 1
    return paths


def build_input(dest: Path, *, mb: float, gen_files: int = 8) -> list[Path]:
    """The real files once (mtimes kept: task ids stable), then generated JSONL up to ``mb``."""
    files = []
    for source, (_, paths) in SOURCES.items():
        (dest / source).mkdir(parents=True, exist_ok=True)
        for p in paths:
            target = dest / source / f"{p.parent.name}-{p.name}"
            if not target.exists():
                shutil.copy2(p, target)
            files.append(target)
    real = sum(f.stat().st_size for f in files)
    if mb * 1e6 > real:
        files += write_corpus(dest / "gen", mb=(mb * 1e6 - real) / 1e6, files=gen_files)
    return files


def write_pipeline(path: Path, *, inp: Path, out: Path, executor: str, sources: list[str] | None = None,
                   target_tokens: int = 50_000_000) -> Path:
    opts = {**{s: o for s, (o, _) in SOURCES.items()}, "gen": "{reader: jsonl}"}
    names = sources or [s for s in opts if (inp / s).is_dir()]
    inputs = "\n".join(f"  {s}: {opts[s][:-1]}, paths: \"{inp}/{s}/*\"}}" for s in names)
    filtered = "[" + ", ".join(s for s in ("web", "fineweb", "c4", "gen") if s in names) + "]"  # web text only
    path.write_text(PIPELINE.format(out=out, executor=executor, inputs=inputs, repo=REPO, target_tokens=target_tokens,
                                    filtered=filtered))
    return path


# ---- measuring a run ----------------------------------------------------------------------------
def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _proc(pid: int) -> tuple[list[str], str, int] | None:
    """(/proc stat fields after "(comm)", command line, peak RSS bytes = VmHWM) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    hwm = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return raw[raw.rindex(")") + 2:].split(), cmd, hwm


SYSTEM = ("gcs_server", "raylet", "dashboard", "log_monitor", "ray::DashboardAgent", "ray::RuntimeEnvAgent",
          "runtime_env", "monitor.py", "forkserver", "resource_tracker")


class Sampler(threading.Thread):
    """CPU seconds and peak RSS of a process and everything below it, from /proc every
    ``interval`` s, by role: the driver (the root), workers (pool processes, Ray workers),
    system (Ray's daemons, the forkserver). A process counts at its last sample."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.procs: dict[tuple[int, str], dict[str, Any]] = {}
        self.done = threading.Event()

    def sample(self) -> None:
        table = {}
        for e in Path("/proc").iterdir():
            if e.name.isdigit() and (info := _proc(int(e.name))):
                table[int(e.name)] = info
        children: dict[int, list[int]] = {}
        for pid, (st, _, _) in table.items():
            children.setdefault(int(st[1]), []).append(pid)
        todo, seen = [self.root], set()
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in table:
                continue
            seen.add(pid)
            todo.extend(children.get(pid, []))
            st, cmd, hwm = table[pid]
            parent_cmd = table.get(int(st[1]), (None, "", 0))[1]
            if pid == self.root:
                role = "driver"
            elif "forkserver" in parent_cmd:  # a pool worker (its command line is the forkserver's)
                role = "worker"
            else:
                role = "system" if any(s in cmd for s in SYSTEM) else "worker"
            rec = self.procs.setdefault((pid, st[19]), {"role": role, "cpu": 0.0, "rss": 0})
            rec["cpu"] = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
            rec["rss"] = max(rec["rss"], hwm)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def by_role(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for role in ("driver", "worker", "system"):
            recs = [r for r in self.procs.values() if r["role"] == role]
            out[role] = {"cpu": sum(r["cpu"] for r in recs), "rss": max((r["rss"] for r in recs), default=0),
                         "each_cpu": sorted((round(r["cpu"], 1) for r in recs if r["cpu"] >= 0.5), reverse=True)}
        return out


def run_measured(pipeline: Path, out: Path, work: Path, name: str) -> dict[str, Any]:
    """One `dataforge run` from an empty output: wall, CPU and peak RSS by role, the executor profile."""
    shutil.rmtree(out, ignore_errors=True)
    profile = work / f"{name}.profile.json"
    profile.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled", PROFILE_ENV: str(profile)}
    load = load_average()
    t0 = time.perf_counter()
    with open(work / f"{name}.log", "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "dataforge", "run", str(pipeline)], cwd=REPO, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
    sampler = Sampler(proc.pid)
    sampler.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    if rc != 0:
        raise SystemExit(f"{pipeline}: exit {rc}; see {work / f'{name}.log'}")
    roles = sampler.by_role()
    prof = json.loads(profile.read_text())
    row = {"name": name, "wall": wall, "load": load, "roles": roles, "profile": prof,
           "cpu": sum(r["cpu"] for r in roles.values())}
    row["outside_map"] = wall - prof["wall_in_map"]
    print(f"{name}: {wall:.1f} s wall, {row['cpu']:.1f} CPU s, driver {roles['driver']['cpu']:.1f} CPU s, "
          f"{row['outside_map']:.1f} s outside map (load {load})", flush=True)
    return row


def shard_sums(out: Path) -> list[tuple[str, str]]:
    """(shard file, sha256) as the manifest lists them, each re-hashed from the file on disk."""
    from dataforge.tokenize.shards import manifest_shards

    sums = []
    for path, entry in manifest_shards(out):
        real = hashlib.sha256(path.read_bytes()).hexdigest()
        sums.append((path.name, entry["sha256"] if real == entry["sha256"] else f"MISMATCH {real}"))
    return sums


# ---- Ray's cost per task, before and after batching ------------------------------------------
BEFORE = "d5fd2d6"  # the commit before reused warm workers and batching (dataforge/runner/ray_executor.py)


def _cpu_task(ms: float) -> tuple[Any, ...]:
    """Arguments of ``statistics.pvariance`` (pure-Python stdlib: every worker imports it by
    name, old executor included) that take about ``ms`` milliseconds of CPU here."""
    import statistics

    t0 = time.process_time()
    statistics.pvariance(range(20_000))
    per = (time.process_time() - t0) / 20_000
    return (range(max(1, int(ms / 1e3 / per))),)


def ray_overhead(n: int) -> dict[str, dict[str, float]]:
    """Seconds per task of ``n`` trivial tasks and of ``n // 10`` 5 ms tasks: the local pool,
    Ray before (one remote call per task, from git ``BEFORE``) and after, all warm."""
    import importlib.util
    import posixpath
    import statistics

    from dataforge.runner.executor import LocalExecutor
    from dataforge.runner.ray_executor import RayExecutor

    src = subprocess.run(["git", "show", f"{BEFORE}:dataforge/runner/ray_executor.py"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.replace("from ..errors", "from dataforge.errors")
    old_path = Path(tempfile.mkdtemp()) / "ray_executor_before.py"
    old_path.write_text(src.replace("from .executor import", "from dataforge.runner.executor import"))
    spec = importlib.util.spec_from_file_location("ray_executor_before", old_path)
    old = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(old)
    os.environ["RAY_AUTH_MODE"] = "disabled"
    jobs = {"trivial": (posixpath.basename, [(f"d/{i}",) for i in range(n)]),
            "5 ms": (statistics.pvariance, [_cpu_task(5.0)] * (n // 10))}
    new = RayExecutor(address=None, num_cpus=2)
    before = old.RayExecutor(address=None, num_cpus=2)  # joins the instance the new one started
    local = LocalExecutor(2)
    out: dict[str, dict[str, float]] = {}
    try:
        for name, ex in (("local-2", local), ("ray-2 before", before), ("ray-2 after", new)):
            out[name] = {}
            for kind, (fn, args) in jobs.items():
                ex.map(fn, args[:8])  # warm: pool up, function exported
                t0 = time.perf_counter()
                ex.map(fn, args)
                out[name][kind] = (time.perf_counter() - t0) / len(args)
    finally:
        local.close()
        new.close()
    return out


# ---- Amdahl -------------------------------------------------------------------------------------
def makespan(tasks: list[float], n: int) -> float:
    """Longest-first greedy packing of the tasks onto ``n`` workers: when the last one ends."""
    import heapq

    loads = [0.0] * min(n, max(1, len(tasks)))
    for t in sorted(tasks, reverse=True):
        heapq.heapreplace(loads, loads[0] + t)
    return max(loads)


def _inline(profile: dict[str, Any], call: dict[str, Any]) -> bool:
    """Did the local executor run this call's tasks in the driver (1 worker, or 1 task)?"""
    return profile["kind"] == "local" and (profile["workers"] == 1 or len(call["task_cpu"]) <= 1)


def cpu_serial(row: dict[str, Any]) -> float:
    """The driver's own CPU seconds: all of its CPU less the tasks it ran inline."""
    prof = row["profile"]
    inline = sum(sum(c["task_cpu"]) for c in prof["calls"] if _inline(prof, c))
    return max(0.0, row["roles"]["driver"]["cpu"] - inline)


def cpu_time_on(row: dict[str, Any], n: int) -> float:
    """Seconds the run would take on ``n`` free cores: its serial CPU plus each call's task
    CPU seconds packed onto ``n`` workers (one worker for calls that ran inline)."""
    prof = row["profile"]
    return cpu_serial(row) + sum(makespan(c["task_cpu"], 1 if _inline(prof, c) else n)
                                 for c in prof["calls"] if c["task_cpu"])


def amdahl(row: dict[str, Any], ns: tuple[int, ...] = (1, 2, 16, 64)) -> list[dict[str, float]]:
    """From a local-1 run (tasks inline in the driver), two ways:

    wall: serial S = wall outside map calls, parallel = the tasks' wall seconds;
    cpu:  serial S = the driver's CPU seconds less its tasks', parallel = the tasks' CPU
          seconds (what other jobs on a shared machine do not inflate).
    Each gives Amdahl's ``S + P/n`` and ``S + sum of each call's tasks packed onto n``."""
    calls = row["profile"]["calls"]
    out = []
    for basis, key in (("wall", "task_seconds"), ("cpu", "task_cpu")):
        par = sum(sum(c[key]) for c in calls)
        if basis == "wall":
            serial = row["outside_map"] + sum(max(0.0, c["wall"] - sum(c[key])) for c in calls)
        else:
            serial = cpu_serial(row)
        t1 = serial + par
        for n in ns:
            packed = serial + sum(makespan(c[key], n) for c in calls if c[key])
            out.append({"basis": basis, "n": n, "serial": serial, "parallel": par, "amdahl_s": serial + par / n,
                        "amdahl_x": t1 / (serial + par / n), "tasks_s": packed, "tasks_x": t1 / packed})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 MB input, 100 MB big file, results/scale-quick.md")
    ap.add_argument("--mb", type=float, default=None, help="input size (default 100, quick 20)")
    ap.add_argument("--big-mb", type=float, default=None, help="the big file (default 1000, quick 100; 0 = skip)")
    ap.add_argument("--task-mb", type=float, default=None,
                    help="task_bytes of the split big-file run (default: the config's 256 MB; quick 16)")
    ap.add_argument("--only", nargs="*", default=list(EXECUTORS))
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    ap.add_argument("--report-only", action="store_true", help="write the report from --work's finished runs")
    ap.add_argument("--big-only", action="store_true",
                    help="only the big-file runs (--big-mb), written to results/scale-big.md")
    ap.add_argument("--overhead-tasks", type=int, default=2000, help="trivial tasks per executor (0 = skip)")
    args = ap.parse_args()
    mb = args.mb if args.mb is not None else (20 if args.quick else 100)
    big_mb = args.big_mb if args.big_mb is not None else (100 if args.quick else 1000)
    task_mb = args.task_mb if args.task_mb is not None else (16 if args.quick else None)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_scale-"))
    work.mkdir(parents=True, exist_ok=True)
    inp = work / "input"
    if args.big_only:
        args.only, args.overhead_tasks = [], 0
    files = [] if args.big_only else build_input(inp, mb=mb)
    in_bytes = sum(f.stat().st_size for f in files)
    print(f"input: {len(files)} files, {in_bytes / 1e6:.1f} MB in {inp}", flush=True)
    saved = work / "rows.json"  # every finished run, so a rerun with the same --work goes on from there
    done = json.loads(saved.read_text()) if saved.exists() else {"rows": {}, "big": {}}
    rows: dict[str, dict[str, Any]] = done["rows"]
    big: dict[str, dict[str, Any]] = done["big"]

    def save() -> None:
        saved.write_text(json.dumps({**done, "rows": rows, "big": big}, default=str))

    for name in [] if args.report_only else args.only:
        if name in rows:
            continue
        pipeline = write_pipeline(work / f"{name}.yaml", inp=inp, out=work / f"out-{name}", executor=EXECUTORS[name])
        rows[name] = run_measured(pipeline, work / f"out-{name}", work, name)
        rows[name]["sums"] = shard_sums(work / f"out-{name}")
        save()
    if big_mb > 0 and not args.report_only:
        big_dir = work / "big"
        big_file = write_corpus(big_dir / "gen", mb=big_mb, files=1, name="big")[0]
        big["file_mb"] = {"mb": big_file.stat().st_size / 1e6}
        for label, task_bytes in (("split", int(task_mb * 1e6) if task_mb else None), ("whole", 1 << 50)):
            if label in big:
                continue
            ex = "{kind: local, workers: 2" + (f", task_bytes: {task_bytes}" if task_bytes else "") + "}"
            pipeline = write_pipeline(work / f"big-{label}.yaml", inp=big_dir, out=work / f"out-big-{label}",
                                      executor=ex, sources=["gen"])
            big[label] = run_measured(pipeline, work / f"out-big-{label}", work, f"big-{label}")
            big[label]["sums"] = shard_sums(work / f"out-big-{label}")
            shutil.rmtree(work / f"out-big-{label}", ignore_errors=True)
            save()
    if args.overhead_tasks and "overhead" not in done and not args.report_only:
        done["overhead"] = ray_overhead(args.overhead_tasks)
        saved.write_text(json.dumps(done, default=str))
    if args.big_only:
        cmd = " ".join(["benchmarks/bench_scale.py", *sys.argv[1:]])
        text = "\n".join([f"# Scale: one big file, split into tasks and whole (`{cmd}`)", "",
                          "Same pipeline and measurement as results/scale.md (langid -> gopher_repetition -> "
                          "gopher_quality -> c4 -> fineweb_quality -> minhash_dedup -> write -> mix -> tokenize), "
                          "2 local workers, on a 2-core machine shared with other jobs (load at the start of "
                          "each run in the table).", "", *big_section(big)]) + "\n"
        (RESULTS / "scale-big.md").write_text(text)
        print(text)
        return
    if not rows:
        raise SystemExit(f"no finished runs in {work}")
    text = report(rows, big, overhead=done.get("overhead"), n_files=len(files), in_bytes=in_bytes, amdahl_rows=amdahl(rows["local-1"])
                  if "local-1" in rows else [], command=" ".join(["benchmarks/bench_scale.py", *sys.argv[1:]]))
    dest = RESULTS / ("scale-quick.md" if args.quick else "scale.md")
    dest.write_text(text)
    save()
    print(text)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


# ---- the report ---------------------------------------------------------------------------------
def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def _phase0_tasks(row: dict[str, Any]) -> int:
    return next((len(c["task_seconds"]) for c in row["profile"]["calls"] if c["fn"] == "run_task"), 0)


def report(rows: dict[str, dict[str, Any]], big: dict[str, Any], *, overhead: dict[str, Any] | None, n_files: int,
           in_bytes: int,
           amdahl_rows: list[dict[str, float]], command: str) -> str:
    lines = [
        "# Scale: local executor (1 and 2 workers) vs Ray on 2 CPUs, serial share, Amdahl, one big file", "",
        f"Produced by `{command}` on a 2-core machine shared with other engineers' jobs (1/5/15-minute load "
        "averages at the start of each run below: a load above ~0.5 at the start means another job took CPU "
        "from this run, and its wall time and cores-busy figures are then lower bounds on what the code does). "
        f"Input: {n_files} files, {in_bytes / 1e6:.1f} MB: every real file from data/ and ../shared/data the old "
        "benchmark used (WARCs, FineWeb Parquet, C4/DCLM/Dolma JSONL, WikiText, Gutenberg) and generated JSONL "
        "(each document the halves of two real web documents). Pipeline: langid -> gopher_repetition -> "
        "gopher_quality -> c4 -> fineweb_quality -> minhash_dedup -> write -> mix -> tokenize (seed 1234). Wall "
        "time of the whole `dataforge run` command from an empty output; CPU and peak RSS (VmHWM) sampled from "
        "/proc every 0.25 s for the command and every process below it; time inside map calls from the "
        "executor's profile (`$DATAFORGE_EXECUTOR_PROFILE`).", "",
        "| executor | wall s | CPU s | cores busy | driver CPU s | task CPU s | task CPU / task wall | other CPU s "
        "| outside map s | serial share | driver peak RSS MB | task peak RSS MB | load at start |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        ro, prof = r["roles"], r["profile"]
        inline = prof["workers"] == 1  # local-1 runs its tasks in the driver
        other = r["cpu"] - ro["driver"]["cpu"] - (0 if inline else prof["task_cpu"])
        lines.append(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / r['wall']:.2f} | "
                     f"{ro['driver']['cpu']:.1f} | {prof['task_cpu']:.1f} | "
                     f"{prof['task_cpu'] / max(prof['task_seconds'], 1e-9):.2f} | {other:.1f} | "
                     f"{r['outside_map']:.1f} | {r['outside_map'] / r['wall']:.1%} | {_mb(ro['driver']['rss'])} | "
                     f"{'(in the driver)' if inline else _mb(prof['task_peak_rss'])} | {r['load']} |")
    lines += ["", "Task CPU = the tasks' own CPU seconds in their workers (profile); task CPU / task wall below 1 "
              "means the tasks waited for a CPU (other jobs); other CPU = the pool's or Ray's own processes "
              "(Ray: its daemons and start). Peak RSS of a task: reset before it, read after it, in its worker."]
    lines.append("")
    first = next(iter(rows.values()))
    same = all(r["sums"] == first["sums"] for r in rows.values())
    lines += [f"Shards byte-identical across the executors (manifest sha256 list, each re-hashed from its file): "
              f"**{'yes' if same else 'NO'}** ({len(first['sums'])} shards).", "", "## Ratios", ""]
    share = {n: r["profile"]["task_cpu"] / max(r["profile"]["task_seconds"], 1e-9) for n, r in rows.items()}
    if min(share.values()) < 0.8:
        lines += [f"**The wall-time ratios below are not reliable in this run**: its tasks got "
                  f"{min(share.values()):.2f}-{max(share.values()):.2f} of a CPU each (task CPU / task wall; 1.0 "
                  "on a quiet machine), unevenly from run to run, as other jobs came and went. The CPU-second "
                  "figures are the ones to read; rerun on a quiet machine for the wall ones.", ""]
    if "local-1" in rows and "local-2" in rows:
        lines.append(f"- local-2 / local-1 speedup (wall): **{rows['local-1']['wall'] / rows['local-2']['wall']:.2f}** "
                     "(goal >= 1.85).")
    if "ray-2" in rows and "local-2" in rows:
        ray, prof = rows["ray-2"], rows["ray-2"]["profile"]
        net = ray["wall"] - prof["startup"] - prof["shutdown"]
        lines.append(f"- Ray-2 / local-2 throughput without Ray's start ({prof['startup']:.1f} s) and stop "
                     f"({prof['shutdown']:.1f} s): **{rows['local-2']['wall'] / net:.2f}** (goal >= 0.9); with "
                     f"them: {rows['local-2']['wall'] / ray['wall']:.2f}. Ray ran {prof['tasks']} tasks in "
                     f"{prof['batches']} remote calls (small tasks batched).")
    cpu2 = next((a for a in amdahl_rows if a["basis"] == "cpu" and a["n"] == 2), None)
    if cpu2 is not None:
        lines.append(f"- On CPU seconds, which other jobs do not inflate: local-1's {cpu2['serial']:.1f} s serial and "
                     f"{cpu2['parallel']:.1f} s of tasks packed onto 2 workers give a 2-worker speedup of "
                     f"**{cpu2['tasks_x']:.2f}** on 2 free cores (the Amdahl table below).")
    if "ray-2" in rows and "local-2" in rows:
        lines.append(f"- CPU seconds of the whole run, every process: local-2 {rows['local-2']['cpu']:.1f}, ray-2 "
                     f"{rows['ray-2']['cpu']:.1f} (Ray's daemons and start included): on 2 free cores Ray-2 / "
                     f"local-2 throughput would be about **{rows['local-2']['cpu'] / rows['ray-2']['cpu']:.2f}**; "
                     f"the tasks alone took {rows['ray-2']['profile']['task_cpu']:.1f} CPU s under Ray and "
                     f"{rows['local-2']['profile']['task_cpu']:.1f} under the local pool (no cold start per task).")
    if "local-2" in rows:
        r = rows["local-2"]
        lines.append(f"- Serial share of the local-2 run: **{r['outside_map'] / r['wall']:.1%}** of its wall time is "
                     f"outside every map call (goal <= 5%): process start, imports, planning, the driver's part of "
                     f"the reduces, publishing. The driver's CPU is {r['roles']['driver']['cpu']:.1f} s of "
                     f"{r['cpu']:.1f} CPU s ({r['roles']['driver']['cpu'] / r['cpu']:.1%}); its tasks' CPU "
                     f"{r['profile']['task_cpu']:.1f} s against their wall {r['profile']['task_seconds']:.1f} s "
                     f"(CPU / wall {r['profile']['task_cpu'] / max(r['profile']['task_seconds'], 1e-9):.2f}: below "
                     "1, the workers waited for a CPU other jobs held).")
    lines.append("")
    if amdahl_rows:
        lines += ["## Amdahl: extrapolated from local-1", "",
                  "Serial seconds S and parallel seconds P measured in the local-1 run, on two bases. wall: S = its "
                  "wall time outside map calls, P = its tasks' wall seconds. cpu: S = the driver's CPU seconds other "
                  "than its tasks', P = the tasks' CPU seconds (a shared machine does not inflate these). `S + P/n` "
                  "is Amdahl's law; `packed` puts each map call's measured tasks longest-first onto n workers (a call "
                  "ends with its longest task: with few tasks per phase, more workers stop helping).", "",
                  "| basis | S s | P s | workers | S + P/n s | speedup | packed s | packed speedup |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for a in amdahl_rows:
            lines.append(f"| {a['basis']} | {a['serial']:.1f} | {a['parallel']:.1f} | {a['n']} | {a['amdahl_s']:.1f} | "
                         f"{a['amdahl_x']:.2f}x | {a['tasks_s']:.1f} | {a['tasks_x']:.2f}x |")
        if "local-2" in rows:
            lines.append(f"\nMeasured at 2 workers: {rows['local-2']['wall']:.1f} s "
                         f"({rows['local-1']['wall'] / rows['local-2']['wall']:.2f}x).")
        lines.append("")
    lines += big_section(big)
    if overhead:
        lines += ["## Ray's cost per task, before and after (warm executors, same Ray instance)", "",
                  f"Before = `dataforge/runner/ray_executor.py` at {BEFORE} (one remote call per task); after = "
                  "batches sized from the measured task seconds. Milliseconds per task, wall.", "",
                  "| executor | trivial task ms | 5 ms CPU task ms |", "|---|---:|---:|"]
        for name, kinds in overhead.items():
            lines.append(f"| {name} | {kinds['trivial'] * 1e3:.3f} | {kinds['5 ms'] * 1e3:.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def big_section(big: dict[str, Any]) -> list[str]:
    """The big-file table: the same file split into tasks and as one task."""
    if "split" not in big or "whole" not in big:
        return []
    mb = big["file_mb"]["mb"]
    lines = [f"## One {mb:,.0f} MB JSONL file through the whole chain, local-2", "",
              "| run | phase-0 tasks | wall s | CPU s | cores busy | CPU s of each worker process | load at start |",
              "|---|---:|---:|---:|---:|---|---|"]
    for label in ("split", "whole"):
        r = big[label]
        lines.append(f"| {label} | {_phase0_tasks(r)} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                     f"{r['cpu'] / r['wall']:.2f} | {' / '.join(map(str, sorted(r['roles']['worker']['each_cpu'] + r['roles']['system']['each_cpu'], reverse=True)))} | "
                     f"{r['load']} |")
    est = {label: cpu_time_on(big[label], 2) for label in ("split", "whole")}
    lines += ["", f"Split / whole speedup (wall): **{big['whole']['wall'] / big['split']['wall']:.2f}**; shards "
              f"identical: **{'yes' if big['split']['sums'] == big['whole']['sums'] else 'NO'}**. On CPU seconds "
              f"(serial CPU + each call's task CPU packed onto 2 free cores): split {est['split']:.1f} s, whole "
              f"{est['whole']:.1f} s: **{est['whole'] / est['split']:.2f}x**. Unsplit, the file is one task, "
              "which the local executor runs in the driver while the second worker idles.", ""]
    return lines


if __name__ == "__main__":
    main()
