"""The residual report of a set of tie points, as the QGIS Georeferencer writes one: what was fitted, its RMSE,
a map of the points with their residual vectors, and the table of points (pixel and map coordinates, residuals).
One self-contained HTML file: it opens in any browser and prints to PDF from there."""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

# residual classes (EO pixels): the colours of the used points, here and on the map canvas
RESIDUAL_CLASSES = ((0.0, 1.0, "#1a9641", "≤ 1 px"), (1.0, 2.0, "#a6d96a", "1–2 px"),
                    (2.0, 5.0, "#fdae61", "2–5 px"), (5.0, 1e9, "#d7191c", "> 5 px"))
PLOT_PX = 640  # the map's longer side in the report, screen pixels


@dataclass
class ResidualTable:
    """Tie points and their residuals under a fitted transform."""

    ids: np.ndarray  # (N,) int
    enabled: np.ndarray  # (N,) bool: used by the fit
    eo_px: np.ndarray  # (N, 2) EO pixel (col, row) of the EO end
    eo_xy: np.ndarray  # (N, 2) EO end, map units
    sar_xy: np.ndarray  # (N, 2) SAR end, map units
    disp: np.ndarray  # (N, 2) SAR end minus EO end, EO pixels
    residual: np.ndarray  # (N, 2) leave-one-out residual, EO pixels; NaN where none
    suspect: np.ndarray  # (N,) bool


def residual_colour(norm: float) -> str:
    """The class colour of a residual of `norm` EO pixels."""
    return next(colour for lo, hi, colour, _ in RESIDUAL_CLASSES if norm < hi)


def _nice_scale(longest_residual: float, size: float) -> float:
    """A round arrow scale (1, 2, 5 × 10^k) that draws the longest residual at about 6 % of the map."""
    if not np.isfinite(longest_residual) or longest_residual <= 0:
        return 1.0
    raw = 0.06 * size / longest_residual
    k = math.floor(math.log10(raw))
    return max(1.0, next(m * 10 ** k for m in (5, 2, 1) if m * 10 ** k <= raw))


def _plot(table: ResidualTable, size: Tuple[int, int]) -> str:
    """An SVG map of the EO extent: points by residual class, residual vectors scaled up, suspects as triangles."""
    width, height = size
    k = PLOT_PX / max(width, height, 1)
    w, h = width * k, height * k
    norm = np.hypot(*table.residual.T)
    scale = _nice_scale(float(np.nanmax(norm)) if np.isfinite(norm).any() else float("nan"), max(width, height))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h + 24:.0f}" '
             f'viewBox="0 0 {w:.1f} {h + 24:.1f}"><rect width="{w:.1f}" height="{h:.1f}" fill="#f4f4f4" '
             'stroke="#888"/>']
    for (x, y), (rx, ry), r, used, bad in zip(table.eo_px * k, table.residual * k * scale, norm, table.enabled,
                                               table.suspect):
        if used and np.isfinite(r):
            parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + rx:.1f}" y2="{y + ry:.1f}" stroke="#d7191c" '
                         'stroke-width="1"/>')
        if not used:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="none" stroke="#888"/>')
        elif bad:
            parts.append(f'<path d="M{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 3:.1f} L{x - 4:.1f},{y + 3:.1f} Z" '
                         'fill="#d7191c" stroke="#000" stroke-width="0.5"/>')
        else:
            colour = residual_colour(r) if np.isfinite(r) else "#2b83ba"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" stroke="#000" '
                         'stroke-width="0.5"/>')
    parts.append(f'<text x="4" y="{h + 16:.0f}" font-size="12">EO extent {width} × {height} px; residual arrows '
                 f'× {scale:g}; hollow: disabled; triangle: suspect</text></svg>')
    return "".join(parts)


def _cell(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else ""


def residual_report_html(table: ResidualTable, title: str, summary: str, details: Dict[str, str],
                         eo_size: Tuple[int, int]) -> str:
    """The report as one HTML page. `summary`: the fit in one line (transform, RMSE); `details`: name -> value
    lines (inputs, CRS, verdict); `eo_size`: the EO raster's width and height in pixels."""
    esc = html.escape
    norm = np.hypot(*table.residual.T)
    used = table.enabled & np.isfinite(norm)
    stats = (f"{int(table.enabled.sum())} of {len(table.ids)} points enabled; "
             + (f"mean residual {norm[used].mean():.2f} px, max {norm[used].max():.2f} px" if used.any()
                else "no residuals (too few points for this transform)"))
    rows = []
    for i in range(len(table.ids)):
        style = ' style="color:#888"' if not table.enabled[i] else ' style="color:#b00"' if table.suspect[i] else ""
        cells = [str(int(table.ids[i])), "yes" if table.enabled[i] else "no", "yes" if table.suspect[i] else "",
                 _cell(table.eo_px[i, 0], 2), _cell(table.eo_px[i, 1], 2), _cell(table.eo_xy[i, 0], 3),
                 _cell(table.eo_xy[i, 1], 3), _cell(table.sar_xy[i, 0], 3), _cell(table.sar_xy[i, 1], 3),
                 _cell(table.disp[i, 0], 2), _cell(table.disp[i, 1], 2), _cell(table.residual[i, 0], 2),
                 _cell(table.residual[i, 1], 2), _cell(norm[i], 2)]
        rows.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = ("ID", "Enabled", "Suspect", "EO pixel X", "EO pixel Y", "Map X", "Map Y", "SAR map X", "SAR map Y",
            "dX px", "dY px", "Res X px", "Res Y px", "Res total px")
    info = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in details.items())
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + esc(title) + "</title><style>"
            "body{font-family:sans-serif;margin:24px}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
            ".info th,.info td{text-align:left}</style></head><body>"
            f"<h1>{esc(title)}</h1><h2>Transformation</h2><p>{esc(summary)}</p><p>{esc(stats)}</p>"
            f"<p>Residuals are leave-one-out, in EO pixels: each point against a fit of the others.</p>"
            f"<h2>General information</h2><table class=\"info\">{info}</table>"
            f"<h2>Residuals</h2>{_plot(table, eo_size)}"
            f"<h2>Tie points</h2><table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{''.join(rows)}</table>"
            "</body></html>")


def write_residual_report(path: str, page: str) -> None:
    """Write the page whole or not at all (a temporary file renamed into place)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"The folder {folder} does not exist: choose another place for the report.")
    temporary = path + ".partial"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(temporary, path)
