"""``report.html`` of an ablation: one self-contained page (no scripts, no external files).

The results table (mean ± sample std over seeds; a mark where the difference to the baseline
is beyond seed noise) and one inline SVG with every variant's eval-loss curve (each seed a
thin line, the mean over seeds a thick one). The curves are each variant's own validation
split, so their levels compare the data's difficulty as much as the model; the table's
reference sets are the comparison that counts.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from ..errors import DataforgeError
from ..io import atomic_write_text
from .results import metric_order, read_results
from .stats import lower_is_better

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # matplotlib's tab10


def cell_text(row: dict[str, Any]) -> str:
    if row.get("mean") is None:
        return "n/a"
    std = row.get("std")
    return f"{row['mean']:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def verdict(row: dict[str, Any]) -> str:
    """'' (baseline or within noise), '▲ better' or '▼ worse' beyond noise, '?' when undecidable."""
    vs = row.get("vs_baseline")
    if vs is None:
        return ""
    if vs["beyond_noise"] is None:
        return "?"
    if not vs["beyond_noise"]:
        return "≈"
    return "▲ better" if vs["better"] else "▼ worse"


def _mean_curve(curves: list[list[list[float]]]) -> list[tuple[float, float]]:
    """Mean eval loss at each step every seed logged."""
    if not curves:
        return []
    steps = set.intersection(*({int(s) for s, _ in c} for c in curves)) if all(curves) else set()
    by = [{int(s): v for s, v in c} for c in curves]
    return [(s, sum(b[s] for b in by) / len(by)) for s in sorted(steps)]


def svg_curves(results: dict[str, Any], *, width: int = 720, height: int = 360) -> str:
    series = []
    for i, (name, v) in enumerate(results["variants"].items()):
        curves = [r["curve"] for r in v["runs"] if r.get("curve")]
        series.append((name, PALETTE[i % len(PALETTE)], curves, _mean_curve(curves)))
    pts = [(s, y) for _, _, curves, _ in series for c in curves for s, y in c
           if isinstance(y, (int, float)) and math.isfinite(y)]
    if not pts:
        return "<p>No eval-loss records in the runs' metrics.jsonl.</p>"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-6)
    ml, mr, mt, mb = 60, 150, 20, 40

    def X(s: float) -> float:
        return ml + (s - x0) / (x1 - x0) * (width - ml - mr)

    def Y(v: float) -> float:
        return mt + (y1 - v) / (y1 - y0) * (height - mt - mb)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="12" '
           f'font-family="sans-serif" role="img" aria-label="eval loss by step">',
           f'<rect x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}" fill="none" stroke="#999"/>']
    for k in range(5):
        v = y0 + (y1 - y0) * k / 4
        out.append(f'<text x="{ml - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
        s = x0 + (x1 - x0) * k / 4
        out.append(f'<text x="{X(s):.1f}" y="{height - mb + 16}" text-anchor="middle">{s:.0f}</text>')
    out.append(f'<text x="{(ml + width - mr) / 2:.0f}" y="{height - 6}" text-anchor="middle">step</text>')
    out.append(f'<text x="14" y="{(mt + height - mb) / 2:.0f}" transform="rotate(-90 14 {(mt + height - mb) / 2:.0f})" '
               'text-anchor="middle">eval loss (own validation)</text>')
    for j, (name, color, curves, mean) in enumerate(series):
        for c in curves:
            path = " ".join(f"{X(s):.1f},{Y(v):.1f}" for s, v in c)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1" opacity="0.35"/>')
        if mean:
            path = " ".join(f"{X(s):.1f},{Y(v):.1f}" for s, v in mean)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        ly = mt + 14 + 18 * j
        out.append(f'<line x1="{width - mr + 10}" y1="{ly - 4}" x2="{width - mr + 30}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="2.5"/>')
        out.append(f'<text x="{width - mr + 36}" y="{ly}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def results_table(results: dict[str, Any]) -> str:
    """The variants x metrics table, as an HTML fragment."""
    esc = html.escape
    metrics = metric_order(results)
    head = "".join(f"<th>{esc(m)} {'↓' if lower_is_better(m) else '↑'}</th>" for m in metrics)
    rows = []
    for name, v in results["variants"].items():
        tag = " (baseline)" if name == results["baseline"] else ""
        cells = "".join(f"<td>{esc(cell_text(results['table'][name][m]))} {esc(verdict(results['table'][name][m]))}</td>"
                        if m in results["table"][name] else "<td>n/a</td>" for m in metrics)
        rows.append(f"<tr><th>{esc(name)}{tag}</th><td><code>{esc(v['edit'])}</code></td>"
                    f"<td>{v['train_tokens']:,}</td><td>{v['epochs']:.3g}</td>{cells}</tr>")
    return (f"<table><tr><th>variant</th><th>edit</th><th>train tokens</th><th>epochs</th>{head}</tr>"
            f"{''.join(rows)}</table>")


def _facts(results: dict[str, Any]) -> str:
    esc = html.escape
    b = results["budget"]
    chance = ", ".join(f"{esc(k)} {v:.3f}" for k, v in sorted(results["chance"].items())) or "none"
    return (f"Baseline <b>{esc(results['baseline'])}</b>; seeds {esc(', '.join(map(str, results['seeds'])))}; "
            f"model {esc(str(results['train']['model']))}; {b['steps']} steps x {b['tokens_per_step']:,} tokens "
            f"= {b['tokens_per_run']:,} tokens per run ({esc(b['steps_from'])}). Chance: {chance}.")


LEGEND = ("Mean ± sample standard deviation over seeds. ▲/▼: better/worse than the baseline beyond seed noise; "
          "≈: within noise; ?: one seed, no spread.")


def render(results: dict[str, Any]) -> str:
    esc = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dataforge ablation: {esc(results['pipeline'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th:first-child{{text-align:left}}
code{{font-size:90%;white-space:nowrap}}td:nth-child(2){{text-align:left}}.wide{{overflow-x:auto}}</style></head><body>
<h1>Ablation of {esc(results['pipeline'])}</h1>
<p>{_facts(results)} Wall time {results['seconds']['total']:.0f} s (build {results['seconds']['build']:.0f} s,
train {results['seconds']['train']:.0f} s).</p>
<div class="wide">{results_table(results)}</div>
<p>{LEGEND} Rule: {esc(results['rule']['text'])}.</p>
<h2>Eval loss during training</h2>
<p>Thin lines: each seed; thick: the mean over seeds. Each variant is scored on its own validation split,
so levels differ with the data; the reference sets above compare variants on the same text.</p>
{svg_curves(results)}
</body></html>
"""


def ablation_section(pipeline_output: str | Path, *, folder: str = "ablate") -> str:
    """An HTML fragment for ``dataforge report`` of a pipeline output: the ablation's table and a link to
    its page, or "" when the output holds no ablation (or its results cannot be read)."""
    root = Path(pipeline_output) / folder
    if not (root / "results.json").exists():
        return ""
    try:
        results = read_results(root)
        table = results_table(results)
        facts = _facts(results)
    except DataforgeError as exc:
        return f"<p>{html.escape(str(exc))}</p>"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a results file of another shape
        return f"<p>{html.escape(str(root / 'results.json'))}: not readable as ablation results ({html.escape(repr(exc))})</p>"
    return (f"<p>{facts} <a href=\"{html.escape(folder)}/report.html\">The ablation's page</a> has the "
            f"loss curves.</p>{table}<p>{LEGEND}</p>")


def write_page(output: Path, results: dict[str, Any]) -> Path:
    path = Path(output) / "report.html"
    atomic_write_text(path, render(results))
    return path
