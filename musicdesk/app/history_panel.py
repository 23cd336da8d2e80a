"""View > History: the student's takes of the open piece, from the practice history.

Four tabs: the takes (open one, and it comes back with its stored judgement on the score, the roll and
the problems list, ready to play), progress per criterion over time, a heatmap of bars by takes, and
practice time per day. Everything it shows is fetched by the core (musicdesk.history.views) in a
worker; the panel only draws.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDockWidget, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QTabWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from musicdesk.app import workers
from musicdesk.app.colours import CATEGORY_COLOURS
from musicdesk.app.history_keeper import history_errors, session_store
from musicdesk.app.session import FRAME_MS, Session, make_action, stop_quietly, user_errors
from musicdesk.history.views import CRITERIA, HEAT_MEASURES, PieceHistory, bar_matrix

CRITERION_COLOURS = {"note_accuracy": "#2ca02c", "rhythmic_accuracy": "#1f77b4", "intonation": "#ff7f0e"}
NO_VALUE_RGB = (225, 225, 225)
COLUMNS = ("Recorded", "Length", "Notes right", "Notes", "Rhythm", "Intonation", "Grade", "Comments")
# heatmap colour scales: value at which a cell is fully green, and fully red
HEAT_SCALE = {"right": (1.0, 0.0), "cents": (5.0, 40.0), "timing": (15.0, 120.0)}
CHANGE_COLOURS = {"improved": CATEGORY_COLOURS["correct"], "worse": CATEGORY_COLOURS["wrong_pitch"],
                  "same": "#b0b0b0"}
LISTEN_MODES = (("a", "▶ A"), ("b", "▶ B"), ("a_then_b", "▶ A then B"), ("both", "▶ Both at once"))


def heat_rgb(values: np.ndarray, measure: str) -> np.ndarray:
    """RGB (uint8, shape + (3,)) of heatmap cells: green where good, yellow between, red where bad,
    light grey where there is no value."""
    good, bad = HEAT_SCALE[measure]
    t = np.clip((values - bad) / (good - bad), 0.0, 1.0)           # 1 good .. 0 bad
    red, yellow, green = np.array([214, 39, 40]), np.array([250, 200, 40]), np.array([44, 160, 44])
    lo = red + (yellow - red) * np.clip(2 * t, 0, 1)[..., None]
    rgb = np.where((t < 0.5)[..., None], lo, yellow + (green - yellow) * np.clip(2 * t - 1, 0, 1)[..., None])
    rgb[~np.isfinite(values)] = NO_VALUE_RGB
    return rgb.astype(np.uint8)


def grade_text(grades: dict, released_only: bool = True) -> str:
    """ "pitch 7/10, rhythm 8/10" from TakeRow.grades or .released; drafts left out unless asked for,
    and then named once after the released ones: "pitch 7/10; draft: rhythm 8/10, tone 6/10"."""
    done = [f"{c} {v:g}/{mx:g}" for c, (v, mx, st) in sorted(grades.items()) if st == "released"]
    drafts = [] if released_only else [f"{c} {v:g}/{mx:g}" for c, (v, mx, st) in sorted(grades.items())
                                       if st != "released"]
    return "; ".join(filter(None, (", ".join(done), "draft: " + ", ".join(drafts) if drafts else "")))


def page() -> tuple[QWidget, QVBoxLayout]:
    """A panel's page and its layout (no margins)."""
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    return w, lay


def cache_dir(settings) -> Path:
    """Where stored takes (and the scores of pieces opened from the history) are written to be opened."""
    import platformdirs

    base = Path(settings.takes_dir) if settings.takes_dir else Path(platformdirs.user_cache_dir("musicdesk"))
    return base / "history-takes"


