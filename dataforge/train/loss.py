"""The output head and cross-entropy in one pass over chunks of tokens, never the whole (N, V) logits.

A tiny model's (B*T, V) logits are the biggest tensors of a step (2048 x 8192 floats = 64 MiB
for 16 x 128 tokens) and cost more than its matmuls on a CPU: each is a fresh allocation that
glibc serves with mmap above 32 MiB, so every step page-faults it in again, and softmax,
its backward and the logits' gradient each stream it through memory once more. Here the
head runs over chunks of ``chunk`` tokens (about 8 MiB of logits); each chunk's softmax is
turned into the gradients for the hidden states and the head weight right away, during the
forward pass (the fused linear cross-entropy of Liger-Kernel, Hsu et al. 2024, section 3.3),
so backward only scales them. Same FLOPs, a fraction of the memory traffic.

Shapes: N tokens (B*T flattened), C = d_model, V vocabulary. Targets equal to IGNORE count
for nothing (masked SFT prompts, padding).
"""

from __future__ import annotations

from typing import Any

import torch

from .device import IGNORE

#: logits per chunk (~8 MiB of float32): below glibc's 32 MiB mmap threshold, big enough for fast matmuls
CHUNK_ELEMENTS = 1 << 21


def chunk_rows(vocab: int) -> int:
    return max(16, CHUNK_ELEMENTS // max(vocab, 1))


def _compute_dtype(device: torch.device, fallback: torch.dtype) -> torch.dtype:
    """The dtype autocast would give a matmul here (the head follows the run's precision)."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return fallback


class _LinearCrossEntropy(torch.autograd.Function):
    """sum over counted targets of -log softmax(h @ W.T)[target], with its gradients made in forward."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # h (N, C), weight (V, C), targets (N,) int64
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dtype = _compute_dtype(h.device, h.dtype)
        with torch.autocast(h.device.type, enabled=False):
            w = weight.to(dtype)
            loss = torch.zeros((), dtype=torch.float32, device=h.device)
            grad_h = torch.empty_like(h) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            step = chunk_rows(weight.shape[0])
            for s in range(0, h.shape[0], step):
                hc, tc = h[s:s + step].to(dtype), targets[s:s + step]
                logits = (hc @ w.t()).float()  # (n, V)
                counted = tc != IGNORE
                safe = torch.where(counted, tc, 0)[:, None]  # (n, 1)
                picked = logits.gather(1, safe).squeeze(1)
                top = logits.amax(dim=1, keepdim=True)
                e = logits.sub_(top).exp_()  # exp(logit - max), in place: one pass for loss and gradient
                total = e.sum(dim=1)
                lse = total.log() + top.squeeze(1)
                loss += torch.where(counted, lse - picked, 0.0).sum()
                if need_h or need_w:
                    g = e.mul_(torch.where(counted, 1.0 / total, 0.0)[:, None])  # softmax; 0 on ignored rows
                    g.scatter_add_(1, safe, -counted[:, None].to(g.dtype))  # - one-hot(target)
                    g = g.to(dtype)
                    if grad_h is not None:  # (need_h)
                        grad_h[s:s + step] = g @ w
                    if grad_w is not None:  # (need_w)
                        grad_w += (g.t() @ hc).float()
        ctx.save_for_backward(grad_h, grad_w)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w = ctx.saved_tensors
        return (None if grad_h is None else grad_h * grad_out.to(grad_h.dtype),
                None if grad_w is None else (grad_w * grad_out).to(grad_w.dtype), None)


def summed_loss(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the head ``weight`` on hidden states ``h`` (..., C), summed over counted targets (...)."""
    return _LinearCrossEntropy.apply(h.reshape(-1, h.shape[-1]), weight, targets.reshape(-1))


@torch.no_grad()
def target_logprobs(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) for each row of ``h`` (N, C) and ``targets`` (N,), in float32, chunk by chunk."""
    out = torch.empty(h.shape[0], dtype=torch.float32, device=h.device)
    dtype = _compute_dtype(h.device, h.dtype)
    w = weight.to(dtype)
    step = chunk_rows(weight.shape[0])
    for s in range(0, h.shape[0], step):
        logits = (h[s:s + step].to(dtype) @ w.t()).float()
        out[s:s + step] = logits.gather(1, targets[s:s + step, None]).squeeze(1) - torch.logsumexp(logits, dim=1)
    return out
