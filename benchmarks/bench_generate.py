"""Generation throughput against a local OpenAI-compatible server with 100 ms latency.

Server: the test suite's fake endpoint (tests/selfinstruct/conftest.py: real sockets,
a threaded HTTP server, every answer delayed by --latency), in its own process. Each
run gets a fresh cache, so every request is really sent (the server's model is seeded
by prompt, so repeated runs see the same answers). Compared side by side:

* peer: the originals' request pattern - one blocking request at a time (the sync
  ``openai.OpenAI`` client in a loop, as utils.openai_completion / gpt3_api.make_requests
  do), same prompts, no parsing;
* dataforge ``self-instruct --method alpaca`` at concurrency 1 and 32 (parsing, filters,
  novelty, cache and output included);
* dataforge ``--method self-instruct`` (3 requests per task) at concurrency 32.

Run: .venv/bin/python benchmarks/bench_generate.py [--requests 100] [--latency 0.1]
Writes the throughput section of benchmarks/results/selfinstruct.md.

``--methods``: every instruction method once on the bundled seeds against the local
server (counts by filter reason, the judge's score distribution, the sft-mix table);
writes benchmarks/results/generate_methods.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import multiprocessing
import time
from pathlib import Path

import openai

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_client_server import start_server_process  # noqa: E402
from bench_novelty import write_section  # noqa: E402
from dataforge.selfinstruct.client import ClientConfig  # noqa: E402
from dataforge.selfinstruct.generate import run_generation  # noqa: E402
from dataforge.selfinstruct.state import ALPACA_SAMPLING, GenerateSettings  # noqa: E402
from dataforge.selfinstruct.prompts import (alpaca_prompt, load_template, request_rng,  # noqa: E402
                                            sample_alpaca_examples)
from dataforge.selfinstruct.records import load_seed_tasks  # noqa: E402
from tests.selfinstruct.conftest import FakeLLM, _Handler, _Server  # noqa: E402

SEEDS = REPO / "data" / "instructions" / "seed_tasks.jsonl"


class _BigBacklog(_Server):
    request_queue_size = 256


def _serve(latency: float, port: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    server = _BigBacklog(("127.0.0.1", 0), _Handler)
    server.llm = FakeLLM()
    server.llm.latency = latency
    port.value = server.server_address[1]
    server.serve_forever()


def start_server(latency: float) -> tuple[multiprocessing.Process, str]:
    """The test suite's fake endpoint in its own process, so it does not share the client's GIL."""
    return start_server_process(_serve, latency)


def peer_sequential(url: str, requests: int) -> tuple[float, float]:
    seeds = load_seed_tasks(SEEDS)
    examples = [{"instruction": t["instruction"], "input": t["instances"][0]["input"],
                 "output": t["instances"][0]["output"]} for t in seeds]
    tmpl = load_template("alpaca_generate.txt")
    client = openai.OpenAI(api_key="x", base_url=url, max_retries=0)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(requests):
        prompt = alpaca_prompt(tmpl, sample_alpaca_examples(examples, request_rng(0, "alpaca", i), 3))
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": prompt}],
                                       **ALPACA_SAMPLING)
    return time.perf_counter() - t0, time.process_time() - c0


def ours(url: str, method: str, n: int, concurrency: int, batch: int = 5) -> tuple[float, float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        settings = GenerateSettings(method=method, num_instructions=n, request_batch_size=batch)
        config = ClientConfig(model="fake-model", base_url=url, concurrency=concurrency)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = run_generation(settings, config, seed_tasks=SEEDS, output=out, api_key="x")
        return time.perf_counter() - t0, time.process_time() - c0, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.1)
    args = ap.parse_args()
    server, url = start_server(args.latency)
    n_alpaca = 3 * args.requests  # the fake model writes 3 instructions per response
    rows = []
    t_peer, cpu = peer_sequential(url, args.requests)
    rows.append(("peer: sequential blocking requests (originals' pattern)", t_peer, cpu, args.requests, None))
    for conc in (1, 32):
        t, cpu, s = ours(url, "alpaca", n_alpaca, conc)
        rows.append((f"dataforge alpaca, concurrency {conc}", t, cpu, s["usage"]["requests"], s["accepted"]))
    t, cpu, s = ours(url, "self-instruct", args.requests // 2, 32, batch=32)
    rows.append(("dataforge self-instruct, concurrency 32 (batch 32)", t, cpu, s["usage"]["requests"],
                 s["accepted"]))
    server.terminate()
    lines = [f"### Generation throughput: local server, {args.latency * 1000:.0f} ms per response", "",
             "| | time (s) | requests | requests/s | records/s | vs peer | client CPU ms/request |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    peer_rps = args.requests / t_peer
    for name, t, cpu, req, acc in rows:
        rps = req / t
        lines.append(f"| {name} | {t:.2f} | {req} | {rps:.1f} | {'' if acc is None else f'{acc / t:.1f}'} | "
                     f"{rps / peer_rps:.1f}x | {cpu / req * 1000:.1f} |")
    lines += ["", "Requests/s of each dataforge run over the peer's. The alpaca runs include the requests "
              "already in flight when the target is reached (awaited and cached, not used). Client CPU "
              "includes parsing, filters, the novelty index with top-10 provenance, the SQLite cache and "
              f"output; the machine's load average during the run: {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores.", ""]
    print("\n".join(lines))
    write_section("throughput", "\n".join(lines))


if __name__ == "__main__" and "--methods" not in sys.argv:
    main()


def methods_report(out_dir: Path) -> str:
    """Each instruction method once on the bundled seeds against the test suite's local server:
    counts by filter reason, the judge's score distribution, the sft-mix table."""
    import json as _json
    import threading

    from click.testing import CliRunner

    from dataforge.cli import instruct
    from tests.selfinstruct.conftest import _Handler, _Server

    server = _Server(("127.0.0.1", 0), _Handler)
    server.llm = FakeLLM()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ["--model", "fake-model", "--base-url", url, "--backoff", "0", "--concurrency", "16"]
    runs = {
        "self-instruct --method alpaca": (instruct.self_instruct, ["--method", "alpaca", "--seed-tasks", str(SEEDS),
                                          "--num-instructions", "200", "-o", str(out_dir / "alpaca.jsonl")]),
        "self-instruct --method self-instruct": (instruct.self_instruct, [
            "--method", "self-instruct", "--seed-tasks", str(SEEDS), "--num-instructions", "60", "-o",
            str(out_dir / "si.jsonl")]),
        "evol-instruct --rounds 4": (instruct.evol_instruct, [str(SEEDS), "-o", str(out_dir / "evol.jsonl")]),
        "judge --min-score 4.5": (instruct.judge, [str(out_dir / "alpaca.jsonl"), "-o", str(out_dir / "judged.jsonl"),
                                                   "--min-score", "4.5"]),
    }
    lines = ["### Methods on the bundled seeds (175 tasks) against the test suite's local server", ""]
    for name, (cmd, args) in runs.items():
        result = CliRunner().invoke(cmd, args + client, catch_exceptions=False)
        summary = _json.loads(Path(args[args.index("-o") + 1] + ".run.json").read_text())
        counts = {k: v for k, v in summary["counts"].items() if not k.startswith("method.")}
        lines += [f"`dataforge {name}` (exit {result.exit_code}): {summary['usage']['requests']} requests", "",
                  "| count | n |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in sorted(counts.items())] + [""]
    qa = REPO / "data" / "instructions" / "formats" / "qa.jsonl"
    CliRunner().invoke(instruct.format_instructions, [str(qa), "-o", str(out_dir / "qa.jsonl"), "--task", "qa",
                                                      "--field", "answer=answers.text[0]"], catch_exceptions=False)
    dedup = CliRunner().invoke(instruct.dedup_instructions, [
        str(out_dir / "alpaca.jsonl"), "-o", str(out_dir / "alpaca.dedup.jsonl"), "--decontaminate",
        f"arc_challenge={REPO / 'data' / 'benchmarks' / 'arc_challenge.jsonl'}"], catch_exceptions=False)
    lines += [f"`dataforge dedup-instructions alpaca.jsonl --decontaminate arc_challenge=...`: {dedup.output.strip()}", ""]
    mix = out_dir / "mix.yaml"
    mix.write_text(f"seed: 0\noutput: {out_dir / 'mix.jsonl'}\ncap: 100\nmax_epochs: 4\ncollections:\n"
                   f"  alpaca: {{path: {out_dir / 'alpaca.dedup.jsonl'}}}\n  evol: {{path: {out_dir / 'evol.jsonl'}}}\n"
                   f"  judged: {{path: {out_dir / 'judged.jsonl'}, weight: 2.0}}\n"
                   f"  flan_qa: {{path: {out_dir / 'qa.jsonl'}, weight: 1.0}}\n")
    result = CliRunner().invoke(instruct.sft_mix, [str(mix)], catch_exceptions=False)
    lines += ["`dataforge sft-mix` (cap 100, judged weight 2, max_epochs 4):", "", "```", result.output.strip(), "```", ""]
    server.shutdown()
    return "\n".join(lines)


if __name__ == "__main__" and "--methods" in sys.argv:  # pragma: no cover
    with tempfile.TemporaryDirectory() as tmp:
        text = methods_report(Path(tmp))
    print(text)
    (REPO / "benchmarks" / "results" / "generate_methods.md").write_text("# Instruction methods: counts by reason\n\n"
                                                                         + text + "\n")
