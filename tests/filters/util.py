"""Inline documents and a runner for the filter tests."""

from __future__ import annotations

from typing import Any

from dataforge.document import Document
from dataforge.stage import Stage

# a real English paragraph (Wikipedia, "Anarchism", data/wiki/wiki_demo.txt): keeps under every filter
GOOD = (
    "Anarchism is a political philosophy and movement that is sceptical of authority and rejects "
    "all involuntary, coercive forms of hierarchy. Anarchism calls for the abolition of the state, "
    "which it holds to be unnecessary, undesirable, and harmful. As a historically left-wing movement, "
    "placed on the farthest left of the political spectrum, it is usually described alongside "
    "communalism and libertarian Marxism as the libertarian wing of the socialist movement.\n"
    "Humans lived in societies without formal hierarchies long before the establishment of formal "
    "states, realms, or empires. With the rise of organised hierarchical bodies, scepticism toward "
    "authority also rose. Although traces of anarchist thought are found throughout history, modern "
    "anarchism emerged from the Enlightenment.\n"
    "During the latter half of the 19th and the first decades of the 20th century, the anarchist "
    "movement flourished in most parts of the world and had a significant role in workers' struggles "
    "for emancipation. Various anarchist schools of thought formed during this period."
)



def doc(text: str, i: int = 0, **meta: Any) -> Document:
    return Document(id=f"d{i}", text=text, source="web", meta=dict(meta))


def run(stage: Stage, *texts: str) -> list[Document]:
    """Push documents built from ``texts`` through ``stage``; return what comes out."""
    out = list(stage.process(doc(t, i) for i, t in enumerate(texts)))
    stage.close()
    return out
