"""evol-instruct end to end against the local server, and its elimination rules (WizardLM section 3.3)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dataforge.cli.instruct import evol_instruct
from dataforge.selfinstruct.evol import Prompts, load_seed_instructions
from dataforge.selfinstruct.evol_rules import (answer_reason, cannot_answer, copies_prompt, evolution_reason,
                                               judged_equal, only_stopwords)

from .test_generate import read_jsonl


def run(llm, seeds, out, *extra):
    args = [str(seeds), "-o", str(out), "--model", "fake-model", "--base-url", llm.url, "--backoff", "0",
            "--concurrency", "8", *extra]
    return CliRunner().invoke(evol_instruct, args, env={"OPENAI_API_KEY": "sk-test-0123456789"})


def test_rounds_of_evolution_with_every_elimination_reason_counted(llm_server, seed_file, tmp_path):
    out = tmp_path / "evol.jsonl"
    result = run(llm_server, seed_file, out, "--limit", "60", "--rounds", "2")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "evol.jsonl.run.json").read_text())
    counts = summary["counts"]
    reasons = {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("rejected.")}
    assert set(reasons) >= {"copies_prompt", "no_information_gain", "cannot_answer", "answer_only_stopwords"}
    assert counts["evolved"] == 120 and counts["accepted"] + sum(reasons.values()) == 120
    assert sum(counts[f"method.{m}"] for m in ("constraints", "deepen", "concretize", "reasoning",
                                               "complicate_input", "breadth")) == 120
    records, prov = read_jsonl(out), read_jsonl(tmp_path / "evol.jsonl.provenance.jsonl")
    assert len(records) == counts["accepted"] == counts["round_1.accepted"] + counts["round_2.accepted"]
    for rec, p in zip(records, prov):  # survivors pass every rule
        assert evolution_reason(rec["instruction"]) is None and answer_reason(rec["output"]) is None
        assert p["evol_method"] in Prompts.load().methods or p["evol_method"] == "breadth"
    # a lineage's round-2 parent is its round-1 survivor (a failure would have left the seed)
    first = {p["lineage"]: rec["instruction"] for rec, p in zip(records, prov) if p["round"] == 1}
    for p in prov:
        if p["round"] == 2 and p["lineage"] in first:
            assert p["parent"] == first[p["lineage"]]


def test_requests_carry_the_published_prompts_and_sampling(llm_server, seed_file, tmp_path):
    assert run(llm_server, seed_file, tmp_path / "e.jsonl", "--limit", "12", "--rounds", "1").exit_code == 0
    bodies = [b for b in llm_server.requests if b["messages"][0]["content"].startswith("I want you act as")]
    assert len(bodies) == 12
    assert all(b["temperature"] == 1.0 and b["top_p"] == 0.95 and b["max_tokens"] == 2048 for b in bodies)
    seeds = load_seed_instructions(seed_file)[:12]
    for body in bodies:
        text = body["messages"][0]["content"]
        given = "#The Given Prompt#: \r\n " if "Rewriter" in text else "#Given Prompt#: \r\n "
        assert any(f"{given}{s} \r\n" in text for s in seeds)
    judges = [b for b in llm_server.requests if b["messages"][0]["content"].startswith("Here are two Instructions")]
    assert judges and all(b["max_tokens"] == 16 for b in judges)


def test_a_rerun_pays_nothing_and_writes_the_same_output(llm_server, seed_file, tmp_path):
    out = tmp_path / "r.jsonl"
    assert run(llm_server, seed_file, out, "--limit", "20", "--rounds", "2").exit_code == 0
    first, served = out.read_bytes(), len(llm_server.requests)
    result = run(llm_server, seed_file, out, "--limit", "20", "--rounds", "2", "--concurrency", "3")
    assert result.exit_code == 0 and len(llm_server.requests) == served
    assert out.read_bytes() == first


def test_novelty_threshold_one_turns_the_rouge_filter_off(llm_server, seed_file, tmp_path):
    result = run(llm_server, seed_file, tmp_path / "n.jsonl", "--limit", "40", "--rounds", "1",
                 "--novelty-threshold", "1")
    counts = json.loads((tmp_path / "n.jsonl.run.json").read_text())["counts"]
    assert result.exit_code == 0 and "rejected.rouge_similar" not in counts


def test_max_requests_stops_with_exit_5(llm_server, seed_file, tmp_path):
    result = run(llm_server, seed_file, tmp_path / "m.jsonl", "--max-requests", "10")
    assert result.exit_code == 5 and "stopped: --max-requests 10 reached" in result.output


def test_seed_files_of_every_shape(tmp_path, seed_file):
    alpaca = tmp_path / "a.json"
    alpaca.write_text(json.dumps([{"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
                                  {"instruction": "Say hi.", "input": "", "output": "hi"}]))
    assert load_seed_instructions(alpaca) == ["Translate.\r\nBonjour", "Say hi."]  # main.py's join
    other = tmp_path / "q.jsonl"
    other.write_text(json.dumps({"question": "Why is the sky blue?"}) + "\n")
    assert load_seed_instructions(other, field_name="question") == ["Why is the sky blue?"]
    assert load_seed_instructions(seed_file)[0].startswith(json.loads(seed_file.read_text().splitlines()[0])
                                                           ["instruction"].strip())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "ok"}\n{broken\n{"text": "no instruction"}\n')
    result = CliRunner().invoke(evol_instruct, [str(bad), "-o", str(tmp_path / "o.jsonl"), "--model", "m"])
    assert result.exit_code == 2
    assert f"{bad}:2: not valid JSON" in result.output and f"{bad}:3: no non-empty string 'instruction'" in result.output


@pytest.mark.parametrize("text,expected", [
    ("Write a poem about rivers in exactly four lines.", None),
    ("", "empty"),
    ("#Rewritten Prompt#: Write a poem.", "copies_prompt"),
    ("Rewrite the given prompt so it is harder.", "copies_prompt"),
])
def test_evolution_rules(text, expected):
    assert evolution_reason(text) == expected


def test_answer_rules_both_outcomes():
    assert cannot_answer("Sorry, I can't do that.") and not cannot_answer("Sorry " + "word " * 80)
    assert not cannot_answer("Here is the answer you asked for.")
    assert only_stopwords("It is what it is.") and only_stopwords("...!?") and only_stopwords("")
    assert not only_stopwords("Rivers flow to the sea.")
    assert answer_reason("The capital of France is Paris.") is None
    assert judged_equal("Equal") and judged_equal(" equal.") and not judged_equal("Not Equal")
    assert not judged_equal("They are not equal") and not copies_prompt("Describe a given problem.")


def test_novelty_is_checked_against_other_lineages_not_the_own(llm_server, tmp_path):
    from .conftest import fake_model

    def model(prompt, seen):
        if prompt.startswith("I want you act as a Prompt Rewriter"):
            given = prompt.split("#The Given Prompt#: \r\n ", 1)[1].split(" \r\n#Rewritten Prompt#:", 1)[0]
            return given + " Also compare the two rivers."
        if prompt.startswith("Here are two Instructions"):
            return fake_model(prompt, seen)
        return "A careful and complete answer about rivers and their deltas."

    llm_server.model_text = model
    base = "Describe how a river carves a canyon over millions of years and which rocks resist the water best"
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"instruction": base + "."}) + "\n" + json.dumps({"instruction": base + "!"}) + "\n"
                     + json.dumps({"instruction": "Name three primary colours used by painters."}) + "\n")
    out = tmp_path / "e.jsonl"
    assert run(llm_server, seeds, out, "--rounds", "1", "--methods", "constraints").exit_code == 0
    counts = json.loads((tmp_path / "e.jsonl.run.json").read_text())["counts"]
    # each river evolution extends its own seed (not counted) but copies the other lineage's seed
    assert counts["rejected.rouge_similar"] == 2 and counts["accepted"] == 1
