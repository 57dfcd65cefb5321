"""Owned output directories: claimed once, locked while in use, cleaned only by the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.errors import LockedError
from dataforge.outputs import (LEDGER, MARKER, OutputDir, OutputNotOwned, is_recorded, record, remove_recorded)


def test_claim_new_and_empty_then_reuse(tmp_path: Path) -> None:
    with OutputDir(tmp_path / "new", kind="train"):
        pass
    assert (tmp_path / "new" / MARKER).exists()
    with OutputDir(tmp_path / "new", kind="train"):  # ours: reused
        pass
    (tmp_path / "empty").mkdir()
    with OutputDir(tmp_path / "empty", kind="sft"):
        pass


def test_other_kind_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with OutputDir(tmp_path / "run", kind="pipeline"):
        pass
    with pytest.raises(OutputNotOwned, match="holds a dataforge 'pipeline' output, not a 'sft' one"):
        with OutputDir(tmp_path / "run", kind="sft"):
            pass
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "run.json").write_text("{}")
    with pytest.raises(OutputNotOwned, match=r"not made by dataforge \(it holds run.json\)") as exc:
        with OutputDir(tmp_path / "user", kind="train"):
            pass
    assert exc.value.exit_code == 2
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["run.json"]  # nothing added
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputNotOwned, match="this is a file"):
        with OutputDir(tmp_path / "file", kind="train"):
            pass


def test_second_holder_is_locked_out(tmp_path: Path) -> None:
    with OutputDir(tmp_path / "o", kind="train"):
        with pytest.raises(LockedError, match="another dataforge command holds this output"):
            with OutputDir(tmp_path / "o", kind="train"):
                pass


def test_only_recorded_paths_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with OutputDir(out, kind="pipeline") as o:
        record(out, "shards/a.arrow")
        record(out, "_work", folder=True)
        (out / "shards").mkdir()
        (out / "shards" / "a.arrow").write_text("ours")
        (out / "shards" / "b.arrow").write_text("the user's")
        (out / "_work" / "x").mkdir(parents=True)
        (out / "_work" / "x" / "y").write_text("ours")
        assert is_recorded(out, "_work/x/y") and not is_recorded(out, "shards/b.arrow")
        assert o.remove("shards") is False  # holds a file we did not write: the folder stays
        assert sorted(p.name for p in (out / "shards").iterdir()) == ["b.arrow"]
        assert remove_recorded(out, "_work") is True and not (out / "_work").exists()
    assert (out / LEDGER).read_text().splitlines() == ["shards/a.arrow", "_work/"]
