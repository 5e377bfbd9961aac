"""The figures of a study with a reference model (issue 27): ADD's win-rate bars against the
reference and the decision table, every number a row of the leaderboard document's decision
table (``ratings.stats.versus``)."""

from __future__ import annotations

from .figures import plain


DECISION_COLOURS = {
    "better": "#1a7f37", "equivalent": "#2f6fb3", "non-inferior": "#6aa84f", "inferior": "#c0392b", "undecided": "#999999",
}


def _versus_groups(document: dict) -> tuple[list[str], list[str], dict]:
    """(criteria in the table's order with "mean" last, models in name order, rows by (model, criterion))."""
    rows = document.get("versus") or []
    criteria = list(dict.fromkeys(row["criterion"] for row in rows))
    criteria.sort(key=lambda name: name == "mean")
    models = sorted({row["model"] for row in rows})
    return criteria, models, {(row["model"], row["criterion"]): row for row in rows}


def versus_bars(plt, document: dict, colours: dict):
    """ADD's bars: each model's win rate against the reference (a tie half a win) with its
    interval, one panel per criterion and the mean, 0.5 and the margin 0.5 - delta drawn, the
    decision written beside each bar. Every number is a row of the document's decision table."""
    from matplotlib.patches import Patch

    settings = document.get("versus_settings") or {}
    margin = settings.get("margin", 0.05)
    criteria, models, rows = _versus_groups(document)
    panels = max(len(criteria), 1)
    longest = max([len(name) for name in models] + [8])
    figure, axes = plt.subplots(
        1, panels, sharey=True, squeeze=False, layout="constrained",
        figsize=(2.6 + 0.07 * longest + 3.0 * panels, max(2.8, 0.5 * len(models) + 2.0)),
    )
    for axis, criterion in zip(axes[0], criteria):
        for k, name in enumerate(models):
            row = rows.get((name, criterion))
            if row is None or row["win_rate"] is None:
                axis.text(0.02, k, "no votes", va="center", fontsize=7, color="#666666")
                continue
            colour = DECISION_COLOURS.get(row["decision"], "#999999")
            axis.barh([k], [row["win_rate"]], color=colour, alpha=0.75, height=0.6)
            if row["low"] is not None:
                axis.errorbar([row["win_rate"]], [k], xerr=[[row["win_rate"] - row["low"]], [row["high"] - row["win_rate"]]],
                              fmt="none", ecolor="black", capsize=3, linewidth=1)
            # Right of the interval and of the margin band, so the lines never run through it.
            axis.text(min(max(row["high"] if row["high"] is not None else row["win_rate"], 0.5 + margin), 0.98) + 0.01, k,
                      f"{row['win_rate']:.2f} {row['decision']}", va="center", fontsize=7)
        axis.axvline(0.5, color="black", linewidth=0.8)
        axis.axvline(0.5 - margin, color="#c0392b", linestyle="--", linewidth=1.2)
        if margin > 0:
            axis.axvspan(0.5 - margin, 0.5 + margin, color="#2f6fb3", alpha=0.08)
        axis.set_xlim(0, 1.25)
        axis.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "0.25", "0.5", "0.75", "1"])
        axis.text(0.5 - margin, -0.02, f"{0.5 - margin:g} ", transform=axis.get_xaxis_transform(), ha="right", va="top", fontsize=7, color="#c0392b")
        axis.set_title(plain(criterion.replace("_", " ") if criterion != "mean" else "mean of the criteria"), fontsize=9)
        axis.set_xlabel(plain(f"win rate against {settings.get('reference', 'the reference')}"), fontsize=8)
        axis.tick_params(labelsize=8)
    if not criteria:
        axes[0][0].text(0.5, 0.5, "No votes against the reference yet.", ha="center", va="center", transform=axes[0][0].transAxes)
    axes[0][0].set_yticks(range(len(models)), [plain(name) for name in models])
    axes[0][0].set_ylim(-0.6, max(len(models) - 0.4, 0.6))
    axes[0][0].invert_yaxis()
    legend = [Patch(color=DECISION_COLOURS[name], alpha=0.75, label=name) for name in DECISION_COLOURS]
    legend.append(plt.Line2D([], [], color="#c0392b", linestyle="--", label=f"margin 0.5 - delta = {0.5 - margin:g}"))
    figure.legend(handles=legend, loc="outside right upper", fontsize=7, frameon=False)
    figure.suptitle(plain(
        f"Win rate against {settings.get('reference', '-')}: interval on the unit {settings.get('unit', '-')}, "
        f"each bound one-sided at level {settings.get('alpha', '-')}; decision at margin {margin:g}"
    ), fontsize=10)
    return figure


def versus_table(plt, document: dict, colours: dict):
    """The decision table as a figure: one row per model and criterion (the document's rows)."""
    settings = document.get("versus_settings") or {}
    criteria, models, rows = _versus_groups(document)
    cells, fills = [], []
    for name in models:
        for criterion in criteria:
            row = rows.get((name, criterion))
            if row is None:
                continue
            interval = "-" if row["low"] is None else f"{row['low']:.3f} to {row['high']:.3f}"
            rate = "-" if row["win_rate"] is None else f"{row['win_rate']:.3f}"
            cells.append([name, criterion, rate, interval, row["decision"], str(row["votes"])])
            fills.append(["white"] * 4 + [DECISION_COLOURS.get(row["decision"], "white")] + ["white"])
    figure, axis = plt.subplots(figsize=(8.0, max(1.2, 0.24 * (len(cells) + 1) + 0.6)), layout="constrained")
    axis.axis("off")
    if cells:
        table = axis.table(
            cellText=[[plain(text) for text in row] for row in cells], cellColours=fills,
            colLabels=["model", "criterion", "win rate", "interval", "decision", "votes"], loc="center", cellLoc="left",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.3)
        for (r, c), cell in table.get_celld().items():
            if r > 0 and c == 4:
                cell.get_text().set_color("white" if cells[r - 1][4] != "undecided" else "black")
            if r == 0:
                cell.get_text().set_weight("bold")
    else:
        axis.text(0.5, 0.5, "No votes against the reference yet.", ha="center", va="center", transform=axis.transAxes)
    axis.set_title(plain(
        f"Decisions against {settings.get('reference', '-')} at margin {settings.get('margin', '-')}, "
        f"alpha {settings.get('alpha', '-')}, unit {settings.get('unit', '-')}"
    ), fontsize=10)
    return figure
