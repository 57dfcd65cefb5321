"""Chat data: every format into one record type, conversions, and tokenize-sft with chat templates."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from dataforge.cli import main
from dataforge.cli.instruct import convert_instructions
from dataforge.selfinstruct.chat import Message, from_conversation, to_conversation
from dataforge.tokenize.shards import manifest_shards, open_shard, read_manifest

TURNS = [("user", "Name a river."), ("assistant", "The Nile."), ("user", "And a longer one?"),
         ("assistant", "The Amazon carries more water.")]
MESSAGES = {"messages": [{"role": r, "content": c} for r, c in TURNS], "id": "c1"}
SHAREGPT = {"conversations": [{"from": {"user": "human", "assistant": "gpt"}[r], "value": c} for r, c in TURNS],
            "id": "c1"}
LIMA = {"conversations": [c for _, c in TURNS], "id": "c1"}


def test_every_format_reads_into_the_same_conversation():
    want = [Message(r, c) for r, c in TURNS]
    for rec in (MESSAGES, SHAREGPT, LIMA):
        conv = to_conversation(rec)
        assert conv.messages == want and conv.meta == {"id": "c1"}
    alpaca = to_conversation({"instruction": "Translate.", "input": "Bonjour", "output": "Hello"})
    assert alpaca.messages == [Message("user", "Translate.\n\nBonjour"), Message("assistant", "Hello")]


@pytest.mark.parametrize("rec,why", [
    ({"messages": [{"role": "robot", "content": "x"}]}, "needs a role"),
    ({"messages": [{"role": "user", "content": "only a question"}]}, "no assistant turn"),
    ({"conversations": [{"from": "alien", "value": "x"}]}, "needs 'from'"),
    ({"instruction": "x"}, "string 'output'"), ({"text": "x"}, "not a chat record"), ([1, 2], "JSON object"),
])
def test_bad_records_say_why(rec, why):
    with pytest.raises(ValueError, match=why):
        to_conversation(rec)


def test_writers_round_trip_and_alpaca_refuses_multi_turn():
    conv = to_conversation(SHAREGPT)
    assert from_conversation(conv, "sharegpt") == SHAREGPT
    assert from_conversation(to_conversation(from_conversation(conv, "messages")), "sharegpt") == SHAREGPT
    with pytest.raises(ValueError, match="one user and one assistant"):
        from_conversation(conv, "alpaca")


def test_convert_instructions_cli_counts_what_it_skips(tmp_path):
    src = tmp_path / "lima.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in (LIMA, {"conversations": ["Hi?", "Hello."]}, {"bad": 1})) + "\n")
    out = tmp_path / "alpaca.json"
    result = CliRunner().invoke(convert_instructions, [str(src), "-o", str(out), "--to", "alpaca"])
    assert result.exit_code == 0 and "read 3, wrote 1, skipped 2" in result.output
    assert json.loads(out.read_text()) == [{"instruction": "Hi?", "input": "", "output": "Hello."}]


def tokenize(src, out, tokenizer, *extra):
    return CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer), "-o", str(out),
                                     "--seq-len", "96", *extra])


def trained_pieces(view, tok, row=0):
    """The decoded runs of trained tokens of one row."""
    ids, mask = view.tokens[row].tolist(), view.loss_mask[row].tolist()
    runs, cur = [], []
    for i, m in zip(ids, mask):
        if m:
            cur.append(i)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return [tok.decode(r, skip_special_tokens=False) for r in runs]


def test_chats_train_on_assistant_turns_and_their_end_tokens_only(tmp_path, tokenizer_path):
    src = tmp_path / "chat.jsonl"
    src.write_text(json.dumps(SHAREGPT) + "\n" + json.dumps(MESSAGES) + "\n")
    out = tmp_path / "sft"
    result = tokenize(src, out, tokenizer_path)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert manifest["counts"]["chat_rows"] == 2 and manifest["chat_template"]["source"].startswith("default")
    tok = Tokenizer.from_file(str(tokenizer_path))
    [(path, _)] = manifest_shards(out)
    view = open_shard(path)
    for row in range(2):
        assert trained_pieces(view, tok, row) == ["The Nile.<|endoftext|>", "The Amazon carries more water.<|endoftext|>"]
        n = int(view.lengths[row])
        text = tok.decode(view.tokens[row, :n].tolist(), skip_special_tokens=False)
        assert text == ("<|user|>\nName a river.<|endoftext|>\n<|assistant|>\nThe Nile.<|endoftext|>\n<|user|>\n"
                        "And a longer one?<|endoftext|>\n<|assistant|>\nThe Amazon carries more water.<|endoftext|>\n")


def test_the_tokenizers_own_template_is_used(tmp_path, tokenizer_path):
    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    shutil.copy(tokenizer_path, tok_dir / "tokenizer.json")
    chatml = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    (tok_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": chatml}))
    src = tmp_path / "chat.jsonl"
    src.write_text(json.dumps(MESSAGES) + "\n")
    out = tmp_path / "sft"
    assert tokenize(src, out, tok_dir / "tokenizer.json", "--seq-len", "160").exit_code == 0
    assert read_manifest(out)["chat_template"]["source"] == str(tok_dir / "tokenizer_config.json")
    tok = Tokenizer.from_file(str(tokenizer_path))
    [(path, _)] = manifest_shards(out)
    assert trained_pieces(open_shard(path), tok) == ["The Nile.<|im_end|>", "The Amazon carries more water.<|im_end|>"]


def test_render_chat_turns_alpaca_records_into_chats(tmp_path, tokenizer_path):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"instruction": "Name a colour.", "input": "", "output": "Blue."}) + "\n")
    out = tmp_path / "sft"
    assert tokenize(src, out, tokenizer_path, "--render", "chat").exit_code == 0
    tok = Tokenizer.from_file(str(tokenizer_path))
    [(path, _)] = manifest_shards(out)
    assert trained_pieces(open_shard(path), tok) == ["Blue.<|endoftext|>"]


def test_a_template_that_cannot_be_masked_is_refused_with_the_reason(tmp_path, tokenizer_path):
    bad = tmp_path / "bad.jinja"  # the header counts every turn: a prefix renders differently from the whole
    bad.write_text("{{ messages|length }} turns\n{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    src = tmp_path / "chat.jsonl"
    src.write_text(json.dumps(MESSAGES) + "\n")
    result = tokenize(src, tmp_path / "sft", tokenizer_path, "--chat-template", str(bad))
    assert result.exit_code == 2 and "skipped_bad_chat 1" in result.output


def test_assistant_turns_cut_off_by_seq_len_leave_no_target_and_are_counted(tmp_path, tokenizer_path):
    long_user = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    src = tmp_path / "c.jsonl"
    src.write_text(json.dumps(long_user) + "\n" + json.dumps(MESSAGES) + "\n")
    out = tmp_path / "sft"
    assert tokenize(src, out, tokenizer_path).exit_code == 0
    counts = read_manifest(out)["counts"]
    assert counts["dropped_no_target"] == 1 and counts["rows_train"] == 1
