"""File plumbing: atomic writes, compressed opens, sorted globs. All I/O helpers live here."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import xxhash

#: the suffix of every temp file dataforge makes beside a final path (and the only files
#: ``remove_partial_writes`` deletes): distinctive, so a user's own ``*.tmp`` is never touched
TMP_SUFFIX = ".dftmp"

# mkstemp makes 0600 files; outputs get the permissions any new file would (0666 & ~umask),
# so a manifest or report is readable by whoever may read its shards
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Write to a temp file beside ``path``, fsync, then rename over it.

    A crash leaves either the old file or the new one, never a partial file under the
    final name. The temp file is removed on error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_partial_writes(folder: str | os.PathLike[str]) -> int:
    """Delete the temp files (``.<name>.<...>.dftmp``) that ``atomic_write`` and
    ``temp_path_for`` leave behind when a process is killed mid-write. Only for a folder
    no other process writes to (a run calls it holding its output lock)."""
    removed = 0
    for partial in Path(folder).glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
            removed += 1
    return removed


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def temp_path_for(path: Path) -> Path:
    """A temp name beside ``path`` for writers that need a path, not a handle (then os.replace)."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def is_url(path: str) -> bool:
    """An fsspec URL (s3://, gs://, file://, memory://, ...) rather than a local path."""
    return "://" in path


def apply_storage_options(options: dict[str, dict[str, Any]] | None) -> None:
    """Default fsspec options per protocol for this process (``storage_options:`` in a
    pipeline file, e.g. ``{s3: {endpoint_url: http://127.0.0.1:9000}}`` for an
    S3-compatible store). Set in the driver and again in every worker before a task."""
    if not options:
        return
    import fsspec.config  # deferred: fsspec takes ~0.1 s to import and only URLs need it

    for proto, opts in options.items():
        fsspec.config.conf.setdefault(proto, {}).update(opts)


def expand_glob(pattern: str) -> list[str]:
    """Sorted files matching ``pattern`` (``**`` allowed); URLs go through fsspec and come
    back as URLs. Sorting makes runs deterministic."""
    if is_url(pattern):
        import fsspec  # deferred: only URLs need fsspec (~0.1 s to import)

        fs, path = fsspec.core.url_to_fs(pattern)
        proto = pattern.split("://", 1)[0]
        found = fs.glob(path) if glob.has_magic(path) else ([path] if fs.exists(path) else [])
        return sorted(f"{proto}://{p.lstrip('/') if proto != 'file' else p}" for p in found if fs.isfile(p))
    return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


def file_version(path: str) -> tuple[int, str]:
    """(size, a token that changes when the file does): mtime locally, etag/mtime remotely."""
    if is_url(path):
        import fsspec  # deferred: only URLs need fsspec (~0.1 s to import)

        fs, p = fsspec.core.url_to_fs(path)
        info = fs.info(p)
        token = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified") or info.get("created")
        return int(info.get("size") or 0), str(token)
    st = os.stat(path)
    return st.st_size, str(st.st_mtime_ns)


def fetch_to(url: str, dest: Path) -> Path:
    """Copy a remote input to a local file (streamed), for readers that need a local path."""
    import fsspec  # deferred: only URLs need fsspec (~0.1 s to import)

    with fsspec.open(url, "rb") as src, open(dest, "wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    return dest


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def checksum(path: str) -> str:
    """xxh3-128 of a file's bytes (local path or fsspec URL), streamed."""
    h = xxhash.xxh3_128()
    if is_url(path):
        import fsspec  # deferred: only URLs need fsspec (~0.1 s to import)

        opener: Any = fsspec.open(path, "rb")
    else:
        opener = open(path, "rb")
    with opener as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename inside ``path`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
