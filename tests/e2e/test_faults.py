"""Faults: a worker killed mid-task, a full disk, a read-only output. All must end cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.runner.executor import LocalExecutor, TaskFailed

from .test_run_cli import make_pipeline, shard_sums


def die_once(marker: str, value: int) -> int:
    """Kill this worker process with SIGKILL the first time it runs for ``marker``."""
    if not os.path.exists(marker):
        Path(marker).write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 2


def always_die(value: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return value


def test_worker_killed_mid_task_is_retried(tmp_path: Path) -> None:
    ex = LocalExecutor(2, max_retries=2)
    try:
        args = [(str(tmp_path / f"m{i}"), i) for i in range(4)]
        assert ex.map(die_once, args) == [0, 2, 4, 6]
    finally:
        ex.close()
    assert all((tmp_path / f"m{i}").exists() for i in range(4))


def test_worker_that_always_dies_fails_clearly(tmp_path: Path) -> None:
    ex = LocalExecutor(2, max_retries=1)
    try:
        with pytest.raises(TaskFailed, match="worker process died"):
            ex.map(always_die, [(1,), (2,)])
    finally:
        ex.close()


@pytest.fixture
def small_mount(tmp_path: Path):
    """A real tiny file system (tmpfs), so disk-full and read-only are real errors."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()})")
        mounted.append(mnt)
        return mnt

    yield mount
    for m in mounted:
        if subprocess.run(["umount", str(m)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(m)], capture_output=True)


def test_full_disk_is_a_clear_error_and_nothing_looks_complete(tmp_path: Path, data_dir: Path, small_mount) -> None:
    mnt = small_mount("size=300k")
    p = make_pipeline(tmp_path, data_dir)
    p.write_text(p.read_text().replace(str(tmp_path / "out"), str(mnt / "out")))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1, r.output
    assert "No space left on device" in r.output
    assert "Traceback" not in r.output
    assert not (mnt / "out" / "manifest.json").exists()
    for marker in (mnt / "out").rglob("phase-*/*.done"):  # whatever task is marked done is whole
        task = marker.with_name(marker.name[: -len(".done")])
        assert (task / "stats.json").exists()
        for side in ("tokens.bin", "index.parquet", "encode.json"):
            assert len(list(task.glob(f"*/{side}"))) == 1, (task, side)


def test_read_only_output_is_a_clear_error(tmp_path: Path, data_dir: Path, small_mount) -> None:
    mnt = small_mount("ro,size=1m")
    p = make_pipeline(tmp_path, data_dir)
    p.write_text(p.read_text().replace(str(tmp_path / "out"), str(mnt / "out")))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1
    assert "Read-only file system" in r.output and str(mnt / "out") in r.output


def test_full_disk_then_space_freed_resumes_to_identical_output(tmp_path: Path, data_dir: Path, small_mount) -> None:
    mnt = small_mount("size=600k")
    clean = make_pipeline(tmp_path, data_dir, out="clean")
    assert CliRunner().invoke(main, ["run", str(clean)]).exit_code == 0
    p = make_pipeline(tmp_path, data_dir, out="full")
    p.write_text(p.read_text().replace(str(tmp_path / "full"), str(mnt / "out")))
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 1
    subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert shard_sums(mnt / "out") == shard_sums(tmp_path / "clean")
    assert json.loads((mnt / "out" / "logs" / "last_run.json").read_text())["status"] == "done"
