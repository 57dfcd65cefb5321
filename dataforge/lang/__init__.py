"""Languages: codes (``codes``), word and sentence segmenters (``segment``), and the
per-language defaults of the heuristic filters (``defaults``, data in ``fineweb2``)."""
