"""A student's progress on a piece, to read or hand on: text for the terminal, CSV, and a PDF (matplotlib)
with the ratings over time, the bars-by-takes map of right notes, and practice time per day."""
from __future__ import annotations

import csv
import os

from musicdesk.history.progress import Progress

RATINGS = (("note_accuracy", "notes right"), ("rhythmic_accuracy", "rhythm"), ("intonation", "intonation"))


def _date(t) -> str:
    return t.recorded_at.astimezone().strftime("%Y-%m-%d %H:%M")


def progress_text(prog: Progress) -> str:
    """The takes over time, then per bar the share of right notes in each take (oldest to newest)."""
    if not prog.takes:
        return "No takes of this piece by this student."
    lines = [f"{'take':<9} {'recorded':<16} {'right':>7} " + " ".join(f"{n:>11}" for _, n in RATINGS)]
    for t in prog.takes:
        right = f"{t.n_correct}/{t.n_notes}" if t.n_notes is not None else "-"
        lines.append(f"{str(t.id)[:8]:<9} {_date(t):<16} {right:>7} "
                     + " ".join(f"{t.ratings.get(k, float('nan')):>11.2f}" for k, _ in RATINGS))
    lines.append("")
    lines.append("Right notes per bar, oldest take first (. = no note in that take):")
    for bar in prog.bars:
        cells = []
        for per in prog.per_take:
            b = per.get(bar)
            cells.append("   ." if b is None else f"{100 * b.right_share:4.0f}")
        lines.append(f"  bar {bar:>3} " + " ".join(cells) + " %")
    return "\n".join(lines)


def write_csv(prog: Progress, path: str | os.PathLike) -> None:
    """One row per take and bar: the take's ratings beside the bar's figures (a spreadsheet can pivot it)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["take", "recorded_at", "n_notes", "n_correct", *[k for k, _ in RATINGS], "bar", "bar_notes",
                    "bar_right_share", "bar_median_abs_cents", "bar_timing_spread_ms"])
        for t, per in zip(prog.takes, prog.per_take):
            head = [str(t.id), t.recorded_at.isoformat(), t.n_notes, t.n_correct,
                    *[_fmt(t.ratings.get(k)) for k, _ in RATINGS]]
            for bar in prog.bars:
                b = per.get(bar)
                if b is not None:
                    w.writerow([*head, bar, b.n_notes, _fmt(b.right_share), _fmt(b.median_abs_cents),
                                _fmt(b.timing_spread_ms)])


def _fmt(v) -> str:
    return "" if v is None else f"{v:.4g}"


def write_pdf(prog: Progress, practice: list[tuple[str, float]], path: str | os.PathLike, title: str) -> None:
    """Two pages: the ratings over time and practice per day; the map of bars by takes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8.27, 11.69))     # A4
        fig.suptitle(f"musicdesk progress report\n{title}", fontsize=13)
        fig.subplots_adjust(hspace=0.4)
        if prog.takes:
            x = [t.recorded_at.astimezone() for t in prog.takes]
            for k, name in RATINGS:
                ax1.plot(x, [t.ratings.get(k, np.nan) for t in prog.takes], marker="o", label=name)
            ax1.set_ylim(0, 1.05)
            ax1.set_ylabel("rating (0-1)")
            ax1.legend(loc="lower right")
            ax1.set_title(f"{len(prog.takes)} takes, {_date(prog.takes[0])} to {_date(prog.takes[-1])}")
            import matplotlib.dates as mdates

            ax1.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
            ax1.tick_params(axis="x", rotation=30)
        else:
            ax1.text(0.5, 0.5, "No takes", ha="center")
        if practice:
            ax2.bar([d for d, _ in practice], [s / 60 for _, s in practice], color="#4a7ab5")
            ax2.set_ylabel("minutes recorded")
            ax2.set_title("Practice per day")
            ax2.tick_params(axis="x", rotation=45)
        else:
            ax2.axis("off")
        pdf.savefig(fig)
        plt.close(fig)
        if prog.takes and prog.bars:
            grid = np.full((len(prog.bars), len(prog.takes)), np.nan)
            for j, per in enumerate(prog.per_take):
                for i, bar in enumerate(prog.bars):
                    if bar in per:
                        grid[i, j] = per[bar].right_share
            fig, ax = plt.subplots(figsize=(8.27, 11.69))
            im = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest")
            ax.set_yticks(range(len(prog.bars)), [str(b) for b in prog.bars], fontsize=7)
            ax.set_xticks(range(len(prog.takes)), [t.recorded_at.astimezone().strftime("%m-%d") for t in prog.takes],
                          rotation=90, fontsize=7)
            ax.set_ylabel("bar")
            ax.set_xlabel("take (oldest left)")
            ax.set_title("Share of right notes per bar")
            fig.colorbar(im, ax=ax, fraction=0.04)
            pdf.savefig(fig)
            plt.close(fig)
