"""Pipeline-file validation: every problem at once, each with file:line, key, and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.config import load_pipeline
from dataforge.errors import ConfigError

GOOD = """\
name: t
seed: 3
output: {out}
inputs:
  c4: {{reader: jsonl, paths: {data}/c4/tiny_c4_sample.jsonl, weight: 0.7}}
  wiki: {{reader: text, paths: {data}/wiki/wiki_demo.txt, split: line, weight: 0.3}}
stages:
  - write: {{format: jsonl}}
  - mix: {{target_tokens: 1000}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 64}}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return p


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_pipeline(path)
    return [str(p) for p in exc.value.problems]


def test_good_pipeline_loads(tmp_path: Path, data_dir: Path) -> None:
    cfg = load_pipeline(write(tmp_path, GOOD.format(out=tmp_path / "o", data=data_dir)))
    assert [i.name for i in cfg.inputs] == ["c4", "wiki"]
    assert [s.name for s in cfg.stages] == ["write", "mix", "tokenize"]
    assert cfg.seed == 3 and cfg.inputs[0].weight == 0.7
    assert cfg.inputs[1].reader_params.split == "line"


def test_every_problem_reported_with_line_key_and_suggestion(tmp_path: Path, data_dir: Path) -> None:
    text = f"""\
name: t
output: {tmp_path / 'o'}
inputs:
  web: {{reader: jsonl, paths: {tmp_path}/nothing/*.jsonl}}
  c4: {{reader: jsnl, paths: {data_dir}/c4/*.jsonl}}
stages:
  - write: {{formt: jsonl}}
  - tokenize: {{tokenizer: {tmp_path}/missing.json, seq_len: many}}
  - gopher_qualty: {{}}
seeed: 1
"""
    got = problems(write(tmp_path, text))
    joined = "\n".join(got)
    p = str(tmp_path / "p.yaml")
    assert f"{p}:4: inputs.web.paths: '{tmp_path}/nothing/*.jsonl' matches no files" in joined
    assert f"{p}:5: inputs.c4.reader: unknown reader 'jsnl' (did you mean 'jsonl'?)" in joined
    assert f"{p}:7: stages[0].write.formt: unknown option 'formt' (did you mean 'format'?)" in joined
    assert f"{p}:8: stages[1].tokenize.seq_len:" in joined and "valid integer" in joined
    assert "stages[2].gopher_qualty: unknown stage 'gopher_qualty' (did you mean 'gopher_quality'?)" in joined
    assert f"{p}:10: seeed: unknown key 'seeed' (did you mean 'seed'?)" in joined
    assert len(got) == 6


def test_missing_tokenizer_file_is_a_config_error(tmp_path: Path, data_dir: Path) -> None:
    text = GOOD.format(out=tmp_path / "o", data=data_dir).replace(f"{data_dir}/tokenizer.json", "nope/tok.json")
    got = problems(write(tmp_path, text))
    assert got == [f"{tmp_path / 'p.yaml'}:10: stages[2].tokenize.tokenizer: tokenizer file '{Path.cwd() / 'nope/tok.json'}' not found "
                   "(give a tokenizer.json path, or use 'train: {vocab_size: N}')"]


def test_mix_problems(tmp_path: Path, data_dir: Path) -> None:
    text = GOOD.format(out=tmp_path / "o", data=data_dir).replace(", weight: 0.3", "").replace(
        "mix: {target_tokens: 1000}", "mix: {weights: {web: 1.0, c4: 0.5}}")
    got = "\n".join(problems(write(tmp_path, text)))
    # at the mix stage's own line (line 9 of the file) and key
    assert f"{tmp_path / 'p.yaml'}:9: stages[1].mix.weights.web: weight for 'web', which is not an input" in got


def test_order_rules(tmp_path: Path, data_dir: Path) -> None:
    text = GOOD.format(out=tmp_path / "o", data=data_dir)
    text = text.replace("  - write: {format: jsonl}\n", "").replace(
        "  - tokenize:", "  - write: {}\n  - tokenize:").replace("  - mix: {target_tokens: 1000}\n", "")
    text = text.replace("  - write: {}\n  - tokenize: {tokenizer", "  - tokenize: {tokenizer") + "  - write: {}\n"
    got = "\n".join(problems(write(tmp_path, text)))
    assert "'tokenize' must come after every other stage" in got


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    got = problems(write(tmp_path, "inputs: [\n"))
    assert got[0].startswith(f"{tmp_path / 'p.yaml'}:2: ") and "not valid YAML" in got[0]
    assert "must be a mapping" in problems(write(tmp_path, "- a\n- b\n"))[0]


def test_yaml_is_data_not_code(tmp_path: Path) -> None:
    got = problems(write(tmp_path, "output: !!python/object/apply:os.system ['echo hi']\n"))
    assert "not valid YAML" in got[0]


def test_sources_option_checked(tmp_path: Path, data_dir: Path) -> None:
    text = GOOD.format(out=tmp_path / "o", data=data_dir).replace("write: {format: jsonl}",
                                                                  "write: {format: jsonl, sources: [c5]}")
    got = "\n".join(problems(write(tmp_path, text)))
    assert "stages[0].write.sources: 'c5' is not an input (choose from: c4, wiki)" in got


def test_input_names_cannot_escape_the_output(tmp_path: Path, data_dir: Path) -> None:
    text = GOOD.format(out=tmp_path / "o", data=data_dir).replace("  c4: {", "  ../../etc: {")
    got = "\n".join(problems(write(tmp_path, text)))
    assert "input name '../../etc' may use only letters, digits, '-', '_', '.' (it names files)" in got


def test_crafted_document_ids_never_become_paths(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dataforge.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "../../../escaped", "text": "a document with a hostile id"}\n'
                   '{"id": "/etc/passwd", "text": "another one"}\n')
    p = tmp_path / "p.yaml"
    p.write_text(f"output: {tmp_path / 'out'}\ninputs:\n  x: {{reader: jsonl, paths: {src}}}\n"
                 "stages:\n  - write: {format: parquet}\n")
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert all(str(f).startswith(str(tmp_path / "out")) or f in (src, p) for f in written)
    assert not (tmp_path.parent / "escaped").exists()


def test_one_error_gives_one_message_in_the_projects_style(tmp_path: Path, data_dir: Path) -> None:
    """A broken tokenize stage is one problem: no false "add a 'tokenize' stage" elsewhere,
    and no pydantic "Value error," prefix."""
    text = GOOD.format(out=tmp_path / "o", data=data_dir).replace(
        f"tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64}}", "tokenize: {seq_len: 64}")
    got = problems(write(tmp_path, text))
    assert len(got) == 1, got
    assert got[0].startswith(f"{tmp_path / 'p.yaml'}:10: stages[2].tokenize: give exactly one of 'tokenizer: PATH'")
    assert "Value error" not in got[0]
