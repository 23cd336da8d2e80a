"""Takes: recording one (count-in, live pitch trace, input level, clipping, a full disk, a lost device),
opening one from a file, saving one. Owns Record, Open take and Save take, and the status bar's meter.

The recorder's audio callback only fills a ring buffer; `_tick` drains it on a GUI timer.
"""
from __future__ import annotations

import datetime
import gc
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QLabel, QProgressBar

from musicdesk.app import workers
from musicdesk.app.loop_record import LoopRecording
from musicdesk.app.problems_panel import ResultsPanel
from musicdesk.app.score_nav import ScoreNavigator
from musicdesk.app.session import FRAME_MS, Session, make_action, stop_quietly, user_errors
from musicdesk.app.transport import Transport

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)"


def load_take_for_window(path: str):
    from musicdesk.audio import load_take

    return load_take(path)


class TakeController(QObject):
    """Record, open and save takes; each new take goes to the results panel to be judged."""

    def __init__(self, session: Session, nav: ScoreNavigator, results: ResultsPanel, transport: Transport, roll):
        super().__init__(session)
        self.s = session
        self.nav, self.results, self.transport, self.roll = nav, results, transport, roll
        self.live = None             # LivePitch while recording
        self._click = None           # the count-in's metronome while it plays
        self._count_in_s = 0.0
        w = session.window
        self.act_open_take = make_action(w, "Open take…", self.open_take_dialog, "Ctrl+T", "Open an audio file as a take")
        self.act_save_take = make_action(w, "Save take as…", self.save_take_dialog, "Ctrl+S", "Save the take to a file")
        self.act_record = make_action(w, "● Record", self.start_recording, "R", "Record a take")
        # status bar
        self.level_meter = QProgressBar()
        self.level_meter.setRange(-60, 0)
        self.level_meter.setValue(-60)
        self.level_meter.setFormat("input %v dBFS")
        self.level_meter.setFixedWidth(180)
        self.clip_label = QLabel("")
        self.clip_label.setStyleSheet("color:#d62728; font-weight:bold")
        self.rec_label = QLabel("")
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.loop = LoopRecording(session, nav, results, roll)   # Record with Loop on: each pass a take
        from musicdesk.app.minus_one import MinusOnePractice

        self.minus_one = MinusOnePractice(session, nav)        # Record plays the other parts
        nav.take_file_wanted.connect(self.open_take)
        nav.take_wanted.connect(self.set_take)
        session.changed.connect(self.update_enabled)
        self.update_enabled()

    def update_enabled(self) -> None:
        s = self.s
        rec, has_score = s.is_recording, s.score is not None
        # recording again cancels an analysis; it waits for the analysis code to load, which holds
        # Python's lock long enough to make the audio callback drop samples
        self.act_record.setEnabled(has_score and not rec and not s.warming)
        self.act_record.setToolTip(
            f"Record round bars {'-'.join(map(str, self.nav.loop_bars()))}, each pass a take (Loop is on)"
            if has_score and self.nav.looping else "Record a take")
        self.act_open_take.setEnabled(has_score and not rec and not s.analysing)
        self.act_save_take.setEnabled(not rec and (s.take is not None or s.recording is not None))

    # ------------------------------------------------------------------ takes from files
    def open_take_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.s.window, "Open a take", "", AUDIO_FILTER)
        if path:
            self.open_take(path)

    def open_take(self, path: str) -> None:
        task = workers.Task(load_take_for_window, path, user_errors=user_errors())

        def done(take) -> None:
            self.s.recording = None
            self.set_take(take)

        task.signals.failed.connect(self.s.alive(lambda _msg: self.drop_take()))
        self.s.run(task, done, "Cannot open the take")

    def drop_take(self) -> None:
        """A take that could not be opened replaces the one shown: its results and playback go (its
        file, and every recorded take, stay on disk), so nothing on screen belongs to another take."""
        s = self.s
        if s.is_recording:
            return
        self.results.cancel_analysis()
        self.transport.stop_playback()
        s.take = None
        s.take_path = None
        s.stored_take_id = None
        self.results.clear()
        if s.score is not None:
            self.nav.show_score_notes()
        s.update()

    def set_take(self, take) -> None:
        """Use `take` (a musicdesk.audio.Take) and analyse it against the current score."""
        self.loop.reset()
        self.s.take = take
        self.s.take_path = take.path or None
        self.s.stored_take_id = None
        self.results.analyse()

    def judge_as_part(self, part: str, take) -> None:
        """Judge `take` (a stem of an ensemble recording) against `part` of the open score, choosing
        that part first when another is on show."""
        s = self.s
        if s.is_recording or s.loaded is None:
            return
        s.recording = None
        if s.score is not None and s.score.part == part:
            self.set_take(take)
            return
        s.take, s.take_path, s.stored_take_id = take, None, None   # the reload judges it (take_wanted)
        self.nav.show_part(part)

    def show_stored(self, take, analysis, take_id: str) -> None:
        """Show a take from the practice history with its stored `analysis` (not judged again)."""
        if self.s.is_recording:
            return
        self.loop.reset()
        self.results.cancel_analysis()
        self.transport.stop_playback()
        s = self.s
        s.recording = None
        s.take, s.take_path, s.stored_take_id = take, take.path or None, take_id
        self.results.show_analysis(analysis)

    # ------------------------------------------------------------------ recording
    def new_take_path(self) -> str:
        import platformdirs

        folder = Path(self.s.settings.takes_dir or platformdirs.user_data_dir("musicdesk")) / "takes"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        # WAV: every flushed sample is readable after a crash (a FLAC file being written lags by about
        # a second of audio)
        return str(folder / f"take-{stamp}.wav")

    def start_recording(self) -> None:
        from musicdesk.capture import CaptureError, Recorder
        from musicdesk.live_pitch import LivePitch

        s = self.s
        if s.score is None or s.is_recording:
            return
        if s.warming:
            s.status("Preparing the analysis: record in a moment.", 4000)
            return
        bars = None                                # the loop's bars, when Loop is on
        if self.nav.looping:
            from musicdesk.loop_takes import excerpt

            try:
                bars = excerpt(s.score, *self.nav.loop_bars())
            except ValueError as exc:              # bars with no notes
                s.error("Cannot loop-record", f"{exc} Choose other bars, or turn Loop off.")
                return
        self.transport.stop_playback()
        self.results.cancel_analysis()
        try:
            path = self.new_take_path()
            rec = Recorder(path, device=s.device(True), sr=int(s.settings.sample_rate))
            rec.start()
        except CaptureError as exc:
            s.error("Cannot record", str(exc))
            return
        except OSError as exc:
            s.error("Cannot record", f"Cannot create the take file: {exc}. Choose another folder for takes in "
                    "Settings.")
            return
        s.recorder = rec
        s.take = None
        s.stored_take_id = None
        self.results.clear()
        self.live = LivePitch(int(rec.sr) if hasattr(rec, "sr") else int(s.settings.sample_rate))
        if bars is not None:
            self._count_in_s = self.loop.begin(path, int(rec.sr), bars)
        else:
            self.loop.reset()
            self._start_count_in()
            self.minus_one.start(int(rec.sr), self._count_in_s)
            self.nav.show_score_notes(self._count_in_s)
        self.roll.clear_live()
        self.clip_label.setText("")
        gc.freeze()                                # see _release_collector
        self.timer.start()
        self.rec_label.setText("● recording")
        s.update()

    def _start_count_in(self) -> None:
        """The count-in's clicks (and, when set, the metronome through the take) start with the take."""
        st = self.s.settings
        beats = int(st.count_in_beats)
        through = bool(st.metronome_in_take)
        self._count_in_s = 0.0
        if beats <= 0 and not through:
            return
        from musicdesk import metronome

        score = self.s.score
        if beats > 0:
            self._count_in_s = metronome.count_in_s(score.tempo_bpm, beats)
        try:
            times, accents = metronome.take_click_times_s(score, beats, through_take=through)
            self._click = metronome.play(metronome.render_clicks(times, accents, 44100), 44100,
                                         device=self.s.device(False))
        except Exception as exc:  # no output device: record without the audible clicks
            self._click = None
            self.s.status(f"No metronome click ({exc}); start after {beats} beats.", 8000)

    def _tick(self) -> None:
        """Timer: drain the recorder's ring buffer into the live trace, the meter and the cursor."""
        rec = self.s.recorder
        if rec is None:
            self.timer.stop()
            return
        frames = self.live.push(rec.ring.read_new())
        lat = self.s.settings.latency_ms / 1000.0
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
        if self.loop.active:
            self.rec_label.setText(f"{self.loop.tick(rec.samples, rec.elapsed_s)} · {rec.elapsed_s:5.1f} s")
            self.nav.cursor_at_score_time(self.loop.score_time(t))
        else:
            self.rec_label.setText(f"● {rec.elapsed_s:5.1f} s")
            self.nav.cursor_at_score_time(t - self._count_in_s)
        if not rec.is_recording:  # the device vanished: keep what was played and say so
            self.stop_recording()

    def stop_recording(self) -> None:
        """Stop the take; keep it whatever happened (device lost, disk full, input lost), then analyse it."""
        from musicdesk.audio import take_from_samples
        from musicdesk.capture import lost_input_message

        s = self.s
        rec = s.recorder
        if rec is None:
            return
        self.timer.stop()
        stop_quietly(self._click)
        self._click = None
        self.minus_one.stop()
        looped = self.loop.active
        self.loop.stop_clicks()
        result = rec.stop()
        s.recorder = None
        _release_collector()
        self.rec_label.setText("")
        self.level_meter.setValue(-60)      # the meter shows the input while recording, not after
        samples = rec.samples()
        s.recording = (samples, int(result.sr))
        if result.error:
            text = result.error
            if rec.disk_failed and result.recovered_path is None:
                text += "\nUse File > Save take as… to save it somewhere with free space."
            s.error("Recording stopped", text)
        elif rec.input_overflows:
            s.error("Audio was lost while recording", lost_input_message(rec.input_overflows))
        s.update()
        if looped:                      # each pass is a take; the whole recording stays in its file
            self.loop.finish(samples, len(samples) / float(result.sr))
            return
        if len(samples) < int(0.5 * result.sr):
            s.status("The take is too short to analyse; record again.", 8000)
            return
        path = result.recovered_path or (result.path if not rec.disk_failed else "")
        task = self.minus_one.take_task(samples, int(result.sr), path)
        if task is not None:         # judged with the accompaniment taken out; the file stays raw
            s.run(task, self._cleaned, "Cannot take the accompaniment out of the take")
            return
        task = workers.Task(take_from_samples, samples, int(result.sr), path, user_errors=user_errors())
        s.run(task, self.set_take, "Cannot analyse the take")

    def _cleaned(self, result) -> None:
        take, cleaned = result
        self.minus_one.last = cleaned
        self.s.status(f"The accompaniment was taken out of the take (about {cleaned.echo_reduction_db:.0f} dB "
                      f"less; it arrived {1000 * cleaned.delay_s:.0f} ms late). The take file keeps what the "
                      "microphone heard." + self.minus_one.reliability_note(), 15000)
        self.set_take(take)

    # ------------------------------------------------------------------ saving
    def save_take_dialog(self) -> None:
        """Save the last take (as recorded, at its own rate) to a WAV or FLAC file the user chooses."""
        if self.s.recording is None and self.s.take is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.s.window, "Save take as", "take.flac",
                                              "FLAC (*.flac);;WAV (*.wav)")
        if path:
            self.save_take(path)

    def save_take(self, path: str) -> bool:
        from musicdesk.audio import AudioError, Take, save_take

        s = self.s
        samples, sr = s.recording if s.recording is not None else (s.take.samples, s.take.sr)
        try:
            save_take(Take(np.asarray(samples, dtype=np.float32), int(sr), path), path)
        except AudioError as exc:
            s.error("Cannot save the take", f"{exc}. Choose another folder.")
            return False
        s.status(f"Take saved to {path}", 8000)
        return True


def _release_collector() -> None:
    """End of a take: the objects that existed before it rejoin the garbage collector's generations.

    While a take is recorded they are frozen (gc.freeze at its start), so a full collection looks only
    at what the take created: collecting all of the window's 300 000 objects held the interpreter for
    60-150 ms, which the audio callbacks and the live pitch trace had to wait out. Unfreezing lets the
    collector free them as usual afterwards, so nothing leaks."""
    gc.unfreeze()
