"""The ratings box of the window: the report's rule-based ratings and the network's, a summary of the
take, and in words what each rating measures when the two disagree. Draws what the core computed;
computes nothing musical.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QWidget

from musicdesk.app.colours import CATEGORY_COLOURS, CATEGORY_LABELS, TIMING_GLYPHS

CRITERIA = (("note_accuracy", "Note accuracy"), ("rhythmic_accuracy", "Rhythm"), ("intonation", "Intonation"))
RULE_HELP = {
    "note_accuracy": "Share of the notes you played at the right pitch (within 50 cents of the score, "
                     "against your own tuning when the whole take is offset).",
    "rhythmic_accuracy": "Each note's onset against your own pulse on both sides of it: holds, breaths and "
                         "fermatas at phrase ends, and gradual tempo changes, are free. 1 = on your pulse, "
                         "0 = 200 ms or more off it.",
    "intonation": "How close the right notes are to the reference pitch (A = 440 Hz unless set in "
                  "Settings): 1 = spot on, 0 = 50 cents off.",
}
NETWORK_HELP = ("A score-informed network trained on simulated students (models/README.md). Its rhythm "
                "rating follows a teacher's rubric: 70% note timing against the local pulse, 30% how "
                "steady the tempo is, less for pauses and restarts; so a free, expressive tempo lowers it "
                "where the report's rhythm does not.")
DISAGREE = 0.15   # ratings further apart than this get a sentence on why


class RatingsPanel(QGroupBox):
    """Rule-based and network ratings as bars, and the summary of a take."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Ratings", parent)
        form = QFormLayout(self)
        self.rule_label = QLabel("Report (rules)")
        self.rule_label.setToolTip("Ratings computed from the per-note report by documented rules.")
        form.addRow(self.rule_label)
        self.rating_bars = _rating_bars(form, RULE_HELP)
        self.network_label = QLabel("Network")
        self.network_label.setToolTip(NETWORK_HELP)
        form.addRow(self.network_label)
        self.network_bars = _rating_bars(form, {k: NETWORK_HELP for k, _ in CRITERIA})
        self.why_label = QLabel("")
        self.why_label.setWordWrap(True)
        self.why_label.setStyleSheet("color:#555555")
        form.addRow(self.why_label)
        self.summary_label = QLabel("Record a take (R) or open one to see how it went.")
        self.summary_label.setWordWrap(True)
        form.addRow(self.summary_label)

    def clear(self) -> None:
        for bar in (*self.rating_bars.values(), *self.network_bars.values()):
            bar.setValue(0)
            bar.setFormat("-")
        self.why_label.setText("")
        self.summary_label.setText("Record a take (R) or open one to see how it went.")

    def show_analysis(self, analysis) -> None:
        """Bars, the network's name, why the two disagree, and the take's summary, warnings, remarks."""
        rep = analysis.report
        _show_ratings(self.rating_bars, rep.ratings)
        a = analysis.assessment
        if a is not None:
            self.network_label.setText(f"Network: {a.model} ({a.device})")
            _show_ratings(self.network_bars, a.ratings)
        else:
            self.network_label.setText("Network: " + ("off (Settings)" if not analysis.assessment_error
                                                      else "unavailable"))
            self.network_label.setToolTip(analysis.assessment_error or NETWORK_HELP)
        self.why_label.setText(disagreement_text(rep.ratings, a.ratings if a is not None else None))
        self.summary_label.setText(summary_text(rep))


def disagreement_text(rule: dict, network: dict | None) -> str:
    """A sentence per criterion on which the report's and the network's ratings differ by more than
    DISAGREE, saying what each measures."""
    if not network:
        return ""
    out = []
    r, n = rule.get("rhythmic_accuracy"), network.get("rhythmic_accuracy")
    if r is not None and n is not None and abs(r - n) > DISAGREE:
        out.append(f"Rhythm: the report says {r:.2f}, the network {n:.2f}. The report judges each note against "
                   "your own pulse, with holds, breaths and rubato free; the network also counts how steady "
                   "your tempo is, as a strict rubric would.")
    for key, what in (("note_accuracy", "Note accuracy"), ("intonation", "Intonation")):
        r, n = rule.get(key), network.get(key)
        if r is not None and n is not None and abs(r - n) > DISAGREE:
            out.append(f"{what}: the report says {r:.2f}, the network {n:.2f}; the report counts each note "
                       "by rule, the network estimates a teacher's grade from the whole take.")
    return "\n".join(out)


