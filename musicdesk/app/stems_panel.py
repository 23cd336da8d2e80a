"""Tools > Stems: an ensemble recording separated into its parts, one lane per stem (its waveform, its
pitch contour over its part's notes, its activity shaded) with mute, solo and a fader; playback of the
mix with a loop over bars and 50-100% speed at the same pitch; export of any stem or minus-one mix; and
the report of one part, handed to the practice window.

Computes nothing: musicdesk.separate (separate, mixer) does the work, in a background worker with
progress and cancel. The audio callback only copies the mix; a fader swaps in a new mix (Player.replace).
"""
from __future__ import annotations

import gc
import os
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGraphicsOpacityEffect, QHBoxLayout, QLabel,
                               QMainWindow, QMenu, QProgressBar, QPushButton, QScrollArea, QSlider, QSpinBox,
                               QToolBar, QVBoxLayout, QWidget)

from musicdesk.app import workers
from musicdesk.app.session import FRAME_MS, Session, make_action, stop_quietly, user_errors
from musicdesk.app.settings import AppSettings
from musicdesk.describe import note_name
from musicdesk.separate import mixer
from musicdesk.separate.core import METHODS, SeparationError

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)"
SCORE_FILTER = "Scores (*.musicxml *.xml *.mxl *.mid *.midi *.abc);;All files (*)"
EXPORT_FILTER = "WAV (*.wav);;FLAC (*.flac)"
LANE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
LANE_PAUSE_MS = 15          # between drawing one lane and the next: the window paints and answers meanwhile
LANE_HEIGHT_PX = 150
AXIS_WIDTH_PX = 52        # fixed, so that a new lane does not resize (and repaint) the others
SPARE_LANES = 4           # lanes built ahead, when the window opens and while a separation runs (a quartet's;
                          # more are built as needed)
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
SILENT_OPACITY = 0.3       # a lane whose stem is not heard (muted, or another soloed) is drawn this opaque


_CHILD = None     # musicdesk.separate.child.ChildSeparator: every separation runs there


def separate_job(source, score_path: str, method: str, progress=None, cancelled=None) -> mixer.EnsembleStems:
    """The worker: read the recording (a path, or a musicdesk Take) and separate it (mixer.open_ensemble)
    in a child process (musicdesk.separate.child), reused from one separation to the next: in this
    process, importing torch held the GIL for about 250 ms, and the NMF's alignment and the pitch
    tracking for 45-60 ms at a time, and each stalled the window (benchmarks/bench_stems_gui.py)."""
    global _CHILD
    from musicdesk.analysis import Cancelled
    from musicdesk.separate.child import ChildSeparator

    say = (lambda f, s: progress(s, f)) if progress is not None else None
    if _CHILD is None:
        _CHILD = ChildSeparator()
    try:
        ens = _CHILD.open_ensemble(source, score_path, method, progress=say, cancel=cancelled)
    except InterruptedError as exc:
        raise Cancelled(str(exc)) from exc
    # what came back (scores, stems, contours: some 10^5 objects) and all before it are moved out of the
    # collector's sight: a full collection would otherwise scan them all, holding the GIL for 50-100 ms
    # while the lanes are drawn. They are freed by reference counting as usual.
    gc.freeze()
    return ens


def stretch_job(stems: np.ndarray, sr: int, factor: float) -> tuple[float, np.ndarray]:
    return factor, mixer.stretch(stems, sr, factor)


