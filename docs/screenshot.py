"""Make docs/report.png, docs/report-distributions.png and docs/report-languages.png from a run's
report, in headless Chromium.

    python docs/screenshot.py out/pretrain_mix      # after `dataforge run` and `dataforge report`
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.report.chromium import Chromium, find_chromium  # noqa: E402


def main(out: str) -> None:
    exe = find_chromium()
    if exe is None:
        sys.exit("no Chromium: apt-get install chromium")
    report = (Path(out) / "report.html").resolve()
    with Chromium(exe) as c:
        c.open(report.as_uri(), width=1100, height=1400)
        for name, selector, height in (("report.png", None, 1750), ("report-distributions.png", "#distributions", 1300),
                                       ("report-languages.png", "#languages", 1100)):
            c.screenshot(REPO / "docs" / name, height=height, selector=selector)
            print(f"wrote docs/{name} ({(REPO / 'docs' / name).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/pretrain_mix")
