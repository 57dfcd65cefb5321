"""`dataforge classifier train / evaluate` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main


def test_train_then_evaluate(data_dir: Path, tmp_path: Path) -> None:
    hq, lq = tmp_path / "hq.jsonl", tmp_path / "lq.jsonl"
    rows = [json.loads(line) for line in open(data_dir / "quality" / "dclm_labelled.jsonl", encoding="utf-8")]
    hq.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows if r["label"] == 1))
    lq.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows if r["label"] == 0))
    model = tmp_path / "model.ftz"
    runner = CliRunner()
    res = runner.invoke(main, ["classifier", "train", "--positive", str(hq), "--positive",
                               str(data_dir / "wiki" / "wiki_demo.txt"), "--negative", str(lq),
                               "--output", str(model), "--no-quantize", "--bucket", "20000"])
    assert res.exit_code == 0, res.output
    assert "precision" in res.output and "AUC" in res.output and model.exists()
    res = runner.invoke(main, ["classifier", "evaluate", "--model", str(model), "--positive", str(hq),
                               "--negative", str(lq)])
    assert res.exit_code == 0 and "auc" in res.output


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = CliRunner().invoke(main, ["classifier", "train", "--positive", str(empty), "--negative", str(empty),
                                    "--output", str(tmp_path / "m.ftz")])
    assert res.exit_code == 2 and "is given as both --positive and --negative" in res.output
    res = CliRunner().invoke(main, ["classifier", "train", "--positive", str(tmp_path / "missing.jsonl"),
                                    "--negative", str(empty), "--output", str(tmp_path / "m.ftz")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_degenerate_data_exits_2_and_writes_no_model(data_dir: Path, tmp_path: Path) -> None:
    few = tmp_path / "few.jsonl"
    few.write_text("".join(json.dumps({"text": f"document number {i}."}) + "\n" for i in range(4)))
    res = CliRunner().invoke(main, ["classifier", "train", "--positive", str(few), "--negative",
                                    str(data_dir / "c4" / "tiny_c4_sample.jsonl"), "--output", str(tmp_path / "m.ftz")])
    assert res.exit_code == 2 and "only 4 hq training documents" in res.output
    assert not (tmp_path / "m.ftz").exists()


def test_evaluate_on_a_damaged_model_names_the_file(data_dir: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.ftz"  # fastText itself loops forever on this one
    truncated.write_bytes((data_dir / "quality" / "quality.ftz").read_bytes()[:5000])
    res = CliRunner().invoke(main, ["classifier", "evaluate", "--model", str(truncated), "--positive",
                                    str(data_dir / "wiki" / "wiki_demo.txt"), "--negative",
                                    str(data_dir / "c4" / "tiny_c4_sample.jsonl")])
    assert res.exit_code == 2 and f"{truncated}: not a complete fastText model" in res.output
    assert "Traceback" not in res.output


def test_every_option_shows_its_default() -> None:
    res = CliRunner().invoke(main, ["classifier", "train", "--help"])
    flat = " ".join(res.output.split())
    assert "--seed INTEGER RANGE Seed of the held-out split and of fastText's training. [default: 0;" in flat
    for option in ("--validation-fraction", "--text-field", "--word-ngrams", "--dim", "--epoch", "--lr", "--bucket"):
        assert option in flat
    assert flat.count("[default:") == 11  # every option but the required --positive, --negative, --output


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(main, ["classifier", "train", "--help"])
    assert res.exit_code == 0 and "dataforge classifier train --positive" in res.output


def test_shipped_model_is_small_and_loads(data_dir: Path) -> None:
    from dataforge.filters.fasttext_model import load_model

    path = data_dir / "quality" / "quality.ftz"  # built with `classifier train` (quantized)
    assert path.stat().st_size < 1_500_000
    assert set(load_model(str(path)).get_labels()) == {"__label__hq", "__label__lq"}


def test_an_existing_file_that_is_not_a_model_is_not_overwritten(data_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    res = CliRunner().invoke(main, ["classifier", "train", "--positive", str(data_dir / "wiki" / "wiki_demo.txt"),
                                    "--negative", str(data_dir / "c4" / "tiny_c4_sample.jsonl"), "-o", str(notes)])
    assert res.exit_code == 2 and "exists and is not a fastText model" in res.output
    assert notes.read_text() == "my notes"
