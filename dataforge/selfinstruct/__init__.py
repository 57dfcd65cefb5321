"""Instruction data through any OpenAI-compatible endpoint: Self-Instruct and Alpaca,
resumable and cost-accounted, with an exact and fast ROUGE-L novelty filter, and SFT
shards for the trainer.

Modules: ``prompts`` (templates, encoders), ``parse`` (parsing and filters),
``rouge``/``novelty`` (exact ROUGE-L and the indexed pool), ``client`` (+ ``cache``,
``limits``, ``budget``), ``pipeline`` (ordered requests), ``generate`` (run, Alpaca),
``bootstrap`` (Self-Instruct), ``records`` (files), ``dedup``, ``sft``, ``cli``.
"""
