"""fsspec URLs: inputs read from a URL, outputs built locally and published to a URL."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import zstandard
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards

PIPELINE = """\
name: remote
seed: 3
output: {out}
staging: {staging}
executor: {{workers: 1}}
inputs:
  c4: {{reader: jsonl, paths: "{c4}"}}
  wiki: {{reader: text, paths: "{wiki}", split: line}}
stages:
  - write: {{format: jsonl}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 32768}}
"""


def test_url_inputs_and_published_output_match_a_local_run(tmp_path: Path, data_dir: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(PIPELINE.format(out=tmp_path / "local", staging=tmp_path / "unused", data=data_dir,
                                     c4=f"{data_dir}/c4/*.jsonl*", wiki=f"{data_dir}/wiki/wiki_demo.txt"))
    assert CliRunner().invoke(main, ["run", str(local)]).exit_code == 0
    remote = tmp_path / "bucket" / "corpus"
    p = tmp_path / "remote.yaml"
    p.write_text(PIPELINE.format(out=f"file://{remote}", staging=tmp_path / "staging", data=data_dir,
                                 c4=f"file://{data_dir}/c4/*.jsonl*", wiki=f"file://{data_dir}/wiki/wiki_demo.txt"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    want = [e["sha256"] for _, e in manifest_shards(tmp_path / "local")]
    assert [e["sha256"] for _, e in manifest_shards(remote)] == want  # the published copy
    assert all(p.exists() for p, _ in manifest_shards(remote))
    assert not (remote / "_work").exists() and (tmp_path / "staging" / "_work").exists()
    first = next((remote / "documents" / "wiki").iterdir()).read_bytes()
    doc = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(first).decode().splitlines()[0])
    assert doc["id"] == f"wiki/file://{data_dir}/wiki/wiki_demo.txt:1"  # ids name the URL, not a scratch copy
    again = CliRunner().invoke(main, ["run", str(p)])
    assert again.exit_code == 4


def test_publish_to_an_in_memory_object_store(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "mem.yaml"
    p.write_text(PIPELINE.format(out="memory://bucket/run1", staging=tmp_path / "staging", data=data_dir,
                                 c4=f"{data_dir}/c4/olmo-c4-sample.01.jsonl.gz", wiki=f"{data_dir}/wiki/wiki_demo.txt"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    fs = fsspec.filesystem("memory")
    manifest = json.loads(fs.cat("/bucket/run1/manifest.json"))
    for shard in manifest["shards"]:
        assert fs.size(f"/bucket/run1/shards/{shard['path']}") > 0
    assert not fs.exists("/bucket/run1/_work")
