"""Input readers: each turns one file (or one part of it) into a stream of Documents, in constant memory.

==========  =======================================  ==========================================
reader      files                                    options (inline in the input's mapping)
==========  =======================================  ==========================================
jsonl       .jsonl, .jsonl.gz, .jsonl.zst            text_field, id_field, meta_fields
parquet     .parquet                                 text_field, id_field, meta_fields, batch_size
text        .txt (.gz/.zst)                          split: file|line|paragraph, errors: skip|replace
warc        .warc, .warc.gz, .warc.zst               extractor: resiliparse|trafilatura, main_content,
                                                     extract_timeout, isolation: process|inline,
                                                     favour_precision, content_types
wet         .warc.wet.gz                             (none beyond max_record_bytes)
==========  =======================================  ==========================================

Every reader also takes ``max_record_bytes`` (default 64 MiB; 10 MiB for warc/wet): a
longer record (line, row, payload, decoded HTTP body, whole text file) is skipped as
``record_too_large`` and never held in memory whole.

The ``extract_html`` stage (:mod:`.html`) applies the warc reader's extraction to
documents whose text is raw HTML. Whatever a reader cannot use is counted under the
``read`` stats label as ``skipped.<reason>`` and logged as ``path:line-or-offset``. A
wrong ``text_field`` is fatal (:class:`.base.FieldNotFound`).

Big files are read as many tasks (:meth:`.base.Reader.split`, ``count``, ``read(span)``):
plain JSONL/text lines at any byte, .gz/.zst with many members/frames at member
starts, Parquet by row groups, WARC at record starts; ids never depend on the cut.
"""
