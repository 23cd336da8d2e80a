"""The main window: assembles the panels (score navigation, takes and recording, results and problems,
playback and transport) around the engraved score and the piano roll, and builds the menus and the
toolbar from their actions.

Each panel owns its widgets and actions in its own module and shares the score, the take and its
analysis through a `Session` (musicdesk.app.session). Everything that computes music runs in the core
(musicdesk.*) inside background `Task`s. The attributes below that forward to the panels keep the
window's long-standing API (tests, the screenshot script, the benchmarks).
"""
from __future__ import annotations

import dataclasses
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QToolBar, QVBoxLayout, QWidget

from musicdesk.app import bundles, workers
from musicdesk.app.help import add_help_menu
from musicdesk.app.history_docks import HistoryDocks
from musicdesk.app.history_keeper import HistoryKeeper
from musicdesk.app.deferred import Deferred
from musicdesk.app.problems_panel import ResultsPanel
from musicdesk.app.score_nav import ScoreNavigator
from musicdesk.app.session import FRAME_MS, Loaded, Session, make_action  # noqa: F401 - FRAME_MS, Loaded: public here too
from musicdesk.app.settings import AppSettings, load_settings, save_settings
from musicdesk.app.takes import TakeController
from musicdesk.app.transport import Transport

SCORE_EXT = {".musicxml", ".xml", ".mxl", ".mid", ".midi", ".abc"}
AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
EXAMPLE_NAMES = {"default_example_melody.musicxml": "Zwei Koenigskinder (melody)",
                 "example_tune.abc": "Tune with repeats (ABC)", "example_tune.mid": "Tune with repeats (MIDI)",
                 "example_transposing.musicxml": "Clarinet and alto sax (transposing)"}
EXAMPLE_TAKE_NAME = "Zwei Koenigskinder with a take (see results without a microphone)"

_WARMED = False  # the analysis code was loaded in this process (see MainWindow._warm_up)
_ROLL_MODULE = threading.Event()   # the piano roll's module (pyqtgraph) is imported
_ROLL_LOADING = False              # a warm-up worker was started to import it (see _prepare_in_background)


def _prepare_in_background(progress=None) -> None:
    """The warm-up worker: import the piano roll's module (pyqtgraph, 0.3-0.6 s), say so (the window
    then makes the roll), then load the compiled analysis code. One thread does both: pyqtgraph and
    numba import the same packages, and two threads importing them at once can fail in Python 3.11."""
    from musicdesk.analysis import warm_up

    try:
        import musicdesk.app.piano_roll  # noqa: F401
    finally:
        _ROLL_MODULE.set()
    if progress is not None:
        progress("roll", 0.0)
    warm_up(None)


def _on(obj: str, name: str, doc: str = "") -> property:
    """An attribute of the window that lives on one of its parts (the session or a panel)."""
    return property(lambda self: getattr(getattr(self, obj), name),
                    lambda self, v: setattr(getattr(self, obj), name, v), doc=doc)


