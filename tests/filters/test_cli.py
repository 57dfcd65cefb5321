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
    assert res.exit_code == 2 and "no hq training documents" in res.output
    res = CliRunner().invoke(main, ["classifier", "train", "--positive", str(tmp_path / "missing.jsonl"),
                                    "--negative", str(empty), "--output", str(tmp_path / "m.ftz")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(main, ["classifier", "train", "--help"])
    assert res.exit_code == 0 and "dataforge classifier train --positive" in res.output


def test_shipped_model_is_small_and_loads(data_dir: Path) -> None:
    from dataforge.filters.fasttext_model import load_model

    path = data_dir / "quality" / "quality.ftz"  # built with `classifier train` (quantized)
    assert path.stat().st_size < 1_500_000
    assert set(load_model(str(path)).get_labels()) == {"__label__hq", "__label__lq"}
