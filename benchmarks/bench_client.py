"""Client CPU per request, before and after, at concurrency 1-64 against a 100 ms server.

Issue 16 item 7: at concurrency 32 the client spent ~9 ms of CPU per request (half in
the SDK), so one core topped out near 110 requests/s. This measures the request path
alone (``LLMClient.complete``: budget, cache lookup and write, transport, response
checks), with distinct Alpaca prompts (no cache hits), against the fast fake endpoint
(``bench_client_server.py``: one asyncio loop in its own process).

* before: the client at ``--before`` (default ff522da, the release before this work),
  extracted with ``git archive`` into a temporary folder (nothing in the work tree
  changes);
* after: the work tree's client, both transports (``http`` default, ``sdk``).

Each configuration runs in its own subprocess, back to back with the same server.
Figures: wall requests/s, client CPU ms per request (``time.process_time``, the whole
process), and requests/s per core = 1000 / CPU ms; the goal is 0.8 x concurrency /
latency up to 64 in flight on one core.

Run: .venv/bin/python benchmarks/bench_client.py [--latency 0.1] [--scale 25]
Writes benchmarks/results/client.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

WORKER = r"""
import asyncio, json, sys, tempfile, time
from pathlib import Path
tree, url, conc, n, transport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, tree)
from dataforge.selfinstruct.cache import RequestCache
from dataforge.selfinstruct.client import ClientConfig, LLMClient
from dataforge.selfinstruct.state import ALPACA_SAMPLING
from dataforge.selfinstruct.prompts import alpaca_prompt, load_template, request_rng, sample_alpaca_examples
from dataforge.selfinstruct.records import load_seed_tasks
seeds = load_seed_tasks(Path(sys.argv[6]))
ex = [{"instruction": t["instruction"], "input": t["instances"][0]["input"], "output": t["instances"][0]["output"]}
      for t in seeds]
tmpl = load_template("alpaca_generate.txt")
prompts = [alpaca_prompt(tmpl, sample_alpaca_examples(ex, request_rng(0, "bench", i), 3)) for i in range(n + conc)]
extra = {} if transport == "before" else {"transport": transport}
async def main(tmp):
    cache = RequestCache(Path(tmp) / "c.sqlite")
    client = LLMClient(ClientConfig(model="fake-model", base_url=url, concurrency=conc, **extra), cache, api_key="x")
    await asyncio.gather(*(client.complete(p, ALPACA_SAMPLING) for p in prompts[:conc]))  # connections warm
    t0, c0 = time.perf_counter(), time.process_time()
    done = await asyncio.gather(*(client.complete(p, ALPACA_SAMPLING) for p in prompts[conc:]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await client.close()
    cache.close()
    assert all(d is not None and d.text for d in done)
    print(json.dumps({"wall": wall, "cpu": cpu, "n": n}))
with tempfile.TemporaryDirectory() as tmp:
    asyncio.run(main(tmp))
"""


def extract(rev: str, into: Path) -> Path:
    archive = into / "before.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", rev, "dataforge"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def measure(tree: Path, url: str, conc: int, n: int, transport: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", WORKER, str(tree), url, str(conc), str(n), transport,
                          str(REPO / "data" / "instructions" / "seed_tasks.jsonl")],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench_client_server import start_fast_server

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--scale", type=int, default=25, help="requests per unit of concurrency (at least 50)")
    ap.add_argument("--before", default="ff522da")
    ap.add_argument("--concurrency", default="1,8,32,64")
    args = ap.parse_args()
    server, url = start_fast_server(args.latency)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        before = extract(args.before, Path(tmp))
        for conc in (int(c) for c in args.concurrency.split(",")):
            n = max(50, conc * args.scale)
            for label, tree, transport in ((f"before ({args.before})", before, "before"), ("after, http", REPO, "http"),
                                           ("after, sdk", REPO, "sdk")):
                r = measure(tree, url, conc, n, transport)
                rows.append((conc, label, r))
                print(conc, label, f"{r['n'] / r['wall']:.1f} req/s, {r['cpu'] / r['n'] * 1000:.2f} ms CPU/request",
                      flush=True)
    server.terminate()
    lines = [f"### Client: requests/s and CPU per request, {args.latency * 1000:.0f} ms server, one process", "",
             "| concurrency | client | requests | requests/s (wall) | CPU ms/request | requests/s per core | goal 0.8 x c / latency |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for conc, label, r in rows:
        cpu_ms = r["cpu"] / r["n"] * 1000
        lines.append(f"| {conc} | {label} | {r['n']} | {r['n'] / r['wall']:.1f} | {cpu_ms:.2f} | {1000 / cpu_ms:.0f} | "
                     f"{0.8 * conc / args.latency:.0f} |")
    lines += ["", "Requests/s per core = 1000 / CPU ms per request: what one core sustains when the client is the "
              f"bottleneck. Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the "
              "wall figures suffer from it; CPU per request much less).", ""]
    print("\n".join(lines))
    head = ["# dataforge client: benchmarks", "", f"`benchmarks/bench_client.py --scale {args.scale}` on the shared "
            "2-core build machine; not run in CI.", ""]
    (REPO / "benchmarks" / "results" / "client.md").write_text("\n".join(head + lines))


if __name__ == "__main__":
    main()
