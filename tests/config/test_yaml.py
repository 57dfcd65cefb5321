"""The YAML layer: duplicate keys and alias bombs are refused with lines, before any work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.config import load_pipeline
from dataforge.errors import ConfigError
from dataforge.yamlfile import MAX_EXPANDED_NODES, expanded_size, load_yaml

import yaml


def test_duplicate_key_names_both_lines(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}
  c4: {{reader: jsonl, paths: {data_dir}/c4/olmo-c4-sample.01.jsonl.gz}}
stages:
  - write: {{format: jsonl, format: parquet}}
""")
    with pytest.raises(ConfigError) as exc:
        load_pipeline(p)
    got = [str(x) for x in exc.value.problems]
    assert any(":4: inputs.c4:" in g and "lines 3 and 4" in g for g in got), got
    assert any(":6:" in g and "'format' is given twice" in g for g in got), got


def test_no_duplicates_no_problem() -> None:
    data, lines = load_yaml("a: 1\nb: {c: 2, d: [1, 2]}\n", path="x.yaml")
    assert data == {"a": 1, "b": {"c": 2, "d": [1, 2]}} and lines.line("b", "d") == 2


BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
                 + ["output: out", "inputs: {}", "stages: []"]) + "\n"


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    assert len(BOMB) < 1024
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2
    assert "aliases expand to more than" in r.output
    assert time.perf_counter() - t0 < 30  # it answered: it did not walk a billion items


def test_expanded_size_counts_aliases_as_copies() -> None:
    node = yaml.compose("a: &x [1, 2]\nb: [*x, *x]\n", Loader=yaml.SafeLoader)
    # mapping + 2 keys + list(3) + list(1 + 2 * 3)
    assert expanded_size(node) == 1 + 2 + 3 + 7
    assert MAX_EXPANDED_NODES < 10**6
