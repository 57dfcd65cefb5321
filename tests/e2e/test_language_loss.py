"""No silent language loss: a stage that drops most of a language's documents is named,
with the language and the share, in the terminal, stats.json and the run's log."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main


def test_a_stage_that_drops_a_language_is_named(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  zh: {{reader: text, paths: {data_dir}/multilingual/clue-zh-100.txt, split: line}}
  en: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}
stages:
  - langid: {{languages: [zh, en], min_score: 0.5}}
  - gopher_quality: {{per_language: {{zh: {{min_doc_words: 100000}}}}}}
  - write: {{}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert "1:gopher_quality dropped 100% of the 'zh' documents" in r.output
    assert "'en' documents" not in r.output  # English lost far less than half
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    losses = stats["language_losses"]
    assert [(x["stage"], x["lang"], x["kept"]) for x in losses] == [("1:gopher_quality", "zh", 0)]
    counts = stats["counts"]["1:gopher_quality"]
    assert counts["zh"]["lang_in.zh"] == losses[0]["docs_in"] >= 20
    assert counts["en"]["lang_out.en"] > 0.5 * counts["en"]["lang_in.en"]
    # a stricter setting of the warning names English too
    p.write_text(p.read_text().replace("output:", "language_loss_warning: 0.01\noutput:").replace("/out\n", "/strict\n"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert "'en' documents" in r.output, r.output
