"""Line charts drawn on the server as inline SVG: no script, no library, nothing fetched, readable offline.

One ``<polyline>`` per series, one vertex per point (``data-points`` says how many), the x axis time
and the y axis from 0 to ``y_max`` (or the largest value). Colours come from a fixed palette chosen
to stay apart for common colour blindness (Okabe-Ito).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_W, _H = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 10, 28


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]  # in time order


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def line_chart(title: str, series: Sequence[Series], *, y_max: float | None = None, chart_id: str = "",
               bands: Sequence[tuple[float, str]] = ()) -> Markup:
    """An SVG line chart; ``bands``: (lower bound, colour) of shaded y ranges (risk tiers)."""
    points = [p for s in series for p in s.points]
    if not points:
        return Markup('<p class="empty">no windows in this range</p>')
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    top = y_max if y_max is not None else max(*(v for _, v in points), 1e-9)
    span_t = (t1 - t0) or 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(t: datetime) -> float:
        return _LEFT + (t.timestamp() - t0) / span_t * plot_w

    def y(v: float) -> float:
        return _TOP + plot_h - min(max(v, 0.0), top) / top * plot_h

    out = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {_W} {_H}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (lower, colour) in enumerate(bands):
        upper = bands[i + 1][0] if i + 1 < len(bands) else top
        if lower < top:
            out.append(f'<rect x="{_LEFT}" y="{y(upper):.1f}" width="{plot_w}" height="{y(lower) - y(upper):.1f}" '
                       f'fill="{colour}" opacity="0.12"/>')
    for frac in (0.0, 0.5, 1.0):
        value = top * frac
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   'stroke="#ccc" stroke-width="0.5"/>'
                   f'<text x="{_LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end" class="tick">{_fmt(value)}</text>')
    first, last = min(t for t, _ in points), max(t for t, _ in points)
    out.append(f'<text x="{_LEFT}" y="{_H - 8}" class="tick">{first:%Y-%m-%d %H:%M}</text>'
               f'<text x="{_W - _RIGHT}" y="{_H - 8}" text-anchor="end" class="tick">{last:%Y-%m-%d %H:%M} UTC</text>')
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points)
        out.append(f'<polyline class="series" data-series="{escape(s.name)}" data-points="{len(s.points)}" '
                   f'points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5">'
                   f'<title>{escape(s.name)}</title></polyline>')
    out.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(s.name)}</span>'
                     for i, s in enumerate(series))
    # Every text in it went through html.escape above; numbers and colours are ours.
    return Markup("".join(out) + f'<div class="legend">{legend}</div>')  # noqa: S704
