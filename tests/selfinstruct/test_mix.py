"""sft-mix: FLAN examples-proportional mixing with a cap, weights, seeded shuffle, realised vs target, shards."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner

from dataforge.cli.instruct import sft_mix
from dataforge.selfinstruct.mix import MixConfig, plan
from dataforge.tokenize.shards import read_manifest


def collection(tmp_path, name, n, chat=False):
    path = tmp_path / f"{name}.jsonl"
    rows = [({"messages": [{"role": "user", "content": f"{name} q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
             if chat else {"instruction": f"{name} instruction {i}", "input": "", "output": f"answer {i}"})
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"not": "an instruction"}\n')
    return path


def write_mix(tmp_path, body):
    mix = tmp_path / "mix.yaml"
    mix.write_text(body)
    return mix


def test_plan_is_examples_proportional_with_a_cap_and_weights():
    config = MixConfig.model_validate({"output": "o.jsonl", "cap": 100, "total": 300, "collections": {
        "big": {"path": "b"}, "small": {"path": "s"}, "gold": {"path": "g", "weight": 2.0}}})
    table = plan(config, {"big": 10_000, "small": 50, "gold": 100})
    # masses: big min(10000,100)=100, small 50, gold 2*100=200 -> rates 100/350, 50/350, 200/350
    assert [table[n]["target"] for n in ("big", "small", "gold")] == [86, 43, 171]
    assert table["small"]["realised"] == 43 and table["gold"]["realised"] == 100  # no repeats by default
    config2 = config.model_copy(update={"max_epochs": 2.0})
    assert plan(config2, {"big": 10_000, "small": 50, "gold": 100})["gold"]["realised"] == 171


def test_sft_mix_writes_a_seeded_shuffled_mix_and_the_table(tmp_path, tokenizer_path):
    a, b = collection(tmp_path, "alpaca", 60), collection(tmp_path, "chats", 20, chat=True)
    mix = write_mix(tmp_path, f"""seed: 3
output: {tmp_path / 'mix.jsonl'}
cap: 40
max_epochs: 2
collections:
  alpaca: {{path: {a}}}
  chats: {{path: {b}, weight: 2.0}}
sft: {{tokenizer: {tokenizer_path}, output: {tmp_path / 'shards'}, seq_len: 128}}
""")
    result = CliRunner().invoke(sft_mix, [str(mix)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "mix.jsonl.mix.json").read_text())
    rows = report["collections"]
    # masses: alpaca min(60,40)=40, chats 2*20=40 -> 40 each of total 60 -> 30 and 30 (chats repeated 1.5x)
    assert (rows["alpaca"]["target"], rows["alpaca"]["realised"]) == (30, 30)
    assert (rows["chats"]["target"], rows["chats"]["realised"], rows["chats"]["epochs"]) == (30, 30, 1.5)
    assert report["skipped"] == {"alpaca.skipped": 1, "chats.skipped": 1}
    mixed = [json.loads(line) for line in (tmp_path / "mix.jsonl").read_text().splitlines()]
    assert Counter(r["collection"] for r in mixed) == {"alpaca": 30, "chats": 30}
    order = [r["collection"] for r in mixed]
    assert order != sorted(order)  # shuffled, not concatenated
    chat_counts = Counter(r["messages"][0]["content"] for r in mixed if r["collection"] == "chats")
    assert sorted(chat_counts.values()) == [1] * 10 + [2] * 10  # one full epoch + a half, no record three times
    assert "alpaca" in result.output and "realised" in result.output
    assert read_manifest(tmp_path / "shards")["counts"]["rows_train"] == 60
    first = (tmp_path / "mix.jsonl").read_bytes()
    assert CliRunner().invoke(sft_mix, [str(mix)]).exit_code == 0
    assert (tmp_path / "mix.jsonl").read_bytes() == first  # same seed, same bytes


def test_a_bad_mix_file_reports_every_problem(tmp_path):
    mix = write_mix(tmp_path, "output: o.jsonl\ncap: 0\ncollections:\n  a: {path: missing.jsonl, wieght: 2}\n")
    result = CliRunner().invoke(sft_mix, [str(mix)])
    assert result.exit_code == 2 and "cap" in result.output and "wieght" in result.output
    mix = write_mix(tmp_path, "output: o.jsonl\ncollections:\n  a: {path: missing.jsonl}\n")
    result = CliRunner().invoke(sft_mix, [str(mix)])
    assert result.exit_code == 2 and "collections.a.path: 'missing.jsonl' does not exist" in result.output
