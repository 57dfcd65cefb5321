"""The one path rule (issue 21.2): every path in a pipeline file, defaults included, is relative
to the working directory, checked by validate, and handed to workers as an absolute path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.config import load_pipeline
from dataforge.errors import ConfigError
from dataforge.paths import AbsolutePath, InputFile, InputFolder, absolute


def _pipeline(folder: Path, data: str, *, extra: str = "") -> Path:
    p = folder / "p.yaml"
    p.write_text(f"""\
output: {folder / 'out'}
inputs:
  c4: {{reader: jsonl, paths: {data}/c4/tiny_c4_sample.jsonl}}
stages:
  - quality_classifier: {{threshold: 0.1}}
  - c4_badwords: {{}}
  - exact_dedup: {{index: idx/exact}}
{extra}  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128}}
""")
    return p


def test_a_default_path_missing_from_this_folder_is_refused_by_validate(tmp_path: Path, data_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The quality classifier's default model and the bad-words lists are looked up in the
    working directory: from elsewhere, validate names both (exit 2) and nothing is written."""
    monkeypatch.chdir(tmp_path)
    p = _pipeline(tmp_path, str(data_dir))
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2, r.output
    assert f"p.yaml:5: stages[0].quality_classifier.model: model file 'data/quality/quality.ftz' not found " \
           f"(relative to the working directory {tmp_path})" in r.output
    assert f"p.yaml:6: stages[1].c4_badwords.lists: folder '{tmp_path}/data/badwords/ldnoobw' not found" in r.output
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2 and not (tmp_path / "out").exists()


def test_relative_paths_become_absolute_in_the_stage_params(tmp_path: Path, data_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a folder that has the bundled files: defaults and relative options are made
    absolute against it, so a worker in another folder reads the same files."""
    (tmp_path / "data").mkdir()
    for sub in ("quality", "badwords"):
        shutil.copytree(data_dir / sub, tmp_path / "data" / sub)
    shutil.copy(data_dir / "tokenizer.json", tmp_path / "tok.json")
    monkeypatch.chdir(tmp_path)
    p = _pipeline(tmp_path, str(data_dir)).read_text().replace(f"{data_dir}/tokenizer.json", "tok.json")
    (tmp_path / "p.yaml").write_text(p)
    config = load_pipeline(tmp_path / "p.yaml")
    params = {s.name: s.params for s in config.stages}
    assert params["quality_classifier"].model == str(tmp_path / "data/quality/quality.ftz")
    assert params["c4_badwords"].lists == str(tmp_path / "data/badwords/ldnoobw")
    assert params["exact_dedup"].index == str(tmp_path / "idx/exact")  # not made yet: resolved, not checked
    assert params["tokenize"].tokenizer == str(tmp_path / "tok.json")
    # the config hash is of the file as written: the same pipeline hashes the same from any checkout
    other = tmp_path / "elsewhere"
    other.mkdir()
    for sub in ("data",):
        shutil.copytree(tmp_path / sub, other / sub)
    shutil.copy(tmp_path / "tok.json", other / "tok.json")
    monkeypatch.chdir(other)
    assert load_pipeline(tmp_path / "p.yaml").config_hash() == config.config_hash()


def test_the_path_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import BaseModel, ValidationError

    class M(BaseModel):
        f: InputFile | None = None
        d: InputFolder | None = None
        a: AbsolutePath | None = None

    (tmp_path / "x.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    m = M(f="x.txt", d=".", a="~/later")
    assert (m.f, m.d, m.a) == (str(tmp_path / "x.txt"), str(tmp_path), os.path.expanduser("~/later"))
    assert M(f="s3://bucket/x.txt").f == "s3://bucket/x.txt"  # URLs are left to fsspec
    assert absolute("memory://a/b") == "memory://a/b"
    for kwargs, said in (({"f": "nope.txt"}, f"file 'nope.txt' (relative to the working directory {tmp_path}): "
                                              "not found"),
                         ({"f": "."}, "a folder, not a file"),
                         ({"d": "x.txt"}, "a file, not a folder")):
        with pytest.raises(ValidationError) as exc:
            M(**kwargs)
        assert said in str(exc.value)


def test_a_ray_batch_runs_in_the_drivers_folder(tmp_path: Path) -> None:
    """A Ray worker started in another folder changes to the driver's before a task, so the
    pipeline's relative input globs mean what they mean in the driver (no Ray needed here:
    run_batch is the function the worker runs)."""
    from dataforge.runner.ray_executor import run_batch

    here = os.getcwd()
    try:
        out = run_batch(os.getcwd, [()], str(tmp_path))
        assert out[0][1] == str(tmp_path)
        os.chdir(here)
        assert run_batch(os.getcwd, [()], str(tmp_path / "gone"))[0][1] == here  # no such folder: stays
    finally:
        os.chdir(here)


def test_a_bad_path_is_a_config_error_at_its_line(tmp_path: Path, data_dir: Path) -> None:
    p = _pipeline(tmp_path, str(data_dir), extra="  - url_filter: {domain_files: [no/such.txt]}\n")
    with pytest.raises(ConfigError) as exc:
        load_pipeline(p)
    said = [str(x) for x in exc.value.problems]
    assert any(":8: stages[3].url_filter.domain_files" in s and "no/such.txt" in s for s in said), said
