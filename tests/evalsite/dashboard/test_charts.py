"""The dashboard's charts: labels escaped, points in order."""

from __future__ import annotations

import re

from evalsite.dashboard import charts


def test_charts_escape_labels_and_place_points_in_order():
    rows = [
        {"model": "<b>a</b>", "criterion": "image_quality", "rating": 1100.0, "ci_low": 1050.0, "ci_high": 1150.0},
        {"model": "b", "criterion": "image_quality", "rating": 900.0, "ci_low": 850.0, "ci_high": 950.0},
    ]
    svg = charts.interval_chart(rows)
    assert "<b>" not in svg and "&lt;b&gt;a&lt;/b&gt;" in svg
    centres = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    assert centres[0] > centres[1]
    speed = charts.speed_chart([{"model": "fast", "rating": 1.0, "seconds": 0.1}, {"model": "slow", "rating": 2.0, "seconds": 10.0}])
    (fx, fy), (sx, sy) = [(float(a), float(b)) for a, b in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', speed)]
    assert fx < sx and fy > sy  # slower is further right; higher rating is higher up (smaller y)
    assert "No votes yet." in charts.interval_chart([])
