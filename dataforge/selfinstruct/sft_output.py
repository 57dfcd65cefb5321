"""Where ``tokenize-sft`` writes: two alternating slots in a claimed output, every file in the ledger.

A rerun writes its shards and tokenizer into the slot the current manifest does not
name, renames the manifest over the old one (the commit point), then removes the old
slot's recorded files: killed at any moment, the manifest names a complete set.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..io import atomic_write, remove_partial_writes
from ..outputs import LEDGER, OutputNotOwned, describe_entries, record, remove_recorded
from ..tokenize.shards import ShardError, ShardSpec, ShardWriter, read_manifest


class RecordedShardWriter(ShardWriter):
    """A ShardWriter that records each shard in the output's ledger before creating it."""

    def __init__(self, root: Path, out_dir: Path, spec: ShardSpec, **kwargs: Any) -> None:
        super().__init__(out_dir, spec, **kwargs)
        self.root = root

    def flush(self) -> None:
        record(self.root, self.out_dir / f"{self.split}-{self.index:05d}.arrow")  # the name ShardWriter gives it
        super().flush()


class Slot:
    """Where one generation of an output lives. Two slots alternate, so a rerun never writes
    over the files the current manifest names: slot A is ``shards/`` + ``tokenizer.json``,
    slot B ``shards-b/`` + ``tokenizer-b.json``. Every path is recorded in the output's
    ledger before it is created; only recorded paths are ever removed."""

    LAYOUTS = (("shards", "tokenizer.json"), ("shards-b", "tokenizer-b.json"))

    def __init__(self, index: int) -> None:
        self.index = index
        self.shard_dir, self.tokenizer_file = self.LAYOUTS[index]

    @classmethod
    def next_for(cls, output: Path) -> "Slot":
        """The slot the current manifest does not use (A when there is none)."""
        try:
            current = read_manifest(output).get("shard_dir")
        except ShardError:
            return cls(0)
        return cls(1 if current == cls.LAYOUTS[0][0] else 0)

    def prepare(self, output: Path) -> None:
        """Clear what a killed earlier run left in this slot; refuse files we did not write."""
        self.discard(output)
        for name in (self.shard_dir, self.tokenizer_file):
            path = output / name
            if path.exists():
                held = f" (it holds {describe_entries(path)})" if path.is_dir() else ""
                raise OutputNotOwned(f"{path}: not written by dataforge (not in {output / LEDGER}){held}; "
                                     "move it out of the output directory and rerun")
        (output / self.shard_dir).mkdir()

    def discard(self, output: Path) -> None:
        if (output / self.shard_dir).is_dir():
            remove_partial_writes(output / self.shard_dir)  # a killed writer's temp files
        for name in (self.shard_dir, self.tokenizer_file):
            if (output / name).exists():
                remove_recorded(output, name)

    def publish_tokenizer(self, output: Path, tokenizer: Path) -> None:
        record(output, self.tokenizer_file)
        with atomic_write(output / self.tokenizer_file, "wb") as fh, open(tokenizer, "rb") as src:
            shutil.copyfileobj(src, fh)

    def retire_other(self, output: Path) -> None:
        """After the manifest names this slot: remove the other slot's files (recorded ones only)."""
        Slot(1 - self.index).discard(output)
