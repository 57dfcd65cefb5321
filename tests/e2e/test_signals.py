"""SIGTERM (cron, systemd, Kubernetes, Slurm) stops a run like Ctrl-C: workers stopped, lock
released, a non-zero exit at once, and the next run resumes to the same shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataforge.outputs import OutputDir

from .test_run_cli import make_pipeline, shard_sums

REPO = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, str, dict[str, str]]:
    """(the folder, the pipeline text with output OUT, the subprocess env): eight tasks that
    each take a while, so a signal lands while tasks are still running."""
    tmp = tmp_path_factory.mktemp("signals")
    inputs = tmp / "in"
    inputs.mkdir()
    alice = (data_dir / "books" / "alice.txt").read_text(encoding="utf-8")
    for i in range(8):
        (inputs / f"book-{i}.txt").write_text(f"copy {i}\n" + alice * 3, encoding="utf-8")
    clean = make_pipeline(tmp, data_dir, out="OUT", workers=2, c4=f"{data_dir}/c4/tiny_c4_sample.jsonl")
    text = clean.read_text().replace("stages:\n", f"  books: {{reader: text, paths: \"{inputs}/*.txt\", split: line}}\n"
                                     "stages:\n  - gopher_repetition: {}\n")
    return tmp, text, {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_workers_releases_lock_and_resumes(tmp_path: Path, pipelines: tuple[Path, str, dict[str, str]],
                                                        signum: int) -> None:
    """Both signals stop the run the same way; the resume (the same code for both) is compared
    with an unstopped run once, for SIGTERM, the signal cron and systemd send."""
    base, text, env = pipelines
    stopped = tmp_path / "stopped.yaml"
    stopped.write_text(text.replace(str(base / "OUT"), str(tmp_path / "stopped")))

    proc = subprocess.Popen([sys.executable, "-m", "dataforge", "run", str(stopped)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    phase0 = tmp_path / "stopped" / "_work"
    deadline = time.monotonic() + 120
    while not list(phase0.glob("*/phase-0/*.done")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be stopped"
    workers = _children(proc.pid)
    proc.send_signal(signum)  # the driver only, as systemd's KillMode=process or a plain `kill` does
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert time.monotonic() - t0 < 30, "the run did not stop promptly"
    assert f"stopped by {signal.Signals(signum).name}" in err and "rerun the same command to resume" in err
    time.sleep(0.5)
    assert not [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in
                Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]], "workers outlived the run"
    with OutputDir(tmp_path / "stopped", kind="pipeline"):  # the lock is free
        pass
    assert not (tmp_path / "stopped" / "manifest.json").exists()
    if signum != signal.SIGTERM:
        return

    clean = tmp_path / "clean.yaml"
    clean.write_text(text.replace(str(base / "OUT"), str(tmp_path / "clean")))
    subprocess.run([sys.executable, "-m", "dataforge", "run", str(clean)], env=env, check=True, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "dataforge", "run", str(stopped)], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert shard_sums(tmp_path / "stopped") == shard_sums(tmp_path / "clean")