class Lane(QWidget):
    """One stem: name, mute, solo, fader, export and report on the left; its plot on the right.

    Built empty (`Lane(window)`, the costly part: a pyqtgraph plot) and then bound to stem k of a
    separation (`bind`), so that the window can build its lanes while the separation runs, and reuse
    them for the next recording."""

    def __init__(self, window: "StemsWindow"):
        super().__init__(window.lanes_box)
        self.k = 0
        self.ens: mixer.EnsembleStems | None = None
        self.colour = LANE_COLOURS[0]
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        left = QVBoxLayout()
        self.name = QLabel("")
        left.addWidget(self.name)
        buttons = QHBoxLayout()
        self.mute = QPushButton("M")
        self.mute.setCheckable(True)
        self.mute.setStyleSheet("QPushButton:checked { background: #c62828; color: white; }")
        self.solo = QPushButton("S")
        self.solo.setCheckable(True)
        self.solo.setStyleSheet("QPushButton:checked { background: #f9a825; color: black; }")
        for b in (self.mute, self.solo):
            b.setFixedWidth(30)
            b.toggled.connect(window.gains_changed)
            buttons.addWidget(b)
        self.more = QPushButton("…")
        self.more.setFixedWidth(30)
        self.more.setToolTip("Export this stem or its minus-one mix; show this part's report")
        menu = QMenu(self.more)
        self.act_export = menu.addAction("", lambda: window.export_dialog(self.k, False))
        self.act_export_minus = menu.addAction("", lambda: window.export_dialog(self.k, True))
        menu.addSeparator()
        self.act_report = menu.addAction("", lambda: window.report_part(self.k))
        self.act_minus_one = menu.addAction("", lambda: window.practise_minus_one(self.k))
        self.more.setMenu(menu)
        buttons.addWidget(self.more)
        left.addLayout(buttons)
        self.fader = QSlider(Qt.Orientation.Horizontal)
        self.fader.setRange(int(mixer.FADER_MIN_DB), int(mixer.FADER_MAX_DB))
        self.fader.setValue(0)
        self.fader.valueChanged.connect(self._fader_moved)
        self.fader.valueChanged.connect(window.gains_changed)
        self.db_label = QLabel("0 dB")
        left.addWidget(self.fader)
        left.addWidget(self.db_label)
        left.addStretch(1)
        box = QWidget()
        box.setLayout(left)
        box.setFixedWidth(150)
        row.addWidget(box)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(110)
        pi = self.plot.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setMouseEnabled(x=True, y=False)
        pi.showGrid(x=True, y=False, alpha=0.15)
        pi.setLabel("left", "pitch")
        pi.disableAutoRange()               # the ranges are set once below, not refitted per item
        # a fixed axis width: the linked lanes' views then line up, and a lane's first ticks do not
        # resize it (which repaints every lane linked to it)
        pi.getAxis("left").setWidth(AXIS_WIDTH_PX)
        row.addWidget(self.plot, 1)
        self.setFixedHeight(LANE_HEIGHT_PX)
        self.cursor = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#ff9800", width=2))
        # the bars being looped, shaded as the practice window's score shades them
        self.loop_region = pg.LinearRegionItem((0.0, 0.0), movable=False, brush=pg.mkBrush(255, 152, 0, 40),
                                               pen=pg.mkPen("#ffb74d", width=1))
        self.loop_region.setVisible(False)
        self.contour = None
        self.hide()

    def set_audible(self, audible: bool) -> None:
        """Draw the lane's plot and name faded (SILENT_OPACITY) while its stem is not heard (muted, or
        another soloed), as a mixer greys a muted channel."""
        self.plot.getPlotItem().setOpacity(1.0 if audible else SILENT_OPACITY)
        effect = self.name.graphicsEffect()
        if effect is None:
            effect = QGraphicsOpacityEffect(self.name)
            self.name.setGraphicsEffect(effect)
        effect.setOpacity(1.0 if audible else SILENT_OPACITY + 0.2)

    def audible(self) -> bool:
        """Whether the lane is drawn as heard."""
        return self.plot.getPlotItem().opacity() == 1.0

    def show_loop(self, span_s: tuple[float, float] | None) -> None:
        """Shade the looped stretch (start, end in s), or nothing (None)."""
        if span_s is not None:
            self.loop_region.setRegion(span_s)
        self.loop_region.setVisible(span_s is not None)

    def bind(self, k: int, ens: mixer.EnsembleStems) -> None:
        """Make this the lane of stem k of `ens`: its name, tool tips and menu, the mixer at unity
        (nothing muted or soloed, the fader at 0 dB), and an empty plot (`draw` fills it)."""
        self.k, self.ens = k, ens
        part = ens.parts[k]
        self.colour = colour = LANE_COLOURS[k % len(LANE_COLOURS)]
        self.name.setText(f"<b style='color:{colour}'>{part}</b>")
        self.mute.setToolTip(f"Mute {part}")
        self.solo.setToolTip(f"Solo {part} (only soloed stems sound)")
        self.fader.setToolTip(f"Volume of {part} (dB; all the way left is off)")
        self.act_export.setText(f"Export {part}…")
        self.act_export_minus.setText(f"Export minus-{part} (all the others)…")
        self.act_report.setText(f"Report of {part} in the practice window")
        self.act_minus_one.setText(f"Play {part} along with the others (minus-one practice)")
        for w in (self.mute, self.solo, self.fader):     # reset without a gains_changed for each
            w.blockSignals(True)
        self.mute.setChecked(False)
        self.solo.setChecked(False)
        self.fader.setValue(0)
        for w in (self.mute, self.solo, self.fader):
            w.blockSignals(False)
        self._fader_moved(0)
        self.set_audible(True)
        self.plot.setXLink(None)
        self.plot.clear()
        self.contour = None
        self.cursor.setValue(0.0)

    def draw(self, window: "StemsWindow", stage: int | None = None) -> None:
        """Fill the lane's plot: stage 0 the ranges, activity, waveform and bar lines; stage 1 the notes,
        the contour, the bar numbers and the cursor; None both. In stages, so that no one turn of the
        event loop does it all."""
        for st in ((0, 1) if stage is None else (stage,)):
            self._draw(window, self.colour, st)

    def _fader_moved(self, v: int) -> None:
        self.db_label.setText("off" if v <= mixer.FADER_MIN_DB else f"{v:+d} dB" if v else "0 dB")

    def _draw(self, window: "StemsWindow", colour: str, stage: int) -> None:
        from musicdesk.trace import drawable_trace

        ens, k = self.ens, self.k
        assert ens is not None, "bind() the lane to a stem first"
        notes = [(on, off, m) for on, off, m in ens.notes_s[k] if on is not None]
        mids = [m for *_x, m in notes] or [60]
        lo, hi = min(mids) - 3.0, max(mids) + 3.0
        p = self.plot
        if stage == 1:
            self._draw_notes(window, colour, notes, mids, hi, drawable_trace)
            return
        p.setYRange(lo, hi + 0.5, padding=0)
        # note names, as the practice window's contour has them (C, E and G of each octave)
        p.getAxis("left").setTicks([[(m, note_name(m)) for m in range(int(np.ceil(lo)), int(hi) + 1)
                                     if m % 12 in (0, 4, 7)], []])
        p.setXRange(0.0, ens.duration_s, padding=0.01)
        # activity: shaded where the part plays (the network's head, or the aligned score for the NMF)
        act = ens.stems.activity[k]
        ta = np.arange(len(act)) * ens.stems.activity_hop_s
        p.addItem(pg.PlotDataItem(ta, lo + act * (hi - lo), pen=None, fillLevel=lo, brush=pg.mkBrush(colour + "22")))
        # waveform: the stem's peak envelope along the lane's bottom quarter
        te, pk = ens.envelopes[k] if ens.envelopes else mixer.envelope(ens.stems.stems[k], ens.stems.sr)
        scale = 0.25 * (hi - lo) / max(float(pk.max()) if len(pk) else 0.0, 1e-6)
        p.addItem(pg.PlotDataItem(te, lo + pk * scale, pen=pg.mkPen("#9e9e9e", width=1), fillLevel=lo,
                                  brush=pg.mkBrush("#bdbdbd88")))
        if window.bar_starts:                # the bar lines: one item of vertical segments
            xs = np.repeat([t0 for _b, t0 in window.bar_starts], 2)
            ys = np.tile([lo, hi + 0.5], len(window.bar_starts))
            p.addItem(pg.PlotDataItem(xs, ys, pen=pg.mkPen("#cfd8dc", width=1), connect="pairs"))

    def _draw_notes(self, window: "StemsWindow", colour: str, notes, mids, hi: float, drawable_trace) -> None:
        ens, k, p = self.ens, self.k, self.plot
        # the part's notes where the aligner put them, and the stem's pitch over them
        if notes:
            on = np.array([n[0] for n in notes])
            off = np.array([n[1] if n[1] is not None else n[0] + 0.1 for n in notes])
            p.addItem(pg.BarGraphItem(x0=on, width=np.maximum(off - on, 0.02), y0=np.array(mids) - 0.4, height=0.8,
                                      brush=pg.mkBrush("#90a4ae99"), pen=pg.mkPen("#78909c")))
        c = ens.contours[k]
        t, m = drawable_trace(c.times_s, c.midi)
        self.contour = pg.PlotDataItem(t, m, pen=pg.mkPen(colour, width=1.6), connect="finite")
        p.addItem(self.contour)
        if self.k == 0:
            for bar, t0 in window.bar_starts:
                label = pg.TextItem(str(bar), color="#607d8b", anchor=(0, 0))
                label.setPos(t0, hi)
                p.addItem(label)
        p.addItem(self.loop_region)
        p.addItem(self.cursor)


