"""Every example in pipelines/ works as its header says, from a fresh checkout's layout."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main

REPO = Path(__file__).resolve().parents[2]
PIPELINES = sorted((REPO / "pipelines").glob("*.yaml"))


@pytest.fixture
def checkout(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out like the repository (data/ and pipelines/), as the current folder."""
    (tmp_path / "data").symlink_to(data_dir)
    (tmp_path / "pipelines").symlink_to(REPO / "pipelines")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def header_commands(path: Path) -> list[list[str]]:
    """The `dataforge ...` commands in a pipeline file's comment header (continuations joined)."""
    lines, out = [], []
    for raw in path.read_text().splitlines():
        if not raw.startswith("#"):
            break
        lines.append(raw.lstrip("#").strip())
    text = "\n".join(lines).replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("dataforge ") and "crontab" not in line:
            out.append(shlex.split(line.split("  #")[0])[1:])
    return out


@pytest.mark.parametrize("path", [p for p in PIPELINES if p.name != "sft_mix.yaml"], ids=lambda p: p.name)
def test_every_pipeline_validates(checkout: Path, path: Path) -> None:
    r = CliRunner().invoke(main, ["validate", f"pipelines/{path.name}"])
    assert r.exit_code == 0, r.output


def test_the_sft_mix_example_runs_as_written(checkout: Path) -> None:
    commands = header_commands(REPO / "pipelines" / "sft_mix.yaml")
    assert len(commands) == 3
    for args in commands:
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, (args, r.output)
    assert (checkout / "out" / "sft_mix" / "manifest.json").exists()


def test_the_nightly_example_appends_then_has_nothing_to_do(checkout: Path) -> None:
    (args,) = [c for c in header_commands(REPO / "pipelines" / "nightly.yaml") if c[0] == "run"]
    assert CliRunner().invoke(main, args).exit_code == 0
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 4, r.output  # cron: nothing new
