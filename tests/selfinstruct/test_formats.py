"""format-instructions on the bundled labelled data: QA (JSONL), classification (save_to_disk), summarisation (Parquet)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dataforge.cli.instruct import format_instructions
from dataforge.selfinstruct.formats import Formatter, as_text, load_library, lookup, placeholders


def run(*args):
    return CliRunner().invoke(format_instructions, [str(a) for a in args])


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_qa_jsonl_with_a_dotted_field_and_optional_context(data_dir, tmp_path):
    src = data_dir / "instructions" / "formats" / "qa.jsonl"
    out = tmp_path / "qa.jsonl"
    result = run(src, "-o", out, "--task", "qa", "--field", "answer=answers.text[0]")
    assert result.exit_code == 0, result.output
    assert "read 6, wrote 5" in result.output and "skipped.missing_answer 1" in result.output  # qa-6 has no answer
    recs = read(out)
    library = load_library()["qa"]
    for rec in recs:
        src_rec = next(json.loads(x) for x in src.read_text().splitlines() if json.loads(x)["id"] == rec["source_id"])
        pool = list(library.templates) + list(library.inverted)
        template = pool[rec["template"]]
        assert rec["inverted"] == (rec["template"] >= len(library.templates))
        want = src_rec["question"] if rec["inverted"] else src_rec["answers"]["text"][0]
        assert rec["output"] == want
        if "{context}" in template["input"] + template["instruction"]:
            assert src_rec.get("context")  # context templates only where there is a context


def test_classification_from_a_saved_hf_dataset_uses_classlabel_names(data_dir, tmp_path):
    out = tmp_path / "clf.json"
    result = run(data_dir / "instructions" / "formats" / "sentiment_hf", "-o", out, "--task", "classification",
                 "--no-inverted")
    assert result.exit_code == 0, result.output
    recs = json.loads(out.read_text())
    assert len(recs) == 6 and {r["output"] for r in recs} == {"negative", "positive"}
    assert not any(r["inverted"] for r in recs)
    assert all("negative, positive" in r["instruction"] for r in recs if "{options}" in
               load_library()["classification"].templates[r["template"]]["instruction"])


def test_summarization_parquet_and_the_choice_is_seeded(data_dir, tmp_path):
    src = data_dir / "instructions" / "formats" / "summarization.parquet"
    outs = []
    for seed in ("0", "0", "7"):
        out = tmp_path / f"s{len(outs)}.jsonl"
        result = run(src, "-o", out, "--task", "summarization", "--field", "document=article", "--field",
                     "summary=highlights", "--seed", seed)
        assert result.exit_code == 0, result.output
        outs.append(read(out))
    assert outs[0] == outs[1]  # same seed, same templates
    assert [r["template"] for r in outs[0]] != [r["template"] for r in outs[2]]
    assert all(r["task"] == "summarization" for r in outs[0]) and len(outs[0]) == 4
    titled = [r for r in outs[0] + outs[2] if "titled" in r["instruction"]]
    assert all(r["source_id"] != "s-3" for r in titled)  # s-3 has no title


def test_template_choice_spreads_over_the_pool():
    task = load_library()["qa"]
    fmt = Formatter(task, seed=1)
    for i in range(700):
        fmt.format({"question": f"q{i}?", "answer": "a", "context": "c"}, str(i))
    used = [v for k, v in fmt.counts.items() if k.startswith("template.")]
    assert len(used) == 7 and min(used) > 60 and fmt.counts["inverted"] > 100


def test_helpers():
    assert lookup({"a": {"b": [None, "x"]}}, "a.b[1]") == "x" and lookup({"a": 1}, "a.b") is None
    assert lookup({"a": [1]}, "a[3]") is None
    assert as_text(1, ["neg", "pos"]) == "pos" and as_text(["a", "b"]) == "a, b" and as_text("  ") is None
    assert placeholders({"instruction": "{q} and {a}", "input": "", "output": "{a}"}) == ["q", "a", "a"]


def test_bad_library_and_unknown_task_are_config_errors(tmp_path, data_dir):
    lib = tmp_path / "lib.yaml"
    lib.write_text("tasks:\n  qa:\n    fields: [question]\n    templates:\n      - {instruction: '{nope}', input: '', "
                   "output: '{question}'}\n")
    src = data_dir / "instructions" / "formats" / "qa.jsonl"
    result = run(src, "-o", tmp_path / "o.jsonl", "--task", "qa", "--templates", lib)
    assert result.exit_code == 2 and "nope" in result.output
    result = run(src, "-o", tmp_path / "o.jsonl", "--task", "poetry")
    assert result.exit_code == 2 and "unknown task 'poetry'" in result.output


@pytest.mark.parametrize("arg", ["answer", "=col", "answer="])
def test_bad_field_mapping_is_a_usage_error(arg, data_dir, tmp_path):
    result = run(data_dir / "instructions" / "formats" / "qa.jsonl", "-o", tmp_path / "o.jsonl", "--task", "qa",
                 "--field", arg)
    assert result.exit_code == 2


def test_a_mapping_that_matches_no_record_is_a_config_error(data_dir, tmp_path):
    result = run(data_dir / "instructions" / "formats" / "summarization.parquet", "-o", tmp_path / "o.jsonl",
                 "--task", "summarization", "--field", "summary=highlights")
    assert result.exit_code == 2
    assert "no record has task field 'document'" in result.output and "--field document=COLUMN" in result.output
    assert not (tmp_path / "o.jsonl").exists()
