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

Memory (K = num_perm, B = bands, M = ``merge_buffer``):

* map, per task: ``buffer_docs`` x ~12 B x B of band records, then a sorted spill;
  per-document facts and signatures stream to files. Flat in the task's size.
* reduce, the only parts that grow with the corpus: the union-find parent array, 4 B
  per document (int32; 8 B past 2^31 documents), and ~16 B per document that is in a
  cluster of two or more (its id, root and sort position, ``unionfind.clustered``).
  Then, at the end, one task's drops at a time (16 B per dropped document).
* reduce, set by M: a band merge holds max(M, 1024 x runs) records (~40 B each with its
  sort; runs per band = tasks x spills), union-find takes edges M at a time (16 B),
  and clusters are resolved M/4 members at a time (~1 KB each: K x 4 B of signature,
  the id, the parquet row). Per-document facts are read by positioned reads of the
  rows needed (``docs.py``), never as a whole table or a memory map.
"""
