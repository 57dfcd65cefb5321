"""One real run of the bundled pipeline (pipelines/pretrain_mix.yaml on data/), with two
planted hostile documents, shared by the report, inspect and stats tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# markup a crawled page can carry; the report must show it as text and run none of it
PAYLOADS = [
    '<script>window.__pwned = "script"; document.title = "PWNED"</script>',
    "</textarea><img src=x onerror=\"window.__pwned = 'onerror'\">",
    "</pre></details></section></main><svg onload=\"window.__pwned = 'svg'\"></svg>",
    '<iframe src="javascript:top.__pwned = \'iframe\'"></iframe>',
]
HOSTILE_ID = '"><script>window.__pwned = "id"</script>'
ENGLISH = (
    "The harbour town wakes early in the summer. Fishing boats leave before sunrise and return "
    "with the morning catch, which is sold on the quay to restaurants and families. Visitors "
    "often walk along the old sea wall, where the view of the cliffs is best in the evening light. "
    "The museum near the church tells the story of the town, from the first settlers to the "
    "storms that shaped the coast. Local guides say that the quiet months of autumn are the best "
    "time to explore the hidden coves and the walking paths that follow the shore. "
)
ENGLISH_2 = (
    "The library on the hill keeps old maps of the valley, drawn by surveyors who walked every "
    "road and river a century ago. Students come in the winter to read them by the window, and "
    "the librarian explains how the towns grew along the railway and how the forests were cut "
    "back to make room for farms. On Saturdays there is a reading group that meets in the back "
    "room to discuss novels about the region, and children draw their own maps of the garden. "
)
GERMAN = (
    "Die kleine Stadt am Hafen erwacht im Sommer sehr früh. Die Fischerboote fahren vor dem "
    "Sonnenaufgang hinaus und kehren mit dem Fang des Morgens zurück, der am Kai verkauft wird. "
    "Besucher spazieren gern entlang der alten Mauer, wo der Blick auf die Klippen am Abend am "
    "schönsten ist. Das Museum neben der Kirche erzählt die Geschichte der Stadt. "
)


# C1 controls (CSI, OSC, ST, NEL) and bidi overrides/isolates: shown as U+FFFD, never raw
CONTROLS = "\x9b31m\x9d8;;http://evil.example/\x9c\x85 \u202egnp.exe\u202c \u2066x\u2069 \x1b[2J"
CONTROL_ID = "controls-\x9b2J-\u202eid"
ARC = REPO / "data" / "benchmarks" / "arc_challenge.jsonl"
CONTAMINATED_ID = "planted-contaminated"
NEAR_COPY_ID = "planted-near-copy"


def arc_item(n: int = 0) -> str:
    """ARC-Challenge test item ``n`` as the decontaminate stage of the bundled pipeline indexes it."""
    rec = json.loads(ARC.read_text(encoding="utf-8").splitlines()[n])
    return rec["query"] + " " + rec["choices"][rec["gold"]]


def hostile_docs() -> list[dict[str, str]]:
    kept = ENGLISH + " ".join(PAYLOADS) + " " + ENGLISH
    dropped = GERMAN + " ".join(PAYLOADS) + " " + GERMAN  # langid drops it: wrong_language
    return [{"id": HOSTILE_ID, "text": kept}, {"id": "planted-german", "text": dropped},
            {"id": CONTROL_ID, "text": ENGLISH_2 + CONTROLS + " " + ENGLISH_2},  # kept: into the shards
            # decontaminate drops it: it holds ARC-Challenge test item 0
            {"id": CONTAMINATED_ID, "text": ENGLISH + arc_item(0) + " " + ENGLISH},
            # minhash_dedup drops it as a near copy of CONTROL_ID (ties keep the smaller id)
            {"id": NEAR_COPY_ID, "text": ENGLISH_2 + "A few words differ here. " + ENGLISH_2}]


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of the bundled pipeline, run through the real CLI in a subprocess."""
    tmp = tmp_path_factory.mktemp("bundled")
    planted = tmp / "planted.jsonl"
    planted.write_text("".join(json.dumps(d) + "\n" for d in hostile_docs()), encoding="utf-8")
    cfg = yaml.safe_load((REPO / "pipelines" / "pretrain_mix.yaml").read_text())
    cfg["inputs"]["planted"] = {"reader": "jsonl", "paths": str(planted), "weight": 0.01}
    for stage in cfg["stages"]:
        if "langid" in stage:
            stage["langid"]["sources"].append("planted")
    cfg["output"] = str(tmp / "out")
    pipeline = tmp / "pretrain_mix_planted.yaml"
    pipeline.write_text(yaml.safe_dump(cfg, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "dataforge", "run", str(pipeline)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "out"
