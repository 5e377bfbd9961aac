"""A study's self-contained report, as HTML or PDF, built from one set of sections.

``report_sections.report_sections`` reads the study once (its cached default leaderboard,
design, prompts, raters, speeds, weights) into plain sections of blocks: paragraphs, tables and
figures (the plots of ``plots.py``, drawn from the same leaderboard document). ``study_report``
writes them:

- HTML: one file, its figures as PNG data URIs and its CSS inline, so it opens offline and can be
  mailed; it is a download (Content-Disposition: attachment), never a page of the site (the
  site's CSP would refuse its inline style).
- PDF: matplotlib's PdfPages (no other dependency): text pages set in A4, each figure on a page
  of its own, as vectors.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap

from ..models import Study
from . import plots
from .figures import figure_bytes, plain, pyplot
from .report_sections import Section, Table, report_sections

REPORT_FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
#: The page size of the PDF (A4, inches) and how many text lines a page holds.
PAGE = (8.27, 11.69)
LINES_PER_PAGE = 64


def _figures(study: Study, document: dict, sections: list[Section]):
    """(plot name, matplotlib figure) for every figure block, in order."""
    for section in sections:
        for kind, value in section.blocks:
            if kind == "figure":
                yield value, plots.plot_figure(study=study, plot=value, document=document)


FIGURE_ALT = {
    "versus-bars": "Win rate of each model against the reference with its interval and the margin drawn",
    "versus-table": "The decision table against the reference",
    "forest": "Every model's rating with its interval, per criterion",
    "speed": "Rating against seconds per image, the Pareto front marked",
    "diversity": "Rating against diversity across seeds",
}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;max-width:1100px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555}table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
caption{text-align:left;font-weight:600;padding:.3em 0}figure{margin:1em 0}img{max-width:100%;height:auto}
nav ol{columns:2}
"""


def _html(study: Study, header: dict, sections: list[Section], images: dict[str, bytes]) -> bytes:
    e = html.escape
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Report: {e(header['study'])}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(header['study'])}: study report</h1>",
        f"<p class=\"meta\">Study {header['study_id']} · {e(header['status'])} · {header['votes']} votes by {header['raters']} raters · "
        f"generated {e(header['generated_at'])} · code {e(header['code_version'])}</p>",
        "<nav><ol>" + "".join(f"<li><a href=\"#{s.anchor}\">{e(s.title)}</a></li>" for s in sections) + "</ol></nav>",
    ]
    for section in sections:
        parts.append(f"<section id=\"{section.anchor}\"><h2>{e(section.title)}</h2>")
        for kind, value in section.blocks:
            if kind == "p":
                parts.append(f"<p>{e(value)}</p>")
            elif kind == "table":
                parts.append(
                    f"<table><caption>{e(value.caption)}</caption><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in value.columns)
                    + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in value.rows)
                    + "</tbody></table>"
                )
            else:
                data = base64.b64encode(images[value]).decode()
                parts.append(f"<figure class=\"figure-{value}\"><img src=\"data:image/png;base64,{data}\" alt=\"{e(FIGURE_ALT.get(value, value))}\"></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts).encode()


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=True) or [""]


