"""Small server-side SVG charts for the dashboard: no chart library and nothing from a CDN.

Each function returns SVG markup; every label is escaped."""

from __future__ import annotations

import math
from html import escape

WIDTH = 640
ROW = 22
LEFT = 170
COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#975a16", "#2c7a7b", "#4a5568"]


def _scale(lo: float, hi: float, start: float, end: float):
    span = (hi - lo) or 1.0
    return lambda value: start + (value - lo) / span * (end - start)


def _svg(height: float, body: list[str], title: str, width: float = WIDTH, css_class: str = "") -> str:
    """The chart at its own size in pixels (text stays 12 px); CSS shrinks it to a narrower column."""
    classes = f"chart {css_class}".strip()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" class="{classes}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def model_colours(names) -> dict[str, str]:
    """One colour per model, fixed by its place among the sorted names: a model keeps its
    colour whatever the order of the rows."""
    return {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(sorted(set(names)))}


def _text_width(text: str, size: float = 12) -> float:
    return 0.6 * size * len(text)  # a conservative average glyph width


def interval_chart(rows: list[dict], *, title: str = "Ratings with 95% intervals") -> str:
    """One line per model and criterion from ``ci_low`` to ``ci_high`` with a dot at ``rating``;
    criteria are stacked, models in rank order."""
    rows = [row for row in rows if row.get("rating") is not None]
    if not rows:
        return _svg(30, ['<text x="10" y="20">No votes yet.</text>'], title)
    values = [v for row in rows for v in (row["rating"], row.get("ci_low"), row.get("ci_high")) if v is not None]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 1.0
    left = max(LEFT, max(_text_width(str(row["model"])) for row in rows) + 16)
    width = WIDTH + max(0.0, left - LEFT)
    x = _scale(lo - pad, hi + pad, left, width - 30)
    colours = model_colours(str(row["model"]) for row in rows)
    body, y = [], 10
    criteria = list(dict.fromkeys(row["criterion"] for row in rows))
    for criterion in criteria:
        y += ROW
        body.append(f'<text x="4" y="{y - 6}" font-weight="bold" font-size="12">{escape(criterion)}</text>')
        for row in (r for r in rows if r["criterion"] == criterion):
            colour = colours[str(row["model"])]
            cy = y + ROW / 2
            body.append(f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end" font-size="12">{escape(str(row["model"]))}</text>')
            if row.get("ci_low") is not None and row.get("ci_high") is not None:
                body.append(
                    f'<line x1="{x(row["ci_low"]):.1f}" x2="{x(row["ci_high"]):.1f}" y1="{cy}" y2="{cy}" '
                    f'stroke="{colour}" stroke-width="3"><title>{row["ci_low"]:.3g} to {row["ci_high"]:.3g}</title></line>'
                )
            body.append(f'<circle cx="{x(row["rating"]):.1f}" cy="{cy}" r="4.5" fill="{colour}"><title>{row["rating"]:.4g}</title></circle>')
            y += ROW
    y += 6
    body.append(f'<line x1="{left}" y1="{y}" x2="{width - 30}" y2="{y}" stroke="#999"/>')
    for tick in (lo, (lo + hi) / 2, hi):
        body.append(f'<text x="{x(tick):.1f}" y="{y + 14}" text-anchor="middle" font-size="12" fill="#333">{tick:.4g}</text>')
    return _svg(y + 22, body, title, width)


def speed_chart(points: list[dict], *, title: str = "Rating against seconds per image", note: str = "") -> str:
    """Models as points: seconds per image (log scale) across, rating up; ``note`` (e.g. that
    the timings come from a CPU) is written above the points."""
    points = [p for p in points if p.get("rating") is not None and p.get("seconds") and p["seconds"] > 0]
    if not points:
        return _svg(30, ['<text x="10" y="20">No rated model with a measured speed yet.</text>'], title)
    height, bottom, top, left = 300, 256, 20, 76
    logs = [math.log10(p["seconds"]) for p in points]
    ratings = [p["rating"] for p in points]
    label_room = max(_text_width(str(p["model"])) for p in points) + 14
    width = max(WIDTH, left + 200 + label_room)
    x = _scale(min(logs) - 0.2, max(logs) + 0.2, left + 10, width - label_room)
    colours = model_colours(str(p["model"]) for p in points)
    rating_pad = (max(ratings) - min(ratings)) * 0.1 or 1.0
    y = _scale(min(ratings) - rating_pad, max(ratings) + rating_pad, bottom, top)
    body = [
        f'<line x1="{left}" y1="{bottom}" x2="{width - 20}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" font-size="12">seconds per image (log scale)</text>',
        f'<text x="14" y="{(top + bottom) / 2}" font-size="12" transform="rotate(-90 14 {(top + bottom) / 2})" text-anchor="middle">rating</text>',
    ]
    if note:
        body.append(f'<text x="{left + 6}" y="14" font-size="12" fill="#a33" class="speed-note">{escape(note)}</text>')
    for tick in range(math.floor(min(logs) - 0.2), math.ceil(max(logs) + 0.2) + 1):
        if left <= x(tick) <= width - 20:
            body.append(f'<text x="{x(tick):.1f}" y="{bottom + 18}" text-anchor="middle" font-size="12" fill="#333">{10.0**tick:g}</text>')
    rating_lo, rating_hi = min(ratings) - rating_pad, max(ratings) + rating_pad
    for tick in (rating_lo, (rating_lo + rating_hi) / 2, rating_hi):
        body.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="12" fill="#333">{tick:.4g}</text>')
    for point, log in zip(points, logs):
        colour = colours[str(point["model"])]
        px, py = x(log), y(point["rating"])
        body.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{colour}"><title>{escape(point["model"])}: '
            f'{point["seconds"]:.3g} s, {point["rating"]:.4g}</title></circle>'
        )
        body.append(f'<text x="{px + 8:.1f}" y="{py + 4:.1f}" font-size="12" fill="{colour}">{escape(point["model"])}</text>')
    return _svg(height, body, title, width)


