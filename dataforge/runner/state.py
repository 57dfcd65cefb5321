"""Run state on disk: the output lock, task markers and atomic task commits.

Layout under the output directory::

    .dataforge.lock                 held (flock) by the running process
    _work/<config hash>/phase-<k>/<task>/      a finished task's files
    _work/<config hash>/phase-<k>/<task>.done  its marker, written last
    _work/<config hash>/barriers/<label>/      a barrier's reduce result (+ .done)
    manifest.json, stats.json, shards/, documents/, ...   the published outputs
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import LockedError, OutputError
from ..io import atomic_write_text, fsync_dir

LOCK_NAME = ".dataforge.lock"


class RunLock:
    """An exclusive, crash-safe lock on an output directory (flock: released by the
    kernel when the holder dies, even by SIGKILL, so it never goes stale)."""

    def __init__(self, output: Path) -> None:
        self.path = Path(output) / LOCK_NAME
        self._fh: Any = None

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise OutputError(f"{self.path.parent}: cannot create the output directory or its lock ({exc.strerror})") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            fh.close()
            raise LockedError(f"{self.path}: another dataforge run holds this output ({holder}); "
                              "wait for it to finish or use another output directory") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def is_done(final_dir: Path) -> bool:
    return marker(final_dir).exists() and final_dir.is_dir()


def marker(final_dir: Path) -> Path:
    return final_dir.with_name(final_dir.name + ".done")


def fresh_tmp_dir(final_dir: Path) -> Path:
    """A clean scratch folder beside ``final_dir``; stale ones from killed runs are removed."""
    parent = final_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".tmp-{final_dir.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f".tmp-{final_dir.name}-{os.getpid()}"
    tmp.mkdir()
    return tmp


def commit_dir(tmp: Path, final_dir: Path, *, output_dir: Path, info: dict[str, Any] | None = None) -> None:
    """Publish ``tmp/publish/**`` into the output, move ``tmp`` to ``final_dir``, then write the marker.

    Killed at any point before the marker, the step is redone from scratch on the next
    run; the published files it rewrites are the same bytes (deterministic tasks).
    """
    try:
        publish = tmp / "publish"
        if publish.exists():
            for src in sorted(p for p in publish.rglob("*") if p.is_file()):
                dst = output_dir / src.relative_to(publish)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            shutil.rmtree(publish)
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(tmp, final_dir)
        fsync_dir(final_dir.parent)
        atomic_write_text(marker(final_dir), json.dumps(info or {}, sort_keys=True) + "\n")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
            raise OutputError(f"{final_dir}: cannot write ({exc.strerror}); nothing of this step was marked done") from None
        raise


def clear_stale(final_dir: Path) -> None:
    """A folder without its marker is from a killed run: remove it before redoing the step."""
    if final_dir.exists() and not marker(final_dir).exists():
        shutil.rmtree(final_dir, ignore_errors=True)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
