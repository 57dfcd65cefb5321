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

    from dataforge.io import atomic_write

    with atomic_write(tmp_path / "manifest.json", "w") as fh:
        fh.write("{}")
        temps = list(tmp_path.glob(".manifest.json.*"))  # the name atomic_write writes under
    (tmp_path / "manifest.json").unlink()
    assert len(temps) == 1
    temps[0].write_text("half")  # what a process killed mid-write leaves behind
    temp_path_for(tmp_path / "train-00019.arrow").write_text("half")  # a shard writer's
    (tmp_path / ".dataforge.lock").write_text("")
    (tmp_path / "train-00000.arrow").write_text("whole")
    (tmp_path / ".notes.tmp").write_text("the user's")  # not a name dataforge makes: never removed
    assert remove_partial_writes(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dataforge.lock", ".notes.tmp", "train-00000.arrow"]
    assert remove_partial_writes(tmp_path / "missing") == 0