class MainWindow(QMainWindow):
    """The practice window."""

    analysis_shown = Signal()      # results drawn (tests and --screenshot wait for it)
    score_shown = Signal()

    # the shared state, on the session
    settings = _on("session", "settings")
    loaded = _on("session", "loaded")
    score = _on("session", "score")
    take = _on("session", "take")
    take_path = _on("session", "take_path")
    recording = _on("session", "recording", "(samples, sr) of the last take recorded here")
    analysis = _on("session", "analysis")
    recorder = _on("session", "recorder")
    player = _on("session", "player")
    warming = _on("session", "warming", "loading the compiled analysis code (record waits)")
    last_error = _on("session", "last_error")
    # the panels' own state
    categories = _on("results", "categories", "note id -> outcome category (after analysis)")
    problems = _on("results", "problems")
    _analysis_task = _on("results", "task")
    live = _on("takes", "live")
    _cursor_id = _on("nav", "cursor_id")
    history_panel = _on("docks", "history_panel", "View > History, made on first use")

    def __init__(self, settings: AppSettings | None = None, settings_org: str | None = None):
        super().__init__()
        from musicdesk.app.score_view import ScoreView

        self.setWindowTitle("musicdesk")
        self.resize(1280, 860)
        self.setAcceptDrops(True)
        self.session = s = Session(self, settings or load_settings(settings_org), settings_org)
        self.settings_org = settings_org
        self.melody_lab = None                     # the melody lab's window, made on first use
        self.help_dialog = None                    # the Help page on show
        self.tuner = None                          # Tools > Tuner, made on first use
        self.stems_window = None                   # Tools > Stems, made on first use

        # ---- the shared views: score over piano roll, and the panels around them
        self.score_view = ScoreView()
        self.roll = Deferred(self._make_roll)       # pyqtgraph loads once the window is on screen
        self.nav = ScoreNavigator(s, self.score_view, self.roll)
        self.results = ResultsPanel(s, self.score_view, self.roll)
        self.transport = Transport(s, self.nav, self.roll)
        self.takes = TakeController(s, self.nav, self.results, self.transport, self.roll)
        self.score_view.note_clicked.connect(self.results.select_note)
        self.nav.score_changed.connect(self.results.clear)
        self.nav.shown.connect(self._fill_recent)
        self.nav.shown.connect(self.score_shown)
        self.results.shown.connect(self.analysis_shown)
        self.history = HistoryKeeper(s, self.results)            # every take shown goes into the history
        self.docks = HistoryDocks(s, self, self.nav, self.takes, self.results, self.history)
        self.results.play_stretch.connect(self.transport.play_stretch)
        self.results.cursor_note.connect(self.nav.set_cursor_note)
        s.changed.connect(self._update_own)

        top = QWidget()
        lay = QVBoxLayout(top)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.nav.notice)
        lay.addWidget(self.score_view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.roll.placeholder)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([480, 360])  # the score first: two lines of music at the fitted width
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(split)
        main.addWidget(self.results)
        main.setStretchFactor(0, 4)
        main.setStretchFactor(1, 1)
        self.setCentralWidget(main)
        self._alias_widgets()
        self._build_actions()
        self._build_status()
        s.update()
        self._warm_up()

    def _make_roll(self):
        if _ROLL_LOADING and not _ROLL_MODULE.is_set():
            _ROLL_MODULE.wait(60)          # a warm-up worker (any window's) is importing it: never two at once
        from musicdesk.app import piano_roll

        roll = piano_roll.PianoRoll()
        roll.note_clicked.connect(self.results.select_note)
        return roll

    def _alias_widgets(self) -> None:
        """The panels' widgets and actions under the names the window always had."""
        n, r, t, k = self.nav, self.results, self.transport, self.takes
        self.part_combo, self.tempo_spin = n.part_combo, n.tempo_spin
        self.loop_from, self.loop_to, self.loop_check = n.loop_from, n.loop_to, n.loop_check
        self.act_open = n.act_open
        self.ratings_box, self.problem_list, self.details = r.ratings_box, r.problem_list, r.details
        self.rating_bars, self.network_bars = r.ratings_box.rating_bars, r.ratings_box.network_bars
        self.network_label, self.summary_label = r.ratings_box.network_label, r.ratings_box.summary_label
        self.progress, self.cancel_button, self.act_cancel = r.progress, r.cancel_button, r.act_cancel
        self.act_play_take, self.act_play_ref, self.act_play_both = t.act_play_take, t.act_play_ref, t.act_play_both
        self.speed_combo = t.speed_combo
        self.act_record, self.act_open_take, self.act_save_take = k.act_record, k.act_open_take, k.act_save_take
        self.level_meter, self.clip_label, self.rec_label = k.level_meter, k.clip_label, k.rec_label
        # what the window does, done by its panels
        self.open_score, self.open_score_dialog = n.open_score, n.open_score_dialog
        self.practice_part = n.practice_part
        self.show_analysis, self.select_note, self.cancel_analysis = r.show_analysis, r.select_note, r.cancel_analysis
        self.analyse, self._problem_clicked = r.analyse, r.problem_clicked
        self.play, self.stop_playback = t.play, t.stop_playback
        self.open_take, self.set_take, self.save_take = k.open_take, k.set_take, k.save_take
        self.start_recording, self.stop_recording = k.start_recording, k.stop_recording
        self.error, self.playback_failed = self.session.error, self.session.playback_failed
        self.open_history, self.act_history = self.docks.open_history, self.docks.act_history

    def _warm_up(self) -> None:
        """Once per session, load the compiled analysis code in a worker while the user looks at the
        score, so that the first take's analysis neither waits for it nor stalls the window. The network
        loads in a child process (musicdesk.assess.preload): torch never loads here, and its import
        (about 1.5 s) holds no lock that the recorder's callback waits for."""
        global _WARMED, _ROLL_LOADING
        s = self.session
        if _WARMED:
            if "musicdesk.app.piano_roll" in sys.modules:
                QTimer.singleShot(0, self.roll.get)
            return
        _WARMED = True
        s.warming = True
        s.status("Preparing the analysis…")

        def done(_result=None) -> None:
            s.warming = False
            s.update()

        st = s.settings
        if st.assess_model not in ("", "none"):
            from musicdesk.assess.predict import start_loading

            start_loading(st.assess_model, st.assess_device)
        task = workers.Task(_prepare_in_background)
        _ROLL_LOADING = True
        task.signals.progress.connect(s.alive(lambda *_: self.roll.get()))
        task.signals.failed.connect(s.alive(lambda _m: done()))
        s.run(task, done, "Cannot prepare the analysis")
        s.update()

    # ================================================================== building
    def _build_actions(self) -> None:
        w = self
        self.act_stop = make_action(w, "■ Stop", self.stop, "Space", "Stop recording or playback")
        self.act_settings = make_action(w, "Settings…", self.open_settings, "Ctrl+,")
        self.act_melody_lab = make_action(
            w, "Melody lab…", self.open_melody_lab, "Ctrl+M",
            "Vary and inpaint the measures of a melody (the practice score's part to begin with)")
        self.act_tuner = make_action(w, "Tuner…", self.open_tuner, "Ctrl+U",
                                     "Tune against the reference pitch, or play against a drone")
        self.act_stems = make_action(w, "Stems…", self.open_stems, "Ctrl+E",
                                     "Separate an ensemble recording into its parts: listen, mute, play along")
        n, t, k, d = self.nav, self.transport, self.takes, self.docks
        take_actions = [k.act_record, self.act_stop, *t.actions, self.act_cancel]
        for a in (n.act_open, k.act_open_take, k.act_save_take, *take_actions, self.act_settings,
                  self.act_tuner, self.act_melody_lab, self.act_stems, d.act_import, *d.view_actions, *n.view_actions):
            self.addAction(a)

        mb = self.menuBar()
        fm = mb.addMenu("&File")
        fm.addAction(n.act_open)
        self.examples_menu = fm.addMenu("Examples")
        self._fill_examples()
        self.recent_menu = fm.addMenu("Recent")
        self._fill_recent()
        fm.addAction(k.act_open_take)
        fm.addAction(k.act_save_take)
        fm.addAction(d.act_import)
        fm.addSeparator()
        fm.addAction(self.act_settings)
        quit_a = QAction("Quit", self)
        quit_a.setShortcut(QKeySequence.StandardKey.Quit)
        quit_a.triggered.connect(self.close)
        fm.addAction(quit_a)
        vm = mb.addMenu("&View")
        for a in n.view_actions:
            vm.addAction(a)
        vm.addSeparator()
        for a in d.view_actions:
            vm.addAction(a)
        tm = mb.addMenu("&Take")
        for a in take_actions:
            tm.addAction(a)
        tm.addSeparator()
        tm.addActions([k.minus_one.act_from_score, k.minus_one.act_off])
        tools = mb.addMenu("T&ools")
        tools.addAction(self.act_tuner)
        tools.addAction(self.act_melody_lab)
        tools.addAction(self.act_stems)
        self.help_actions = add_help_menu(mb.addMenu("&Help"), self, self.actions)

        tb = QToolBar("Main")
        tb.setIconSize(QSize(18, 18))
        tb.setMovable(False)
        self.addToolBar(tb)
        self.toolbar = tb
        tb.addAction(n.act_open)
        tb.addSeparator()
        tb.addWidget(QLabel(" Part "))
        tb.addWidget(n.part_combo)
        tb.addWidget(QLabel(" Tempo "))
        tb.addWidget(n.tempo_spin)
        tb.addSeparator()
        tb.addAction(k.act_record)
        tb.addAction(self.act_stop)
        k.loop.pass_action = tb.addWidget(k.loop.pass_combo)    # shown after a loop recording
        k.loop.pass_action.setVisible(k.loop.pass_combo.count() > 0)
        tb.addSeparator()
        for a in t.actions:
            tb.addAction(a)
        tb.addWidget(QLabel(" Bars "))
        tb.addWidget(n.loop_from)
        tb.addWidget(QLabel("–"))
        tb.addWidget(n.loop_to)
        tb.addWidget(n.loop_check)
        tb.addWidget(QLabel(" Speed "))
        tb.addWidget(t.speed_combo)
        tb.addSeparator()
        tb.addAction(k.act_open_take)

    def _build_status(self) -> None:
        sb = self.statusBar()
        for wdg in (self.takes.rec_label, self.results.progress, self.results.cancel_button, self.takes.clip_label,
                    self.takes.level_meter):
            sb.addPermanentWidget(wdg)

    def _example_scores(self) -> list[tuple[str, str]]:
        from musicdesk.score import example_score_path

        folder = Path(example_score_path()).parent
        return [(EXAMPLE_NAMES.get(p.name, p.name), str(p)) for p in sorted(folder.iterdir())
                if p.suffix.lower() in SCORE_EXT]

    def _fill_examples(self) -> None:
        """File > Examples: the bundled scores, and first the example score with its take, so that a new
        user without a microphone sees results."""
        from musicdesk.resources import example_take_path
        from musicdesk.score import example_score_path

        try:
            take = example_take_path()
        except FileNotFoundError:
            take = None
        if take:
            a = QAction(EXAMPLE_TAKE_NAME, self)
            a.triggered.connect(lambda: self.open_score(example_score_path(), take=take))
            self.examples_menu.addAction(a)
            self.act_example_take = a
            self.examples_menu.addSeparator()
        for name, path in self._example_scores():
            a = QAction(name, self)
            a.triggered.connect(lambda _=False, p=path: self.open_score(p))
            self.examples_menu.addAction(a)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_files:
            a = QAction(p, self)
            a.triggered.connect(lambda _=False, path=p: self.open_score(path))
            self.recent_menu.addAction(a)
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _update_enabled(self) -> None:
        self.session.update()

    def _update_own(self) -> None:
        self.act_stop.setEnabled(self.session.is_recording or self.session.player is not None)

    # ================================================================== window-wide actions
    def stop(self) -> None:
        """Stop recording, or else playback (Space)."""
        if self.session.is_recording:
            self.takes.stop_recording()
        else:
            self.transport.stop_playback()

    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        for url in ev.mimeData().urls():
            path = url.toLocalFile()
            ext = Path(path).suffix.lower()
            if ext in SCORE_EXT:
                self.open_score(path)
            elif bundles.is_bundle(path):
                self.docks.import_files([path])
            elif ext in AUDIO_EXT:
                if self.score is None:
                    self.error("Open a score first", "Open the score of this take first, then drop the audio.")
                else:
                    self.open_take(path)
            else:
                self.error("Unsupported file", f"{os.path.basename(path)}: musicdesk opens scores "
                           "(MusicXML, MXL, MIDI, ABC), takes (WAV, FLAC, OGG, MP3) and bundles (ZIP).")

    def open_tuner(self) -> None:
        """The tuner and drone (musicdesk.app.tuner_panel), non-modal beside the window."""
        from musicdesk.app.tuner_panel import TunerPanel

        if self.tuner is None:
            self.tuner = TunerPanel(self.session, self)
        self.tuner.show()
        self.tuner.raise_()

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

    def open_stems(self) -> None:
        """The stem player (musicdesk.app.stems_panel), with the practice score and take to begin with."""
        from musicdesk.app import stems_panel

        stems_panel.show_for(self)

    def open_settings(self) -> None:
        from musicdesk.app.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.settings, self)
        if dlg.exec():
            self.apply_settings(dlg.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        """Keep `new` and show the take (or the score) under it: judged again when anything but the
        note names changed, else only named again."""
        renamed_only = dataclasses.replace(self.settings, concert_pitch=new.concert_pitch) == new
        self.settings = new
        save_settings(new, self.settings_org)
        if self.score is not None:
            self.roll.written_shift = 0 if new.concert_pitch else self.score.transposition_semitones
        if self.take is not None and self.score is not None:
            if renamed_only and self.analysis is not None:
                self.results.show_analysis(self.analysis)
            else:
                self.analyse()
        elif self.score is not None:
            self.nav.show_score_notes()
        self.session.update()

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if self.session.is_recording:
            self.takes.stop_recording()
        self.transport.stop_playback()
        self.session.close()
        for other in (self.melody_lab, self.tuner, self.stems_window):
            if other is not None:
                other.close()
        save_settings(self.settings, self.settings_org)
        # let cancelled work stop before the window (and the signals it would report to) goes away
        QThreadPool.globalInstance().waitForDone(5000)
        super().closeEvent(ev)