def bar_chart(values: list[int], labels: list[str], *, title: str, css_class: str = "") -> str:
    """Vertical bars, e.g. comparisons answered per hour, drawn at their own pixel size (the page
    shrinks them only when its column is narrower): the title above, a count axis on the left, and
    as many labels below as fit without overlapping, each 12 px high."""
    width, height, left, right, top, bottom = 560, 190, 44, 12, 30, 150
    top_value = max(values + [1])
    step = (width - left - right) / max(len(values), 1)
    every = max(1, math.ceil((max((_text_width(label) for label in labels), default=0) + 10) / step))
    body = [
        f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#1d2433">{escape(title)}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="#999"/>',
    ]
    for fraction in (0.5, 1.0):  # a light grid line and a count at half and at the top
        gy = bottom - (bottom - top) * fraction
        count = top_value * fraction
        body.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#e3e6ec"/>')
        body.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="12" fill="#333" class="tick">{count:g}</text>')
    body.append(f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end" font-size="12" fill="#333" class="tick">0</text>')
    for index, (value, label) in enumerate(zip(values, labels)):
        bar = (bottom - top) * value / top_value
        bx = left + index * step
        body.append(
            f'<rect x="{bx + 1:.1f}" y="{bottom - bar:.1f}" width="{max(step - 2, 1):.1f}" height="{bar:.1f}" fill="#2b6cb0">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if index % every == 0:
            body.append(f'<line x1="{bx + step / 2:.1f}" y1="{bottom}" x2="{bx + step / 2:.1f}" y2="{bottom + 4}" stroke="#999"/>')
            body.append(
                f'<text x="{bx + step / 2:.1f}" y="{bottom + 18}" text-anchor="middle" font-size="12" fill="#333" class="tick">{escape(label)}</text>'
            )
    body.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="12" fill="#555">hour starting</text>')
    return _svg(height, body, title, width, css_class=css_class)
