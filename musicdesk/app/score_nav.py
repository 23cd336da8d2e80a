"""Score navigation: opening a score, its part and tempo, the bars to loop, zoom and pages, and the
cursor on the engraved score. Owns the toolbar's Part, Tempo and Bars controls and the View actions.
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QSpinBox

from musicdesk.app import workers
from musicdesk.app.roll_note import RollNote
from musicdesk.app.session import Loaded, Session, make_action, user_errors
from musicdesk.app.settings import save_settings

SCORE_FILTER = "Scores (*.musicxml *.xml *.mxl *.mid *.midi *.abc);;All files (*)"


def load_for_window(path: str, part, tempo_bpm: float | None) -> Loaded:
    """Parse the score, choose the part, engrave it (runs in a worker)."""
    from musicdesk.engrave import engrave
    from musicdesk.score import list_parts, load_score, score_to_musicxml

    score = load_score(path, part=part, tempo_bpm=tempo_bpm)
    parts = list_parts(path)
    eng = engrave(score_to_musicxml(path, part=score.part))
    return Loaded(path, score, parts, eng)


class ScoreNavigator(QObject):
    """Open scores, choose part, tempo and loop bars, move around the engraving, place the cursor."""

    score_changed = Signal()       # a new score (or part, or tempo) is about to be drawn: drop old results
    shown = Signal()               # ... and now it is on screen
    take_file_wanted = Signal(str)  # open this take once the score is shown (open_score(..., take=))
    take_wanted = Signal(object)    # judge this Take again against the reloaded score

    def __init__(self, session: Session, score_view, roll):
        super().__init__(session)
        self.s = session
        self.score_view = score_view
        self.roll = roll
        self._score_timeline = None                 # (onset_s array, element ids): score time -> note
        self._take_timeline = None                  # the same at the performed onsets, for `_timeline_of`
        self._timeline_of = None
        self.cursor_id: str | None = None
        w = session.window
        self.act_open = make_action(w, "Open score…", self.open_score_dialog, "Ctrl+O")
        self.view_actions = [
            make_action(w, "Zoom in", lambda: score_view.zoom_in(), "Ctrl+="),
            make_action(w, "Zoom out", lambda: score_view.zoom_out(), "Ctrl+-"),
            make_action(w, "Next page", lambda: score_view.next_page(), "PgDown"),
            make_action(w, "Previous page", lambda: score_view.prev_page(), "PgUp"),
            make_action(w, "Next line", lambda: score_view.next_line(), "Ctrl+Down"),
            make_action(w, "Previous line", lambda: score_view.prev_line(), "Ctrl+Up"),
        ]
        self.part_combo = QComboBox()
        self.part_combo.setMinimumWidth(140)
        self.part_combo.activated.connect(self._part_changed)
        self.tempo_spin = QSpinBox()
        self.tempo_spin.setRange(0, 300)        # 0: no score yet, shown as "–" (20-300 once one is open)
        self.tempo_spin.setSpecialValueText("–")
        self.tempo_spin.setValue(0)
        self.tempo_spin.setSuffix(" bpm")
        self.tempo_spin.setKeyboardTracking(False)
        self.tempo_spin.valueChanged.connect(self._tempo_changed)
        self.loop_from = QSpinBox()
        self.loop_to = QSpinBox()
        for sp in (self.loop_from, self.loop_to):
            sp.setRange(0, 9999)                 # 0: no score yet, shown as "–"
            sp.setSpecialValueText("–")
            sp.valueChanged.connect(self._loop_changed)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setToolTip("Play only these bars, over and over (shaded on the score)")
        self.loop_check.toggled.connect(self._loop_changed)
        # what the user must know about the score before playing it (above the score, while it is open)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background:#fff4ce; color:#5c4400; padding:4px 8px; border-radius:3px")
        self.notice.setVisible(False)
        session.changed.connect(self.update_enabled)
        self.update_enabled()

    # ------------------------------------------------------------------ enabled state
    def update_enabled(self) -> None:
        s = self.s
        busy, rec = s.analysing, s.is_recording
        self.act_open.setEnabled(not rec)
        self.part_combo.setEnabled(not rec and not busy)
        self.tempo_spin.setEnabled(s.score is not None and not rec and not busy)
        for w in (self.loop_from, self.loop_to, self.loop_check):   # (a loop recording keeps its bars)
            w.setEnabled(s.score is not None and not rec)

    # ------------------------------------------------------------------ opening
    def open_score_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.s.window, "Open a score", "", SCORE_FILTER)
        if path:
            self.open_score(path)

    def open_score(self, path: str, part=None, take: str | None = None) -> None:
        """Load a score (and then, if given, a take) in the background."""
        self.s.status(f"Opening {os.path.basename(path)}…")
        task = workers.Task(load_for_window, path, part, None, user_errors=user_errors())

        def done(loaded: Loaded):
            self.show_score(loaded)
            if take:
                self.take_file_wanted.emit(take)

        self.s.run(task, done, "Cannot open the score")

    def show_part(self, part: str) -> None:
        """Show another part of the open score (the take on show, if any, is judged against it)."""
        if self.s.loaded and part != self.part_combo.currentText():
            self.part_combo.setCurrentText(part)
            self._reload(part=part)

    def _part_changed(self, _i: int) -> None:
        if self.s.loaded:
            self._reload(part=self.part_combo.currentText())

    def _tempo_changed(self, bpm: int) -> None:
        score = self.s.score
        if self.s.loaded and score and abs(bpm - score.tempo_bpm) > 0.5:
            self._reload(part=score.part, tempo=float(bpm))

    def _reload(self, part=None, tempo=None) -> None:
        take = self.s.take
        task = workers.Task(load_for_window, self.s.loaded.path, part, tempo, user_errors=user_errors())

        def done(loaded):
            self.show_score(loaded)
            if take is not None:
                self.take_wanted.emit(take)

        self.s.run(task, done, "Cannot open the score")

    def show_score(self, loaded: Loaded) -> None:
        s = self.s
        s.loaded = loaded
        s.score = score = loaded.score
        self.score_view.set_engraving(loaded.engraving)
        self.part_combo.blockSignals(True)
        self.part_combo.clear()
        for name in loaded.parts:
            self.part_combo.addItem(name)
        self.part_combo.setCurrentText(score.part)
        self.part_combo.blockSignals(False)
        self.tempo_spin.blockSignals(True)
        self.tempo_spin.setSpecialValueText("")     # ("–" only stands for "no score")
        self.tempo_spin.setRange(20, 300)
        self.tempo_spin.setValue(int(round(score.tempo_bpm)))
        self.tempo_spin.blockSignals(False)
        last_measure = max((n.measure for n in score.notes), default=1)
        for w in (self.loop_from, self.loop_to):
            w.setSpecialValueText("")
            w.setRange(1, last_measure)
        self.loop_from.setValue(1)
        self.loop_to.setValue(last_measure)
        self._score_timeline = (np.array([n.onset_s for n in score.notes]), [n.element_id for n in score.notes])
        self.score_changed.emit()
        self.show_score_notes()
        title = score.title or os.path.basename(loaded.path)
        s.window.setWindowTitle(f"musicdesk - {title} ({score.part})")
        s.status(f"Opened {os.path.basename(loaded.path)}: {len(score.notes)} notes, part {score.part}, "
                 f"{score.tempo_bpm:.0f} bpm", 6000)
        s.settings.add_recent(loaded.path)
        save_settings(s.settings, s.settings_org)
        self.notice.setText("\n".join(f"⚠ {w}" for w in score.warnings))
        self.notice.setVisible(bool(score.warnings))
        s.update()
        self.shown.emit()

    def show_score_notes(self, offset_s: float = 0.0) -> None:
        """The score's notes on the piano roll at score time (+ offset, e.g. the count-in)."""
        score = self.s.score
        self.roll.written_shift = 0 if self.s.settings.concert_pitch else score.transposition_semitones
        self.roll.set_notes([RollNote(n.id, n.onset_s + offset_s, n.onset_s + n.duration_s + offset_s, n.midi)
                             for n in score.notes])
        self.roll.show_range(offset_s, offset_s + min(score.duration_s, 12.0))

    def practice_part(self):
        """(path, part index) of the score on show, for the melody lab; None without one."""
        if self.s.loaded is None:
            return None
        return self.s.loaded.path, max(0, self.part_combo.currentIndex())

    # ------------------------------------------------------------------ loop
    def loop_bars(self) -> tuple[int, int]:
        """The Bars range, first <= last (score measure numbers)."""
        m1, m2 = sorted((self.loop_from.value(), self.loop_to.value()))
        return m1, m2

    @property
    def looping(self) -> bool:
        return self.loop_check.isChecked()

    def _loop_changed(self, *_args) -> None:
        """Shade the loop's bars on the score while looping is on."""
        if self.looping and self.s.score is not None:
            self.score_view.set_loop_measures(*self.loop_bars())
        else:
            self.score_view.set_loop_measures(None)
        self.s.update()                  # (Record's tooltip names the bars it loops)

    # ------------------------------------------------------------------ cursor
    def set_cursor_note(self, element_id: str | None) -> None:
        if element_id != self.cursor_id:
            self.cursor_id = element_id
            if element_id is not None:
                self.score_view.set_cursor_note(element_id)

    def cursor_at_score_time(self, t_s: float) -> None:
        self._cursor_at(self._score_timeline, t_s)

    def cursor_at_take_time(self, t_s: float) -> None:
        """The cursor on the note the take plays at `t_s` (after analysis; the timeline is made once)."""
        a = self.s.analysis
        if a is None:
            return
        if self._timeline_of is not a:
            found = [r for r in a.report.notes if r.onset_s is not None]
            self._take_timeline = (np.array([r.onset_s for r in found]),
                                   [self.s.judged_score.notes[r.index].element_id for r in found])
            self._timeline_of = a
        self._cursor_at(self._take_timeline, t_s)

    def _cursor_at(self, timeline, t_s: float) -> None:
        """Put the score cursor on the last note starting at or before `t_s` in `timeline`
        ((onsets in s, sorted), element ids): one search per frame, the lists made once."""
        if timeline is None or not len(timeline[0]):
            return
        i = int(np.searchsorted(timeline[0], t_s, side="right")) - 1
        if i >= 0:
            self.set_cursor_note(timeline[1][i])