def summary_text(rep) -> str:
    """The take in one paragraph: notes right, wrong, missed, extra; cents; tempo; holds; then its
    remarks (tuning) and warnings."""
    s = rep.summary
    mac = s.get("median_abs_cents")
    text = (f"{s['n_correct']} of {s['n_notes']} notes right, {s['n_wrong_pitch']} wrong, {s['n_missed']} "
            f"missed, {s['n_extra']} extra; median {'-' if mac is None else f'{mac:.0f}'} cents off")
    if s.get("played_tempo_bpm"):
        text += f"; played at about {s['played_tempo_bpm']:.0f} bpm"
    n_early, n_late = s.get("n_early", 0), s.get("n_late", 0)
    text += f"; {n_early} early, {n_late} late"
    if s.get("n_holds"):
        text += (f" ({s['n_holds']} hold{'s' if s['n_holds'] > 1 else ''} or breath{'s' if s['n_holds'] > 1 else ''}"
                 " at phrase ends not counted)")
    for m in getattr(rep, "remarks", ()):
        text += f"\n♪ {m}"
    for w in rep.warnings:
        text += f"\n⚠ {w}"
    return text


class Legend(QGroupBox):
    """What the colours and marks on the score mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Legend", parent)
        row = QHBoxLayout(self)
        row.setSpacing(6)
        for cats in (("correct", "wrong_pitch", "missed", "out_of_tune"), ("early", "late", "extra")):
            col = QWidget()
            grid = QFormLayout(col)
            for cat in cats:
                sw = QLabel(TIMING_GLYPHS.get(cat, "+" if cat == "extra" else ""))
                sw.setFixedSize(14, 14)
                if cat in TIMING_GLYPHS or cat == "extra":
                    sw.setStyleSheet(f"color:{CATEGORY_COLOURS[cat]}; font-weight:bold")
                else:
                    sw.setStyleSheet(f"background:{CATEGORY_COLOURS[cat]}; border-radius:3px")
                label = CATEGORY_LABELS[cat] + (" (mark)" if cat in TIMING_GLYPHS else "")
                grid.addRow(sw, QLabel(label))
            row.addWidget(col)


class RatingBar(QWidget):
    """A 0-100 bar with its number beside it, never on it: a bar's own text sits where its chunk is
    drawn (covered in some styles, not drawn at all in macOS's)."""

    def __init__(self, tooltip: str = "") -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.number = QLabel("-")
        self.number.setMinimumWidth(self.number.fontMetrics().horizontalAdvance("0.00") + 6)
        self.number.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.bar, 1)
        row.addWidget(self.number)
        self.setToolTip(tooltip)
        self.setValue(0)

    def setValue(self, v: int) -> None:  # noqa: N802 - as QProgressBar
        self.bar.setValue(v)

    def value(self) -> int:
        return self.bar.value()

    def setFormat(self, text: str) -> None:  # noqa: N802 - as QProgressBar
        self.bar.setFormat(text)
        self.number.setText(text)

    def format(self) -> str:
        return self.number.text()


def _rating_bars(form: QFormLayout, help_text: dict) -> dict[str, RatingBar]:
    """One empty 0-100 bar per rating criterion, added to `form`, with what it measures as tooltip."""
    bars: dict[str, RatingBar] = {}
    for key, label in CRITERIA:
        bar = RatingBar(help_text.get(key, ""))
        bar.setFormat("-")
        bars[key] = bar
        lab = QLabel(label)
        lab.setToolTip(help_text.get(key, ""))
        form.addRow(lab, bar)
    return bars


def _show_ratings(bars: dict[str, RatingBar], ratings: dict) -> None:
    for key, bar in bars.items():
        v = float(ratings.get(key, 0.0))
        bar.setValue(int(round(100 * v)))
        bar.setFormat(f"{v:.2f}")
