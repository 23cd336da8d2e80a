"""The melody lab: a melody as a piano roll, measures to select, one slider per attribute, presets,
inpainting with candidates, undo/redo, listening, import and export. A thin face over
musicdesk.melody: every note it shows comes from there.

Sliders show the selected measure's attribute. Pressing one asks the decoder worker (one thread, only
the latest request is served) for the selected measures decoded with that attribute's latent dimension
moved across its range (MelodyLab.candidates, about 0.1 s); while dragging, each position picks the
candidate nearest its value (MelodyLab.choose, well under a millisecond), the roll and the readouts
follow at once, and releasing the slider makes it one undo step.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QMainWindow, QMessageBox, QPushButton, QSlider, QSpinBox,
                               QTabWidget, QVBoxLayout, QWidget)

from musicdesk.app import workers
from musicdesk.describe import note_name

SLIDER_STEPS = 1000
ATTRIBUTE_LABELS = {"rhythmic_complexity": "Rhythmic complexity", "pitch_range_semitones": "Pitch range (semitones)",
                    "note_density": "Note density (per beat)", "contour_semitones": "Contour (semitones/step)",
                    "interval_semitones": "Interval size (semitones)", "syncopation": "Syncopation"}


@dataclass(frozen=True)
class State:
    """What one undo step restores: the melody and the latent code of every measure."""

    melody: object              # musicdesk.melody.tokens.Melody
    z: np.ndarray               # (n_measures, latent)


class History:
    """Undo/redo over States."""

    def __init__(self, first: State):
        self._past: list[State] = [first]
        self._future: list[State] = []

    @property
    def now(self) -> State:
        return self._past[-1]

    def push(self, s: State) -> None:
        self._past.append(s)
        self._future.clear()

    def undo(self) -> State | None:
        if len(self._past) < 2:
            return None
        self._future.append(self._past.pop())
        return self.now

    def redo(self) -> State | None:
        if not self._future:
            return None
        self._past.append(self._future.pop())
        return self.now

    @property
    def can_undo(self) -> bool:
        return len(self._past) > 1

    @property
    def can_redo(self) -> bool:
        return bool(self._future)


class Decoder(QObject):
    """One worker thread that builds a slider's decoded candidates (MelodyLab.candidates) for the
    selected measures; only the latest request is served, older ones are dropped."""

    decoded = Signal(int, object)     # request id, musicdesk.melody.lab.Candidates

    def __init__(self, lab):
        super().__init__()
        self.lab = lab
        self._lock = threading.Lock()
        self._pending = None
        self._wake = threading.Event()
        self._stop = False
        self.thread = QThread()
        self.moveToThread(self.thread)
        self.thread.started.connect(self._loop)
        self.thread.start()

    def request(self, rid: int, z: np.ndarray, rows: np.ndarray, measure_beats: float, attribute: str,
                allowed: frozenset | None = None) -> None:
        with self._lock:
            self._pending = (rid, z.copy(), rows.copy(), measure_beats, attribute, allowed)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(0.2)
            self._wake.clear()
            with self._lock:
                job, self._pending = self._pending, None
            if job is not None:
                rid, z, rows, beats, a, allowed = job
                self.decoded.emit(rid, self.lab.candidates(z, rows, beats, a, allowed=allowed))

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self.thread.quit()
        self.thread.wait(2000)


class MelodyPanel(QWidget):
    """The melody lab's panel. `lab`: a loaded musicdesk.melody.lab.MelodyLab (tests pass their own)."""

    changed = Signal()                # the melody on show changed (a decode arrived, undo, import, ...)
    engraved = Signal()               # its notation is drawn

    def __init__(self, lab=None, parent=None):
        super().__init__(parent)
        from musicdesk.melody.lab import MelodyLab

        self.lab = lab or MelodyLab()
        self.decoder = Decoder(self.lab)
        self.decoder.decoded.connect(self._on_decoded)
        self.history: History | None = None
        self.selection: list[int] = []
        self._drag: dict | None = None      # the slider being dragged: attribute, base z, request id
        self._rid = 0
        self._candidates: list = []
        self._tasks: list[workers.Task] = []
        self.player = None
        self.notation = None                # musicdesk.melody.notation.Notation of the melody on show
        self._engraved_for = None           # the melody it (or the engraving under way) is of
        self._follow_timer = None
        self._build()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        lay = QHBoxLayout(self)
        left = QVBoxLayout()
        self.title = QLabel("No melody: open one (MusicXML, MIDI or ABC).")
        left.addWidget(self.title)
        self.roll = pg.PlotWidget(background="w")
        self.roll.setMinimumHeight(260)
        self.roll.getPlotItem().setLabel("bottom", "bar")
        self.roll.getPlotItem().setLabel("left", "pitch")
        self.roll.getPlotItem().setMenuEnabled(False)
        self.roll.scene().sigMouseClicked.connect(self._roll_clicked)
        self._bars = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush="#5b7a99")
        self._sel_bars = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush="#e4572e")
        self._shade = pg.LinearRegionItem(values=(0, 0), movable=False, brush=pg.mkBrush(255, 200, 80, 60))
        self._shade.setVisible(False)
        for it in (self._shade, self._bars, self._sel_bars):
            self.roll.addItem(it)
        self._lines: list = []
        self._playhead = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#d62728", width=2))
        self._playhead.setVisible(False)
        self.roll.addItem(self._playhead)
        from musicdesk.app.score_view import ScoreView

        self.score_view = ScoreView()                  # the melody engraved, as on the practice screen
        self.score_view.note_clicked.connect(self._notation_clicked)
        self.views = QTabWidget()
        self.views.addTab(self.score_view, "Notation")
        self.views.addTab(self.roll, "Piano roll")
        left.addWidget(self.views, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Bars"))
        self.sel_from, self.sel_to = QSpinBox(), QSpinBox()
        for w in (self.sel_from, self.sel_to):
            w.setRange(1, 1)
            w.valueChanged.connect(self._spin_selection)
            row.addWidget(w)
        self.play_btn = QPushButton("Listen")
        self.play_btn.clicked.connect(self.listen)
        row.addWidget(self.play_btn)
        self.names_check = QCheckBox("Note names")
        self.names_check.setToolTip("Write each note's name under it, spelled in the melody's key")
        self.names_check.toggled.connect(lambda _on: self._engrave())
        row.addWidget(self.names_check)
        row.addStretch(1)
        left.addLayout(row)
        lay.addLayout(left, 3)

        right = QVBoxLayout()
        box = QGroupBox("Attributes of the selected measures")
        form = QFormLayout(box)
        self.sliders: dict[str, QSlider] = {}
        self.readouts: dict[str, QLabel] = {}
        for a in self.lab.attributes:
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(0, SLIDER_STEPS)
            s.setMinimumWidth(200)
            s.setTracking(True)
            s.sliderPressed.connect(lambda a=a: self._drag_start(a))
            s.valueChanged.connect(lambda v, a=a: self._slider_moved(a, v))
            s.sliderReleased.connect(lambda a=a: self._drag_end(a))
            r = QLabel("-")
            r.setMinimumWidth(60)
            h = QHBoxLayout()
            h.addWidget(s, 1)
            h.addWidget(r)
            form.addRow(ATTRIBUTE_LABELS.get(a, a), h)
            self.sliders[a], self.readouts[a] = s, r
        self.chromatic = QCheckBox("Chromatic: allow notes outside the key")
        self.chromatic.setToolTip("Off: varied measures keep to the melody's key and the notes it already uses")
        self.key_label = QLabel("")
        form.addRow(self.key_label, self.chromatic)
        right.addWidget(box)
        self.preset_box = QGroupBox("Presets (tune type)")
        self.preset_lay = QHBoxLayout(self.preset_box)
        right.addWidget(self.preset_box)
        ibox = QGroupBox("Inpaint")
        il = QVBoxLayout(ibox)
        self.inpaint_btn = QPushButton("Inpaint selected")
        self.inpaint_btn.clicked.connect(self.inpaint)
        il.addWidget(self.inpaint_btn)
        self.cand_list = QListWidget()
        self.cand_list.setWordWrap(True)
        self.cand_list.itemClicked.connect(self._candidate_chosen)
        il.addWidget(self.cand_list)
        right.addWidget(ibox, 1)
        lay.addLayout(right, 2)
        self._fill_presets()
        self._update_enabled()

    def _fill_presets(self) -> None:
        mix = self.lab.info.get("presets")
        self.preset_buttons: dict[str, QPushButton] = {}
        if not mix:
            self.preset_lay.addWidget(QLabel("none in these weights"))
            return
        for i, name in enumerate(mix["names"]):
            b = QPushButton(name.capitalize())
            b.clicked.connect(lambda _=False, i=i: self.apply_preset(i))
            self.preset_lay.addWidget(b)
            self.preset_buttons[name] = b

    # ------------------------------------------------------------------ the melody
    @property
    def melody(self):
        return self.history.now.melody if self.history else None

    def set_melody(self, melody) -> None:
        """Show `melody` (a musicdesk.melody.tokens.Melody) as a new document (undo starts here)."""
        from musicdesk.melody.tokens import encode

        z = self.lab.encode(encode(melody))
        self.history = History(State(melody, z))
        n = melody.n_measures
        for w in (self.sel_from, self.sel_to):        # the score's bar numbers: a pickup is bar 0
            w.blockSignals(True)
            w.setRange(melody.bar_number(0), melody.bar_number(n - 1))
            w.blockSignals(False)
        bars = f"bars {melody.bar_number(0)}-{melody.bar_number(n - 1)}" + (" (bar 0: the pickup)" if melody.pickup else "")
        self.title.setText(f"{melody.title or 'melody'}: {bars} in {melody.time_signature}"
                           + "".join(f" ({w})" for w in melody.warnings))
        self.cand_list.clear()
        self.select([0])

    def open_file(self, path: str, part=None) -> bool:
        from musicdesk.melody.io import load_melody
        from musicdesk.melody.tokens import MelodyError

        try:
            self.set_melody(load_melody(path, part))
        except MelodyError as exc:
            QMessageBox.warning(self, "Cannot open the melody", str(exc))
            return False
        return True

    def export_file(self, path: str) -> bool:
        from musicdesk.melody.io import save_melody
        from musicdesk.melody.tokens import MelodyError

        try:
            save_melody(self.melody, path)
        except (MelodyError, OSError) as exc:
            QMessageBox.warning(self, "Cannot export", f"{exc}")
            return False
        return True

    def _commit(self, melody, z: np.ndarray) -> None:
        self.history.push(State(melody, z))
        self._redraw()

    def undo(self) -> None:
        if self.history and self.history.undo():
            self._redraw()

    def redo(self) -> None:
        if self.history and self.history.redo():
            self._redraw()

    # ------------------------------------------------------------------ selection
    def select(self, measures: list[int]) -> None:
        self.selection = sorted(set(measures))
        mel = self.melody
        num = mel.bar_number if mel is not None else (lambda i: i + 1)
        for w, v in ((self.sel_from, num(self.selection[0])), (self.sel_to, num(self.selection[-1]))):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self._redraw()

    def _spin_selection(self, _v: int) -> None:
        a, b = sorted((self.sel_from.value(), self.sel_to.value()))
        self.select([self.melody.measure_of_bar(x) for x in range(a, b + 1)])

    def _roll_clicked(self, ev) -> None:
        if self.melody is None:
            return
        pt = self.roll.getPlotItem().vb.mapSceneToView(ev.scenePos())
        m = int(np.clip(np.floor(pt.x()), 0, self.melody.n_measures - 1))
        if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier and self.selection:
            a = min(self.selection[0], m)
            b = max(self.selection[-1], m)
            self.select(list(range(a, b + 1)))
        else:
            self.select([m])

    # ------------------------------------------------------------------ drawing
    def _redraw(self, preview=None) -> None:
        """Draw the melody (or a preview melody while a slider is dragged) and the readouts."""
        from musicdesk.melody.lab import melody_attributes

        mel = preview if preview is not None else self.melody
        if mel is None:
            return
        if preview is None:
            from musicdesk.melody.keys import key_of

            self.key_label.setText(f"Key: {key_of(mel).name}")
            if mel is not self._engraved_for:
                self._engrave()
            elif self.selection:
                self.score_view.set_loop_measures(mel.bar_number(self.selection[0]), mel.bar_number(self.selection[-1]))
        bar = mel.measure_beats
        x0 = np.array([n.onset_beats / bar for n in mel.notes])
        w = np.array([n.duration_beats / bar for n in mel.notes])
        y = np.array([n.midi - 0.4 for n in mel.notes], dtype=float)
        sel = np.array([int(np.floor(n.onset_beats / bar + 1e-9)) in self.selection for n in mel.notes], bool)
        self._bars.setOpts(x0=x0[~sel], width=w[~sel], y0=y[~sel], height=np.full((~sel).sum(), 0.8))
        self._sel_bars.setOpts(x0=x0[sel], width=w[sel], y0=y[sel], height=np.full(sel.sum(), 0.8))
        for ln in self._lines:
            self.roll.removeItem(ln)
        self._lines = [pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen("#bbbbbb")) for i in range(mel.n_measures + 1)]
        for ln in self._lines:
            self.roll.addItem(ln)
        self.roll.getAxis("bottom").setTicks([[(i + 0.5, str(mel.bar_number(i))) for i in range(mel.n_measures)]])
        if mel.notes:
            lo, hi = min(n.midi for n in mel.notes) - 2, max(n.midi for n in mel.notes) + 2
            self.roll.getAxis("left").setTicks([[(p, note_name(p)) for p in range(lo, hi + 1) if p % 12 in (0, 4, 7)],
                                                 [(p, "") for p in range(lo, hi + 1)]])
        if self.selection:
            self._shade.setRegion((self.selection[0], self.selection[-1] + 1))
            self._shade.setVisible(True)
        attrs = melody_attributes(mel)
        for a, s in self.sliders.items():
            vals = [attrs[m][a] for m in self.selection if m < len(attrs)]
            v = float(np.mean(vals)) if vals else 0.0
            self.readouts[a].setText(f"{v:.2f}")
            if self._drag is None or self._drag["attribute"] != a:
                s.blockSignals(True)
                s.setValue(self._to_slider(a, v))
                s.blockSignals(False)
        self._update_enabled()
        self.changed.emit()

    def _to_slider(self, a: str, value: float) -> int:
        lo, hi = self.lab.value_range(a)
        return int(round(SLIDER_STEPS * (value - lo) / (hi - lo))) if hi > lo else 0

    def allowed_pitch_classes(self) -> frozenset | None:
        """The pitch classes varied measures may use (the melody's key and its own notes); None when
        Chromatic is on."""
        from musicdesk.melody.keys import allowed_pitch_classes

        if self.melody is None or self.chromatic.isChecked():
            return None
        return allowed_pitch_classes(self.melody)

    def slider_value(self, a: str, position: int) -> float:
        """The attribute value (its units) at a slider position."""
        lo, hi = self.lab.value_range(a)
        return lo + (hi - lo) * position / SLIDER_STEPS

    # ------------------------------------------------------------------ sliders
    def _drag_start(self, a: str) -> None:
        """A slider was pressed: ask the worker for its candidates for the selected measures."""
        from musicdesk.melody.tokens import encode

        if self.melody is None:
            return
        self._rid += 1
        rows = encode(self.melody)         # once per press: every move of this drag reuses it
        self._drag = {"attribute": a, "rid": self._rid, "cands": None, "target": None, "rows": rows}
        self.decoder.request(self._rid, self.history.now.z[self.selection], rows[self.selection],
                             self.melody.measure_beats, a, self.allowed_pitch_classes())

    def _slider_moved(self, a: str, position: int) -> None:
        if self.melody is None:
            return
        if self._drag is None or self._drag["attribute"] != a:   # moved by keyboard or code: one step
            self._drag_start(a)
            self._drag["released"] = True
        self._drag["target"] = self.slider_value(a, position)
        if self._drag["cands"] is not None:
            self._preview()

    def _on_decoded(self, rid: int, cands) -> None:
        d = self._drag
        if d is None or rid != d["rid"]:
            return                       # an older request, superseded
        d["cands"] = cands
        if d.get("released"):
            self._finish_drag()
        elif d["target"] is not None:
            self._preview()

    def _pick(self) -> tuple[object, np.ndarray]:
        """The melody and the selected measures' codes for the dragged slider's current target."""
        from musicdesk.melody.lab import with_measures

        d = self._drag
        c = d["cands"]
        k = self.lab.choose(c, {d["attribute"]: d["target"]})
        idx = np.arange(len(k))
        return with_measures(self.melody, d["rows"], self.selection, c.rows[idx, k]), c.z[idx, k]

    def _preview(self) -> None:
        self._redraw(self._pick()[0])

    def _drag_end(self, a: str) -> None:
        if self._drag is None:
            return
        self._drag["released"] = True
        if self._drag["cands"] is not None:
            self._finish_drag()

    def _finish_drag(self) -> None:
        if self._drag["target"] is None:    # pressed and let go without a move
            self._drag = None
            self._redraw()
            return
        mel, zsel = self._pick()
        self._drag = None
        z = self.history.now.z.copy()
        z[self.selection] = zsel
        if mel == self.melody:
            self._redraw()
        else:
            self._commit(mel, z)

    @property
    def busy(self) -> bool:
        """A slider move is still being decoded."""
        return self._drag is not None

    # ------------------------------------------------------------------ presets and inpainting
    def apply_preset(self, k: int) -> None:
        """Move the selected measures' faders to tune type k's mean (the other dimensions stay)."""
        from musicdesk.melody.lab import with_measures
        from musicdesk.melody.tokens import encode, measure_ticks_for

        mix = self.lab.info["presets"]
        z = self.history.now.z.copy()
        dims = [self.lab.dim(a) for a in mix["attributes"]]
        z[np.ix_(self.selection, dims)] = np.asarray(mix["means"])[k]
        rows = self.lab.decode(z[self.selection], measure_ticks_for(self.melody.measure_beats))
        self._commit(with_measures(self.melody, encode(self.melody), self.selection, rows), z)

    def inpaint(self) -> None:
        from musicdesk.melody.inpaint import inpaint_candidates

        if self.melody is None or not self.selection:
            return
        start, n = self.selection[0], len(self.selection)
        if start == 0:
            QMessageBox.information(self, "Inpaint", "Select measures after the first: inpainting fills a gap "
                                    "between the measures around it.")
            return
        self.inpaint_btn.setEnabled(False)
        task = workers.Task(inpaint_candidates, self.melody, start, n, 4, self.lab,
                            chromatic=self.chromatic.isChecked(), user_errors=(ValueError,))
        task.signals.finished.connect(self._show_candidates)
        task.signals.failed.connect(lambda msg: QMessageBox.warning(self, "Cannot inpaint", msg))
        task.signals.failed.connect(lambda _m: self._update_enabled())
        self._tasks.append(task)
        workers.start(task)

    def _show_candidates(self, cands: list) -> None:
        """Inpainting's candidates (musicdesk.melody.inpaint.Fill), each with where it comes from; the
        first also says why it is first."""
        self._candidates = cands
        self.cand_list.clear()
        for i, c in enumerate(cands):
            item = QListWidgetItem(f"{i + 1}. {c.reason if i == 0 else c.source}")
            item.setToolTip(c.reason)
            self.cand_list.addItem(item)
        self._update_enabled()

    def _candidate_chosen(self, item: QListWidgetItem) -> None:
        self.choose_candidate(self.cand_list.row(item))

    def choose_candidate(self, i: int) -> None:
        """Put candidate i in the gap (one undo step; choosing another replaces it)."""
        from musicdesk.melody.tokens import encode

        mel = self._candidates[i].melody
        self._commit(mel, self.lab.encode(encode(mel)))

    # ------------------------------------------------------------------ listening
    def listen(self) -> None:
        from musicdesk.melody.lab import melody_audio

        if self.melody is None:
            return
        task = workers.Task(melody_audio, self.melody, user_errors=(RuntimeError,))
        task.signals.finished.connect(self._play)
        task.signals.failed.connect(lambda msg: QMessageBox.warning(self, "Cannot play", msg))
        self._tasks.append(task)
        workers.start(task)

    def _play(self, take) -> None:
        from musicdesk.playback import Player, playback_message

        try:
            if self.player is not None:
                self.player.stop()
            self.player = Player()
            self.player.play(np.asarray(take.samples, dtype=np.float32), take.sr)
            if self._follow_timer is None:
                from PySide6.QtCore import QTimer

                self._follow_timer = QTimer(self)
                self._follow_timer.setInterval(33)
                self._follow_timer.timeout.connect(self._follow)
            self._follow_timer.start()
        except Exception as exc:
            win = self.window()
            if hasattr(win, "playback_failed"):
                win.playback_failed(exc)
            else:   # the panel on its own, outside the main window
                QMessageBox.warning(self, "Cannot play", playback_message(exc))

    # ------------------------------------------------------------------ notation
    def _engrave(self) -> None:
        """Engrave the melody on show (a worker; about 0.1 s), with note names when asked."""
        from musicdesk.melody.notation import engrave_melody

        mel = self.melody
        if mel is None:
            return
        self._engraved_for = mel
        task = workers.Task(engrave_melody, mel, self.names_check.isChecked(), user_errors=(ValueError,))
        task.signals.finished.connect(lambda n, m=mel: self._show_notation(n, m))
        self._tasks.append(task)
        workers.start(task)

    def _show_notation(self, notation, mel) -> None:
        if mel is not self.melody:                    # the melody changed meanwhile: its own engraving follows
            return
        self.notation = notation
        self.score_view.set_engraving(notation.engraving)
        if self.selection:
            self.score_view.set_loop_measures(mel.bar_number(self.selection[0]), mel.bar_number(self.selection[-1]))
        self.engraved.emit()

    def _notation_clicked(self, element_id: str) -> None:
        """A click on a note of the notation selects its measure."""
        if self.notation is not None and element_id in self.notation.measure_of:
            self.select([self.notation.measure_of[element_id]])

    def _follow(self) -> None:
        """While the melody plays: the cursor on the note sounding, the playhead on the roll."""
        from musicdesk.melody.notation import element_at

        p, mel = self.player, self.melody
        if p is None or mel is None or not p.is_playing:
            self._follow_timer.stop()
            self._playhead.setVisible(False)
            self.score_view.set_cursor_note(None)
            return
        spb = 60.0 / mel.tempo_bpm
        t = p.position_s
        self._playhead.setPos(t / spb / mel.measure_beats)
        self._playhead.setVisible(True)
        if self.notation is not None:               # (the engraving's time 0 is the first note, a pickup's too)
            first = min((n.onset_beats for n in mel.notes), default=0.0)
            self.score_view.set_cursor_note(element_at(self.notation, t - first * spb))

    def _update_enabled(self) -> None:
        have = self.melody is not None
        for s in self.sliders.values():
            s.setEnabled(have)
        for b in getattr(self, "preset_buttons", {}).values():
            b.setEnabled(have)
        self.inpaint_btn.setEnabled(have)
        self.play_btn.setEnabled(have)

    def close_panel(self) -> None:
        """Stop the decoder, the playback and the panel's tasks (waiting a moment for them to end)."""
        self.decoder.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            t.done.wait(5.0)
        if self.player is not None:
            self.player.stop()


