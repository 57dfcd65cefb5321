"""The one path rule of a pipeline file, as types for params models.

Every relative path in a pipeline file, and every default path (the quality classifier's
``data/quality/quality.ftz``, the bad-words lists), is relative to the **current working
directory** of the command (README, "Paths, one rule"). A params field typed with one of
these is made absolute when the config is validated, so the driver, local workers and Ray
workers all read the same file, and the problem is reported by ``validate`` at the option's
line before any work starts. URLs (``s3://...``) are left as they are.

Defaults are checked too: give the field ``Field(default, validate_default=True)``.

Input globs (``inputs.*.paths``) are not rewritten: document ids come from the paths as
written, so an output does not depend on where the project is checked out.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import AfterValidator

from .io import is_url


def absolute(path: str) -> str:
    """``path`` made absolute against the working directory (``~`` expanded); a URL unchanged."""
    if is_url(path):
        return path
    return os.path.abspath(os.path.expanduser(path))


def _where(path: str) -> str:
    return f"{path!r} (relative to the working directory {os.getcwd()})" if not os.path.isabs(path) else repr(path)


def _file(path: str) -> str:
    full = absolute(path)
    if not is_url(full) and not os.path.isfile(full):
        kind = "a folder, not a file" if os.path.isdir(full) else "not found"
        raise ValueError(f"file {_where(path)}: {kind}")
    return full


def _folder(path: str) -> str:
    full = absolute(path)
    if not is_url(full) and not os.path.isdir(full):
        kind = "a file, not a folder" if os.path.isfile(full) else "not found"
        raise ValueError(f"folder {_where(path)}: {kind}")
    return full


#: a file that must exist (a model, a tokenizer.json, a reference or block list)
InputFile = Annotated[str, AfterValidator(_file)]
#: a folder that must exist (word lists, a trained model's run folder)
InputFolder = Annotated[str, AfterValidator(_folder)]
#: a path that may not exist yet (a cross-run index the first run creates)
AbsolutePath = Annotated[str, AfterValidator(absolute)]
