"""The main window: the engraved score, the piano roll with the pitch trace, recording, results, playback.

Everything that computes music runs in the core (musicdesk.*) inside background `Task`s; this module only
wires widgets to it. The recorder's audio callback fills a ring buffer that `_tick` drains on a timer.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter, QToolBar, QVBoxLayout,
                               QWidget)

from musicdesk.app import workers
from musicdesk.app.colours import CATEGORY_COLOURS
from musicdesk.app.results_panel import Legend, RatingsPanel
from musicdesk.app.piano_roll import PianoRoll, RollNote
from musicdesk.app.settings import AppSettings, load_settings, save_settings

SCORE_FILTER = "Scores (*.musicxml *.xml *.mxl *.mid *.midi *.abc);;All files (*)"
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)"
SCORE_EXT = {".musicxml", ".xml", ".mxl", ".mid", ".midi", ".abc"}
AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
FRAME_MS = 16          # GUI timer while recording/playing: about 60 frames per second at most
SPEEDS = (1.0, 0.9, 0.75, 0.5)


@dataclass
class Loaded:
    """A score ready to show: the Score of the chosen part, its part names and its engraving."""

    path: str
    score: object
    parts: list
    engraving: object


def load_for_window(path: str, part, tempo_bpm: float | None) -> Loaded:
    """Parse the score, choose the part, engrave it (runs in a worker)."""
    from musicdesk.engrave import engrave
    from musicdesk.score import list_parts, load_score, score_to_musicxml

    score = load_score(path, part=part, tempo_bpm=tempo_bpm)
    parts = list_parts(path)
    eng = engrave(score_to_musicxml(path, part=score.part))
    return Loaded(path, score, parts, eng)


def load_take_for_window(path: str):
    from musicdesk.audio import load_take

    return load_take(path)


def _user_errors() -> tuple[type, ...]:
    from musicdesk.analysis import AnalysisError
    from musicdesk.audio import AudioError
    from musicdesk.score import ScoreError

    errs: list[type] = [ScoreError, AudioError, AnalysisError, FileNotFoundError, PermissionError]
    for mod, name in (("musicdesk.capture", "CaptureError"), ("musicdesk.playback", "PlaybackError"),
                      ("musicdesk.synth", "SynthError")):
        try:
            errs.append(getattr(__import__(mod, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errs)


_WARMED = False  # the analysis code was loaded in this process (see MainWindow._warm_up)


def _stop_quietly(thing) -> None:
    """Stop a player or metronome, if any; a device that already went away must not stop us."""
    if thing is not None:
        try:
            thing.stop()
        except Exception:
            pass


class MainWindow(QMainWindow):
    """The practice window."""

    analysis_shown = Signal()      # results drawn (tests and --screenshot wait for it)
    score_shown = Signal()

    def __init__(self, settings: AppSettings | None = None, settings_org: str | None = None):
        super().__init__()
        from musicdesk.app.score_view import ScoreView

        self.settings_org = settings_org
        self.settings = settings or load_settings(settings_org)
        self.setWindowTitle("musicdesk")
        self.resize(1280, 860)
        self.setAcceptDrops(True)
        self.loaded: Loaded | None = None
        self.score = None
        self.take = None
        self.take_path: str | None = None
        self.recording = None                       # (samples, sr) of the last take recorded here
        self._score_timeline = None                 # (onset_s array, element ids): score time -> note
        self._take_timeline = None                  # the same at the performed onsets (after analysis)
        self.analysis = None
        self.categories: dict[str, str] = {}       # note id -> outcome category (after analysis)
        self.problems: list = []
        self.recorder = None
        self.live = None
        self.player = None
        self._click = None
        self._tasks: set = set()
        self._analysis_task = None
        self._reference_cache: dict = {}
        self._play_map = None       # (kind, speed) while playing, for the cursor
        self._count_in_s = 0.0
        self._cursor_id: str | None = None
        self.warming = False                       # loading the compiled analysis code (record waits)
        self.melody_lab = None                     # the melody lab's window, made on first use

        # ---- central: score over piano roll
        self.score_view = ScoreView()
        self.score_view.note_clicked.connect(self.select_note)
        self.roll = PianoRoll()
        self.roll.note_clicked.connect(self.select_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.score_view)
        split.addWidget(self.roll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([480, 360])  # the score first: two lines of music at the fitted width

        # ---- right panel: ratings, legend, problems, details
        side = QWidget()
        side.setMinimumWidth(320)
        sl = QVBoxLayout(side)
        self.ratings_box = RatingsPanel()
        self.rating_bars, self.network_bars = self.ratings_box.rating_bars, self.ratings_box.network_bars
        self.network_label, self.summary_label = self.ratings_box.network_label, self.ratings_box.summary_label
        sl.addWidget(self.ratings_box)
        sl.addWidget(Legend())
        sl.addWidget(QLabel("Problems (click to hear and see):"))
        self.problem_list = QListWidget()
        self.problem_list.setWordWrap(True)
        self.problem_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problem_list.itemClicked.connect(self._problem_clicked)
        sl.addWidget(self.problem_list, 1)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sl.addWidget(self.details)

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(split)
        main.addWidget(side)
        main.setStretchFactor(0, 4)
        main.setStretchFactor(1, 1)
        self.setCentralWidget(main)

        self._build_actions()
        self._build_status()
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self._update_enabled()
        self._warm_up()

    def _warm_up(self) -> None:
        """Once per session, load the compiled analysis code in a worker while the user looks at the
        score, so that the first take's analysis neither waits for it nor stalls the window."""
        global _WARMED
        if not _WARMED:
            from musicdesk.analysis import warm_up

            _WARMED = True
            self.warming = True
            self.statusBar().showMessage("Preparing the analysis…")

            def done(_result=None) -> None:
                self.warming = False
                self._update_enabled()

            s = self.settings
            model = None if s.assess_model in ("", "none") else s.assess_model
            task = self._run(workers.Task(warm_up, model, s.assess_device), done, "Cannot prepare the analysis")
            task.signals.failed.connect(lambda _m: done())
            self._update_enabled()

    # ================================================================== building
    def _build_actions(self) -> None:
        tb = QToolBar("Main")
        tb.setIconSize(QSize(18, 18))
        tb.setMovable(False)
        self.addToolBar(tb)
        self.toolbar = tb

        def act(text, slot, shortcut=None, tip=None):
            a = QAction(text, self)
            a.triggered.connect(slot)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip or text}" + (f" ({shortcut})" if shortcut else ""))
            self.addAction(a)
            return a

        self.act_open = act("Open score…", self.open_score_dialog, "Ctrl+O")
        self.act_open_take = act("Open take…", self.open_take_dialog, "Ctrl+T", "Open an audio file as a take")
        self.act_save_take = act("Save take as…", self.save_take_dialog, "Ctrl+S", "Save the take to a file")
        self.act_record = act("● Record", self.start_recording, "R", "Record a take")
        self.act_stop = act("■ Stop", self.stop, "Space", "Stop recording or playback")
        self.act_play_take = act("▶ Take", lambda: self.play("take"), "P", "Play the take")
        self.act_play_ref = act("▶ Score", lambda: self.play("reference"), "Shift+P", "Play the score")
        self.act_play_both = act("▶ Both", lambda: self.play("both"), "Ctrl+P", "Play take and score together")
        self.act_settings = act("Settings…", self.open_settings, "Ctrl+,")
        self.act_melody_lab = act("Melody lab…", self.open_melody_lab, "Ctrl+M",
                                  "Vary and inpaint the measures of a melody (the practice score's part to begin with)")
        self.act_zoom_in = act("Zoom in", lambda: self.score_view.zoom_in(), "Ctrl+=")
        self.act_zoom_out = act("Zoom out", lambda: self.score_view.zoom_out(), "Ctrl+-")
        self.act_next_page = act("Next page", lambda: self.score_view.next_page(), "PgDown")
        self.act_prev_page = act("Previous page", lambda: self.score_view.prev_page(), "PgUp")
        self.act_next_line = act("Next line", lambda: self.score_view.next_line(), "Ctrl+Down")
        self.act_prev_line = act("Previous line", lambda: self.score_view.prev_line(), "Ctrl+Up")
        self.act_cancel = act("Cancel analysis", self.cancel_analysis, "Esc")

        mb = self.menuBar()
        fm = mb.addMenu("&File")
        fm.addAction(self.act_open)
        self.examples_menu = fm.addMenu("Examples")
        for name, path in self._example_scores():
            a = QAction(name, self)
            a.triggered.connect(lambda _=False, p=path: self.open_score(p))
            self.examples_menu.addAction(a)
        self.recent_menu = fm.addMenu("Recent")
        self._fill_recent()
        fm.addAction(self.act_open_take)
        fm.addAction(self.act_save_take)
        fm.addSeparator()
        fm.addAction(self.act_settings)
        quit_a = QAction("Quit", self)
        quit_a.setShortcut(QKeySequence.StandardKey.Quit)
        quit_a.triggered.connect(self.close)
        fm.addAction(quit_a)
        vm = mb.addMenu("&View")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_next_page, self.act_prev_page,
                  self.act_next_line, self.act_prev_line):
            vm.addAction(a)
        tm = mb.addMenu("&Take")
        for a in (self.act_record, self.act_stop, self.act_play_take, self.act_play_ref, self.act_play_both,
                  self.act_cancel):
            tm.addAction(a)
        mb.addMenu("T&ools").addAction(self.act_melody_lab)

        tb.addAction(self.act_open)
        tb.addSeparator()
        tb.addWidget(QLabel(" Part "))
        self.part_combo = QComboBox()
        self.part_combo.setMinimumWidth(140)
        self.part_combo.activated.connect(self._part_changed)
        tb.addWidget(self.part_combo)
        tb.addWidget(QLabel(" Tempo "))
        self.tempo_spin = QSpinBox()
        self.tempo_spin.setRange(0, 300)        # 0: no score yet, shown as "–" (20-300 once one is open)
        self.tempo_spin.setSpecialValueText("–")
        self.tempo_spin.setValue(0)
        self.tempo_spin.setSuffix(" bpm")
        self.tempo_spin.setKeyboardTracking(False)
        self.tempo_spin.valueChanged.connect(self._tempo_changed)
        tb.addWidget(self.tempo_spin)
        tb.addSeparator()
        tb.addAction(self.act_record)
        tb.addAction(self.act_stop)
        tb.addSeparator()
        tb.addAction(self.act_play_take)
        tb.addAction(self.act_play_ref)
        tb.addAction(self.act_play_both)
        tb.addWidget(QLabel(" Bars "))
        self.loop_from = QSpinBox()
        self.loop_to = QSpinBox()
        for w in (self.loop_from, self.loop_to):
            w.setRange(0, 9999)                 # 0: no score yet, shown as "–"
            w.setSpecialValueText("–")
        tb.addWidget(self.loop_from)
        tb.addWidget(QLabel("–"))
        tb.addWidget(self.loop_to)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setToolTip("Play only these bars, over and over (shaded on the score)")
        tb.addWidget(self.loop_check)
        for w in (self.loop_from, self.loop_to):
            w.valueChanged.connect(self._loop_changed)
        self.loop_check.toggled.connect(self._loop_changed)
        tb.addWidget(QLabel(" Speed "))
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{int(s * 100)}%", s)
        tb.addWidget(self.speed_combo)
        tb.addSeparator()
        tb.addAction(self.act_open_take)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.level_meter = QProgressBar()
        self.level_meter.setRange(-60, 0)
        self.level_meter.setValue(-60)
        self.level_meter.setFormat("input %v dBFS")
        self.level_meter.setFixedWidth(180)
        self.clip_label = QLabel("")
        self.clip_label.setStyleSheet("color:#d62728; font-weight:bold")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(200)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.rec_label = QLabel("")
        sb.addPermanentWidget(self.rec_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.clip_label)
        sb.addPermanentWidget(self.level_meter)

    def _example_scores(self) -> list[tuple[str, str]]:
        from musicdesk.score import example_score_path

        folder = Path(example_score_path()).parent
        names = {"default_example_melody.musicxml": "Zwei Koenigskinder (melody)",
                 "example_tune.abc": "Tune with repeats (ABC)", "example_tune.mid": "Tune with repeats (MIDI)",
                 "example_transposing.musicxml": "Clarinet and alto sax (transposing)"}
        return [(names.get(p.name, p.name), str(p)) for p in sorted(folder.iterdir())
                if p.suffix.lower() in SCORE_EXT]

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_files:
            a = QAction(p, self)
            a.triggered.connect(lambda _=False, path=p: self.open_score(path))
            self.recent_menu.addAction(a)
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _update_enabled(self) -> None:
        rec = self.recorder is not None
        busy = self._analysis_task is not None
        has_score = self.score is not None
        # recording again cancels an analysis; it waits for the analysis code to load, which holds
        # Python's lock long enough to make the audio callback drop samples
        self.act_record.setEnabled(has_score and not rec and not self.warming)
        self.act_stop.setEnabled(rec or self.player is not None)
        self.act_play_take.setEnabled(self.take is not None and not rec)
        self.act_play_ref.setEnabled(has_score and not rec)
        self.act_play_both.setEnabled(has_score and self.analysis is not None and not rec)
        self.act_open_take.setEnabled(has_score and not rec and not busy)
        self.act_save_take.setEnabled(not rec and (self.take is not None or self.recording is not None))
        self.act_open.setEnabled(not rec)
        self.part_combo.setEnabled(not rec and not busy)
        self.tempo_spin.setEnabled(has_score and not rec and not busy)
        for w in (self.loop_from, self.loop_to, self.loop_check):
            w.setEnabled(has_score)

    # ================================================================== messages
    def playback_failed(self, exc: Exception) -> None:
        """Playback could not start (no output device, or it refused the stream): said once, in the
        status bar, not in a dialog on every click (the message already says what to do)."""
        from musicdesk.playback import playback_message

        self.last_error = playback_message(exc)
        self.statusBar().showMessage(self.last_error, 15000)

    def error(self, title: str, text: str) -> None:
        """A clear, non-blocking message box (tests read `last_error`)."""
        self.last_error = text
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.statusBar().showMessage(text, 15000)

    last_error: str | None = None

    def _run(self, task: workers.Task, on_done, what: str) -> workers.Task:
        self._tasks.add(task)

        def finish(result):
            self._tasks.discard(task)
            on_done(result)

        def fail(msg):
            self._tasks.discard(task)
            self.error(what, msg)
            self._update_enabled()

        task.signals.finished.connect(finish)
        task.signals.failed.connect(fail)
        task.signals.cancelled.connect(lambda: self._tasks.discard(task))
        return workers.start(task)

    # ================================================================== scores
    def open_score_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a score", "", SCORE_FILTER)
        if path:
            self.open_score(path)

    def open_score(self, path: str, part=None, take: str | None = None) -> None:
        """Load a score (and then, if given, a take) in the background."""
        self.statusBar().showMessage(f"Opening {os.path.basename(path)}…")
        task = workers.Task(load_for_window, path, part, None, user_errors=_user_errors())

        def done(loaded: Loaded):
            self._show_score(loaded)
            if take:
                self.open_take(take)

        self._run(task, done, "Cannot open the score")

    def _show_score(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.score = loaded.score
        self._reference_cache.clear()
        self.score_view.set_engraving(loaded.engraving)
        self.part_combo.blockSignals(True)
        self.part_combo.clear()
        for name in loaded.parts:
            self.part_combo.addItem(name)
        self.part_combo.setCurrentText(self.score.part)
        self.part_combo.blockSignals(False)
        self.tempo_spin.blockSignals(True)
        self.tempo_spin.setSpecialValueText("")     # ("–" only stands for "no score")
        self.tempo_spin.setRange(20, 300)
        self.tempo_spin.setValue(int(round(self.score.tempo_bpm)))
        self.tempo_spin.blockSignals(False)
        last_measure = max((n.measure for n in self.score.notes), default=1)
        for w in (self.loop_from, self.loop_to):
            w.setSpecialValueText("")
            w.setRange(1, last_measure)
        self.loop_from.setValue(1)
        self.loop_to.setValue(last_measure)
        self._score_timeline = (np.array([n.onset_s for n in self.score.notes]),
                                [n.element_id for n in self.score.notes])
        self._clear_results()
        self._show_score_notes()
        title = self.score.title or os.path.basename(loaded.path)
        self.setWindowTitle(f"musicdesk - {title} ({self.score.part})")
        self.statusBar().showMessage(f"Opened {os.path.basename(loaded.path)}: {len(self.score.notes)} notes, "
                                     f"part {self.score.part}, {self.score.tempo_bpm:.0f} bpm", 6000)
        self.settings.add_recent(loaded.path)
        save_settings(self.settings, self.settings_org)
        self._fill_recent()
        for w in self.score.warnings:
            self.statusBar().showMessage(w, 10000)
        self._update_enabled()
        self.score_shown.emit()

    def _show_score_notes(self, offset_s: float = 0.0) -> None:
        """The score's notes on the piano roll at score time (+ offset, e.g. the count-in)."""
        self.roll.set_notes([RollNote(n.id, n.onset_s + offset_s, n.onset_s + n.duration_s + offset_s, n.midi)
                             for n in self.score.notes])
        self.roll.show_range(offset_s, offset_s + min(self.score.duration_s, 12.0))

    def _loop_changed(self, *_args) -> None:
        """Shade the loop's bars on the score while looping is on."""
        if self.loop_check.isChecked() and self.score is not None:
            m1, m2 = sorted((self.loop_from.value(), self.loop_to.value()))
            self.score_view.set_loop_measures(m1, m2)
        else:
            self.score_view.set_loop_measures(None)

    def _part_changed(self, _i: int) -> None:
        if self.loaded:
            self._reload(part=self.part_combo.currentText())

    def _tempo_changed(self, bpm: int) -> None:
        if self.loaded and self.score and abs(bpm - self.score.tempo_bpm) > 0.5:
            self._reload(part=self.score.part, tempo=float(bpm))

    def _reload(self, part=None, tempo=None) -> None:
        take = self.take
        task = workers.Task(load_for_window, self.loaded.path, part, tempo, user_errors=_user_errors())

        def done(loaded):
            self._show_score(loaded)
            if take is not None:
                self.set_take(take)

        self._run(task, done, "Cannot open the score")

    def _clear_results(self) -> None:
        self.analysis = None
        self._take_timeline = None
        self.categories = {}
        self.problems = []
        self.problem_list.clear()
        self.details.setText("")
        self.score_view.set_colours({})
        self.score_view.set_marks({})
        self.roll.set_contour([], [])
        self.roll.clear_live()
        self.score_view.set_timing_marks({})
        self.ratings_box.clear()

    # ================================================================== drag and drop
    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        for url in ev.mimeData().urls():
            path = url.toLocalFile()
            ext = Path(path).suffix.lower()
            if ext in SCORE_EXT:
                self.open_score(path)
            elif ext in AUDIO_EXT:
                if self.score is None:
                    self.error("Open a score first", "Open the score of this take first, then drop the audio.")
                else:
                    self.open_take(path)
            else:
                self.error("Unsupported file", f"{os.path.basename(path)}: musicdesk opens scores "
                           "(MusicXML, MXL, MIDI, ABC) and takes (WAV, FLAC, OGG, MP3).")

    # ================================================================== takes from files
    def open_take_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a take", "", AUDIO_FILTER)
        if path:
            self.open_take(path)

    def open_take(self, path: str) -> None:
        task = workers.Task(load_take_for_window, path, user_errors=_user_errors())

        def done(take) -> None:
            self.recording = None
            self.set_take(take)

        task.signals.failed.connect(lambda _msg: self._drop_take())
        self._run(task, done, "Cannot open the take")

    def _drop_take(self) -> None:
        """A take that could not be opened replaces the one shown: its results and playback go (its
        file, and every recorded take, stay on disk), so nothing on screen belongs to another take."""
        if self.recorder is not None:
            return
        self.cancel_analysis()
        self.stop_playback()
        self.take = None
        self.take_path = None
        self._clear_results()
        if self.score is not None:
            self._show_score_notes()
        self._update_enabled()

    def set_take(self, take) -> None:
        """Use `take` (a musicdesk.audio.Take) and analyse it against the current score."""
        self.take = take
        self.take_path = take.path or None
        self.analyse()

    # ================================================================== analysis
    def analyse(self) -> None:
        from musicdesk.analysis import analyze

        if self.score is None or self.take is None or self.recorder is not None:
            return  # (a take finished loading while the next one is being recorded: that one counts)
        self.cancel_analysis()
        self._clear_results()
        s = self.settings
        model = None if s.assess_model in ("", "none") else s.assess_model
        task = workers.Task(analyze, self.score, self.take, tracker=s.tracker, tolerances=s.tolerances(),
                            assess_model=model, device=s.assess_device, user_errors=_user_errors())
        self._analysis_task = task
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.cancel_button.setVisible(True)
        task.signals.progress.connect(self._on_progress)
        task.signals.cancelled.connect(self._analysis_ended)
        task.signals.failed.connect(lambda _m: self._analysis_ended())

        def done(analysis):
            self._analysis_ended()
            self.show_analysis(analysis)

        self._run(task, done, "Cannot analyse the take")
        self._update_enabled()

    def _on_progress(self, stage: str, frac: float) -> None:
        self.progress.setValue(int(100 * frac))
        self.progress.setFormat(f"{stage} %p%")

    def _analysis_ended(self) -> None:
        self._analysis_task = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._update_enabled()

    def cancel_analysis(self) -> None:
        if self._analysis_task is not None:
            self._analysis_task.cancel()
            self.statusBar().showMessage("Analysis cancelled.", 5000)
            self._analysis_ended()

    def show_analysis(self, analysis) -> None:
        """Draw a finished analysis: colours on the score, the roll, ratings and the problem list."""
        from musicdesk.describe import extra_after, note_category, pitch_category, problems, timing_mark

        self.analysis = analysis
        rep = analysis.report
        score = self.score
        found = [r for r in rep.notes if r.onset_s is not None]
        self._take_timeline = (np.array([r.onset_s for r in found]),
                               [score.notes[r.index].element_id for r in found])
        self.categories = {r.id: note_category(r) for r in rep.notes}
        # colour by pitch, so a right note stays green; a timing problem is a mark of its own
        colours = {score.notes[r.index].element_id: CATEGORY_COLOURS[pitch_category(r)] for r in rep.notes}
        self.score_view.set_colours(colours)
        self.score_view.set_timing_marks({score.notes[r.index].element_id: timing_mark(r) for r in rep.notes
                                          if timing_mark(r)})
        self.score_view.set_marks({score.notes[i].element_id: CATEGORY_COLOURS["extra"]
                                   for i in extra_after(rep) if i is not None})
        self.problems = problems(rep)
        # roll: notes at their performed times; missed ones between their neighbours, outlined grey
        roll: list[RollNote] = []
        for r in rep.notes:
            on, off = r.onset_s, r.offset_s
            if on is None:
                on, off = self._missed_span(r.index)
                if on is None:
                    continue
            cat = pitch_category(r)
            label = ""
            if r.cents is not None and cat in ("out_of_tune", "wrong_pitch"):
                label = f"{r.cents:+.0f}c"
            if timing_mark(r):
                label = (label + " " if label else "") + f"{r.timing_error_ms:+.0f}ms"
            roll.append(RollNote(r.id, on, off, r.expected_midi, cat, label))
        for i, e in enumerate(rep.extra_notes):
            if e.midi is not None:
                roll.append(RollNote(f"extra:{i}", e.onset_s, e.offset_s, e.midi, "extra"))
        self.roll.set_notes(roll)
        self.roll.set_contour(analysis.contour.times_s, analysis.contour.midi)
        found = [r.onset_s for r in rep.notes if r.onset_s is not None]
        if found:
            self.roll.show_range(max(0.0, min(found) - 1.0), max(r.offset_s or 0 for r in rep.notes) + 1.0)
        self.ratings_box.show_analysis(analysis)
        self.problem_list.clear()
        for i, p in enumerate(self.problems):
            item = QListWidgetItem(p.text)
            pix = QPixmap(12, 12)
            pix.fill(QColor(CATEGORY_COLOURS.get(p.category, "#333333")))
            item.setIcon(QIcon(pix))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.problem_list.addItem(item)
        if not self.problems:
            self.problem_list.addItem("Every note was right, in tune and on time.")
        self._update_enabled()
        self.analysis_shown.emit()

    def _missed_span(self, index: int) -> tuple[float | None, float | None]:
        from musicdesk.describe import found_neighbours

        prev, nxt = found_neighbours(self.analysis.report.notes, index)
        if prev is None or nxt is None:
            return None, None
        return prev.offset_s, max(nxt.onset_s, prev.offset_s + 0.05)

    # ================================================================== selection
    def _problem_clicked(self, item: QListWidgetItem) -> None:
        i = item.data(Qt.ItemDataRole.UserRole)
        if i is None:
            return
        p = self.problems[i]
        if p.note_id is not None:
            self.select_note(p.note_id)
        else:
            self.details.setText(p.text)
            if p.onset_s is not None:
                self.roll.show_range(p.onset_s - 1.0, (p.offset_s or p.onset_s) + 1.0)
                self._play_stretch(p.onset_s, p.offset_s or p.onset_s + 0.5)

    def select_note(self, key: str) -> None:
        """Show a note's details, move the cursor to it, and play that stretch of the take."""
        from musicdesk.describe import (describe_note, extra_name, fmt_beat, note_name, pitch_names_note, played_name,
                                        timing_note)

        if key.startswith("extra:") and self.analysis is not None:
            e = self.analysis.report.extra_notes[int(key.split(":")[1])]
            self.details.setText(f"Extra note {extra_name(e, '')} at {e.onset_s:.2f} s "
                                 "(not in the score)")
            self._play_stretch(e.onset_s, e.offset_s)
            return
        if self.score is None:
            return
        sn = next((n for n in self.score.notes if n.id == key or n.element_id == key), None)
        if sn is None:
            return
        self._set_cursor_note(sn.element_id)
        text = f"Bar {sn.measure}, beat {fmt_beat(sn.beat)}: {sn.name or note_name(sn.midi)}"
        if self.analysis is not None:
            r = self.analysis.report.notes[sn.index]
            d = describe_note(r) or "right, in tune and on time"
            text += f" - {d}"
            if r.played_midi is not None:
                text += f"\nplayed {played_name(r)} ({r.cents:+.0f} cents)"
            if r.onset_s is not None:
                text += f"; {timing_note(r)}"
                self.roll.show_range(r.onset_s - 1.5, r.offset_s + 1.5)
                self.roll.set_cursor(r.onset_s)
                self._play_stretch(r.onset_s, r.offset_s)
            else:
                on, off = self._missed_span(sn.index)
                if on is not None:
                    self.roll.show_range(on - 1.5, off + 1.5)
                    self._play_stretch(on - 0.3, off + 0.3)
        if pitch_names_note(self.score):
            text += f"\n{pitch_names_note(self.score)}"
        self.details.setText(text)

    def _set_cursor_note(self, element_id: str | None) -> None:
        if element_id != self._cursor_id:
            self._cursor_id = element_id
            if element_id is not None:
                self.score_view.set_cursor_note(element_id)

    # ================================================================== recording
    def _device_index(self, want_input: bool = True):
        name = self.settings.input_device if want_input else self.settings.output_device
        if not name:
            return None
        try:
            import sounddevice as sd

            for i, d in enumerate(sd.query_devices()):
                ch = d["max_input_channels"] if want_input else d["max_output_channels"]
                if d["name"] == name and ch > 0:
                    return i
        except Exception:
            return None
        return None

    def _new_take_path(self) -> str:
        import platformdirs

        folder = Path(self.settings.takes_dir or platformdirs.user_data_dir("musicdesk")) / "takes"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        # WAV: every flushed sample is readable after a crash (a FLAC file being written lags by about
        # a second of audio)
        return str(folder / f"take-{stamp}.wav")

    def start_recording(self) -> None:
        from musicdesk.capture import CaptureError, Recorder
        from musicdesk.live_pitch import LivePitch

        if self.score is None or self.recorder is not None:
            return
        if self.warming:
            self.statusBar().showMessage("Preparing the analysis: record in a moment.", 4000)
            return
        self.stop_playback()
        self.cancel_analysis()
        try:
            path = self._new_take_path()
            rec = Recorder(path, device=self._device_index(True), sr=int(self.settings.sample_rate))
            rec.start()
        except CaptureError as exc:
            self.error("Cannot record", str(exc))
            return
        except OSError as exc:
            self.error("Cannot record", f"Cannot create the take file: {exc}. Choose another folder for "
                       "takes in Settings.")
            return
        self.recorder = rec
        self.take = None
        self._clear_results()
        self.live = LivePitch(int(rec.sr) if hasattr(rec, "sr") else int(self.settings.sample_rate))
        beats = int(self.settings.count_in_beats)
        self._count_in_s = 0.0
        if beats > 0:
            from musicdesk import metronome

            self._count_in_s = metronome.count_in_s(self.score.tempo_bpm, beats)
            try:
                clicks = metronome.click_track(self.score.tempo_bpm, beats, 44100,
                                               beats_per_bar=max(2, beats))
                self._click = metronome.play(clicks, 44100, device=self._device_index(False))
            except Exception as exc:  # no output device: record without the audible count-in
                self._click = None
                self.statusBar().showMessage(f"No metronome click ({exc}); start after {beats} beats.", 8000)
        self._show_score_notes(self._count_in_s)
        self.roll.clear_live()
        self.clip_label.setText("")
        self.timer.start()
        self.rec_label.setText("● recording")
        self._update_enabled()

    def _tick(self) -> None:
        """Timer: drain the recorder's ring buffer into the live trace; follow playback."""
        if self.recorder is not None:
            rec = self.recorder
            frames = self.live.push(rec.ring.read_new())
            lat = self.settings.latency_ms / 1000.0
            if len(frames.times_s):
                self.roll.append_live(np.asarray(frames.times_s) - lat, np.asarray(frames.midi))
            t = rec.elapsed_s - lat
            self.roll.follow(t)
            self.roll.set_cursor(t)
            self.level_meter.setValue(int(max(-60.0, min(0.0, rec.level_dbfs))))
            if rec.disk_failed:
                self.clip_label.setText("DISK FULL: the take is kept in memory; stop when you are done")
            elif rec.clipped:
                self.clip_label.setText("CLIPPING: move back or lower the input gain")
            self.rec_label.setText(f"● {rec.elapsed_s:5.1f} s")
            self._cursor_at_score_time(t - self._count_in_s)
            if not rec.is_recording:  # the device vanished: keep what was played and say so
                self.stop_recording()
        elif self.player is not None:
            self._follow_playback()

    def _cursor_at_score_time(self, t_s: float) -> None:
        self._cursor_at(self._score_timeline, t_s)

    def _cursor_at(self, timeline, t_s: float) -> None:
        """Put the score cursor on the last note starting at or before `t_s` in `timeline`
        ((onsets in s, sorted), element ids): one search per frame, the lists made once."""
        if timeline is None or not len(timeline[0]):
            return
        i = int(np.searchsorted(timeline[0], t_s, side="right")) - 1
        if i >= 0:
            self._set_cursor_note(timeline[1][i])

    def stop(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
        else:
            self.stop_playback()

    def stop_recording(self) -> None:
        """Stop the take; keep it whatever happened (device lost, disk full), then analyse it."""
        from musicdesk.audio import take_from_samples

        rec = self.recorder
        if rec is None:
            return
        self.timer.stop()
        _stop_quietly(self._click)
        self._click = None
        result = rec.stop()
        self.recorder = None
        self.rec_label.setText("")
        samples = rec.samples()
        self.recording = (samples, int(result.sr))
        if result.error:
            text = result.error
            if rec.disk_failed and result.recovered_path is None:
                text += "\nUse File > Save take as… to save it somewhere with free space."
            self.error("Recording stopped", text)
        self._update_enabled()
        if len(samples) < int(0.5 * result.sr):
            self.statusBar().showMessage("The take is too short to analyse; record again.", 8000)
            return
        path = result.recovered_path or (result.path if not rec.disk_failed else "")
        task = workers.Task(take_from_samples, samples, int(result.sr), path, user_errors=_user_errors())
        self._run(task, self.set_take, "Cannot analyse the take")

    def save_take_dialog(self) -> None:
        """Save the last take (as recorded, at its own rate) to a WAV or FLAC file the user chooses."""
        if self.recording is None and self.take is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save take as", "take.flac", "FLAC (*.flac);;WAV (*.wav)")
        if path:
            self.save_take(path)

    def save_take(self, path: str) -> bool:
        from musicdesk.audio import AudioError, Take, save_take

        samples, sr = self.recording if self.recording is not None else (self.take.samples, self.take.sr)
        try:
            save_take(Take(np.asarray(samples, dtype=np.float32), int(sr), path), path)
        except AudioError as exc:
            self.error("Cannot save the take", f"{exc}. Choose another folder.")
            return False
        self.statusBar().showMessage(f"Take saved to {path}", 8000)
        return True

    # ================================================================== playback
    def _speed(self) -> float:
        return float(self.speed_combo.currentData() or 1.0)

    def _reference(self, speed: float):
        from musicdesk.playback import render_reference

        key = (self.score.part, self.score.tempo_bpm, speed)
        if key not in self._reference_cache:
            self._reference_cache[key] = render_reference(self.score, sr=44100, tempo_factor=speed)
        return self._reference_cache[key]

    def _prepare_playback(self, kind: str, speed: float):
        """Samples, rate and (start, end) to play (runs in a worker: rendering and stretching take time)."""
        from musicdesk.playback import measure_span_s, mix, slowed, take_span_s

        m1, m2 = sorted((self.loop_from.value(), self.loop_to.value()))
        span = None
        if kind == "reference":
            audio = self._reference(speed)
            if self.loop_check.isChecked():
                a, b = measure_span_s(self.score, m1, m2)
                span = (a / speed, b / speed)
        else:
            base = self.take if kind == "take" else mix(self.take, self._reference(1.0), self.analysis.alignment,
                                                        self.score)
            audio = slowed(base, speed) if speed != 1.0 else base
            if self.loop_check.isChecked() and self.analysis is not None:
                a, b = take_span_s(self.analysis.report, self.score, m1, m2)
                span = (a / speed, b / speed)
        return audio, span

    def play(self, kind: str) -> None:
        if self.recorder is not None or self.score is None:
            return
        if kind != "reference" and self.take is None:
            return
        speed = self._speed()
        self.stop_playback()
        task = workers.Task(self._prepare_playback, kind, speed, user_errors=_user_errors())
        self._run(task, lambda res: self._start_player(res[0], res[1], kind, speed), "Cannot play")

    def _start_player(self, audio, span, kind: str, speed: float) -> None:
        from musicdesk.playback import Player

        try:
            self.player = Player()
            start, end = span if span else (0.0, None)
            self.player.play(np.asarray(audio.samples, dtype=np.float32), audio.sr, start_s=start, end_s=end,
                             loop=bool(span) and self.loop_check.isChecked(), device=self._device_index(False))
        except Exception as exc:
            self.player = None
            self.playback_failed(exc)
            return
        self._play_map = (kind, speed)
        self.timer.start()
        self._update_enabled()

    def _play_stretch(self, start_s: float, end_s: float) -> None:
        """Play a short stretch of the take (clicking a note or a problem)."""
        if self.take is None or self.recorder is not None:
            return
        self.stop_playback()
        pad = 0.25
        self._start_player(self.take, (max(0.0, start_s - pad), end_s + pad), "take", 1.0)

    def stop_playback(self) -> None:
        _stop_quietly(self.player)
        self.player = None
        self._play_map = None
        if self.recorder is None:
            self.timer.stop()
        self._update_enabled()

    def _follow_playback(self) -> None:
        p = self.player
        if p is None:
            return
        if not p.is_playing:
            self.stop_playback()
            return
        kind, speed = self._play_map or ("take", 1.0)
        t = p.position_s * speed
        if kind == "reference":
            self._cursor_at_score_time(t)
        else:
            self.roll.set_cursor(t)
            self._cursor_at(self._take_timeline, t)

    # ================================================================== settings
    def practice_part(self):
        """(path, part index) of the score on show, for the melody lab; None without one."""
        if self.loaded is None:
            return None
        return self.loaded.path, max(0, self.part_combo.currentIndex())

    def open_melody_lab(self) -> None:
        """The melody lab window (its model loads once), with the practice score's part in it."""
        from musicdesk.app.melody_panel import MelodyLabWindow
        from musicdesk.assess.weights import ModelError

        if self.melody_lab is None:
            try:
                self.melody_lab = MelodyLabWindow(practice_score=self.practice_part)
            except ModelError as exc:
                self.error("Cannot open the melody lab", str(exc))
                return
            if self.loaded is not None:
                self.melody_lab.use_practice_score()
        self.melody_lab.show()
        self.melody_lab.raise_()

    def open_settings(self) -> None:
        from musicdesk.app.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.settings, self)
        if dlg.exec():
            self.settings = dlg.result_settings()
            save_settings(self.settings, self.settings_org)
            if self.take is not None and self.score is not None:
                self.analyse()

    # ================================================================== closing
    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if self.recorder is not None:
            self.stop_recording()
        self.stop_playback()
        for t in list(self._tasks):
            t.cancel()
        if self.melody_lab is not None:
            self.melody_lab.close()
        save_settings(self.settings, self.settings_org)
        # let cancelled work stop before the window (and the signals it would report to) goes away
        QThreadPool.globalInstance().waitForDone(5000)
        super().closeEvent(ev)
