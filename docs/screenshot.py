"""Make docs/report.png and docs/report-distributions.png from a run's report, in headless Chromium.

    python docs/screenshot.py out/pretrain_mix      # after `dataforge run` and `dataforge report`
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.report.chromium import Chromium, find_chromium  # noqa: E402


def shoot(c: Chromium, selector: str, path: Path, max_height: int) -> None:
    box = c.evaluate(f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
                     " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
    x, y, w, h = box
    clip = {"x": 0, "y": y - 8, "width": 1100, "height": min(h + 16, max_height), "scale": 1}
    data = c.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(data["data"]))
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main(out: str) -> None:
    exe = find_chromium()
    if exe is None:
        sys.exit("no Chromium: apt-get install chromium")
    report = (Path(out) / "report.html").resolve()
    with Chromium(exe) as c:
        c.open(report.as_uri(), width=1100, height=1400)
        c.screenshot(REPO / "docs" / "report.png", height=1750)
        print(f"wrote docs/report.png ({(REPO / 'docs' / 'report.png').stat().st_size // 1024} KB)")
        shoot(c, "#distributions", REPO / "docs" / "report-distributions.png", 1300)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/pretrain_mix")
