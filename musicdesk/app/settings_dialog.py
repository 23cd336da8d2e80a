"""The settings dialog: devices, sample rate, tolerances, tracker, latency (with calibration), count-in."""
from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

from musicdesk.app import workers
from musicdesk.app.settings import AppSettings
from musicdesk.pitch import TRACKERS

RATES = (44100, 48000, 22050, 32000, 96000)


def _devices(want_input: bool) -> list[str]:
    try:
        import sounddevice as sd

        key = "max_input_channels" if want_input else "max_output_channels"
        return [d["name"] for d in sd.query_devices() if d[key] > 0]
    except Exception:
        return []


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._s = settings
        self._task = None
        form = QFormLayout(self)
        self.input = QComboBox()
        self.input.addItem("System default", "")
        for name in _devices(True):
            self.input.addItem(name, name)
        if self.input.count() == 1:
            self.input.setToolTip("No microphone found: connect one, then reopen Settings.")
        self._select(self.input, settings.input_device)
        form.addRow("Input device", self.input)
        self.output = QComboBox()
        self.output.addItem("System default", "")
        for name in _devices(False):
            self.output.addItem(name, name)
        self._select(self.output, settings.output_device)
        form.addRow("Output device", self.output)
        self.rate = QComboBox()
        for r in RATES:
            self.rate.addItem(f"{r} Hz", r)
        self._select(self.rate, settings.sample_rate)
        form.addRow("Sample rate", self.rate)
        self.pitch = self._spin(settings.pitch_cents, 5, 100, " cents")
        form.addRow("Right note within", self.pitch)
        self.inton = self._spin(settings.intonation_cents, 2, 100, " cents")
        form.addRow("In tune within", self.inton)
        self.timing = self._spin(settings.timing_ms, 10, 500, " ms")
        form.addRow("On time within", self.timing)
        self.a4 = QComboBox()
        self.a4.setEditable(True)
        for hz in (415, 430, 432, 435, 440, 441, 442, 443, 444, 466):
            self.a4.addItem(f"{hz} Hz", float(hz))
        self._select(self.a4, float(settings.reference_a4_hz))
        if self.a4.currentData() != float(settings.reference_a4_hz):
            self.a4.setEditText(f"{settings.reference_a4_hz:g} Hz")
        self.a4.setToolTip("The A your notes are judged against, as on a tuner: 440 Hz for most "
                           "ensembles, 442-443 for many orchestras, 415 for baroque pitch.")
        form.addRow("Reference pitch A =", self.a4)
        self.tracker = QComboBox()
        for t in TRACKERS:
            self.tracker.addItem(t, t)
        self._select(self.tracker, settings.tracker)
        form.addRow("Pitch tracker", self.tracker)
        from musicdesk.assess import DISPLAY_NAMES

        self.assess_model = QComboBox()
        for key, label in DISPLAY_NAMES.items():
            self.assess_model.addItem(label, key)
        self.assess_model.addItem("none", "none")
        self._select(self.assess_model, settings.assess_model)
        self.assess_model.setToolTip("The network that rates each take beside the report's own ratings.")
        form.addRow("Assessment network", self.assess_model)
        self.assess_device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.assess_device.addItem(d, d)
        self._select(self.assess_device, settings.assess_device)
        self.assess_device.setToolTip("auto: the GPU (CUDA, then Apple MPS) when there is one, else the CPU.")
        form.addRow("Network runs on", self.assess_device)
        row = QWidget()
        hl = QHBoxLayout(row)
        hl.setContentsMargins(0, 0, 0, 0)
        self.latency = self._spin(settings.latency_ms, 0, 1000, " ms")
        hl.addWidget(self.latency)
        self.calibrate = QPushButton("Calibrate…")
        self.calibrate.setToolTip("Plays clicks through the speaker and records them: hold the microphone "
                                  "near the speaker and keep quiet for 3 seconds.")
        self.calibrate.clicked.connect(self._calibrate)
        hl.addWidget(self.calibrate)
        form.addRow("Input latency", row)
        self.cal_label = QLabel("")
        self.cal_label.setWordWrap(True)
        form.addRow("", self.cal_label)
        self.count_in = QSpinBox()
        self.count_in.setRange(0, 16)
        self.count_in.setValue(settings.count_in_beats)
        self.count_in.setSuffix(" beats")
        form.addRow("Count-in", self.count_in)
        self.click_through = QCheckBox("Keep clicking through the take")
        self.click_through.setChecked(bool(settings.metronome_in_take))
        self.click_through.setToolTip("The metronome goes on after the count-in, on every beat of the score "
                                      "at its tempo. Use headphones: clicks picked up by the microphone are "
                                      "not notes, but they can mask quiet ones.")
        form.addRow("Metronome", self.click_through)
        self.headphones = QCheckBox("I listen through headphones")
        self.headphones.setChecked(bool(settings.headphones))
        self.headphones.setToolTip("Minus-one practice: without headphones the accompaniment also reaches the "
                                   "microphone, and the app takes it out of the take before judging it (the "
                                   "take file keeps what the microphone heard). With headphones there is "
                                   "nothing to take out.")
        form.addRow("Accompaniment", self.headphones)
        self.concert = QCheckBox("Name notes at concert pitch")
        self.concert.setChecked(bool(settings.concert_pitch))
        self.concert.setToolTip("For a transposing part (a B-flat clarinet, an alto saxophone), name notes as "
                                "they sound, not as the part is written. The score stays as written.")
        form.addRow("Note names", self.concert)
        self.takes_dir = QLineEdit(settings.takes_dir)
        self.takes_dir.setPlaceholderText("(your user data folder)")
        form.addRow("Folder for takes", self.takes_dir)
        self.keep = QCheckBox("Keep every take and its analysis")
        self.keep.setChecked(bool(settings.history_enabled))
        self.keep.setToolTip("Each take you record or open goes into your practice history, with its results, "
                             "to compare over weeks and to send to a teacher (musicdesk history).")
        form.addRow("Practice history", self.keep)
        self.student = QLineEdit(settings.student_name)
        self.student.setPlaceholderText("(your login name)")
        form.addRow("Your name", self.student)
        self.history_db = QLineEdit(settings.history_db)
        self.history_db.setPlaceholderText("(a file in your user data folder)")
        self.history_db.setToolTip("An SQLite file on this computer, or a studio's shared store as "
                                   "postgresql://user@host/database. Never an SQLite file on a network share.")
        form.addRow("History store", self.history_db)
        self.teacher = QCheckBox("Teacher mode: open the review of students' takes at start")
        self.teacher.setChecked(bool(settings.teacher_mode))
        form.addRow("Teaching", self.teacher)
        self.teacher_name = QLineEdit(settings.teacher_name)
        self.teacher_name.setPlaceholderText("(your login name)")
        form.addRow("Name on comments and grades", self.teacher_name)
        self.rubric = QLineEdit(settings.rubric)
        self.rubric.setToolTip("The criteria you grade on, separated by commas (an assignment brings its own)")
        self.rubric_scale = QDoubleSpinBox()
        self.rubric_scale.setRange(1, 1000)
        self.rubric_scale.setDecimals(0)
        self.rubric_scale.setValue(settings.rubric_scale)
        row = QHBoxLayout()
        row.addWidget(self.rubric, 1)
        row.addWidget(QLabel("out of"))
        row.addWidget(self.rubric_scale)
        form.addRow("Your rubric", row)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    @staticmethod
    def _select(combo: QComboBox, value) -> None:
        i = combo.findData(value)
        if i >= 0:
            combo.setCurrentIndex(i)

    @staticmethod
    def _spin(value: float, lo: float, hi: float, suffix: str) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setDecimals(0 if hi > 50 else 1)
        s.setValue(value)
        s.setSuffix(suffix)
        return s

    def _calibrate(self) -> None:
        from musicdesk.latency import measure_latency

        self.calibrate.setEnabled(False)
        self.cal_label.setText("Measuring: keep quiet…")
        inp, out = self.input.currentData() or None, self.output.currentData() or None
        task = workers.Task(lambda: measure_latency(input_device=inp, output_device=out),
                            user_errors=(RuntimeError, OSError, ValueError))

        def done(res):
            self.calibrate.setEnabled(True)
            self.latency.setValue(round(res.latency_ms))
            self.cal_label.setText(f"Measured {res.latency_ms:.0f} ms (spread {res.spread_ms:.1f} ms, "
                                   f"{res.n_detected} clicks found).")

        def failed(msg):
            self.calibrate.setEnabled(True)
            self.cal_label.setText(msg)

        task.signals.finished.connect(done)
        task.signals.failed.connect(failed)
        self._task = workers.start(task)

    def result_settings(self) -> AppSettings:
        return dataclasses.replace(
            self._s, input_device=self.input.currentData() or "", output_device=self.output.currentData() or "",
            sample_rate=int(self.rate.currentData()), pitch_cents=self.pitch.value(),
            intonation_cents=self.inton.value(), timing_ms=self.timing.value(),
            reference_a4_hz=_hz(self.a4.currentText(), self._s.reference_a4_hz),
            tracker=self.tracker.currentData(), latency_ms=self.latency.value(),
            assess_model=self.assess_model.currentData(), assess_device=self.assess_device.currentData(),
            count_in_beats=self.count_in.value(), metronome_in_take=self.click_through.isChecked(),
            headphones=self.headphones.isChecked(), concert_pitch=self.concert.isChecked(),
            takes_dir=self.takes_dir.text().strip(), history_enabled=self.keep.isChecked(),
            student_name=self.student.text().strip(), history_db=self.history_db.text().strip(),
            teacher_mode=self.teacher.isChecked(), teacher_name=self.teacher_name.text().strip(),
            rubric=self.rubric.text().strip() or AppSettings.rubric, rubric_scale=self.rubric_scale.value())


def _hz(text: str, fallback: float) -> float:
    """A reference pitch typed or chosen as '442 Hz' or '442'; the old value when it is not a pitch
    between 380 and 480 Hz."""
    try:
        v = float(text.lower().replace("hz", "").strip())
    except ValueError:
        return fallback
    return v if 380.0 <= v <= 480.0 else fallback
