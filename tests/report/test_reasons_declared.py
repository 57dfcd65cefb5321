"""Every drop reason a real run counts is one its stage declares (so `dataforge stages NAME`
and docs/stages.md explain every reason a user sees in stats.json and the report)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dataforge import registry


def test_every_counted_reason_is_declared(bundled_run: Path) -> None:
    stats = json.loads((bundled_run / "stats.json").read_text())
    table = registry.table("stages")
    seen = 0
    for row in stats["stages"]:
        if row["name"] not in table:
            continue  # read, pack: not stages of the pipeline file
        declared = registry.resolve(table, row["name"]).reasons
        patterns = [re.compile(re.escape(r).replace(re.escape("{n}"), r"\d+") + "$") for r in declared]
        for counts in stats["counts"].get(row["label"], {}).values():
            for key in counts:
                if key.startswith("dropped."):
                    reason = key.removeprefix("dropped.")
                    seen += 1
                    assert any(p.match(reason) for p in patterns), \
                        f"{row['label']} counts {reason!r}, which {row['name']}.reasons does not declare"
    assert seen >= 10  # the bundled run drops for many reasons
