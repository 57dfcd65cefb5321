"""Output directories a command owns: claimed, locked, and a ledger of what was written.

An output directory is the user's disk, not ours. A command that writes a directory
(``run``, ``train``, ``tokenize-sft``) claims it first:

* a directory that does not exist or is empty is claimed: ``.dataforge-output.json``
  records the kind of output (``pipeline``, ``train``, ``sft``) and who made it;
* a directory that holds that marker, with the same kind, is ours to reuse;
* anything else is refused (:class:`OutputNotOwned`, exit 2) naming the directory and
  what is in it: a non-empty folder we did not make is never cleaned or overwritten,
  and an output of another kind (``tokenize-sft`` pointed at a pretraining output) is not
  replaced.

While a command works, ``.dataforge.lock`` is held with ``flock`` (released by the
kernel when the holder dies, even by SIGKILL, so it never goes stale): a second command
on the same directory is refused (:class:`~dataforge.errors.LockedError`, exit 3).

``.dataforge-files`` is the ledger: every file or folder a command publishes under the
output is recorded (relative path; a trailing ``/`` records a whole folder) *before* it
is created, so a kill between the two leaves a recorded path, never an unrecorded file.
Cleaning up (stale shards, an earlier configuration's documents) deletes only recorded
paths; a file the user put into the output later is left alone. Appends are single
``write`` calls on an ``O_APPEND`` descriptor, safe from several worker processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError, LockedError, OutputError
from .io import atomic_write_text

log = logging.getLogger(__name__)

LOCK_NAME = ".dataforge.lock"
MARKER = ".dataforge-output.json"
LEDGER = ".dataforge-files"
OWN_FILES = (LOCK_NAME, MARKER, LEDGER)
#: how many entries of a refused directory the message names
_SHOWN = 5


class OutputNotOwned(ConfigError):
    """The output directory holds files dataforge did not make, or another kind of output."""


def describe_entries(path: Path, limit: int = _SHOWN) -> str:
    """'a, b, c and 4 more' for the entries of a folder (sorted, for stable messages)."""
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def output_kind(path: Path) -> str | None:
    """The kind recorded in an output's marker, or None when it has none (or it is damaged)."""
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def check_claimable(path: Path, kind: str) -> None:
    """Raise OutputNotOwned unless ``path`` is absent, empty, or an output of ``kind`` we made.

    Cheap and side-effect free: ``validate`` and ``run --dry-run`` call it too."""
    if not path.exists():
        return
    if not path.is_dir():
        raise OutputNotOwned(f"{path}: the output must be a directory, and this is a file; "
                             "choose another output path")
    entries = [p for p in path.iterdir()]
    if not entries:
        return
    have = output_kind(path)
    if have is None and (path / LOCK_NAME).exists() and not (path / MARKER).exists():
        return  # made by a dataforge release before markers: adopted by claim()
    if have is None:
        raise OutputNotOwned(f"{path}: not empty and not made by dataforge (it holds {describe_entries(path)}); "
                             "dataforge writes only into an empty or new directory, or one it made: "
                             "choose another output path")
    if have != kind:
        raise OutputNotOwned(f"{path}: holds a dataforge '{have}' output, not a '{kind}' one; "
                             f"writing here would replace it: choose another output path")


class OutputDir:
    """Claim and lock an output directory for the duration of a ``with`` block."""

    def __init__(self, path: str | os.PathLike[str], *, kind: str) -> None:
        self.path = Path(path)
        self.kind = kind
        self._fh: Any = None

    def __enter__(self) -> "OutputDir":
        check_claimable(self.path, self.kind)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = open(self.path / LOCK_NAME, "a+")
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot create the output directory or its lock ({exc.strerror})") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            fh.close()
            raise LockedError(f"{self.path / LOCK_NAME}: another dataforge command holds this output ({holder}); "
                              "wait for it to finish or use another output directory") from None
        try:
            check_claimable(self.path, self.kind)  # again, under the lock: another claim may have won the race
        except BaseException:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        if output_kind(self.path) is None:
            atomic_write_text(self.path / MARKER, json.dumps(
                {"kind": self.kind, "made_by": "dataforge", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                indent=1) + "\n")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    # ---- the ledger -------------------------------------------------------------------
    def record(self, *paths: str | os.PathLike[str]) -> None:
        record(self.path, *paths)

    def remove(self, rel: str | os.PathLike[str]) -> bool:
        return remove_recorded(self.path, rel)


def _rel(root: Path, path: str | os.PathLike[str]) -> str:
    p = Path(path)
    if p.is_absolute():
        p = p.relative_to(root)
    rel = p.as_posix()
    if rel.startswith("../") or rel == "..":
        raise ValueError(f"{path} is outside the output {root}")
    return rel


def record(root: str | os.PathLike[str], *paths: str | os.PathLike[str], folder: bool = False) -> None:
    """Add ``paths`` (absolute, or relative to ``root``) to the output's ledger. Call it
    before creating them. ``folder=True`` records each as a whole folder."""
    root = Path(root)
    lines = "".join(_rel(root, p).rstrip("/") + ("/" if folder else "") + "\n" for p in paths)
    if not lines:
        return
    fd = os.open(root / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, lines.encode("utf-8"))
    finally:
        os.close(fd)


def recorded(root: str | os.PathLike[str]) -> tuple[set[str], list[str]]:
    """(recorded files, recorded folders with a trailing '/') of an output."""
    try:
        text = (Path(root) / LEDGER).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return set(), []
    files, folders = set(), []
    for line in text.splitlines():
        if line.endswith("/"):
            folders.append(line)
        elif line:
            files.add(line)
    return files, folders


def is_recorded(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    rel = _rel(Path(root), path)
    files, folders = recorded(root)
    return rel in files or any(rel.startswith(f) or rel + "/" == f for f in folders)


def compact_ledger(root: str | os.PathLike[str]) -> None:
    """Rewrite the ledger without entries for paths that no longer exist (under the lock)."""
    root = Path(root)
    files, folders = recorded(root)
    if not files and not folders:
        return
    keep = sorted(f for f in files if (root / f).exists()) + sorted(set(f for f in folders if (root / f).exists()))
    atomic_write_text(root / LEDGER, "".join(k + "\n" for k in keep))


def remove_recorded(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Delete ``path`` if the ledger says we wrote it (a file, or a folder recorded whole
    or made only of recorded files); leave anything else and say so. True if removed."""
    root = Path(root)
    target = root / _rel(root, path)
    if not target.exists() and not target.is_symlink():
        return False
    files, folders = recorded(root)
    rel = _rel(root, target)
    whole = rel in files or any(rel.startswith(f) or rel + "/" == f for f in folders)
    if whole:
        with contextlib.suppress(FileNotFoundError):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        return True
    if target.is_dir() and not target.is_symlink():
        left = False
        for child in sorted(target.iterdir()):
            if not remove_recorded(root, child):
                left = True
        if not left:
            with contextlib.suppress(OSError):
                target.rmdir()
        return not left
    log.warning("%s: not removed: dataforge did not write it (it is not in %s)", target, root / LEDGER)
    return False