def _table_lines(table: Table, width: int) -> list[str]:
    """A table as monospace lines, each column as wide as its longest cell (long cells cut)."""
    widths = [min(max([len(c)] + [len(row[i]) for row in table.rows]), 48) for i, c in enumerate(table.columns)]
    while sum(widths) + 2 * len(widths) > width and max(widths) > 8:
        widths[widths.index(max(widths))] -= 1

    def line(cells):
        return "  ".join((cell if len(cell) <= w else cell[: w - 1] + "~").ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return [line(table.columns), "  ".join("-" * w for w in widths), *(line(row) for row in table.rows)]


def _text_pages(plt, header: dict, sections: list[Section], figure_pages: dict[str, int]):
    """Figures of A4 text pages: the header, then each section's paragraphs and tables; a figure
    block becomes a line naming its page."""
    lines: list[tuple[str, str]] = [
        ("title", f"{header['study']}: study report"),
        ("meta", f"Study {header['study_id']} · {header['status']} · {header['votes']} votes by {header['raters']} raters · "
                 f"generated {header['generated_at']} · code {header['code_version']}"),
        ("gap", ""),
    ]
    for section in sections:
        lines += [("gap", ""), ("heading", section.title)]
        for kind, value in section.blocks:
            if kind == "p":
                lines += [("text", chunk) for chunk in _wrap(value, 105)]
            elif kind == "table":
                lines += [("caption", value.caption), *(("mono", row) for row in _table_lines(value, 120)), ("gap", "")]
            else:
                lines.append(("text", f"[Figure: {FIGURE_ALT.get(value, value)}, page {figure_pages[value]}]"))
    styles = {
        "title": dict(fontsize=15, weight="bold"), "meta": dict(fontsize=8, color="#555555"), "heading": dict(fontsize=12, weight="bold"),
        "caption": dict(fontsize=8.5, weight="bold"), "text": dict(fontsize=8.5), "mono": dict(fontsize=7, family="monospace"), "gap": {},
    }
    pages: list[list[tuple[str, str]]] = [[]]
    for style, text in lines:
        # A heading or a table's caption never ends a page: it starts the next one with what follows.
        room = LINES_PER_PAGE - len(pages[-1])
        if room <= 0 or (style in ("heading", "caption") and room < 5):
            pages.append([])
        if style != "gap" or pages[-1]:
            pages[-1].append((style, text))
    for number, page in enumerate(pages, start=1):
        figure = plt.figure(figsize=PAGE)
        y = 0.95
        for style, text in page:
            if text:
                figure.text(0.07, y, plain(text), va="top", **styles[style])
            y -= 0.0135 * (1.5 if style in ("title", "heading") else 1.0)
        figure.text(0.5, 0.03, f"{header['study']} · page {number}", ha="center", fontsize=7, color="#777777")
        yield figure


def text_page_count(sections: list[Section], header: dict) -> int:
    """How many text pages the PDF's text takes (the figures follow them)."""
    plt = pyplot()
    count = 0
    for figure in _text_pages(plt, header, sections, dict.fromkeys(_figure_names(sections), 0)):
        plt.close(figure)
        count += 1
    return count


def _figure_names(sections: list[Section]) -> list[str]:
    return [value for section in sections for kind, value in section.blocks if kind == "figure"]


def report_pages(*, study: Study):
    """The PDF's pages as (matplotlib figure, "text" or the plot's name), in order: the text, then
    one page per figure; what ``study_report`` writes, and what a PNG preview can save page by page."""
    plt = pyplot()
    head, sections = report_sections(study=study)
    header, document = head["header"], head["document"]
    names = _figure_names(sections)
    first = text_page_count(sections, header) + 1
    figure_pages = {name: first + k for k, name in enumerate(names)}
    for figure in _text_pages(plt, header, sections, figure_pages):
        yield figure, "text"
    for name, figure in _figures(study, document, sections):
        yield figure, name


def study_report(*, study: Study, fmt: str = "html") -> tuple[bytes, str, str]:
    """(content, content type, file name) of the study's report, ``html`` or ``pdf``."""
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"Unknown report format '{fmt}': use html or pdf.")
    filename = f"study-{study.pk}-report.{fmt}"
    if fmt == "html":
        head, sections = report_sections(study=study)
        images = {name: figure_bytes(figure, "png") for name, figure in _figures(study, head["document"], sections)}
        return _html(study, head["header"], sections, images), REPORT_FORMATS[fmt], filename
    from matplotlib.backends.backend_pdf import PdfPages

    plt = pyplot()
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": f"{study.name}: study report", "Subject": f"evalsite study {study.pk}",
                                    "Creator": "evalsite", "Producer": None, "CreationDate": None}) as pdf:
        for figure, kind in report_pages(study=study):
            # A text page keeps its A4 size; a figure page is cropped to the figure, labels and all.
            pdf.savefig(figure, **({} if kind == "text" else {"bbox_inches": "tight", "pad_inches": 0.3}))
            plt.close(figure)
    return buffer.getvalue(), REPORT_FORMATS[fmt], filename
