"""Run state on disk: the output lock, task markers and atomic task commits.

Layout under the output directory::

    .dataforge.lock, .dataforge-output.json, .dataforge-files   lock, ownership marker, ledger (outputs.py)
    _work/<config hash>/phase-<k>/<task>/      a finished task's files
    _work/<config hash>/phase-<k>/<task>.done  its marker, written last
    _work/<config hash>/barriers/<label>/      a barrier's reduce result (+ .done)
    manifest.json, stats.json, shards/, documents/, ...   the published outputs
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..io import atomic_write_text, fsync_dir
from ..outputs import record


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
            files = sorted(p for p in publish.rglob("*") if p.is_file())
            record(output_dir, *(f.relative_to(publish) for f in files))  # the ledger first
            for src in files:
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
