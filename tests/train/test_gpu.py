"""The CUDA path: device choice, autocast dtype, the fp16 GradScaler, pinned copies. Runs only on a GPU."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dataforge.train import TrainConfig, run_training
from dataforge.train.checkpoint import load_checkpoint
from dataforge.train.data import Batch
from dataforge.train.device import Precision, resolve_device, to_device

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")

FAST = {"batch_size": 4, "seq_len": 32, "warmup": 2, "eval_batches": 2, "log_every": 1, "steps": 6}


def test_auto_picks_the_gpu_and_its_autocast_dtype() -> None:
    device = resolve_device("auto")
    precision = Precision.for_run(TrainConfig(), device)
    assert device.type == "cuda"
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert precision.dtype == expected and precision.scaler.is_enabled() == (expected == torch.float16)


def test_batches_are_copied_from_pinned_memory() -> None:
    batch = Batch(x=np.zeros((2, 4), dtype=np.int64), y=np.ones((2, 4), dtype=np.int64), mask=None)
    x, y = to_device(batch, torch.device("cuda"))
    assert x.is_cuda and y.is_cuda and int(y.sum()) == 8


@pytest.mark.parametrize("dtype", ["auto", "float16", "float32"])
def test_gpu_training_tracks_cpu_float32(book_shards: Path, tmp_path: Path, dtype: str) -> None:
    cpu = run_training(TrainConfig(device="cpu", dtype="float32", threads=1, **FAST), shards=book_shards,
                       output=tmp_path / "cpu")
    gpu = run_training(TrainConfig(device="cuda", dtype=dtype, **FAST), shards=book_shards, output=tmp_path / dtype)
    assert gpu["device"].startswith("cuda") and math.isfinite(gpu["train_loss"])
    assert abs(gpu["train_loss"] - cpu["train_loss"]) < 0.1, (gpu, cpu)  # same data, same init, other rounding
    if gpu["dtype"] == "float16":
        assert load_checkpoint(tmp_path / dtype)["scaler"]["scale"] > 0  # the loss scale is saved for resume
