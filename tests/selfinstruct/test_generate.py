"""End to end through the CLI against the local fake endpoint: outputs, provenance, usage, resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.selfinstruct.rouge import rouge_tokens

from .conftest import FakeLLM, Reply, fake_model

KEY = "sk-test-SECRET-0123456789abcdef"


def run_cli(llm: FakeLLM, seed_file: Path, out: Path, *extra: str, n: int = 12, method: str = "alpaca"):
    args = ["self-instruct", "--method", method, "--seed-tasks", str(seed_file), "--num-instructions", str(n),
            "--model", "fake-model", "--base-url", llm.url, "--output", str(out), "--backoff", "0.001",
            "--timeout", "5", *extra]
    return CliRunner().invoke(main, args, env={"OPENAI_API_KEY": KEY})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_alpaca_run_writes_alpaca_records_provenance_and_usage(llm_server, seed_file, tmp_path):
    out = tmp_path / "out" / "instructions.jsonl"
    result = run_cli(llm_server, seed_file, out, "--concurrency", "4")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 12
    assert all(list(r) == ["instruction", "input", "output"] for r in records)
    assert all(r["input"] == "" and r["instruction"].startswith("Describe the") for r in records)
    prov = read_jsonl(tmp_path / "out" / "instructions.jsonl.provenance.jsonl")
    assert len(prov) == 12 and prov[0]["model"] == "fake-model" and prov[0]["method"] == "alpaca"
    assert prov[0]["template"]["name"] == "alpaca_generate.txt" and len(prov[0]["most_similar"]) == 10
    summary = json.loads((tmp_path / "out" / "instructions.jsonl.run.json").read_text())
    # usage summed from responses equals what the server handed out (no request answered twice)
    assert summary["usage"]["prompt_tokens"] == llm_server.usage["prompt_tokens"]
    assert summary["usage"]["completion_tokens"] == llm_server.usage["completion_tokens"]
    assert max(llm_server.answered.values()) == 1
    assert summary["counts"]["accepted"] == 12
    # every request is a chat request carrying Alpaca's published sampling parameters
    body = llm_server.requests[0]
    assert body["messages"][0]["role"] == "user" and body["temperature"] == 1.0 and body["max_tokens"] == 3072
    assert body["stop"] == ["\n20", "20.", "20."]


def test_rerun_is_answered_from_the_cache_with_identical_output(llm_server, seed_file, tmp_path):
    out = tmp_path / "a.jsonl"
    assert run_cli(llm_server, seed_file, out, "--mode", "completions").exit_code == 0
    first, served = out.read_bytes(), len(llm_server.requests)
    result = run_cli(llm_server, seed_file, out, "--mode", "completions")
    assert result.exit_code == 0 and "from cache" in result.output
    assert len(llm_server.requests) == served  # nothing paid twice
    assert out.read_bytes() == first
    assert "prompt" in llm_server.requests[0]  # completions endpoint


def test_truncated_and_malformed_responses_are_counted(llm_server, seed_file, tmp_path):
    llm_server.script.extend([
        Reply(text="not a numbered list at all"),
        Reply(text=" Describe the apple river quantum violin desert lantern copper.\n4. Input:\n<noinput>\n"
                   "4. Output:\nFine.\n###\n5. Instruction: Describe the cut off", finish_reason="length"),
    ])
    out = tmp_path / "b.jsonl"
    result = run_cli(llm_server, seed_file, out, "--concurrency", "1", "--request-batch-size", "1", n=3)
    assert result.exit_code == 0, result.output
    counts = json.loads((tmp_path / "b.jsonl.run.json").read_text())["counts"]
    assert counts["rejected.malformed"] == 1  # the non-list response
    assert counts["rejected.truncated"] == 1  # the cut-off last item of the length-stopped one
    assert read_jsonl(out)[0]["instruction"] == "Describe the apple river quantum violin desert lantern copper."


def test_self_instruct_method_generates_instances_in_acceptance_order(llm_server, seed_file, tmp_path):
    out = tmp_path / "si.json"
    result = run_cli(llm_server, seed_file, out, method="self-instruct", n=6)
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    summary = json.loads((tmp_path / "si.json.run.json").read_text())
    assert summary["counts"]["instructions.accepted"] == 6
    assert summary["counts"]["tasks.classification"] + summary["counts"]["tasks.generation"] == 6
    assert len(records) == summary["counts"]["accepted"] >= 6
    prov = read_jsonl(tmp_path / "si.json.provenance.jsonl")
    for rec, p in zip(records, prov):
        assert set(rec) == {"instruction", "input", "output"} and rec["output"]
        assert p["is_classification"] == (rec["output"] in ("Alpha", "Beta"))
    # instructions appear grouped, in the order they were accepted
    order = [r["instruction"] for r in records]
    assert order == sorted(order, key=order.index)
    # the published sampling of each step reached the server
    steps = {json.dumps(b["stop"]) for b in llm_server.requests}
    assert json.dumps(["\n\n", "\n16", "16.", "16 ."]) in steps and json.dumps(["\n", "Task"]) in steps
    assert json.dumps(["Example 6", "Task:"]) in steps


def test_api_key_never_written_or_logged(llm_server, seed_file, tmp_path):
    out = tmp_path / "k.jsonl"
    result = CliRunner().invoke(main, ["-vv", "self-instruct", "--seed-tasks", str(seed_file), "--num-instructions",
                                       "3", "--model", "fake-model", "--base-url", llm_server.url, "--output",
                                       str(out)], env={"OPENAI_API_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    for path in tmp_path.iterdir():
        assert KEY.encode() not in path.read_bytes(), path


def test_invalid_key_stops_at_once(llm_server, seed_file, tmp_path):
    llm_server.script.extend([Reply(status=401, error="Incorrect API key provided")] * 20)
    result = run_cli(llm_server, seed_file, tmp_path / "x.jsonl", "--concurrency", "1", "--request-batch-size", "1")
    assert result.exit_code == 2
    assert "refused the API key" in result.output and "OPENAI_API_KEY" in result.output
    assert len(llm_server.requests) == 1


def test_unknown_model_is_a_config_error(llm_server, seed_file, tmp_path):
    result = CliRunner().invoke(main, ["self-instruct", "--seed-tasks", str(seed_file), "--num-instructions", "2",
                                       "--model", "no-such-model", "--base-url", llm_server.url,
                                       "--output", str(tmp_path / "m.jsonl"), "--concurrency", "1"])
    assert result.exit_code == 2
    assert "does not know model 'no-such-model'" in result.output


def test_unreachable_endpoint_fails_with_a_clear_message(seed_file, tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = CliRunner().invoke(main, ["self-instruct", "--seed-tasks", str(seed_file), "--num-instructions", "2",
                                       "--model", "fake-model", "--base-url", f"http://127.0.0.1:{port}/v1",
                                       "--output", str(tmp_path / "u.jsonl"), "--max-attempts", "2",
                                       "--backoff", "0.001", "--concurrency", "1"])
    assert result.exit_code == 1
    assert "requests in a row failed" in result.output and "is the endpoint" in result.output


def test_malformed_seed_file_reports_every_bad_line(llm_server, tmp_path, seed_file):
    bad = tmp_path / "seeds.jsonl"
    lines = seed_file.read_text().splitlines()[:5]
    lines[1] = "{not json"
    lines[3] = json.dumps({"instruction": "x"})
    bad.write_text("\n".join(lines) + "\n")
    result = run_cli(llm_server, bad, tmp_path / "s.jsonl")
    assert result.exit_code == 2
    assert f"{bad}:2: not valid JSON" in result.output and f"{bad}:4: a seed task needs 'instances'" in result.output
    assert llm_server.requests == []


def test_max_requests_stops_cleanly(llm_server, seed_file, tmp_path):
    llm_server.model_text = lambda prompt, seen: "no list here"
    out = tmp_path / "r.jsonl"
    result = run_cli(llm_server, seed_file, out, "--max-requests", "4")
    assert result.exit_code == 5, result.output  # EXIT_LIMIT: stopped at a limit the user set
    assert "stopped: --max-requests 4 reached" in result.output
    assert len(llm_server.requests) == 4 and out.read_text() == ""


def test_max_cost_needs_a_price_and_says_how(llm_server, seed_file, tmp_path):
    result = run_cli(llm_server, seed_file, tmp_path / "c.jsonl", "--max-cost", "1")
    assert result.exit_code == 2 and "no price for model 'fake-model'" in result.output
    assert "--price IN/OUT" in result.output and llm_server.requests == []
    for bad in ("abc", "nan/1", "-1/2", "1/inf", "0.15", "1e300/1"):
        result = run_cli(llm_server, seed_file, tmp_path / "c.jsonl", "--max-cost", "1", "--price", bad)
        assert result.exit_code == 2 and "--price" in result.output, bad


def test_a_free_local_model_runs_under_max_cost_with_price_zero(llm_server, seed_file, tmp_path):
    result = run_cli(llm_server, seed_file, tmp_path / "free.jsonl", "--max-cost", "0.01", "--price", "0/0", n=6)
    assert result.exit_code == 0, result.output
    assert "estimated cost $0.0000" in result.output


def billed(llm, price_in, price_out):
    """What the server handed out, at the given USD per 1M tokens: the true spend."""
    return (llm.usage["prompt_tokens"] * price_in + llm.usage["completion_tokens"] * price_out) / 1e6


def test_max_cost_never_overshoots_with_requests_in_flight(llm_server, seed_file, tmp_path):
    # issue 21: at concurrency 8 the old check spent $0.0052 against a $0.001 cap. A request's
    # worst case here is ~(3.5k prompt bytes + 200 max_tokens) at $1000/1M = ~$3.7; $20 fits
    # five at once, while each really costs ~$0.8, so the run keeps going as reservations settle
    result = run_cli(llm_server, seed_file, tmp_path / "c.jsonl", "--max-cost", "20", "--price", "1000/1000",
                     "--max-tokens", "200", "--concurrency", "8", n=400)
    assert result.exit_code == 5, result.output  # EXIT_LIMIT
    assert "stopped: --max-cost 20 reached" in result.output
    summary = json.loads((tmp_path / "c.jsonl.run.json").read_text())
    assert billed(llm_server, 1000, 1000) <= 20 and summary["estimated_cost_usd"] <= 20
    assert summary["estimated_cost_usd"] == pytest.approx(billed(llm_server, 1000, 1000))
    assert summary["usage"]["requests"] > 5 and summary["accepted"] < 400  # budget freed by settling was used


def test_a_request_whose_worst_case_exceeds_the_budget_is_never_sent(llm_server, seed_file, tmp_path):
    # the figures: a $0.001 cap at gpt-4o-mini prices; one Alpaca request may cost $0.0024
    result = run_cli(llm_server, seed_file, tmp_path / "c.jsonl", "--max-cost", "0.001", "--price", "0.15/0.60")
    assert result.exit_code == 5, result.output
    assert llm_server.requests == [] and "may cost up to $0.0024" in result.output
    assert "lower --max-tokens" in result.output


def test_killed_run_resumes_without_paying_twice(llm_server, seed_file, tmp_path):
    """Kill the CLI process (SIGKILL) mid-run, rerun: no prompt is answered twice, same output.

    The model is deterministic here (as at temperature 0), so the request that was in
    flight at the kill gets the same answer when the rerun sends it again.
    """
    llm_server.model_text = lambda prompt, seen: fake_model(prompt, 0)
    ref = tmp_path / "ref.jsonl"
    assert run_cli(llm_server, seed_file, ref, "--concurrency", "1", n=15).exit_code == 0
    llm_server.reset()
    out = tmp_path / "run" / "out.jsonl"
    cmd = [sys.executable, "-m", "dataforge", "self-instruct", "--seed-tasks", str(seed_file),
           "--num-instructions", "15", "--model", "fake-model", "--base-url", llm_server.url, "--output", str(out),
           "--concurrency", "1", "--backoff", "0.001", "--cache", str(tmp_path / "run" / "cache.sqlite")]
    proc = subprocess.Popen(cmd, env={**os.environ, "OPENAI_API_KEY": KEY},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_on_third(n: int) -> None:
        if n == 3:  # the client dies while its third request is in flight: never answered
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            llm_server.script.append(Reply(drop=True))

    llm_server.on_request = kill_on_third
    assert proc.wait(timeout=60) == -signal.SIGKILL
    llm_server.on_request = None
    assert 0 < len(read_jsonl(out)) < 15  # appended as accepted, before the kill
    done = subprocess.run(cmd, env={**os.environ, "OPENAI_API_KEY": KEY}, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert max(llm_server.answered.values()) == 1
    assert out.read_bytes() == ref.read_bytes()


def test_novelty_in_output_matches_rouge_score(llm_server, seed_file, tmp_path):
    from rouge_score import rouge_scorer

    out = tmp_path / "n.jsonl"
    assert run_cli(llm_server, seed_file, out, n=20).exit_code == 0
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pool = [json.loads(line)["instruction"] for line in seed_file.read_text().splitlines()]
    for rec in read_jsonl(out):
        assert rouge_tokens(rec["instruction"]) == scorer._tokenizer.tokenize(rec["instruction"])
        assert max(scorer.score(rec["instruction"], p)["rougeL"].fmeasure for p in pool) <= 0.7
        pool.append(rec["instruction"])


def test_a_model_that_never_answers_in_the_list_format_stops_the_run(llm_server, seed_file, tmp_path):
    llm_server.model_text = lambda prompt, seen: "Sure! Here are some ideas for you."
    result = run_cli(llm_server, seed_file, tmp_path / "f.jsonl")
    assert result.exit_code == 1
    assert "20 responses in a row held no well-formed numbered item" in result.output
    assert len(llm_server.requests) < 20 + 8 + 5  # the streak, plus what was in flight
