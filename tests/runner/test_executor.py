"""The executors' profile (what the scale benchmark reads) and the Ray batch-size rule."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pytest

from dataforge.runner.executor import PROFILE_ENV, LocalExecutor, timed_call
from dataforge.runner.ray_executor import BATCH_SECONDS, CALLS_PER_CPU, MAX_BATCH, batch_size


def _grow(mb: int) -> int:
    """Touch ``mb`` MB (a task with a known memory peak); returns its length."""
    block = bytearray(mb << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def test_timed_call_measures_the_task_own_peak(tmp_path: Path) -> None:
    _grow(64)  # this process's peak is now at least 64 MB above its base
    (secs, cpu, small), n = timed_call(_grow, (1,))
    assert n == 1 << 20 and secs >= 0 and cpu >= 0
    (_, _, big), _ = timed_call(_grow, (96,))
    assert big - small > 80 << 20  # the 96 MB task's peak, not the earlier 64 MB one
    assert timed_call(_grow, (1,), rss=False)[0][2] == 0  # the driver's own peak is left alone


def test_local_profile_records_every_task_and_is_written_at_close(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "profile.json"
    monkeypatch.setenv(PROFILE_ENV, str(target))
    ex = LocalExecutor(2)
    try:
        assert ex.map(posixpath.basename, [(f"d/{i}",) for i in range(5)]) == [str(i) for i in range(5)]
        assert ex.map(_grow, [(8,), (48,)]) == [8 << 20, 48 << 20]
    finally:
        ex.close()
    data = json.loads(target.read_text())
    assert [c["fn"] for c in data["calls"]] == ["basename", "_grow"]
    assert len(data["calls"][0]["task_seconds"]) == 5 and len(data["calls"][0]["task_cpu"]) == 5
    assert data["tasks"] == 7
    small, big = data["calls"][1]["task_rss"]
    assert big - small > 30 << 20  # per task, measured in the worker
    assert data["wall_in_map"] <= data["wall"] and data["driver_cpu"] >= 0
    ex.close()  # a second close writes nothing new and does not fail
    assert json.loads(target.read_text()) == data


def test_without_the_variable_no_profile_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    ex = LocalExecutor(1)
    ex.map(posixpath.basename, [("a/b",)])
    ex.close()
    assert list(tmp_path.iterdir()) == []
    assert ex.profile.summary()["tasks"] == 1


def test_batch_size_is_one_until_a_task_was_timed() -> None:
    assert batch_size(per_task=None, remaining=10_000, cpus=2) == 1


def test_small_tasks_are_batched_to_the_target_seconds() -> None:
    n = batch_size(per_task=0.001, remaining=100_000, cpus=2)
    assert n == int(BATCH_SECONDS / 0.001)


def test_long_tasks_go_one_per_call() -> None:
    assert batch_size(per_task=5.0, remaining=100, cpus=2) == 1


def test_a_batch_never_takes_more_than_its_share_of_the_tail() -> None:
    # 40 tiny tasks left on 4 CPUs: spread over CALLS_PER_CPU calls per CPU, not one call of 40
    assert batch_size(per_task=1e-6, remaining=40, cpus=4) == 40 // (CALLS_PER_CPU * 4)
    assert batch_size(per_task=1e-9, remaining=10**9, cpus=1) == MAX_BATCH


@pytest.mark.parametrize("per_task", [0.0, -1.0, float("nan")])
def test_hostile_timings_still_give_a_valid_size(per_task: float) -> None:
    n = batch_size(per_task=per_task, remaining=1000, cpus=2)
    assert 1 <= n <= MAX_BATCH