def open_stored_take(s: Session, takes_ctl, take_id: str, on_open=None) -> None:
    """Show a stored take of the open score with its stored judgement (its audio and contour loaded in a
    worker); `on_open(take_id)` once it is on screen."""
    import uuid

    from musicdesk.history.reopen import open_stored

    if s.score is None or s.is_recording:
        return
    store = session_store(s)
    task = workers.Task(open_stored, store, uuid.UUID(take_id), s.score, cache_dir(s.settings),
                        user_errors=history_errors())

    def done(result) -> None:
        stored, take, analysis = result
        takes_ctl.show_stored(take, analysis, str(stored.take_id))
        when = dt.datetime.fromisoformat(stored.recorded_at).astimezone().strftime("%Y-%m-%d %H:%M")
        s.status(f"The take of {when} from the history, as judged then (musicdesk {stored.app_version}).", 10000)
        if on_open is not None:
            on_open(str(stored.take_id))

    s.status("Opening the take from the history…")
    s.run(task, done, "Cannot open the take from the history")


class HistoryPanel(QDockWidget):
    """The student's takes of the open piece; `loaded` once a refresh is drawn, `take_opened(id)` once
    a stored take is on screen."""

    listed = Signal()              # the take list, the progress plot and the practice days are drawn
    loaded = Signal()              # ... and the heatmap of bars (fetched second: it reads every note's row)
    take_opened = Signal(str)
    compared = Signal()            # a comparison is on the score

    def __init__(self, session: Session, takes, nav, keeper, parent=None):
        super().__init__("History", parent)
        self.setObjectName("history")
        self.s, self.takes_ctl = session, takes
        self.history: PieceHistory | None = None
        self._task = None
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("Open a score to see its takes.")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs, 1)
        self._build_takes_tab()
        self._build_progress_tab()
        self._build_bars_tab()
        self._build_practice_tab()
        self._build_compare_tab()
        self.comparison = None         # (Comparison, (stored, take, analysis) of A, ... of B), A the older
        self.listening = None          # the Listening being played
        self._score_offset_s = 0.0     # where the judged excerpt starts on the full score's timeline (s)
        self._listen_player = None
        self._listen_timer = QTimer(self)
        self._listen_timer.setInterval(FRAME_MS)
        self._listen_timer.timeout.connect(self._follow_listening)
        self.nav = nav
        self.setWidget(body)
        self.act_open = make_action(self, "Open stored take", self.open_selected, None,
                                    "Show the selected take with its stored judgement")
        self.open_button.clicked.connect(self.open_selected)
        self.refresh_button.clicked.connect(self.refresh)
        nav.shown.connect(self.refresh)
        keeper.kept.connect(lambda _id: self.refresh())
        session.changed.connect(self._update_enabled)
        self._update_enabled()

    # ------------------------------------------------------------------ building

    def _build_takes_tab(self) -> None:
        w, lay = page()
        self.take_list = QTreeWidget()
        self.take_list.setHeaderLabels(COLUMNS)
        self.take_list.setRootIsDecorated(False)
        self.take_list.setAlternatingRowColors(True)
        self.take_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.take_list.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.take_list.itemSelectionChanged.connect(self._update_enabled)
        lay.addWidget(self.take_list, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the selected take on the score, as it was judged (double-click also)")
        self.refresh_button = QPushButton("Refresh")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select two takes (Ctrl+click): per note, what improved and what got worse")
        self.compare_button.clicked.connect(self.compare_selected)
        row.addWidget(self.open_button)
        row.addWidget(self.compare_button)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        lay.addLayout(row)
        self.tabs.addTab(w, "Takes")

    def _plot(self, left: str, date_axis: bool = True) -> pg.PlotWidget:
        axes = {"bottom": pg.DateAxisItem(orientation="bottom")} if date_axis else {}
        p = pg.PlotWidget(background="w", axisItems=axes)
        p.getPlotItem().showGrid(x=True, y=True, alpha=0.15)
        p.getPlotItem().setMenuEnabled(False)
        p.setLabel("left", left)
        return p

    def _build_progress_tab(self) -> None:
        self.progress_plot = self._plot("rating (0-1)")
        self.progress_plot.setYRange(0, 1.05)
        self.progress_plot.addLegend(offset=(-10, -30))        # bottom right: ratings sit near the top
        self.progress_lines: dict[str, pg.PlotDataItem] = {}
        for key, name in CRITERIA:
            c = CRITERION_COLOURS[key]
            self.progress_lines[key] = self.progress_plot.plot(
                [], [], name=name, pen=pg.mkPen(c, width=2), symbol="o", symbolSize=6, symbolBrush=c, symbolPen=c)
        self.grade_points = pg.ScatterPlotItem(symbol="star", size=12, brush="#9467bd", pen="#9467bd",
                                               name="Teacher's grade (share of its scale)")
        self.progress_plot.addItem(self.grade_points)
        self.tabs.addTab(self.progress_plot, "Progress")

    def _build_bars_tab(self) -> None:
        w, lay = page()
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        self.heat_combo = QComboBox()
        for key, text in HEAT_MEASURES.items():
            self.heat_combo.addItem(text, key)
        self.heat_combo.currentIndexChanged.connect(lambda _i: self._draw_heatmap())
        row.addWidget(self.heat_combo)
        row.addStretch(1)
        lay.addLayout(row)
        self.heat_plot = self._plot("bar", date_axis=False)
        self.heat_plot.setLabel("bottom", "take (oldest left)")
        self.heat_plot.getViewBox().invertY(True)
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat_image)
        lay.addWidget(self.heat_plot, 1)
        self.heat_note = QLabel("")
        self.heat_note.setWordWrap(True)
        lay.addWidget(self.heat_note)
        self.tabs.addTab(w, "Bars")

    def _build_practice_tab(self) -> None:
        self.practice_plot = self._plot("minutes")
        self.practice_bars = pg.BarGraphItem(x=[], height=[], width=1, brush="#5b7a99")
        self.practice_plot.addItem(self.practice_bars)
        self.tabs.addTab(self.practice_plot, "Practice")

    def _build_compare_tab(self) -> None:
        w, lay = page()
        self.compare_label = QLabel("Select two takes in Takes and press Compare.")
        self.compare_label.setWordWrap(True)
        lay.addWidget(self.compare_label)
        row = QHBoxLayout()
        self.listen_buttons: dict[str, QPushButton] = {}
        for mode, text in LISTEN_MODES:
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, m=mode: self.listen(m))
            self.listen_buttons[mode] = b
            row.addWidget(b)
        self.listen_note = QLabel("")
        row.addWidget(self.listen_note, 1)
        lay.addLayout(row)
        self.change_list = QListWidget()
        self.change_list.itemClicked.connect(self._change_clicked)
        lay.addWidget(self.change_list, 1)
        self.tabs.addTab(w, "Compare")

    def _update_enabled(self) -> None:
        s = self.s
        ok = bool(self.take_list.selectedItems()) and s.score is not None and not s.is_recording
        self.open_button.setEnabled(ok)
        self.act_open.setEnabled(ok)
        self.compare_button.setEnabled(ok and len(self.take_list.selectedItems()) == 2)
        for b in self.listen_buttons.values():
            b.setEnabled(self.comparison is not None and not s.is_recording)

    # ------------------------------------------------------------------ data
    def student(self) -> str:
        from musicdesk.history.keep import login_name

        return self.s.settings.student_name or login_name()

    def refresh(self) -> None:
        """Fetch the student's takes of the open piece again (in a worker)."""
        s = self.s
        score = s.score
        if score is None or not s.settings.history_enabled or not score.source_path:
            self.title.setText("Open a score to see its takes." if score is None else
                               "The practice history is off (Settings).")
            self.show_history(None)
            return
        from musicdesk.history.views import piece_history

        if self._task is not None:
            self._task.cancel()
        store = session_store(s)

        def fetch():
            return piece_history(store, self.student(), score.source_path, score.part, bars=False)

        self._task = s.run(workers.Task(fetch, user_errors=history_errors()), self.show_history,
                           "Cannot read the practice history", quiet=True)

    def _fetch_bars(self, h: PieceHistory) -> None:
        from musicdesk.history.views import with_bars

        store = session_store(self.s)
        self._task = self.s.run(workers.Task(with_bars, store, h, user_errors=history_errors()), self.show_history,
                                "Cannot read the practice history", quiet=True)

    def show_history(self, h: PieceHistory | None) -> None:
        """Draw `h` in every tab (None: empty). Without its bars yet, the heatmap follows (a second fetch)."""
        self._task = None
        if h is not None and h.bars_loaded and self.history is not None and not self.history.bars_loaded \
                and [t.id for t in self.history.takes] == [t.id for t in h.takes]:
            self.history = h                   # the bars of the takes on show: only the heatmap is new
            self._draw_heatmap()
            self.loaded.emit()
            return
        self.history = h
        self.take_list.clear()
        if h is not None:
            score = self.s.score
            what = f"{score.title or 'this piece'} ({score.part})" if score is not None else "this piece"
            n = len(h.takes)
            self.title.setText(f"{h.student}: {n} take{'s' if n != 1 else ''} of {what}" if n else
                               f"{h.student} has no takes of {what} yet: record one.")
            for t in reversed(h.takes):                  # newest first
                self.take_list.addTopLevelItem(self._take_item(t))
            for i in range(len(COLUMNS)):
                self.take_list.resizeColumnToContents(i)
        self._draw_progress()
        self._draw_heatmap()
        self._draw_practice()
        self._update_enabled()
        self.listed.emit()
        if h is not None and not h.bars_loaded:
            self._fetch_bars(h)
        else:
            self.loaded.emit()

    def _take_item(self, t) -> QTreeWidgetItem:
        r = t.ratings
        local = t.recorded_at.astimezone()
        cells = [local.strftime("%Y-%m-%d %H:%M"), f"{t.duration_s:.1f} s",
                 f"{t.n_correct}/{t.n_notes}" if t.n_notes else "-",
                 *(f"{r[k]:.2f}" if k in r else "-" for k, _ in CRITERIA), grade_text(t.released),
                 f"✎ {t.n_comments}" if t.n_comments else ""]
        item = QTreeWidgetItem(cells)
        item.setData(0, Qt.ItemDataRole.UserRole, str(t.id))
        for col, (k, _) in zip((3, 4, 5), CRITERIA):
            item.setToolTip(col, f"rule-based; the network said {t.network[k]:.2f}" if k in t.network else "rule-based")
        if t.n_notes is None:
            item.setForeground(0, QColor("#888888"))
            item.setToolTip(0, "Not analysed")
        return item

    def _draw_progress(self) -> None:
        h = self.history
        takes = h.takes if h is not None else []
        x = np.array([t.recorded_at.timestamp() for t in takes], dtype=float)
        for key, line in self.progress_lines.items():
            y = np.array([t.ratings.get(key, np.nan) for t in takes], dtype=float)
            ok = np.isfinite(y)
            line.setData(x[ok], y[ok])
        pts = [(t.recorded_at.timestamp(), v / mx) for t in takes for (v, mx, st) in t.released.values()
               if st == "released" and mx]
        self.grade_points.setData([p[0] for p in pts], [p[1] for p in pts])
        if len(x):
            pad = max(3600.0, 0.05 * float(np.ptp(x)))
            self.progress_plot.setXRange(float(x.min()) - pad, float(x.max()) + pad)

    def heat_measure(self) -> str:
        return self.heat_combo.currentData() or "right"

    def _draw_heatmap(self) -> None:
        h = self.history
        measure = self.heat_measure()
        if h is None or not h.takes or not h.progress.bars:
            self.heat_image.clear()
            self.heat_note.setText("Reading the bars of every take…" if h is not None and not h.bars_loaded else "")
            return
        bars, mat = bar_matrix(h.progress, measure)
        self.heat_image.setImage(heat_rgb(mat, measure), levels=(0, 255))
        self.heat_image.setRect(-0.5, -0.5, mat.shape[1], mat.shape[0])
        self.heat_plot.getAxis("left").setTicks([[(i, str(b)) for i, b in enumerate(bars)]])
        step = max(1, len(h.takes) // 8)
        self.heat_plot.getAxis("bottom").setTicks(
            [[(j, t.recorded_at.astimezone().strftime("%d %b")) for j, t in enumerate(h.takes) if j % step == 0]])
        self.heat_plot.setXRange(-0.5, mat.shape[1] - 0.5, padding=0.02)
        self.heat_plot.setYRange(-0.5, mat.shape[0] - 0.5, padding=0.02)
        from musicdesk.history.views import most_improved_bars

        best = most_improved_bars(h.progress)
        self.heat_note.setText(
            ("Most improved since the first take: " + ", ".join(f"bar {b} (+{d:.0%} right)" for b, d in best))
            if best else "Green is good, red needs work, grey: not played in that take.")

    def _draw_practice(self) -> None:
        h = self.history
        days = h.practice if h is not None else []
        x = [dt.datetime.strptime(d, "%Y-%m-%d").replace(hour=12).timestamp() for d, _ in days]
        y = [sec / 60.0 for _, sec in days]
        self.practice_bars.setOpts(x=x, height=y, width=86400 * 0.8)
        if x:
            self.practice_plot.setXRange(min(x) - 86400, max(x) + 86400)
            self.practice_plot.setYRange(0, max(y) * 1.15 or 1)
        total = sum(y)
        self.tabs.setTabToolTip(3, f"{total:.0f} minutes in all" if days else "No practice yet")

    # ------------------------------------------------------------------ opening a stored take
    def selected_ids(self) -> list[str]:
        return [i.data(0, Qt.ItemDataRole.UserRole) for i in self.take_list.selectedItems()]

    def cache_dir(self) -> Path:
        return cache_dir(self.s.settings)

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_take(ids[0])

    def open_take(self, take_id: str) -> None:
        """Show a stored take with its stored judgement (its audio and contour loaded in a worker)."""
        open_stored_take(self.s, self.takes_ctl, take_id, self.take_opened.emit)

    # ------------------------------------------------------------------ comparing two takes
    def compare_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 2:
            self.compare(*ids)

    def compare(self, take_x: str, take_y: str) -> None:
        """Compare two stored takes (the older is A): per note on the score, improved, worse or the same."""
        import uuid

        s = self.s
        if s.score is None or s.is_recording:
            return
        order = {str(t.id): i for i, t in enumerate(self.history.takes)} if self.history else {}
        a, b = sorted((take_x, take_y), key=lambda i: order.get(i, 0))
        store, score, folder = session_store(s), s.score, self.cache_dir()

        def work():
            from musicdesk.history.reopen import open_stored

            c = store.compare(uuid.UUID(a), uuid.UUID(b))
            return c, open_stored(store, uuid.UUID(a), score, folder), open_stored(store, uuid.UUID(b), score, folder)

        s.status("Comparing the two takes…")
        s.run(workers.Task(work, user_errors=history_errors()), self._show_comparison, "Cannot compare the takes")

    def _show_comparison(self, result) -> None:
        c, a, b = result
        self.comparison = result
        stored_b, take_b, analysis_b = b
        self.takes_ctl.show_stored(take_b, analysis_b, str(stored_b.take_id))   # B on show: its problems, its audio
        score = self.s.judged_score
        element = {n.id: n.element_id for n in score.notes}
        self.takes_ctl.results.score_view.set_colours(
            {element[ch.note_id]: CHANGE_COLOURS[ch.change] for ch in c.changes if ch.note_id in element})
        self.takes_ctl.results.score_view.set_timing_marks({})
        self.takes_ctl.results.score_view.set_marks({})

        def when(st) -> str:
            return dt.datetime.fromisoformat(st.recorded_at).astimezone().strftime("%d %b %H:%M")

        n_same = len(c.changes) - len(c.improved) - len(c.worse)
        self.compare_label.setText(
            f"A: {when(a[0])}   B: {when(stored_b)}.  On the score: green improved ({len(c.improved)}), "
            f"red worse ({len(c.worse)}), grey the same ({n_same}).")
        self.change_list.clear()
        for ch in [*c.worse, *c.improved]:
            item = QListWidgetItem(f"bar {ch.bar}, beat {ch.beat:g}, {ch.name}: {ch.a} → {ch.b} ({ch.change})")
            pix = QPixmap(12, 12)
            pix.fill(QColor(CHANGE_COLOURS[ch.change]))
            item.setIcon(QIcon(pix))
            item.setData(Qt.ItemDataRole.UserRole, ch.bar)
            self.change_list.addItem(item)
        if not c.worse and not c.improved:
            self.change_list.addItem("No note changed: both takes were judged the same.")
        self.tabs.setCurrentIndex(self.tabs.count() - 1)
        self._update_enabled()
        n_better = len(c.improved)
        self.s.status(f"Compared {when(a[0])} with {when(stored_b)}: {n_better} note{'' if n_better == 1 else 's'} "
                      f"better, {len(c.worse)} worse.", 8000)   # not "Comparing…" left on once done
        self.compared.emit()

    def listen_bars(self) -> tuple[int, int] | None:
        """The bars to listen over: the Bars range when Loop is on, else the whole takes."""
        return self.nav.loop_bars() if self.nav.looping else None

    def _change_clicked(self, item) -> None:
        bar = item.data(Qt.ItemDataRole.UserRole)
        if bar is not None:
            self.listen("a_then_b", (int(bar), int(bar)))

    def listen(self, mode: str, bars: tuple[int, int] | None = None) -> None:
        """Play A, B, A then B, or both at once ("a", "b", "a_then_b", "both") over `bars` (default
        listen_bars()), the score's cursor following the same bar in each."""
        from musicdesk.history import listen as core

        s = self.s
        if self.comparison is None or s.is_recording:
            return
        bars = bars or self.listen_bars()
        _, (_, take_a, an_a), (_, take_b, an_b) = self.comparison
        score = an_b.score
        # a take of some bars is judged on their excerpt (time 0 at its first bar): the cursor moves on
        # the full score's timeline, so excerpt times are shifted by where the excerpt starts in it
        full = {n.id: n.onset_s for n in s.score.notes} if s.score is not None else {}
        first = score.notes[0] if score.notes else None
        self._score_offset_s = (full.get(first.id, first.onset_s) - first.onset_s) if first is not None else 0.0

        def work():
            if mode == "a_then_b":
                return core.a_then_b(score, take_a, an_a.alignment, take_b, an_b.alignment, bars)
            if mode == "both":
                return core.b_on_a(score, take_a, an_a.alignment, take_b, an_b.alignment, bars)
            take, an = (take_a, an_a) if mode == "a" else (take_b, an_b)
            return core.one_take(score, take, an.alignment, bars, "A" if mode == "a" else "B")

        s.run(workers.Task(work, user_errors=(*user_errors(), ValueError)), self._play_listening, "Cannot play")

    def _play_listening(self, lis) -> None:
        from musicdesk.playback import Player

        s = self.s
        stop_quietly(s.player)
        try:
            s.player = Player()
            s.player.play(lis.samples, lis.sr, device=s.device(False))
        except Exception as exc:
            s.player = None
            s.playback_failed(exc)
            return
        self.listening, self._listen_player = lis, s.player
        self._listen_timer.start()
        s.update()

    def _follow_listening(self) -> None:
        from musicdesk.history.listen import score_time_at

        p = self.s.player
        if p is None or p is not self._listen_player or not p.is_playing:
            self._listen_timer.stop()
            self.listen_note.setText("")
            return
        t = p.position_s
        part = next((lab for lab, a, b in self.listening.parts if a <= t <= b), "")
        self.listen_note.setText(f"playing {part}" if part else "")
        x = score_time_at(self.listening, t)
        if x is not None:
            self.nav.cursor_at_score_time(x + self._score_offset_s)
