"""Cron state is one transaction: a kill at any commit point of an append run leaves an
output the next run completes, with the index, the manifest and its runs in agreement;
an index shared by two pipelines is locked; a recompute never deduplicates against
itself; a run that writes no token is an error naming the stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.dedup.generations import index_lock
from dataforge.runner.failpoints import POINTS

from .test_append import PIPELINE

REPO = Path(__file__).resolve().parents[2]


def _day(src: Path, name: str, lines: list[bytes]) -> None:
    (src / f"{name}.jsonl").write_bytes(b"".join(lines))


def _index(out: Path) -> list[dict]:
    return json.loads((Path(f"{out}-index") / "index.json").read_text())["generations"]


def _run_cli(p: Path, kill_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DATAFORGE_KILL_AT", None)
    if kill_at:
        env["DATAFORGE_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "dataforge", "run", str(p)], env=env, capture_output=True).returncode


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_commit_point_is_completed_by_the_next_run(tmp_path: Path, data_dir: Path, point: str) -> None:
    lines = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    src = tmp_path / "crawl"
    src.mkdir()
    out = tmp_path / "out"
    p = tmp_path / "p.yaml"
    p.write_text(PIPELINE.format(out=out, src=src, data=data_dir))
    _day(src, "day1", lines[:150])
    assert _run_cli(p) == 0
    _day(src, "day2", lines[150:250] + lines[:40])  # 40 of day 1's documents come back
    assert _run_cli(p, kill_at=point) == -9  # killed at the commit point
    assert _run_cli(p) in (0, 4)  # the next run completes what was left (or finds it complete)
    manifest = json.loads((out / "manifest.json").read_text())
    gens = _index(out)
    assert [g["state"] for g in gens] == ["confirmed", "confirmed"]  # no generation lost or pending
    listed = [t["run"] for r in manifest["runs"] for t in r.get("index", [])]
    assert listed == [g["run"] for g in gens]  # the manifest and the index agree
    assert len(manifest["runs"]) == 2 and [i["path"] for i in manifest["inputs"]] == [str(src / "day1.jsonl"),
                                                                                   str(src / "day2.jsonl")]
    # day 3 brings day 2's documents back: the index knows them
    _day(src, "day3", lines[150:180])
    assert _run_cli(p) == 0
    stats = json.loads((out / "stats.json").read_text())["counts"]
    dedup = next(v for k, v in stats.items() if k.endswith("minhash_dedup"))
    assert sum(c.get("dropped.duplicate", 0) for c in dedup.values()) == 30


def test_a_shared_index_is_locked(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "crawl"
    src.mkdir()
    _day(src, "day1", (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)[:30])
    out = tmp_path / "out"
    p = tmp_path / "p.yaml"
    p.write_text(PIPELINE.format(out=out, src=src, data=data_dir))
    with index_lock(Path(f"{out}-index")):  # another pipeline is using the index right now
        r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 3, r.output
    assert "another dataforge run is using this dedup index" in r.output
    assert not (out / "manifest.json").exists()
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0


def test_a_recompute_with_an_index_does_not_drop_itself(tmp_path: Path, data_dir: Path) -> None:
    """Issue: a non-append rerun with one option changed dropped every document as a
    duplicate of the previous run. Now the output's own generation is replaced."""
    src = tmp_path / "crawl"
    src.mkdir()
    _day(src, "day1", (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)[:200])
    out = tmp_path / "out"
    p = tmp_path / "p.yaml"
    text = PIPELINE.format(out=out, src=src, data=data_dir).replace("append: true\n", "")
    p.write_text(text.replace("stages:\n", "stages:\n  - gopher_repetition: {}\n"))
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0
    first = json.loads((out / "manifest.json").read_text())["tokens"]["train"]
    p.write_text(text.replace("stages:\n", "stages:\n  - gopher_repetition: {dup_line_frac: 0.5}\n"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    second = json.loads((out / "manifest.json").read_text())["tokens"]["train"]
    assert second > 0.9 * first
    gens = _index(out)
    assert len(gens) == 1 and gens[0]["state"] == "confirmed"


DROP_ALL = "{min_doc_words: 1000000, max_doc_words: null}"  # gopher_quality options no document passes


def _c4_pipeline(tmp_path: Path, data_dir: Path, *, gopher: str, last: str) -> Path:
    """The bundled C4 sample through gopher_quality and one last stage."""
    p = tmp_path / "p.yaml"
    p.write_text(f"output: {tmp_path / 'out'}\ninputs:\n  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}\n"
                 f"stages:\n  - gopher_quality: {gopher}\n  - {last}\n")
    return p


def test_a_run_that_writes_no_token_fails_naming_the_stage(tmp_path: Path, data_dir: Path) -> None:
    p = _c4_pipeline(tmp_path, data_dir, gopher=DROP_ALL,
                     last=f"tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 128}}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1, r.output
    assert "449 documents were read but no shard has a token" in r.output
    assert "stage 0:gopher_quality (it dropped all 449 documents it saw)" in r.output


def test_a_run_that_writes_no_document_fails_naming_the_stage(tmp_path: Path, data_dir: Path) -> None:
    """Without tokenize the documents are the output: none written from 449 read is an error too."""
    p = _c4_pipeline(tmp_path, data_dir, gopher=DROP_ALL, last="write: {}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1, r.output
    assert "449 documents were read but no document was written" in r.output
    assert "stage 0:gopher_quality (it dropped all 449 documents it saw)" in r.output
    assert (tmp_path / "out" / "stats.json").exists()  # the funnel is there to look at
    p = _c4_pipeline(tmp_path, data_dir, gopher="{}", last="write: {}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output


def test_a_run_whose_reader_skipped_every_record_fails_with_the_reasons(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl, max_record_bytes: 16}}
stages:
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 128}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1, r.output
    assert "no document was read: the readers skipped every record (record_too_large 449)" in r.output


def test_a_pipeline_seed_a_library_cannot_take_is_refused_at_validate(tmp_path: Path, data_dir: Path) -> None:
    """datasketch seeds numpy's RandomState (below 2**32): the pipeline seed that would reach it
    is refused at its key before any work, not in the first task with a traceback."""
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
seed: 4294967296
output: {tmp_path / 'out'}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}
stages:
  - minhash_dedup: {{hash: datasketch}}
  - write: {{}}
""")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2, r.output
    assert "p.yaml:1: seed: seed 4294967296 drives minhash_dedup's datasketch hash" in r.output
    assert "(stage 0:minhash_dedup)" in r.output
    p.write_text(p.read_text().replace("{hash: datasketch}", "{hash: datasketch, seed: 7}"))
    assert CliRunner().invoke(main, ["validate", str(p)]).exit_code == 0  # its own seed: fine
