"""Build filter stages the way the runner does: ``Cls(Cls.Params(**options), TaskContext)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dataforge.registry import STAGES, resolve
from dataforge.stage import RunInfo, Stage, TaskContext
from dataforge.stats import Stats


@pytest.fixture
def make_stage(tmp_path: Path) -> Callable[..., Stage]:
    def make(name: str, **options: Any) -> Stage:
        cls = resolve(STAGES, name)
        run = RunInfo(seed=1, output_dir=tmp_path / "out", work_dir=tmp_path / "work", sources=["web"])
        ctx = TaskContext(run=run, task_id="t0", label=f"0:{name}", stats=Stats(),
                          task_dir=tmp_path / "task", publish_dir=tmp_path / "publish")
        return cls(cls.Params(**options), ctx)

    return make
