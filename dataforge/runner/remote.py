"""Outputs on object stores (s3://, gs://, any fsspec URL): build locally, publish after.

Object stores have no atomic rename and no locks, so a run with ``output: s3://...``
works in a local staging folder (``staging:`` in the pipeline file, else under
``~/.cache/dataforge/staging``) with every local guarantee (markers, resume, lock),
and only after it succeeded uploads the results: shards and the other files first,
``manifest.json`` last, so a reader that trusts the manifest never sees a partial
output. A file already uploaded with the same size is not sent again, so a publish
interrupted midway resumes cheaply.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol


log = logging.getLogger(__name__)

SKIP_TOP = ("_work", ".dataforge.lock")


def publish(local: Path, url: str) -> int:
    """Upload ``local``'s outputs to ``url`` (manifest last); returns the number of files sent."""
    import fsspec  # deferred: ~0.1 s to import, only for s3:// (or other URL) outputs

    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    manifest = local / "manifest.json"
    files = sorted(p for p in local.rglob("*")
                   if p.is_file() and p != manifest and p.relative_to(local).parts[0] not in SKIP_TOP)
    sent = 0
    for path in files:
        remote = f"{root}/{path.relative_to(local).as_posix()}"
        if fs.exists(remote) and fs.size(remote) == path.stat().st_size:
            continue  # sent by an earlier, interrupted publish
        _put(fs, path, remote)
        sent += 1
    if manifest.exists():
        _put(fs, manifest, f"{root}/manifest.json")
        sent += 1
        listed = {s["path"] for s in json.loads(manifest.read_text())["shards"]}
        if fs.exists(f"{root}/shards"):
            for remote in fs.ls(f"{root}/shards", detail=False):
                if str(remote).rsplit("/", 1)[-1] not in listed:
                    fs.rm(remote)  # a shard not in the manifest does not exist
    log.info("published %d files to %s", sent, url)
    return sent


class RemoteFS(Protocol):
    """The two calls ``_put`` makes on an fsspec filesystem (fsspec ships no type hints)."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None: ...

    def put_file(self, lpath: str, rpath: str) -> None: ...


def _put(fs: RemoteFS, path: Path, remote: str) -> None:
    parent = remote.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    fs.put_file(str(path), remote)
