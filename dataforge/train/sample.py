"""Text from a trained run: load its checkpoint and tokenizer, continue a prompt."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer

from .config import TrainError
from .engine import build_model, load_checkpoint, resolve_device
from .model import GPT
from .trainer import TOKENIZER


def load_run(run_dir: Path, *, device: str = "cpu") -> tuple[GPT, Tokenizer, int]:
    """The trained model (eval mode), its tokenizer, and the EOS id."""
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    ckpt = load_checkpoint(run_dir, dev)
    tok_path = run_dir / str(ckpt.get("tokenizer", TOKENIZER))
    if not tok_path.exists():
        raise TrainError(f"{tok_path}: the run has no tokenizer copy; the shards' manifest named none. "
                         "Copy the shards' tokenizer.json into the run folder")
    model = build_model(dict(ckpt["model_config"]), dev)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, Tokenizer.from_file(str(tok_path)), int(ckpt["eos_id"])


def sample_text(run_dir: Path, prompt: str, *, max_new_tokens: int = 100, temperature: float = 0.8,
                top_k: int | None = 50, seed: int = 0, device: str = "cpu") -> str:
    """The continuation of ``prompt`` (without the prompt), stopping at EOS. temperature 0 = greedy."""
    model, tokenizer, eos = load_run(run_dir, device=device)
    ids = tokenizer.encode(prompt).ids if prompt else []
    ids = ids or [eos]  # an empty prompt starts a new document
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    out = model.generate(torch.tensor([ids], device=dev), max_new_tokens, temperature=temperature,
                         top_k=top_k, stop_id=eos, generator=gen)
    new = [t for t in out[0, len(ids):].tolist() if t != eos]
    return tokenizer.decode(new)
