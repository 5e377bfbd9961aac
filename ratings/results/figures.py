"""Matplotlib for the results: loaded only when a figure is drawn (the web process starts
without it), on the Agg backend; a figure's bytes with no date or software stamp, so the same
figure gives the same file; text shown as it is (no mathtext). Used by ``plots.py``,
``versus_plots.py`` and ``report.py``."""

from __future__ import annotations

import io


def figure_bytes(figure, fmt: str) -> bytes:
    """The figure saved as ``fmt`` (png, svg or pdf), closed."""
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else ({"Creator": None, "Producer": None, "CreationDate": None} if fmt == "pdf" else None)
    figure.savefig(buffer, format=fmt, bbox_inches="tight", metadata=metadata)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, imported now."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain(text: str) -> str:
    """Text matplotlib shows as it is: a $ would start mathtext."""
    return str(text).replace("$", r"\$")
