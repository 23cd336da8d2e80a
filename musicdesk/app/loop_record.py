"""Record-loop: with Loop on, Record goes round the Bars, and each pass becomes a take of its own.

The recording itself runs on unbroken into one file (nothing is lost whatever happens). Before every
pass comes the count-in (Settings), and with "Keep clicking through the take" the clicks go on through
the bars; the click cycle plays on a looping Player. As soon as a pass's take has been recorded (its
bars and a short run-on), it is cut from the recording, saved next to it as `...-pass<N>.wav`, and
judged against the score's notes of those bars (musicdesk.loop_takes) while the next pass is played:
its colours and problems appear at once, and the Pass box lists every pass with its notes right.
Choosing a pass there shows its results again and makes it the take that Play and Save use.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox

from musicdesk.app.problems_panel import ResultsPanel
from musicdesk.app.roll_note import RollNote
from musicdesk.app.score_nav import ScoreNavigator
from musicdesk.app.session import Session, stop_quietly

CLICK_SR = 44100
ROLL_PASSES = 30          # passes of the bars drawn ahead on the roll while recording


@dataclass
class Pass:
    """One pass of a loop recording: its take (musicdesk.audio.Take), and its analysis once judged."""

    number: int                 # 1-based
    take: object
    analysis: object | None = None
    error: str = ""             # why it could not be judged (a silent pass, ...)


def pass_label(p: Pass) -> str:
    """'Pass 2: 11/12 right' (or why it was not judged, or that it is being judged)."""
    if p.analysis is not None:
        s = p.analysis.report.summary
        return f"Pass {p.number}: {s['n_correct']}/{s['n_notes']} right"
    return f"Pass {p.number}: {'not judged' if p.error else 'judging…'}"


class LoopRecording(QObject):
    """Cuts a loop recording into passes, saves and judges each; the Pass box shows them."""

    pass_shown = Signal(int)          # a pass's results are on screen (its 1-based number)

    def __init__(self, session: Session, nav: ScoreNavigator, results: ResultsPanel, roll):
        super().__init__(session)
        self.s, self.nav, self.results, self.roll = session, nav, results, roll
        self.plan = None              # musicdesk.loop_takes.LoopPlan while recording (and after)
        self.excerpt = None           # the Score of the loop's bars
        self.passes: list[Pass] = []
        self._queue: list[Pass] = []
        self._judging: Pass | None = None
        self._clicks = None           # the looping click Player
        self._base = ""               # the recording's path without ".wav"
        self._sr = 44100
        self._score_offset_s = 0.0    # score time of the excerpt's time 0
        self.pass_combo = QComboBox()
        self.pass_combo.setToolTip("The passes of the last loop recording: choose one to see and hear it")
        self.pass_combo.setMinimumContentsLength(18)
        self.pass_combo.currentIndexChanged.connect(self._chosen)
        self.pass_action = None       # the combo's action, when a toolbar holds it (which shows it)
        self._show_combo(False)
        nav.score_changed.connect(self._score_changed)

    def _score_changed(self) -> None:
        """Another score, part or tempo: the passes were judged against the old one, so they go."""
        if not self.active:
            self.reset()

    @property
    def active(self) -> bool:
        return self.plan is not None and self.s.is_recording

    # ------------------------------------------------------------------ start and stop
    def begin(self, recording_path: str, sr: int, ex) -> float:
        """Plan the loop over the Bars (`ex`, their excerpt of the score) for a recording just started;
        start the click cycle. Returns the count-in (s) before the first pass."""
        from musicdesk import metronome
        from musicdesk.loop_takes import plan_loop

        s, st = self.s, self.s.settings
        self.reset()
        self.excerpt = ex
        beats = int(st.count_in_beats)
        count_in = metronome.count_in_s(ex.tempo_bpm, beats) if beats > 0 else 0.0
        self.plan = plan = plan_loop(ex, *self.nav.loop_bars(), count_in)
        first = next(n for n in s.score.notes if n.id == ex.notes[0].id)
        self._score_offset_s = first.onset_s - ex.notes[0].onset_s
        self._base = str(Path(recording_path).with_suffix(""))
        self._sr = int(sr)
        # one cycle: the count-in, then (when set) every beat of the bars; the player loops it
        times, accents = metronome.take_click_times_s(ex, beats, through_take=bool(st.metronome_in_take))
        if len(times):
            from musicdesk.playback import Player

            cycle = metronome.render_clicks(times, accents, CLICK_SR, length_s=plan.cycle_s)
            try:
                self._clicks = Player()
                self._clicks.play(cycle, CLICK_SR, loop=True, device=s.device(False))
            except Exception as exc:  # no output device: loop without the audible clicks
                self._clicks = None
                s.status(f"No metronome click ({exc}); each pass starts {plan.count_in_s:.1f} s after the "
                         "last.", 8000)
        self.roll.set_notes([RollNote(n.id, plan.bars_start_s(k) + n.onset_s,
                                      plan.bars_start_s(k) + n.offset_s, n.midi)
                             for k in range(ROLL_PASSES) for n in ex.notes])
        return count_in

    def tick(self, samples_so_far, recorded_s: float) -> str:
        """Timer, while recording: cut every pass recorded by now. Returns the recording label's text."""
        lat = self.s.settings.latency_ms / 1000.0
        done = self.plan.passes_complete(recorded_s - lat)
        if done > len(self.passes):
            x = samples_so_far()
            while len(self.passes) < done:
                self._cut(x, len(self.passes))
        k, into = self.plan.pass_at(recorded_s - lat)
        bars = f"bars {self.plan.first_measure}-{self.plan.last_measure}"
        return f"● pass {k + 1}, {bars}" + (" (count-in)" if into < 0 else "")

    def score_time(self, recorded_s: float) -> float:
        """Score time of the note being played at `recorded_s` (for the score cursor)."""
        _, into = self.plan.pass_at(recorded_s)
        return self._score_offset_s + into

    def finish(self, samples: np.ndarray, recorded_s: float) -> None:
        """The recording stopped: stop the clicks, cut the passes it finished (a last one cut short
        counts when nearly all of its bars were played), and show the latest once judged."""
        self.stop_clicks()
        if self.plan is None:
            return
        lat = self.s.settings.latency_ms / 1000.0
        n = self.plan.passes_at_stop(recorded_s - lat)
        while len(self.passes) < n:
            self._cut(samples, len(self.passes))
        if not self.passes:
            self.s.status(f"No pass of bars {self.plan.first_measure}-{self.plan.last_measure} was finished: "
                          "the recording is kept; record again.", 10000)
        elif self._judging is None and not self._queue:
            self._chosen(len(self.passes) - 1)

    def stop_clicks(self) -> None:
        stop_quietly(self._clicks)
        self._clicks = None

    def _show_combo(self, on: bool) -> None:
        (self.pass_action or self.pass_combo).setVisible(on)

    def reset(self) -> None:
        """A take that is not a pass replaces them: the Pass box goes."""
        self.plan = None
        self.passes, self._queue, self._judging = [], [], None
        self.pass_combo.blockSignals(True)
        self.pass_combo.clear()
        self.pass_combo.blockSignals(False)
        self._show_combo(False)

    # ------------------------------------------------------------------ passes
    def _cut(self, samples: np.ndarray, k: int) -> None:
        from musicdesk.audio import AudioError, Take, save_take
        from musicdesk.loop_takes import cut_pass

        lat = self.s.settings.latency_ms / 1000.0
        x = cut_pass(np.asarray(samples)[int(round(lat * self._sr)):], self._sr, self.plan, k)
        path = f"{self._base}-pass{k + 1}.wav"
        take = Take(np.asarray(x, dtype=np.float32), self._sr, path)
        try:
            save_take(take, path)
        except AudioError as exc:   # a full disk: the pass is still judged, and the recording has it
            take = Take(take.samples, take.sr, "")
            self.s.status(f"Pass {k + 1} could not be saved ({exc}); it stays in the recording.", 10000)
        p = Pass(k + 1, take)
        self.passes.append(p)
        self._queue.append(p)
        self.pass_combo.addItem(pass_label(p))
        self._show_combo(True)
        self._judge_next()

    def _judge_next(self) -> None:
        if self._judging is not None or not self._queue:
            return
        p = self._judging = self._queue.pop(0)

        def done(analysis) -> None:
            p.analysis = analysis
            self._judged(p)

        def failed(msg: str) -> None:
            p.error = msg
            self._judged(p, shown=False)

        self.results.analyse(self.excerpt, p.take, while_recording=True, done=done, failed=failed)

    def _judged(self, p: Pass, shown: bool = True) -> None:
        self._judging = None
        i = p.number - 1
        self.pass_combo.setItemText(i, pass_label(p))
        if shown:
            self.pass_combo.blockSignals(True)
            self.pass_combo.setCurrentIndex(i)
            self.pass_combo.blockSignals(False)
            if not self.s.is_recording and not self._queue:
                self._chosen(i)              # drawn on the roll too, now that nothing is recorded
            self.pass_shown.emit(p.number)
        self._judge_next()

    def _chosen(self, i: int) -> None:
        """Show pass i's results (it becomes the take that Play and Save use)."""
        if not 0 <= i < len(self.passes):
            return
        p = self.passes[i]
        self.pass_combo.blockSignals(True)
        self.pass_combo.setCurrentIndex(i)
        self.pass_combo.blockSignals(False)
        s = self.s
        if p.analysis is None:
            if p.error:
                s.status(f"Pass {p.number} was not judged: {p.error}", 10000)
            return
        s.take = p.take
        s.take_path = p.take.path or None
        s.stored_take_id = None
        s.recording = (p.take.samples, p.take.sr)
        if not s.is_recording:
            self.roll.clear_live()           # the recording's live trace runs on its own clock, not the pass's
        self.results.show_analysis(p.analysis)
        s.update()
        self.pass_shown.emit(p.number)
