"""The run folder's files: the checkpoint (written atomically, read with every field checked) and the
tokenizer copy, and loading a trained model back from them.

A checkpoint holds model, optimizer (and loss scaler), step, config, model config, RNG states
and the data cursor with the shards' fingerprint (nanoGPT's contents, plus what "resume
exactly" needs). Reading one that is damaged, truncated, from another tool or of the wrong
shape is a TrainError naming the file, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from ..io import atomic_write
from .config import TrainError
from .device import resolve_device
from .model import GPT, GPTConfig

CHECKPOINT = "ckpt.pt"
CHECKPOINT_FORMAT = 1
TOKENIZER = "tokenizer.json"  # the shards' tokenizer, copied into the run folder for sample and evaluate
METRICS = "metrics.jsonl"
RUN_INFO = "run.json"
SUMMARY = "summary.json"
#: every file a run writes into its folder (recorded in the output's ledger before it is created)
RUN_FILES = (CHECKPOINT, TOKENIZER, METRICS, RUN_INFO, SUMMARY)

#: checkpoint fields and the type each must have
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "step": int, "model": dict, "optimizer": dict, "config": dict, "model_config": dict, "rng": dict,
    "data": dict, "eos_id": int, "tokenizer": str,
}


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, payload: dict[str, Any]) -> Path:
    """Write the checkpoint atomically: a crash leaves the previous checkpoint intact."""
    path = run_dir / CHECKPOINT
    with atomic_write(path, "wb") as fh:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, fh)
    return path


def load_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint of ``run_dir``, every field present and of its type."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint; is {run_dir} a run folder written by dataforge train?")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises assorted types (EOFError, RuntimeError, UnpicklingError) for a bad file
        raise TrainError(f"{path}: cannot read the checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
                         "it is damaged, truncated or from another tool") from None
    if not isinstance(ckpt, dict):
        raise TrainError(f"{path}: holds a {type(ckpt).__name__}, not a dataforge checkpoint")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path}: checkpoint format {ckpt.get('format')!r}, this dataforge reads {CHECKPOINT_FORMAT}")
    for key, kind in _FIELDS.items():
        if not isinstance(ckpt.get(key), kind) or isinstance(ckpt.get(key), bool):
            raise TrainError(f"{path}: field {key!r} is missing or not a {getattr(kind, '__name__', kind)}; "
                             "the checkpoint is damaged or from another tool")
    return ckpt


def build_model(model_cfg: dict[str, Any], device: torch.device, *, where: Path | None = None) -> GPT:
    """The GPT a model config describes (from a checkpoint: a bad config is a TrainError naming it)."""
    try:
        return GPT(GPTConfig(**model_cfg)).to(device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TrainError(f"{where or 'model config'}: model_config {model_cfg!r} does not describe a model ({exc})") from None


def restore_model(ckpt: dict[str, Any], device: torch.device, *, where: Path) -> GPT:
    """A model with the checkpoint's weights loaded; shape or name mismatches name the file."""
    model = build_model(dict(ckpt["model_config"]), device, where=where)
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise TrainError(f"{where}: the weights do not fit the model it describes ({str(exc)[:300]})") from None
    return model


def load_tokenizer(path: Path, *, model_vocab: int | None = None) -> Tokenizer:
    """A tokenizers JSON file; one that does not parse, or whose ids exceed the model's vocabulary, names the file."""
    if not path.is_file():
        raise TrainError(f"{path}: the run has no tokenizer copy (the shards' manifest named none); copy the "
                         "shards' tokenizer.json into the run folder")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for bad JSON
        raise TrainError(f"{path}: not a tokenizers JSON file ({str(exc)[:200]}); it is damaged: copy the "
                         "shards' tokenizer.json again") from None
    if model_vocab is not None and tok.get_vocab_size(with_added_tokens=True) > model_vocab:
        raise TrainError(f"{path}: {tok.get_vocab_size(with_added_tokens=True)} tokens, more than the model's "
                         f"vocabulary of {model_vocab}; it is not the tokenizer this model was trained with")
    return tok


def load_run(run_dir: Path, *, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer, int]:
    """The trained model of a run folder (eval mode), its tokenizer, and the EOS id."""
    run_dir = Path(run_dir)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    ckpt = load_checkpoint(run_dir, dev)
    model = restore_model(ckpt, dev, where=run_dir / CHECKPOINT)
    model.eval()
    tok_name = Path(ckpt["tokenizer"]).name  # a name inside the run folder, never a path elsewhere
    tokenizer = load_tokenizer(run_dir / tok_name, model_vocab=model.cfg.vocab_size)
    eos = ckpt["eos_id"]
    if not 0 <= eos < model.cfg.vocab_size:
        raise TrainError(f"{run_dir / CHECKPOINT}: eos_id {eos} is outside the model's vocabulary")
    return model, tokenizer, eos