class MelodyLabWindow(QMainWindow):
    """The melody lab in a window of its own (File: open, open the practice score's part, export; Edit:
    undo, redo)."""

    def __init__(self, lab=None, practice_score=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("musicdesk - melody lab")
        self.panel = MelodyPanel(lab, self)
        self.setCentralWidget(self.panel)
        self.practice_score = practice_score      # () -> (path, part) of the window's score, or None
        fm = self.menuBar().addMenu("&File")
        for text, slot, key in (("Open melody...", self.open_dialog, QKeySequence.StandardKey.Open),
                                ("Use the practice score's part", self.use_practice_score, None),
                                ("Export...", self.export_dialog, QKeySequence.StandardKey.SaveAs)):
            a = QAction(text, self)
            a.triggered.connect(slot)
            if key is not None:
                a.setShortcut(key)
            fm.addAction(a)
        em = self.menuBar().addMenu("&Edit")
        for text, slot, key in (("Undo", self.panel.undo, QKeySequence.StandardKey.Undo),
                                ("Redo", self.panel.redo, QKeySequence.StandardKey.Redo)):
            a = QAction(text, self)
            a.triggered.connect(slot)
            a.setShortcut(key)
            em.addAction(a)
        self.resize(1200, 700)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open melody", "", "Scores (*.musicxml *.xml *.mxl *.mid *.midi *.abc)")
        if path:
            self.panel.open_file(path)

    def use_practice_score(self) -> None:
        got = self.practice_score() if self.practice_score else None
        if not got:
            QMessageBox.information(self, "No practice score", "Open a score in the main window first.")
            return
        self.panel.open_file(*got)

    def export_dialog(self) -> None:
        if self.panel.melody is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export melody", "melody.musicxml",
                                              "MusicXML (*.musicxml);;MIDI (*.mid);;ABC (*.abc)")
        if path:
            self.panel.export_file(path)

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.panel.close_panel()
        super().closeEvent(ev)
