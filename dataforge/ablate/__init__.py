"""``dataforge ablate``: train the compact model on variants of a pipeline and compare them over seeds.

* ``variants``: the edit grammar (``full``, ``raw``, ``-STAGE``, ``STAGE.option=VALUE``...) applied
  to a pipeline's raw mapping; ``settings``: the ``ablate:`` section and its defaults.
* ``run``: each variant built by the normal runner, trained per seed (processes, one thread each),
  scored on the shared evaluation sets; ``stats``: mean, spread and the noise rule.
* ``results``: ``results.json``; ``page``: ``report.html`` (table and loss curves).
"""

from __future__ import annotations

from .variants import Variant, apply_edit, build_variants, parse_cli_variant

__all__ = ["Variant", "apply_edit", "build_variants", "parse_cli_variant"]
