"""Text from a trained run: load its checkpoint and tokenizer, continue a prompt."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_run


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
