"""Tools > Tuner: the note you play and its cents against the reference pitch (Settings), from the same
live pitch tracker and input path as recording; and a drone, a sustained reference tone to tune or
play intervals against, through the same player as playback. Computes nothing: musicdesk.tuner does.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (QComboBox, QDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from musicdesk.app.session import FRAME_MS, Session, stop_quietly

IN_TUNE_CENTS = 5.0       # the gauge turns green within this


ON_STYLE = "QPushButton:checked { background: #2e7d32; color: white; font-weight: bold; }"


def _toggle_button(off_text: str, on_text: str) -> QPushButton:
    """A checkable button whose label says what pressing it does (`off_text` starts, `on_text` stops), and
    which is filled green while on: Fusion's sunken look alone was too faint to tell on from off."""
    b = QPushButton(off_text)
    b.setCheckable(True)
    b.setStyleSheet(ON_STYLE)
    b.setProperty("texts", (off_text, on_text))
    return b


def _show_on(button: QPushButton, on: bool) -> None:
    """Show a toggle button as on or off without acting on it (the panel already did, or could not)."""
    button.blockSignals(True)
    button.setChecked(on)
    button.blockSignals(False)
    texts = button.property("texts")
    if texts:
        button.setText(texts[1] if on else texts[0])


class CentsGauge(QWidget):
    """A needle on a -50..+50 cents scale; green within IN_TUNE_CENTS."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cents: float | None = None
        self.setMinimumSize(320, 70)

    def set_cents(self, cents: float | None) -> None:
        self.cents = cents
        self.update()

    def paintEvent(self, _ev) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        x0, x1, y = 20.0, w - 20.0, h * 0.55
        p.setPen(QPen(QColor("#888888"), 1))
        p.drawLine(int(x0), int(y), int(x1), int(y))
        for c in range(-50, 51, 10):
            x = x0 + (c + 50) / 100 * (x1 - x0)
            tall = 12 if c % 50 == 0 else 6
            p.drawLine(int(x), int(y - tall), int(x), int(y + tall))
            if c % 25 == 0 or c in (-50, 50):
                p.drawText(QRectF(x - 20, y + 12, 40, 16), Qt.AlignmentFlag.AlignCenter, f"{c:+d}" if c else "0")
        if self.cents is not None:
            c = max(-50.0, min(50.0, self.cents))
            x = x0 + (c + 50) / 100 * (x1 - x0)
            colour = "#2e9d46" if abs(c) <= IN_TUNE_CENTS else ("#ff8c00" if abs(c) <= 25 else "#d62728")
            p.setPen(QPen(QColor(colour), 4))
            p.drawLine(int(x), int(y - 26), int(x), int(y + 8))
        p.end()


class TunerPanel(QDialog):
    """Listen (the tuner) and Drone, each on or off; both stop when a take is recorded or it closes."""

    def __init__(self, session: Session, parent=None):
        super().__init__(parent or session.window)
        self.s = session
        self.setWindowTitle("Tuner")
        self.recorder = None
        self.live = None
        self.drone = None
        self._frames = np.zeros(0)
        self._tmp: str | None = None
        lay = QVBoxLayout(self)
        self.note_label = QLabel("–")
        f = QFont()
        f.setPointSize(34)
        f.setBold(True)
        self.note_label.setFont(f)
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.note_label)
        self.cents_label = QLabel("Play a long note")
        self.cents_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.cents_label)
        self.gauge = CentsGauge()
        lay.addWidget(self.gauge)
        self.ref_label = QLabel("")
        self.ref_label.setStyleSheet("color:#555555")
        lay.addWidget(self.ref_label)
        form = QFormLayout()
        row = QHBoxLayout()
        self.listen_button = _toggle_button("Listen", "Listening – stop")
        self.listen_button.toggled.connect(self._listen_toggled)
        row.addWidget(self.listen_button)
        row.addStretch(1)
        form.addRow("Tuner", row)
        drow = QHBoxLayout()
        self.drone_note = QComboBox()
        for midi in range(48, 85):    # C3..C6
            self.drone_note.addItem(self._name(midi), midi)
        self.drone_note.setCurrentIndex(self.drone_note.findData(69))
        self.drone_note.currentIndexChanged.connect(self._drone_changed)
        self.drone_button = _toggle_button("Play drone", "Drone on – stop")
        self.drone_button.setToolTip("A sustained reference tone at the chosen note (reference pitch from Settings)")
        self.drone_button.toggled.connect(self._drone_toggled)
        drow.addWidget(self.drone_note)
        drow.addWidget(self.drone_button)
        form.addRow("Drone", drow)
        lay.addLayout(form)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        session.changed.connect(self._session_changed)
        self._show_reference()

    # ------------------------------------------------------------------ naming
    def _name(self, midi: int) -> str:
        """As the player reads it: the open score's key and transposition (at concert pitch when that is
        the setting), else sharps at concert pitch."""
        score = self.s.score
        if score is not None:
            name = score.spell(midi)
            return score.concert(name) if self.s.settings.concert_pitch else name
        from musicdesk.describe import note_name

        return note_name(midi)

    def _show_reference(self) -> None:
        a4 = self.s.settings.reference_a4_hz
        score = self.s.score
        how = ""
        if score is not None and score.transposition_semitones:
            how = " (concert pitch)" if self.s.settings.concert_pitch else " (written pitch of this part)"
        self.ref_label.setText(f"Reference: A4 = {a4:g} Hz (Settings){how}")

    # ------------------------------------------------------------------ tuner
    def _listen_toggled(self, on: bool) -> None:
        if on:
            self.start_listening()
        else:
            self.stop_listening()

    def start_listening(self) -> bool:
        """Open the input (as Record does) and follow the pitch; False (and a message) when it cannot."""
        from musicdesk.capture import CaptureError, Recorder
        from musicdesk.live_pitch import LivePitch

        if self.recorder is not None:
            return True
        if self.s.is_recording:
            self.s.status("The tuner listens between takes.", 4000)
            _show_on(self.listen_button, False)
            return False
        fd, self._tmp = tempfile.mkstemp(prefix="musicdesk-tuner-", suffix=".wav")
        os.close(fd)
        try:
            rec = Recorder(self._tmp, device=self.s.device(True), sr=int(self.s.settings.sample_rate))
            rec.start()
        except (CaptureError, OSError) as exc:
            self.s.error("Cannot listen", str(exc))
            self._drop_tmp()
            _show_on(self.listen_button, False)
            return False
        self.recorder = rec
        self.live = LivePitch(int(rec.sr))
        self._frames = np.zeros(0)
        self.timer.start()
        _show_on(self.listen_button, True)
        return True

    def stop_listening(self) -> None:
        rec, self.recorder = self.recorder, None
        self.timer.stop()
        if rec is not None:
            try:
                rec.stop()
            except Exception:
                pass
        self._drop_tmp()
        _show_on(self.listen_button, False)

    def _drop_tmp(self) -> None:
        if self._tmp:
            try:
                os.remove(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def _tick(self) -> None:
        from musicdesk.tuner import steady_midi, tuning

        rec = self.recorder
        if rec is None:
            return
        frames = self.live.push(rec.ring.read_new())
        if len(frames.midi):
            self._frames = np.concatenate([self._frames, np.asarray(frames.midi, dtype=float)])[-50:]
        m = steady_midi(self._frames)
        if m is None:
            self.gauge.set_cents(None)
            self.cents_label.setText("Play a long note")
        else:
            note, cents = tuning(m, self.s.settings.reference_a4_hz)
            self.note_label.setText(self._name(note))
            self.cents_label.setText(f"{cents:+.0f} cents" + (" (in tune)" if abs(cents) <= IN_TUNE_CENTS else
                                                              " sharp" if cents > 0 else " flat"))
            self.gauge.set_cents(cents)
        if not rec.is_recording:
            self.stop_listening()
            self.s.status("The input device went away; the tuner stopped.", 8000)

    @property
    def reading(self) -> tuple[str, float] | None:
        """(note name, cents) on show, or None."""
        if self.gauge.cents is None:
            return None
        return self.note_label.text(), float(self.gauge.cents)

    # ------------------------------------------------------------------ drone
    def _drone_toggled(self, on: bool) -> None:
        if on:
            self.start_drone()
        else:
            self.stop_drone()

    def _drone_changed(self, _i: int) -> None:
        if self.drone is not None:
            self.start_drone()

    def start_drone(self, midi: int | None = None) -> bool:
        """Play the drone at `midi` (default: the chosen note) until stopped; False when it cannot."""
        from musicdesk.playback import Player
        from musicdesk.tuner import drone_samples, midi_hz

        if midi is not None:
            self.drone_note.setCurrentIndex(self.drone_note.findData(midi))
        stop_quietly(self.drone)
        self.drone = None
        m = int(self.drone_note.currentData())
        x = drone_samples(midi_hz(m, self.s.settings.reference_a4_hz), 44100)
        try:
            p = Player()
            p.play(x, 44100, loop=True, device=self.s.device(False))
        except Exception as exc:
            self.s.playback_failed(exc)
            _show_on(self.drone_button, False)
            return False
        self.drone = p
        _show_on(self.drone_button, True)
        return True

    def stop_drone(self) -> None:
        stop_quietly(self.drone)
        self.drone = None
        _show_on(self.drone_button, False)

    # ------------------------------------------------------------------ life
    def _session_changed(self) -> None:
        self._show_reference()
        if self.s.is_recording and self.recorder is not None:   # one input at a time: the take wins
            self.stop_listening()
        self.listen_button.setEnabled(not self.s.is_recording)

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.stop_listening()
        self.stop_drone()
        super().closeEvent(ev)

    def done(self, r: int) -> None:   # Esc
        self.stop_listening()
        self.stop_drone()
        super().done(r)
