"""Corpus-scale deduplication: exact (normalised text hash) and MinHash-LSH near-duplicates.

Both are barriers (see ``dataforge.stage.Barrier``):

* map, per task: normalise, hash, write sorted per-band run files with a checksum
  (``runs.py``), a docs table and (MinHash) truncated signatures (``store.py``);
* reduce, once: verify every file, merge each band's runs in bounded memory and
  emit duplicate edges (``buckets.py``, parallel over bands), union-find over dense
  integer ids, pick keepers, write drop lists and ``dedup/clusters.parquet``
  (``clusters.py``);
* apply, per task: drop the documents on the task's drop list;
* commit, after a successful run: add what was kept to the cross-run index (``index.py``).
"""
