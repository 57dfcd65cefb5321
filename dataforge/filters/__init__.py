"""Quality filtering stages (issue 3): one rule family per module.

* ``langid``: fastText lid.176 language ID (``langid.py``)
* ``gopher_quality``, ``gopher_repetition``: Gopher heuristics (``gopher.py``, ``repetition.py``)
* ``c4``: C4 line cleaning and page rules (``c4.py``)
* ``fineweb_quality``: FineWeb's rules (``fineweb.py``)
* ``url_filter``: block lists and banned URL words (``url.py``)
* ``pii``: e-mail / IP / phone redaction (``pii.py``)
* ``quality_classifier``: fastText quality scores (``quality.py``; training in ``classifier.py``)

Words and sentences are counted by ``text.py`` / ``wordsplit.py``, which reproduce the
spaCy tokenization datatrove uses, so decisions match datatrove's defaults.
"""
