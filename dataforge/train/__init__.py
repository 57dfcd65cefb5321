"""The compact trainer: a small GPT learns from dataforge shards, to prove the data trains.

``config`` (TrainConfig) and ``loop`` (run_training) import without torch; ``model``,
``engine``, ``trainer`` and ``sample`` need it (the optional ``train`` extra).
"""
