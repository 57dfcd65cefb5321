"""Tokenizer loading/training, packing, and the Arrow shard format."""
