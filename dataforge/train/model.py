"""A small decoder-only GPT, in one readable file.

Token embedding -> n_layer pre-norm blocks -> RMSNorm -> output head tied to the embedding.
Each block: x + attn(rmsnorm(x)), then x + mlp(rmsnorm(x)).

``hidden`` runs everything but the head; training and scoring apply the head through
``loss.py`` chunk by chunk, and ``forward`` (full logits) is for generation.

* Positions: rotary embeddings on queries and keys (RoFormer, Su et al. 2021), so a model
  trained on one window length still runs on shorter prompts; no learned position table.
* Attention: causal, through ``F.scaled_dot_product_attention`` (flash / memory-efficient
  kernels where the device has them).
* MLP: SwiGLU (Shazeer 2020, as in LLaMA): ``w2(silu(w1 x) * w3 x)`` with hidden ~ 8/3 d.
* Init: N(0, 0.02) everywhere; projections into the residual stream scaled by
  1/sqrt(2 n_layer) (GPT-2 paper, section 2.3).

Shapes in comments: B batch, T time, C = d_model, H heads, D = C / H head size, V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelSize, swiglu_hidden
from .loss import summed_loss


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    context: int  # longest sequence the rotary tables cover
    n_layer: int
    n_head: int
    d_model: int
    dropout: float = 0.0
    rope_base: float = 10000.0  # RoFormer's theta

    @classmethod
    def from_size(cls, size: ModelSize, *, vocab_size: int, context: int, dropout: float = 0.0) -> GPTConfig:
        return cls(vocab_size=vocab_size, context=context, n_layer=size.n_layer, n_head=size.n_head,
                   d_model=size.d_model, dropout=dropout)

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def rotary_tables(head_dim: int, length: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, each (length, head_dim), for the rotate-half form of RoPE."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (D/2,)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # (T, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, D)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each (first half, second half) pair of x (B, H, T, D) by its position's angle."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


class ResidualLinear(nn.Linear):
    """A projection into the residual stream: initialised with the scaled std (see ``GPT.__init__``).
    Only the class differs from ``nn.Linear``, so checkpoints hold the same keys."""


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = ResidualLinear(cfg.d_model, cfg.d_model, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.drop(self.proj(y))


class SwiGLU(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        hidden = swiglu_hidden(cfg.d_model)
        self.w1 = nn.Linear(cfg.d_model, hidden, bias=False)  # gate
        self.w3 = nn.Linear(cfg.d_model, hidden, bias=False)  # value
        self.w2 = ResidualLinear(hidden, cfg.d_model, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.w2(F.silu(self.w1(x)) * self.w3(x)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    rope_cos: torch.Tensor  # (context, D) buffers, rebuilt at init, not saved
    rope_sin: torch.Tensor

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_head or (cfg.d_model // cfg.n_head) % 2:
            raise ValueError(f"d_model {cfg.d_model} must split into {cfg.n_head} heads of even size (RoPE pairs)")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: one (V, C) matrix reads and writes tokens
        cos, sin = rotary_tables(cfg.d_model // cfg.n_head, cfg.context, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        residual_std = 0.02 / math.sqrt(2 * cfg.n_layer)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                std = residual_std if isinstance(module, ResidualLinear) else 0.02
                nn.init.normal_(module.weight, mean=0.0, std=std)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Parameters, the tied embedding counted once (``parameters()`` yields a shared tensor once)."""
        return sum(p.numel() for p in self.parameters())

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> final normed hidden states (B, T, C), the head's input."""
        T = idx.shape[1]
        if T > self.cfg.context:
            raise ValueError(f"sequence of {T} tokens is longer than the model's context {self.cfg.context}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, D), broadcast over (B, H)
        x = self.drop(self.embed(idx))  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norm(x)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> next-token logits (B, T, V)."""
        return self.head(self.hidden(idx))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy summed over the targets (B, T) that count (not IGNORE), without full logits."""
        return summed_loss(self.hidden(idx), self.head.weight, targets)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, stop_id: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Extend idx (1, T) token by token, cropping to the last ``context`` tokens; stop at ``stop_id``."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.cfg.context:])[:, -1, :].float()  # (1, V)
            if temperature <= 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)  # (1, 1)
            idx = torch.cat([idx, nxt], dim=1)
            if stop_id is not None and int(nxt) == stop_id:
                break
        return idx


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """AdamW groups: decay on matrices (embeddings, linear weights), none on norms or biases (nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
