"""Writing an export atomically: staged under the output, renamed into place at the end.

Every file (or, for the Hugging Face format, split folder) of an export is written under
``OUT/.export-staging/`` and fsynced; only when all are complete are they renamed to their
final names (data before index: ``.bin`` before ``.idx``, split folders before
``dataset_dict.json``), and ``<prefix>export.json`` is written last. A killed export
leaves its staging folder (recorded in the output's ledger, removed by the next export)
and no partial file under a final name. Each final path is recorded in the ledger before
it appears; a path that exists but dataforge did not write is refused, never replaced.

An export replaces the previous export of the same prefix: after publishing, the files the
previous ``<prefix>export.json`` listed that this one did not write are removed (they are
recorded, so ours). Exports with other prefixes in the same folder are left alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..io import atomic_write_text, fsync_dir
from ..outputs import is_recorded, record, remove_recorded
from .source import ExportError

log = logging.getLogger(__name__)

STAGING = ".export-staging"


def write_array(fh: IO[bytes], array: np.ndarray) -> None:
    """Write an array's bytes (C order; a contiguous array is written without a copy)."""
    fh.write(np.ascontiguousarray(array).data.cast("B"))


def sync_close(fh: IO[bytes]) -> None:
    """Flush, fsync and close a staged file (its bytes are on disk before any rename)."""
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()


class Staging:
    """The staging folder of one export into ``root`` (which the caller has claimed and locked)."""

    def __init__(self, root: Path, *, summary_name: str) -> None:
        self.root = Path(root)
        self.dir = self.root / STAGING
        self.summary_name = summary_name
        self.planned: list[tuple[str, bool]] = []  # (final path relative to root, is a folder), publish order

    def start(self) -> None:
        """Remove a killed export's staging folder (recorded: ours), then make a fresh one."""
        if self.dir.exists() and not remove_recorded(self.root, STAGING):
            raise ExportError(f"{self.dir}: exists and dataforge did not record it; move it away and rerun")
        record(self.root, STAGING, folder=True)
        self.dir.mkdir()

    def check_free(self, finals: list[str]) -> None:
        """Refuse before any work when a final path is taken by something dataforge did not write."""
        for rel in finals + [self.summary_name]:
            target = self.root / rel
            if (target.exists() or target.is_symlink()) and not is_recorded(self.root, rel):
                raise ExportError(f"{target}: exists and dataforge did not write it; the export would replace "
                                  "it: move it away or choose another --prefix or output folder")
            for parent in Path(rel).parents:  # a folder we would write into (hf --prefix) must be ours
                folder = self.root / parent
                if parent != Path(".") and folder.exists() and not folder.is_dir():
                    raise ExportError(f"{folder}: is a file; the export needs a folder there: choose another --prefix")
                if parent != Path(".") and folder.is_dir() and any(folder.iterdir()) and not any(
                        is_recorded(self.root, p) for p in folder.rglob("*")):
                    raise ExportError(f"{folder}: a folder dataforge did not make; the export would write into "
                                      "it: move it away or choose another --prefix")

    def path(self, rel: str, *, folder: bool = False) -> Path:
        """Where the file (or folder) that will be published as ``rel`` is written now."""
        staged = self.dir / rel
        staged.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            staged.mkdir(exist_ok=True)
        if (rel, folder) not in self.planned:
            self.planned.append((rel, folder))
        return staged

    def scratch(self, name: str) -> Path:
        """A work file that is never published (it goes with the staging folder)."""
        path = self.dir / "_scratch" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, summary: dict[str, Any]) -> list[str]:
        """Rename every planned path into place, write the summary last, then remove the
        previous export's leftovers. Returns the published paths (relative)."""
        previous = self._previous_files()
        for rel, folder in self.planned:
            final = self.root / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            record(self.root, rel, folder=folder)
            if folder and final.exists():
                remove_recorded(self.root, rel)  # a folder cannot be renamed over a non-empty one
            os.replace(self.dir / rel, final)
            fsync_dir(final.parent)
        published = [rel for rel, _ in self.planned]
        summary = {**summary, "files": published}
        record(self.root, self.summary_name)
        atomic_write_text(self.root / self.summary_name, json.dumps(summary, indent=2, sort_keys=True) + "\n")
        for rel in sorted(set(previous) - set(published)):
            if remove_recorded(self.root, rel):
                log.info("%s: removed (written by the previous export of this prefix)", self.root / rel)
        self.discard()
        return published

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _previous_files(self) -> list[str]:
        try:
            data = json.loads((self.root / self.summary_name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); files of the previous export are left in place",
                        self.root / self.summary_name, exc)
            return []
        files = data.get("files") if isinstance(data, dict) else None
        return [f for f in files if isinstance(f, str) and f and not Path(f).is_absolute() and ".." not in Path(f).parts] \
            if isinstance(files, list) else []