class StemsWindow(QMainWindow):
    """The stem player. `score_path()` gives the practice window's score (None: none open),
    `current_take()` its take; `on_report(part, take)` shows one stem's report there and
    `on_cursor(part, element_id)` moves its score cursor."""

    stems_shown = Signal()

    def __init__(self, settings: AppSettings | None = None, settings_org: str | None = None,
                 score_path: Callable[[], str | None] | None = None, current_take: Callable[[], object] | None = None,
                 on_report: Callable[[str, object], None] | None = None,
                 on_cursor: Callable[[str, str], None] | None = None,
                 on_minus_one: Callable[[object], None] | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("musicdesk - stems")
        self.resize(1100, 640)
        self.setAcceptDrops(True)
        self.session = Session(self, settings or AppSettings(), settings_org)
        self._practice_score = score_path or (lambda: None)
        self._current_take = current_take or (lambda: None)
        self.on_report = on_report
        self.on_cursor = on_cursor
        self.on_minus_one = on_minus_one
        self.score_path: str | None = None
        self.source = None                 # a path, or a Take (the practice window's current take)
        self.ens: mixer.EnsembleStems | None = None
        self.lanes: list[Lane] = []
        self._spare: list[Lane] = []       # lanes built and not on show: taken first by the next lanes
        self._spares_due = False
        self._building: mixer.EnsembleStems | None = None
        self.bar_starts: list[tuple[int, float]] = []
        self.speed = 1.0
        self._stretched: dict[float, np.ndarray] = {}
        self._scale = 1.0
        self._task = None
        self._timelines: dict[str, tuple] = {}
        self.player = None
        self._build()
        # imported now, with the window, rather than when Separate is pressed (20-40 ms on a first run)
        self._errors = (SeparationError, *user_errors())
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._follow)
        self.session.changed.connect(self._update_enabled)
        self._update_enabled()

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        tb = QToolBar("Stems")
        tb.setMovable(False)
        self.addToolBar(tb)
        self.act_open = make_action(self, "Open recording…", self.open_recording_dialog, "Ctrl+O",
                                    "An ensemble recording (WAV, FLAC, OGG, MP3) of the score's parts")
        self.act_take = make_action(self, "Use current take", self.use_current_take, None,
                                    "The take on show in the practice window")
        self.act_score = make_action(self, "Score…", self.choose_score_dialog, None,
                                     "The multi-part score the recording plays (the practice score to begin with)")
        self.act_separate = make_action(self, "Separate", self.start_separation, "Ctrl+Return",
                                        "Align every part and separate the recording into one stem per part")
        for a in (self.act_open, self.act_take, self.act_score):
            tb.addAction(a)
        fm = self.menuBar().addMenu("&File")          # the same actions, where a menu is looked for
        fm.addActions([self.act_open, self.act_take, self.act_score, self.act_separate])
        fm.addSeparator()
        fm.addAction(make_action(self, "Close", self.close, "Ctrl+W", "Close the stem player"))
        tb.addSeparator()
        tb.addWidget(QLabel(" Method "))
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(METHODS))
        self.method_combo.setToolTip("auto: the score-informed NMF (the best on real players today); "
                                     "network: the trained separation network")
        tb.addWidget(self.method_combo)
        tb.addAction(self.act_separate)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        tb.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        tb.addWidget(self.cancel_button)

        tr = QToolBar("Transport")
        tr.setMovable(False)
        self.addToolBarBreak()
        self.addToolBar(tr)
        self.act_play = make_action(self, "▶ Play", self.play, "Space", "Play the mix (mute, solo and faders apply)")
        self.act_stop = make_action(self, "■ Stop", self.stop, "Esc")
        tr.addAction(self.act_play)
        tr.addAction(self.act_stop)
        tr.addSeparator()
        tr.addWidget(QLabel(" Bars "))
        self.bar_from, self.bar_to = QSpinBox(), QSpinBox()
        for sp in (self.bar_from, self.bar_to):
            sp.setRange(0, 999)
        tr.addWidget(self.bar_from)
        tr.addWidget(QLabel("–"))
        tr.addWidget(self.bar_to)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setToolTip("Play the bars chosen, over and over")
        tr.addWidget(self.loop_check)
        self.loop_check.toggled.connect(self.show_loop)
        self.bar_from.valueChanged.connect(self.show_loop)
        self.bar_to.valueChanged.connect(self.show_loop)
        tr.addWidget(QLabel(" Speed "))
        self.speed_combo = QComboBox()
        for f in mixer.SPEEDS:
            self.speed_combo.addItem(f"{round(f * 100)}%", f)
        self.speed_combo.setToolTip("Practice speed; the pitch stays")
        self.speed_combo.currentIndexChanged.connect(self._speed_chosen)
        tr.addWidget(self.speed_combo)
        self.time_label = QLabel("")
        tr.addWidget(self.time_label)

        central = QWidget()
        lay = QVBoxLayout(central)
        self.info = QLabel("Open an ensemble recording and a score with two parts or more, then Separate. "
                           "Drop files here too.")
        self.info.setWordWrap(True)
        # two lines, always: a longer text must not push the lanes down (and repaint them all)
        self.info.setFixedHeight(2 * self.info.fontMetrics().lineSpacing() + 4)
        lay.addWidget(self.info)
        self.lanes_box = QWidget()
        self.lanes_layout = QVBoxLayout(self.lanes_box)
        self.lanes_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # always there: a scroll bar appearing with the last lane would resize, so repaint, every lane
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        scroll.setWidget(self.lanes_box)
        lay.addWidget(scroll, 1)
        self.setCentralWidget(central)

    def _update_enabled(self) -> None:
        busy = self._task is not None
        have = self.ens is not None
        self.act_separate.setEnabled(not busy and self.source is not None and self._score() is not None)
        self.act_take.setEnabled(not busy and self._current_take() is not None)
        for a in (self.act_open, self.act_score):
            a.setEnabled(not busy)
        self.act_play.setEnabled(have and not busy)
        self.act_stop.setEnabled(have)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _score(self) -> str | None:
        return self.score_path or self._practice_score()

    def _say_sources(self) -> None:
        src = self.source
        name = os.path.basename(src) if isinstance(src, (str, os.PathLike)) else ("the current take" if src else "none")
        sc = self._score()
        self.info.setText(f"Recording: {name}. Score: {os.path.basename(sc) if sc else 'none (choose one)'}.")

    # ------------------------------------------------------------------ inputs
    def open_recording_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an ensemble recording", "", AUDIO_FILTER)
        if path:
            self.set_recording(path)

    def choose_score_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The score the recording plays", "", SCORE_FILTER)
        if path:
            self.set_score(path)

    def set_recording(self, source) -> None:
        """The recording to separate: a file path or a musicdesk Take."""
        self.source = source
        self._say_sources()
        self._update_enabled()

    def set_score(self, path: str) -> None:
        self.score_path = path
        self._say_sources()
        self._update_enabled()

    def use_current_take(self) -> None:
        take = self._current_take()
        if take is not None:
            self.set_recording(take)

    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        for url in ev.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith(AUDIO_EXT):
                self.set_recording(path)
            elif path:
                self.set_score(path)

    # ------------------------------------------------------------------ separation
    def start_separation(self) -> None:
        score = self._score()
        if self.source is None or score is None or self._task is not None:
            return
        self.stop()
        task = workers.Task(separate_job, self.source, score, self.method_combo.currentText(),
                            user_errors=self._errors)
        task.signals.progress.connect(self.session.alive(self._progress))
        task.signals.cancelled.connect(self.session.alive(self._cancelled))
        task.signals.failed.connect(self.session.alive(lambda _m: self._task_done()))
        self._task = task
        self.progress.setValue(0)
        self.session.status("Separating…")
        self._update_enabled()
        self.session.run(task, self._separated, "Cannot separate the recording")
        self._spares_due = True            # from the first progress: the child has started, at low priority

    def _build_spare_lane(self) -> None:
        """Build the lanes a separation will need before it ends, one per turn of the event loop: a
        lane's plot costs about 15 ms to build, which is then no longer added to the time the lanes
        take to appear, nor to one turn of drawing them. Begun when the window is first shown (the
        user then chooses the files), and again at a separation's first progress, once the child
        process runs at its low priority (while it starts, at normal priority, it takes the second
        core, and a lane's 15-20 ms became 40-50)."""
        if len(self.lanes) + len(self._spare) >= SPARE_LANES:
            return
        self._spare.append(Lane(self))
        QTimer.singleShot(2 * LANE_PAUSE_MS, self._build_spare_lane)

    def _progress(self, stage: str, frac: float) -> None:
        if self._spares_due:
            self._spares_due = False
            QTimer.singleShot(LANE_PAUSE_MS, self._build_spare_lane)
        self.progress.setValue(int(1000 * frac))
        self.progress.setFormat(f"{stage} %p%")
        self.session.status(f"Separating: {stage}")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.session.status("Cancelling…")

    def _cancelled(self) -> None:
        self._task_done()
        self.session.status("Separation cancelled; nothing was changed.", 8000)

    def _task_done(self) -> None:
        self._task = None
        self._update_enabled()

    def _separated(self, ens: mixer.EnsembleStems) -> None:
        self._task_done()
        self.show_stems(ens, gradual=True)
        t = ens.stems.timings_s.get("total_s", 0.0)
        self.session.status(f"Separated {len(ens.parts)} parts ({ens.stems.method}) in {t:.1f} s.", 10000)

    def show_stems(self, ens: mixer.EnsembleStems, gradual: bool = False) -> None:
        """Draw one lane per stem of `ens` (the mixer starts at unity, nothing muted or soloed).
        `gradual`: a lane in three turns of the event loop (drawing four lanes at once held the GUI
        thread for 110-250 ms); `ens` is set, and `stems_shown` emitted, once the last lane is there."""
        self.stop()
        for lane in self.lanes:                # kept for the next lanes
            self.lanes_layout.removeWidget(lane)
            lane.hide()
            self._spare.append(lane)
        self.lanes = []
        self.ens = None
        self._building = ens
        self._scale = mixer.headroom(ens.stems.stems)
        self._stretched = {1.0: ens.stems.stems}
        self.bar_starts = self._bar_starts(ens)
        self._timelines = {p: mixer.score_timeline(ens, k) for k, p in enumerate(ens.parts)}
        if gradual:
            QTimer.singleShot(LANE_PAUSE_MS, lambda: self._add_lane(ens, 0, True))
        else:
            for k in range(len(ens.parts)):
                self._add_lane(ens, k, False)

    def _add_lane(self, ens: mixer.EnsembleStems, k: int, gradual: bool, step: int = 0) -> None:
        """Lane k of `ens`: `gradual`, in three turns of the event loop (step 0 its widgets, 1 and 2 its
        plot's two stages), else all at once; then the next lane, or the end."""
        if self._building is not ens:          # another recording was shown meanwhile
            return
        if step == 0:
            lane = self._spare.pop(0) if self._spare else Lane(self)
            lane.bind(k, ens)
            self.lanes.append(lane)
            self.lanes_layout.insertWidget(k, lane)
            lane.show()
        elif step == 1:
            self.lanes[k].draw(self, 0)
        if gradual and step < 2:
            QTimer.singleShot(LANE_PAUSE_MS, lambda: self._add_lane(ens, k, True, step + 1))
            return
        lane = self.lanes[k]
        lane.draw(self, 1 if gradual else None)
        if k:
            lane.plot.setXLink(self.lanes[0].plot)
        if k + 1 < len(ens.parts):
            if gradual:
                QTimer.singleShot(LANE_PAUSE_MS, lambda: self._add_lane(ens, k + 1, True))
            return
        self._building = None
        self.ens = ens
        bars = [b for b, _t in self.bar_starts] or [0]
        for sp in (self.bar_from, self.bar_to):
            sp.setRange(min(bars), max(bars))
        self.bar_from.setValue(min(bars))
        self.bar_to.setValue(max(bars))
        self.show_loop()
        self.info.setText(f"{os.path.basename(ens.audio_path) or 'The take'}: {len(ens.parts)} stems "
                          f"({', '.join(ens.parts)}), {ens.duration_s:.1f} s, separated by {ens.stems.method}.")
        self._update_enabled()
        self.stems_shown.emit()

    @staticmethod
    def _bar_starts(ens: mixer.EnsembleStems) -> list[tuple[int, float]]:
        first: dict[int, float] = {}
        for sc, notes in zip(ens.scores, ens.notes_s):
            for n, (on, _off, _m) in zip(sc.notes, notes):
                if on is not None:
                    first[n.measure] = min(first.get(n.measure, on), on)
        return sorted(first.items())

    # ------------------------------------------------------------------ mixer
    def gains(self) -> np.ndarray:
        """Linear gain per stem from the lanes' mute, solo and faders (musicdesk.separate.mixer)."""
        return mixer.audible_gains([ln.fader.value() for ln in self.lanes], [ln.mute.isChecked() for ln in self.lanes],
                                   [ln.solo.isChecked() for ln in self.lanes])

    def current_mix(self) -> np.ndarray:
        """The mix as it sounds now (at the chosen speed)."""
        return mixer.mix(self._stretched[self.speed], self.gains(), self._scale)

    def gains_changed(self, *_args) -> None:
        for ln, g in zip(self.lanes, self.gains()):     # a stem that is not heard is drawn faded
            ln.set_audible(bool(g > 0))
        if self.player is not None and self.player.is_playing and self.speed in self._stretched:
            self.player.replace(self.current_mix())

    # ------------------------------------------------------------------ transport
    def play_span_s(self) -> tuple[float, float | None]:
        """(start, end) in the recording: the bars chosen when looping, else the whole recording."""
        if self.loop_check.isChecked():
            return mixer.bars_span_s(self.ens, self.bar_from.value(), self.bar_to.value())
        return 0.0, None

    def show_loop(self, *_args) -> None:
        """Shade the bars chosen on every lane while Loop is on (the span `play_span_s` plays)."""
        span = None
        if self.ens is not None:
            try:
                start, end = self.play_span_s()
                span = None if end is None else (start, end)
            except SeparationError:
                pass
        for lane in self.lanes:
            lane.show_loop(span)

    def play(self, from_s: float | None = None) -> None:
        from musicdesk.playback import PlaybackError, Player

        if self.ens is None:
            return
        if self.speed not in self._stretched:
            self.session.status("Preparing the slower speed…")
            return
        try:
            start, end = self.play_span_s()
        except SeparationError as exc:
            self.session.error("Cannot loop these bars", str(exc))
            return
        at = start if from_s is None else from_s
        if self.player is None:
            self.player = Player()
        f = self.speed
        try:
            self.player.play(self.current_mix(), self.ens.stems.sr, start_s=at / f,
                             end_s=None if end is None else end / f, loop=self.loop_check.isChecked(),
                             device=self.session.device(want_input=False))
        except PlaybackError as exc:
            self.session.playback_failed(exc)
            return
        self._timer.start()

    def stop(self) -> None:
        if self.player is not None:
            stop_quietly(self.player)
        self._timer.stop()

    def position_s(self) -> float:
        """The recording time being heard (s)."""
        return 0.0 if self.player is None else self.player.position_s * self.speed

    def _speed_chosen(self, _i: int) -> None:
        f = float(self.speed_combo.currentData())
        if self.ens is None:
            self.speed = f
            return
        playing = self.player is not None and self.player.is_playing
        at = self.position_s()
        if f in self._stretched:
            self._set_speed(f, at if playing else None)
            return
        self.stop()
        task = workers.Task(stretch_job, self.ens.stems.stems, self.ens.stems.sr, f)
        self._task = task
        self.progress.setValue(0)
        self.progress.setFormat(f"{round(f * 100)}% speed")
        self._update_enabled()

        def done(result) -> None:
            self._task_done()
            factor, arr = result
            self._stretched[factor] = arr
            if float(self.speed_combo.currentData()) == factor:
                self._set_speed(factor, at if playing else None)

        task.signals.cancelled.connect(self.session.alive(self._task_done))
        task.signals.failed.connect(self.session.alive(lambda _m: self._task_done()))
        self.session.run(task, done, "Cannot change the speed")

    def _set_speed(self, f: float, resume_at_s: float | None) -> None:
        self.speed = f
        if resume_at_s is not None:
            self.play(from_s=resume_at_s)
        self.session.status(f"Speed {round(f * 100)}%", 4000)

    def _follow(self) -> None:
        if self.player is None or not self.player.is_playing:
            self._timer.stop()
            return
        t = self.position_s()
        for lane in self.lanes:
            lane.cursor.setPos(t)
        self.time_label.setText(f" {t:6.1f} s")
        if self.on_cursor is not None:
            for part, (onsets, ids) in self._timelines.items():
                i = int(np.searchsorted(onsets, t, side="right")) - 1
                if i >= 0:
                    self.on_cursor(part, ids[i])

    # ------------------------------------------------------------------ export and report
    def export(self, k: int, path: str, minus_one: bool = False) -> str:
        """Write stem k (or everything except it) to `path` (.wav or .flac); raises SeparationError."""
        st = self.ens.stems
        return mixer.export_audio(path, st.minus_one(k) if minus_one else st.stems[k], st.sr)

    def export_dialog(self, k: int, minus_one: bool) -> None:
        from musicdesk.separate.cli import file_stem

        name = file_stem(self.ens.parts[k])
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"{'minus-' if minus_one else ''}{name}.wav",
                                              EXPORT_FILTER)
        if not path:
            return
        try:
            self.export(k, path, minus_one)
        except SeparationError as exc:
            self.session.error("Cannot export", str(exc))
            return
        self.session.status(f"Wrote {path}", 8000)

    def report_part(self, k: int) -> None:
        """Hand stem k to the practice window, judged against its part like a take."""
        from musicdesk.audio import Take

        if self.on_report is None or self.ens is None:
            return
        st = self.ens.stems
        self.on_report(self.ens.parts[k], Take(st.stems[k].copy(), st.sr, ""))

    def practise_minus_one(self, k: int) -> None:
        """Record part k in the practice window while the other stems play (at their faders, at the
        speed chosen): musicdesk.app.minus_one."""
        from musicdesk.separate.minusone import Accompaniment, accompaniment

        if self.on_minus_one is None or self.ens is None or self.speed not in self._stretched:
            return
        self.stop()
        y = accompaniment(self._stretched[self.speed], k, self.gains()) * self._scale
        src = "the recording's other stems" + (f" at {round(self.speed * 100)}%" if self.speed != 1.0 else "")
        self.on_minus_one(Accompaniment(self.ens.parts[k], y, self.ens.stems.sr, src))

    def showEvent(self, ev) -> None:  # noqa: N802 - Qt API
        super().showEvent(ev)
        QTimer.singleShot(10 * LANE_PAUSE_MS, self._build_spare_lane)   # nothing once there are enough

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.stop()
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(ev)


def show_for(window) -> StemsWindow:
    """Open (once) the stem player beside the practice window `window` (musicdesk.app.main_window)."""
    w = getattr(window, "stems_window", None)
    if w is None:
        s = window.session

        def report(part: str, take) -> None:
            window.takes.judge_as_part(part, take)
            window.raise_()

        def cursor(part: str, element_id: str) -> None:
            if s.score is not None and s.score.part == part and not s.is_recording:
                window.nav.set_cursor_note(element_id)

        w = StemsWindow(s.settings, s.settings_org, score_path=lambda: s.loaded.path if s.loaded else None,
                        current_take=lambda: s.take, on_report=report, on_cursor=cursor,
                        on_minus_one=lambda acc: (window.takes.minus_one.set_accompaniment(acc), window.raise_()))
        window.stems_window = w
    w._say_sources()
    w._update_enabled()
    w.show()
    w.raise_()
    return w
