"""Faults under the Ray executor (a local Ray instance with 2 CPUs): a task whose Ray
worker is killed mid-task is retried and the output is identical to a clean run; a task
whose worker always dies ends in a clear TaskFailed.

(A worker that dies once inside RayExecutor.map is the first test's case at the level
of one call; it is left out as a separate test to keep the module near 40 s, most of it
starting Ray.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dataforge.cli import main
from dataforge.runner.executor import TaskFailed
from dataforge.tokenize.shards import manifest_shards
from dataforge.runner.ray_executor import RayExecutor  # imports ray only when one is made
from tests.e2e.test_faults import always_die


@pytest.fixture(scope="module")
def ray_instance():
    """One local 2-CPU Ray instance for the module (starting one takes most of the time here)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'dataforge[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class RayWorkerKiller(threading.Thread):
    """Watches the run's scratch folders (``.tmp-<task>-<pid>``, pid = the Ray worker running
    the task) and SIGKILLs that worker while the folder is still there, i.e. before the
    task committed. Stops after one such mid-task kill (or ``max_kills`` attempts)."""

    def __init__(self, out: Path, *, max_kills: int = 3) -> None:
        super().__init__(daemon=True)
        self.out, self.max_kills = out, max_kills
        self.stop = threading.Event()
        self.killed: list[str] = []
        self.mid_task: str | None = None

    def run(self) -> None:
        while not self.stop.is_set() and self.mid_task is None and len(self.killed) < self.max_kills:
            for tmp in self.out.glob("_work/*/phase-0/.tmp-*"):
                pid = tmp.name.rsplit("-", 1)[-1]
                if not pid.isdigit() or int(pid) == os.getpid() or "ray::" not in _cmdline(int(pid)):
                    continue
                os.kill(int(pid), signal.SIGKILL)
                self.killed.append(tmp.name)
                if tmp.exists():  # not yet renamed into place: the task was running
                    self.mid_task = tmp.name
                break
            time.sleep(0.005)


def _invoke(tmp_path: Path, data_dir: Path, name: str, executor: str) -> Result:
    from tests.runner.test_ray_executor import PIPELINE  # needs ray (imported here, after the skip)

    p = tmp_path / f"{name}.yaml"
    p.write_text(PIPELINE.format(out=tmp_path / name, executor=executor, data=data_dir))
    return CliRunner().invoke(main, ["run", str(p)])


def _run(tmp_path: Path, data_dir: Path, name: str, executor: str) -> Path:
    r = _invoke(tmp_path, data_dir, name, executor)
    assert r.exit_code == 0, r.output
    return tmp_path / name


def _run_with_killer(tmp_path: Path, data_dir: Path, name: str, executor: str) -> tuple[Result, RayWorkerKiller]:
    killer = RayWorkerKiller(tmp_path / name)
    killer.start()
    try:
        return _invoke(tmp_path, data_dir, name, executor), killer
    finally:
        killer.stop.set()
        killer.join()


def _fingerprint(out: Path) -> tuple[list[str], list[tuple[str, int]]]:
    docs = sorted((str(f.relative_to(out)), f.stat().st_size) for f in (out / "documents").rglob("*.parquet"))
    return [e["sha256"] for _, e in manifest_shards(out)], docs


def test_ray_worker_killed_mid_task_is_retried_and_output_is_identical(tmp_path: Path, data_dir: Path,
                                                                      ray_instance) -> None:
    clean = _run(tmp_path, data_dir, "clean", "{kind: local, workers: 1}")
    r, killer = _run_with_killer(tmp_path, data_dir, "killed", "{kind: ray, max_retries: 2}")
    assert killer.mid_task is not None, f"no Ray worker was caught mid-task (kills: {killer.killed})"
    assert r.exit_code == 0, r.output
    killed = tmp_path / "killed"
    assert _fingerprint(killed) == _fingerprint(clean)
    assert len(_fingerprint(killed)[0]) > 3
    assert not list(killed.glob("_work/*/phase-0/.tmp-*"))  # the retry replaced the dead worker's scratch


def test_without_retries_the_same_kill_fails_the_run_clearly(tmp_path: Path, data_dir: Path, ray_instance) -> None:
    r, killer = _run_with_killer(tmp_path, data_dir, "noretry", "{kind: ray, max_retries: 0}")
    assert killer.mid_task is not None, f"no Ray worker was caught mid-task (kills: {killer.killed})"
    assert r.exit_code == 1
    assert "failed after 0 retries" in r.output and "Traceback" not in r.output
    task = killer.mid_task[len(".tmp-"):].rsplit("-", 1)[0]
    assert not list((tmp_path / "noretry").glob(f"_work/*/phase-0/{task}.done"))  # the killed task is not done
    assert not (tmp_path / "noretry" / "manifest.json").exists()


def test_a_failed_map_leaves_no_task_running(tmp_path: Path, ray_instance) -> None:
    go, late = str(tmp_path / "go"), str(tmp_path / "late")

    def die_or_write_late(i: int) -> int:  # local: Ray pickles it by value
        if i == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        while not os.path.exists(go):
            time.sleep(0.01)
        Path(late).write_text("written after map() had raised")
        return i

    ex = RayExecutor(address=None, max_retries=0)  # the fixture's instance: like a cluster, it outlives the run
    with pytest.raises(TaskFailed):
        ex.map(die_or_write_late, [(0,), (1,)])
    Path(go).touch()
    deadline = time.monotonic() + 5
    while not os.path.exists(late) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(late), "task 1 was still running after map() raised TaskFailed"


def test_ray_task_whose_worker_always_dies_fails_clearly(ray_instance) -> None:
    ex = RayExecutor(address=None, max_retries=1)
    with pytest.raises(TaskFailed, match=r"task 0 failed after 1 retries"):
        ex.map(always_die, [(1,)])
    ex.close()
    assert ray_instance.is_initialized()  # an instance the executor did not start is left running


# ---- the local executor: workers must not outlive a driver killed alone ---------------------
# (not Ray, but the same promise; it lives here because this is the fault-test file of issue 8)
DRIVER = ("import time; from dataforge.runner.executor import LocalExecutor; "
          "LocalExecutor(2).map(time.sleep, [(60,), (60,)])")


def _family(root: int) -> dict[int, int]:
    """pid -> depth below ``root`` (1 = child) of every live process under it."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parent[int(entry.name)] = int(fields[1])
    depth: dict[int, int] = {}
    for pid in parent:
        chain, p = [], pid
        while p in parent and p != root and len(chain) < 32:
            chain.append(p)
            p = parent[p]
        if p == root and chain:
            depth[pid] = len(chain)
    return depth


def test_local_workers_exit_when_the_driver_is_killed_alone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", DRIVER])
    family: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(d == 2 for d in family.values()) < 2:
            time.sleep(0.05)  # forkserver (depth 1) -> two workers (depth 2), each in time.sleep(60)
            family = _family(proc.pid)
        workers = [pid for pid, d in family.items() if d == 2]
        if len(workers) != 2:
            pytest.fail(f"the two workers never started ({family})")
        os.kill(proc.pid, signal.SIGKILL)  # the driver alone, as the OOM killer does
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any("forkserver" in _cmdline(w) for w in workers):
            time.sleep(0.05)  # a dead worker is gone or a zombie (empty cmdline)
        assert not any("forkserver" in _cmdline(w) for w in workers), f"workers {workers} outlived the driver"
    finally:  # everything this test started
        proc.kill()
        proc.wait()
        for pid in family:
            if "forkserver" in _cmdline(pid) or "resource_tracker" in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
