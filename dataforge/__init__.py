"""dataforge: crawl dumps and seed prompts in, training shards out."""

__version__ = "0.1.0"
