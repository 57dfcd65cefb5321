"""Small inline SVG charts for the report: no plotting library, no script, no network.

Every piece of text that reaches the markup goes through ``esc``: source names, stage
labels and reasons come from the pipeline file and the data, so they are untrusted.
Hovering a bar shows its exact value through SVG's own ``<title>`` tooltip.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence

# colour-blind-friendly categorical palette (Okabe & Ito 2008), then greys
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#666666"]
KEPT, DROPPED = "#0072B2", "#D55E00"
# C0 controls but tab, newline and CR; DEL; C1 controls (U+0080-009F: CSI, OSC, ... when
# copied to a terminal); the bidi embedding, override and isolate controls (U+202A-202E,
# U+2066-2069), which reorder what is shown (CVE-2021-42574, "Trojan Source")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def esc(value: object) -> str:
    """Text safe inside HTML/SVG element content and quoted attributes.

    html.escape turns & < > " ' into entities; control characters (C0, DEL, C1: invalid
    or invisible in HTML) and bidi overrides become U+FFFD, and lone surrogates from
    undecodable input are replaced, so the page is always valid UTF-8 and shows text
    in the order it has."""
    text = _CONTROL.sub("\ufffd", str(value))
    text = text.encode("utf-8", "replace").decode("utf-8")
    return html.escape(text, quote=True)


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def fmt_int(v: float) -> str:
    return f"{int(round(v)):,}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}" class="chart">'
            + "".join(body) + "</svg>")


def _legend(names: Sequence[str], colors: Sequence[str], x: int, y: int, step: int = 130) -> list[str]:
    out = []
    for i, (name, c) in enumerate(zip(names, colors)):
        cx = x + (i % 6) * step
        cy = y + (i // 6) * 16
        out.append(f'<rect x="{cx}" y="{cy - 9}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{cx + 14}" y="{cy}" class="legend">{esc(name)}</text>')
    return out


def stacked_hbars(title: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[str],
                  *, fmt: Callable[[float], str] = fmt_int, width: int = 900) -> str:
    """One horizontal bar per row, split into the series (e.g. stages x sources)."""
    label_w, bar_h, gap, top = 190, 20, 6, 10
    legend_rows = (len(series) + 5) // 6
    plot_w = width - label_w - 90
    vmax = max((sum(vals) for _, vals in rows), default=0) or 1
    height = top + len(rows) * (bar_h + gap) + 24 + legend_rows * 16
    body = []
    for r, (name, vals) in enumerate(rows):
        y = top + r * (bar_h + gap)
        body.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" class="axis">{esc(name)}</text>')
        x = float(label_w)
        for i, v in enumerate(vals):
            w = plot_w * v / vmax
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color(i)}">'
                            f'<title>{esc(name)} / {esc(series[i])}: {esc(fmt(v))}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 14}" class="value">{esc(fmt(sum(vals)))}</text>')
    body += _legend(series, [color(i) for i in range(len(series))], label_w, height - legend_rows * 16 + 4)
    return _svg(width, height, title, body)


def grouped_hbars(title: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[str],
                  colors: Sequence[str], *, fmt: Callable[[float], str], width: int = 900) -> str:
    """Per row, one thin bar per series side by side (e.g. target vs realised share)."""
    label_w, bar_h, top = 150, 12, 10
    group_h = bar_h * len(series) + 8
    plot_w = width - label_w - 80
    vmax = _nice_max(max((v for _, vals in rows for v in vals), default=0))
    height = top + len(rows) * group_h + 30
    body = []
    for r, (name, vals) in enumerate(rows):
        y0 = top + r * group_h
        body.append(f'<text x="{label_w - 8}" y="{y0 + group_h / 2 + 2:.0f}" text-anchor="end" class="axis">'
                    f'{esc(name)}</text>')
        for i, v in enumerate(vals):
            y = y0 + i * bar_h
            w = plot_w * v / vmax
            body.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colors[i]}">'
                        f'<title>{esc(name)} {esc(series[i])}: {esc(fmt(v))}</title></rect>'
                        f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" class="value">{esc(fmt(v))}</text>')
    body += _legend(series, colors, label_w, height - 8)
    return _svg(width, height, title, body)


def histogram(title: str, bins: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]], *,
              x_title: str, width: int = 900, height: int = 240, log_hint: str = "", log_y: bool = False) -> str:
    """Vertical bars per bin; several series are drawn side by side within a bin.

    ``log_y`` scales heights by log10(1 + count), so a bin of 13 stays visible beside one of
    3,000 (score histograms of a strict filter are that lopsided)."""
    left, right, top, bottom = 56, 16, 12, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(bins), 1)
    slot = plot_w / n
    peak = max((v for _, vals, _ in series for v in vals), default=0)
    if log_y:
        vmax = float(10 ** math.ceil(math.log10(peak + 1))) if peak else 10.0
        ticks = [0.0] + [10.0 ** e for e in range(int(math.log10(vmax)) + 1)]
    else:
        vmax = _nice_max(peak)
        ticks = [vmax * t / 4 for t in range(5)]

    def scale(v: float) -> float:
        return plot_h * (math.log10(1 + v) / math.log10(1 + vmax) if log_y else v / vmax)

    body = []
    for v in ticks:  # grid and y ticks
        y = top + plot_h - scale(v)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{esc(fmt_int(v))}</text>')
    k = len(series)
    bar_w = max(slot / max(k, 1) - 1, 1)
    for i, (name, vals, c) in enumerate(series):
        for b, v in enumerate(vals):
            if v <= 0:
                continue
            h = scale(v)
            x = left + b * slot + i * bar_w + 0.5
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{c}"><title>{esc(name)}, {esc(bins[b])}: {esc(fmt_int(v))}</title></rect>')
    every = max(1, math.ceil(n / 12))
    for b in range(0, n, every):
        x = left + b * slot
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" class="axis">{esc(bins[b])}</text>')
    body.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 32}" text-anchor="middle" class="axis">'
                f'{esc(x_title)}{esc(log_hint)}{" (log count)" if log_y else ""}</text>')
    body += _legend([s[0] for s in series], [s[2] for s in series], left, height - 6)
    return _svg(width, height, title, body)
