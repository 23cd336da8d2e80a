"""Piano-roll plot (pyqtgraph): the score's notes as bars, the pitch trace over them, a time cursor.

While recording, `append_live` adds pitch points and `follow` scrolls; after analysis, `show_analysis`
draws the contour, the notes at their performed times coloured by outcome, and the cents of right notes
that are out of tune. Nothing is computed here: times and pitches come from the core.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal

from musicdesk.app.colours import CATEGORY_COLOURS
from musicdesk.app.roll_note import RollNote, label_priority, unoverlapping  # RollNote: public here too
from musicdesk.describe import note_name
from musicdesk.trace import drawable_trace


NEUTRAL = "#5b7a99"


class PianoRoll(pg.PlotWidget):
    note_clicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent=parent, background="w")
        self.setMinimumHeight(160)
        pi = self.getPlotItem()
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.setLabel("bottom", "time", units="s")
        pi.setLabel("left", "pitch")
        pi.setMenuEnabled(False)
        self.getAxis("left").setTickSpacing(12, 1)
        self._bars = pg.BarGraphItem(x0=[], y0=[], width=[], height=[])
        self.addItem(self._bars)
        self._extra_bars = pg.BarGraphItem(x0=[], y0=[], width=[], height=[])
        self.addItem(self._extra_bars)
        self._contour = pg.PlotDataItem(pen=pg.mkPen("#202020", width=1.6), connect="finite")
        self.addItem(self._contour)
        self._live = pg.PlotDataItem(pen=pg.mkPen("#e4572e", width=2.0), connect="finite")
        self.addItem(self._live)
        self._cursor = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#ff9800", width=2))
        self._cursor.setVisible(False)
        self.addItem(self._cursor)
        self._labels: list[pg.TextItem] = []
        self._comment_regions: list[pg.LinearRegionItem] = []
        self._notes: list[RollNote] = []
        self._live_t = np.zeros(0)
        self._live_m = np.zeros(0)
        self._live_n = 0
        self.written_shift = 0   # semitones from sounding to written pitch: the axis names what the player reads
        self.scene().sigMouseClicked.connect(self._on_click)
        self._labelled: list[RollNote] = []       # the notes of _labels, most important first
        self._declutter_timer = QTimer(self)
        self._declutter_timer.setSingleShot(True)
        self._declutter_timer.setInterval(30)
        self._declutter_timer.timeout.connect(self.declutter_labels)
        pi.vb.sigRangeChanged.connect(self._declutter_soon)
        self._update_pitch_axis(60, 72)

    # ------------------------------------------------------------------ notes
    def set_notes(self, notes: list[RollNote]) -> None:
        """Draw `notes` as bars (coloured by category), replacing what was there."""
        self._notes = list(notes)
        for lab in self._labels:
            self.removeItem(lab)
        self._labels = []
        score = [n for n in notes if not n.key.startswith("extra:")]
        extra = [n for n in notes if n.key.startswith("extra:")]
        for item, group in ((self._bars, score), (self._extra_bars, extra)):
            if group:
                item.setOpts(x0=[n.start_s for n in group], width=[max(n.end_s - n.start_s, 0.02) for n in group],
                             y0=[n.midi - 0.4 for n in group], height=[0.8] * len(group),
                             brushes=[pg.mkBrush(CATEGORY_COLOURS.get(n.category, NEUTRAL) + "b0") for n in group],
                             pens=[pg.mkPen(CATEGORY_COLOURS.get(n.category, NEUTRAL)) for n in group])
            else:
                item.setOpts(x0=[], y0=[], width=[], height=[])
        self._labelled = sorted((n for n in notes if n.label), key=label_priority)
        for n in self._labelled:
            t = pg.TextItem(n.label, color=CATEGORY_COLOURS.get(n.category, "#333333"), anchor=(0, 1))
            t.setPos(n.start_s, n.midi + 0.5)
            self.addItem(t)
            self._labels.append(t)
        self._declutter_soon()
        if notes:
            lo = min(n.midi for n in notes)
            hi = max(n.midi for n in notes)
            self._update_pitch_axis(lo, hi)

    def notes(self) -> list[RollNote]:
        return list(self._notes)

    def _update_pitch_axis(self, lo: float, hi: float) -> None:
        lo, hi = int(np.floor(lo)) - 3, int(np.ceil(hi)) + 3
        self.setYRange(lo, hi, padding=0)
        k = self.written_shift
        ticks = [(m, note_name(m + k)) for m in range(lo, hi + 1) if (m + k) % 12 in (0, 4, 7)]
        self.getAxis("left").setTicks([ticks, []])

    def _declutter_soon(self, *_args) -> None:
        self._declutter_timer.start()

    def declutter_labels(self) -> None:
        """Show the cents and ms labels that fit: where two would overlap at this zoom, the more
        important one (a wrong note's, then an out-of-tune one's, then the earlier) stays; zooming in
        brings the others back.

        A label's size on screen is only right once its transform follows the view's, which pyqtgraph
        brings up to date when it paints, and for visible labels only: so the view's matrix and every
        label's transform are updated here first (labels measured before the first paint, or while
        hidden, came out at another size, and two overlapping ones were both shown)."""
        self.getPlotItem().vb.updateMatrix()
        for t in self._labels:
            t.setVisible(True)               # updateTransform acts on visible labels only
            t.updateTransform(force=True)
        shown = unoverlapping([_scene_rect(t) for t in self._labels])   # (_labels: most important first)
        for t, show in zip(self._labels, shown):
            t.setVisible(show)

    def shown_labels(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(text, scene rect in pixels) of each label on show (for tests and screenshots)."""
        return [(t.textItem.toPlainText(), _scene_rect(t)) for t in self._labels if t.isVisible()]

    # ------------------------------------------------------------------ traces
    def clear_live(self) -> None:
        self._live_t = np.zeros(4096)
        self._live_m = np.zeros(4096)
        self._live_n = 0
        self._live.setData([], [])

    def append_live(self, times_s: np.ndarray, midi: np.ndarray) -> None:
        """Add live pitch points (NaN = unvoiced, drawn as a break)."""
        k = len(times_s)
        if k == 0:
            return
        need = self._live_n + k
        if need > len(self._live_t):
            size = max(need, 2 * len(self._live_t), 4096)
            self._live_t = np.resize(self._live_t, size)
            self._live_m = np.resize(self._live_m, size)
        self._live_t[self._live_n:need] = times_s
        self._live_m[self._live_n:need] = midi
        self._live_n = need
        # draw only what can be on screen (the last 30 s): constant cost per frame
        lo = int(np.searchsorted(self._live_t[:need], self._live_t[need - 1] - 30.0))
        self._live.setData(*drawable_trace(self._live_t[lo:need], self._live_m[lo:need]))

    @property
    def live_point_count(self) -> int:
        return self._live_n

    def set_contour(self, times_s: np.ndarray, midi: np.ndarray) -> None:
        """The take's pitch contour (MIDI, NaN unvoiced), drawn in segments (musicdesk.trace)."""
        self._contour.setData(*drawable_trace(times_s, midi))

    def set_comment_spans(self, spans: list[tuple[float, float, str]]) -> None:
        """Shade each stretch of the take a comment is pinned to (start s, end s, the comment's text,
        shown as its tooltip) in the comment colour; [] removes them."""
        from musicdesk.app.colours import COMMENT_COLOUR

        for it in self._comment_regions:
            self.removeItem(it)
        self._comment_regions = []
        fill = pg.mkColor(COMMENT_COLOUR)
        fill.setAlpha(40)
        for a, b, text in spans:
            it = pg.LinearRegionItem((float(a), float(b)), movable=False, brush=pg.mkBrush(fill),
                                     pen=pg.mkPen(COMMENT_COLOUR))
            it.setToolTip(text)
            it.setZValue(-5)
            self.addItem(it)
            self._comment_regions.append(it)

    def comment_spans(self) -> list[tuple[float, float]]:
        """The shaded comment stretches now drawn (start s, end s)."""
        return [tuple(float(v) for v in it.getRegion()) for it in self._comment_regions]

    def set_cursor(self, t_s: float | None) -> None:
        if t_s is None:
            self._cursor.setVisible(False)
            return
        self._cursor.setVisible(True)
        self._cursor.setPos(t_s)

    def follow(self, t_s: float, width_s: float = 8.0) -> None:
        """Scroll so that `t_s` is near the right edge (recording) ."""
        self.setXRange(t_s - 0.75 * width_s, t_s + 0.25 * width_s, padding=0)

    def show_range(self, start_s: float, end_s: float) -> None:
        self.setXRange(start_s, end_s, padding=0.05)

    # ------------------------------------------------------------------ clicks
    def _on_click(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        key = self.note_at(p.x(), p.y())
        if key is not None:
            self.note_clicked.emit(key)

    def note_at(self, t_s: float, midi: float) -> str | None:
        """The note whose bar contains (t_s, midi), allowing half a semitone."""
        for n in self._notes:
            if n.start_s <= t_s <= max(n.end_s, n.start_s + 0.02) and abs(midi - n.midi) <= 0.6:
                return n.key
        return None


def _scene_rect(item) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a graphics item in scene pixels."""
    r = item.mapRectToScene(item.boundingRect())
    return r.left(), r.top(), r.right(), r.bottom()
