"""Input readers: each turns one file into a stream of Documents, in constant memory.

==========  =======================================  ==========================================
reader      files                                    options (inline in the input's mapping)
==========  =======================================  ==========================================
jsonl       .jsonl, .jsonl.gz, .jsonl.zst            text_field, id_field, meta_fields
parquet     .parquet                                 text_column, id_column, meta_columns, batch_size
text        .txt (.gz/.zst)                          split: file|line|paragraph, errors: skip|replace
warc        .warc, .warc.gz, .warc.zst               extractor: resiliparse|trafilatura, main_content,
                                                     extract_timeout, isolation: process|inline,
                                                     favour_precision, content_types, max_record_bytes
wet         .warc.wet.gz                             max_record_bytes
==========  =======================================  ==========================================

The ``extract_html`` stage (:mod:`.html`) applies the warc reader's extraction to
documents whose text is raw HTML. Whatever a reader cannot use is counted under the
``read`` stats label as ``skipped.<reason>`` and logged as ``path:line-or-offset``.
"""
