"""atomic_write: all or nothing under the final name, with ordinary file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dataforge.io import atomic_write, atomic_write_text


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "manifest.json"
    atomic_write_text(target, "one")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half of tw")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]


def test_atomic_write_gives_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    """mkstemp's 0600 would make manifests and reports unreadable to the people who read the shards."""
    atomic_write_text(tmp_path / "a.json", "{}")
    (tmp_path / "plain.json").write_text("{}")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.json").st_mode)
    assert mode & stat.S_IRGRP or os.umask(os.umask(0)) & 0o040  # group-readable unless the umask forbids it


def test_partial_writes_of_a_killed_process_are_removed(tmp_path: Path) -> None:
    from dataforge.io import remove_partial_writes, temp_path_for

    (tmp_path / ".manifest.json.k2j3.tmp").write_text("half")  # atomic_write's temp name
    temp_path_for(tmp_path / "train-00019.arrow").write_text("half")  # a shard writer's
    (tmp_path / ".dataforge.lock").write_text("")
    (tmp_path / "train-00000.arrow").write_text("whole")
    assert remove_partial_writes(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dataforge.lock", "train-00000.arrow"]
    assert remove_partial_writes(tmp_path / "missing") == 0
