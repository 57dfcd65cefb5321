"""A run's output: refused before any work when it is the user's, or where inputs come from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.pathcheck import glob_could_match


def pipeline(tmp_path: Path, data_dir: Path, output: str, *, paths: str | None = None, extra: str = "") -> Path:
    p = tmp_path / "conf" / "p.yaml"
    p.parent.mkdir(exist_ok=True)
    src = paths or f"{data_dir}/c4/olmo-c4-sample.01.jsonl.gz"
    p.write_text(f"output: {output}\ninputs:\n  c4: {{reader: jsonl, paths: \"{src}\"}}\n"
                 f"stages:\n  - write: {{format: jsonl}}\n{extra}")
    return p


def refused(p: Path, *words: str) -> str:
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2, r.output
    assert "nothing was run" in r.output
    for w in words:
        assert w in r.output, r.output
    return r.output


@pytest.mark.parametrize("output, why", [("''", "output must be a folder path"), ("null", "output must be a folder path"),
                                         ("/", "filesystem root"), ("~", "home directory")])
def test_impossible_outputs(tmp_path: Path, data_dir: Path, output: str, why: str) -> None:
    if output == "~":
        output = str(Path.home())
    refused(pipeline(tmp_path, data_dir, output), why)


def test_current_directory_project_root_and_pipeline_folder(tmp_path: Path, data_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    refused(pipeline(tmp_path, data_dir, "."), "current directory")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text("[project]\n")
    refused(pipeline(tmp_path, data_dir, str(proj)), "project root")
    refused(pipeline(tmp_path, data_dir, str(tmp_path / "conf")), "holds the pipeline file")


def test_output_around_or_inside_the_inputs(tmp_path: Path, data_dir: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "a.jsonl").write_text('{"text": "hello world"}\n')
    # the output holds an input file
    refused(pipeline(tmp_path, data_dir, str(tmp_path / "web"), paths=f"{web}/a.jsonl"), "inside the output")
    # the output sits where a recursive input glob would read the run's own documents back
    refused(pipeline(tmp_path, data_dir, str(web / "out"), paths=f"{web}/**/*.jsonl*"), "read its own output back")
    # a sibling folder is fine
    r = CliRunner().invoke(main, ["run", str(pipeline(tmp_path, data_dir, str(tmp_path / "o"), paths=f"{web}/*.jsonl"))])
    assert r.exit_code == 0, r.output


def test_a_users_folder_is_refused_and_left_untouched(tmp_path: Path, data_dir: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "shards").mkdir(parents=True)
    (mine / "_work").mkdir()
    (mine / "logs").mkdir()
    files = {mine / "shards" / "train-00000.arrow": "precious", mine / ".notes.tmp": "x", mine / "_work" / "a": "b",
             mine / "logs" / "l.txt": "c"}
    for f, text in files.items():
        f.write_text(text)
    out = refused(pipeline(tmp_path, data_dir, str(mine)), "not made by dataforge", "_work/", "logs/", "shards/")
    assert "choose another output path" in out
    assert all(f.read_text() == t for f, t in files.items())
    assert sorted(p.name for p in mine.iterdir()) == [".notes.tmp", "_work", "logs", "shards"]


def test_two_write_stages_with_one_path_and_reserved_names(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"output: {tmp_path / 'o'}\ninputs:\n  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}\n"
                 "stages:\n  - write: {}\n  - write: {format: parquet}\n  - write: {path: shards}\n")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2
    assert "p.yaml:6: stages[1].write.path: stage 0 writes to 'documents' too" in r.output
    assert "p.yaml:7: stages[2].write.path: 'shards' is where the run writes its own shards" in r.output


def test_a_users_file_in_our_output_survives_a_recompute(tmp_path: Path, data_dir: Path) -> None:
    """After a config change the run starts clean, but deletes only what the ledger says it wrote."""
    out = tmp_path / "o"
    p = pipeline(tmp_path, data_dir, str(out))
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0
    docs = sorted((out / "documents").rglob("*.jsonl.zst"))
    assert docs
    (out / "documents" / "NOTES.md").write_text("mine")
    p2 = pipeline(tmp_path, data_dir, str(out), extra="seed: 7\n")
    assert CliRunner().invoke(main, ["run", str(p2)]).exit_code == 0
    assert (out / "documents" / "NOTES.md").read_text() == "mine"
    assert sorted((out / "documents").rglob("*.jsonl.zst")) == docs  # rewritten by the new config, same names


@pytest.mark.parametrize("pattern, path, hit", [
    ("/d/**/*.jsonl", "/d/out/documents/x/t.jsonl", True),
    ("/d/*/*.jsonl", "/d/out/t.jsonl", True),
    ("/d/*/*.jsonl", "/d/out/documents/x/t.jsonl", False),
    ("/d/*.jsonl", "/d/out/t.jsonl", False),
    ("/d/**", "/d/out/manifest.json", True),
])
def test_glob_could_match(pattern: str, path: str, hit: bool) -> None:
    assert glob_could_match(pattern, path) is hit
    os.fspath(path)
