"""Playback and transport: play the take, the score (rendered) or both, at a chosen speed, over the loop's
bars, with the cursor following on the score and the piano roll. Owns the Play actions and Speed box.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QComboBox

from musicdesk.app import workers
from musicdesk.app.score_nav import ScoreNavigator
from musicdesk.app.session import FRAME_MS, Session, make_action, stop_quietly, user_errors

SPEEDS = (1.0, 0.9, 0.75, 0.5)


class Transport(QObject):
    """Play, stop, speed and loop; the cursor follows what plays."""

    def __init__(self, session: Session, nav: ScoreNavigator, roll):
        super().__init__(session)
        self.s = session
        self.nav = nav
        self.roll = roll
        self._reference_cache: dict = {}
        self._play_map = None       # (kind, speed) while playing, for the cursor
        w = session.window
        self.act_play_take = make_action(w, "▶ Take", lambda: self.play("take"), "P", "Play the take")
        self.act_play_ref = make_action(w, "▶ Score", lambda: self.play("reference"), "Shift+P", "Play the score")
        self.act_play_both = make_action(w, "▶ Both", lambda: self.play("both"), "Ctrl+P",
                                         "Play take and score together")
        self.actions = [self.act_play_take, self.act_play_ref, self.act_play_both]
        self.speed_combo = QComboBox()
        for sp in SPEEDS:
            self.speed_combo.addItem(f"{int(sp * 100)}%", sp)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._follow)
        nav.score_changed.connect(self._reference_cache.clear)
        session.changed.connect(self.update_enabled)
        self.update_enabled()

    def update_enabled(self) -> None:
        s = self.s
        rec, has_score = s.is_recording, s.score is not None
        self.act_play_take.setEnabled(s.take is not None and not rec)
        self.act_play_ref.setEnabled(has_score and not rec)
        self.act_play_both.setEnabled(has_score and s.analysis is not None and not rec)

    @property
    def speed(self) -> float:
        return float(self.speed_combo.currentData() or 1.0)

    def reference(self, speed: float, score=None):
        """The score (or `score`, an excerpt of it) rendered to audio at `speed` (made once per part,
        bars, tempo and speed)."""
        from musicdesk.playback import render_reference

        score = score if score is not None else self.s.score
        key = (score.part, score.tempo_bpm, speed, score.notes[0].id if score.notes else "", len(score.notes))
        if key not in self._reference_cache:
            self._reference_cache[key] = render_reference(score, sr=44100, tempo_factor=speed)
        return self._reference_cache[key]

    def _prepare(self, kind: str, speed: float, bars: tuple[int, int] | None):
        """Samples, rate and (start, end) to play (runs in a worker: rendering and stretching take time)."""
        from musicdesk.playback import measure_span_s, mix, slowed, take_span_s

        s = self.s
        span = None
        if kind == "reference":
            audio = self.reference(speed)
            if bars:
                a, b = measure_span_s(s.score, *bars)
                span = (a / speed, b / speed)
        else:
            judged = s.judged_score
            base = s.take if kind == "take" else mix(s.take, self.reference(1.0, judged), s.analysis.alignment,
                                                     judged)
            audio = slowed(base, speed) if speed != 1.0 else base
            if bars and s.analysis is not None:
                a, b = take_span_s(s.analysis.report, judged, *bars)
                span = (a / speed, b / speed)
        return audio, span

    def play(self, kind: str) -> None:
        """Play "take", "reference" (the score) or "both", over the loop's bars when Loop is on."""
        s = self.s
        if s.is_recording or s.score is None:
            return
        if kind != "reference" and s.take is None:
            return
        speed = self.speed
        self.stop_playback()
        bars = self.nav.loop_bars() if self.nav.looping else None
        task = workers.Task(self._prepare, kind, speed, bars, user_errors=user_errors())
        s.run(task, lambda res: self._start(res[0], res[1], kind, speed), "Cannot play")

    def _start(self, audio, span, kind: str, speed: float) -> None:
        from musicdesk.playback import Player

        s = self.s
        try:
            s.player = Player()
            start, end = span if span else (0.0, None)
            s.player.play(np.asarray(audio.samples, dtype=np.float32), audio.sr, start_s=start, end_s=end,
                          loop=bool(span) and self.nav.looping, device=s.device(False))
        except Exception as exc:
            s.player = None
            s.playback_failed(exc)
            return
        self._play_map = (kind, speed)
        self.timer.start()
        s.update()

    def play_stretch(self, start_s: float, end_s: float) -> None:
        """Play a short stretch of the take (clicking a note or a problem)."""
        s = self.s
        if s.take is None or s.is_recording:
            return
        self.stop_playback()
        pad = 0.25
        self._start(s.take, (max(0.0, start_s - pad), end_s + pad), "take", 1.0)

    def stop_playback(self) -> None:
        stop_quietly(self.s.player)
        self.s.player = None
        self._play_map = None
        self.timer.stop()
        self.s.update()

    def _follow(self) -> None:
        p = self.s.player
        if p is None:
            self.timer.stop()
            return
        if not p.is_playing:
            self.stop_playback()
            return
        kind, speed = self._play_map or ("take", 1.0)
        t = p.position_s * speed
        if kind == "reference":
            self.nav.cursor_at_score_time(t)
        else:
            self.roll.set_cursor(t)
            self.nav.cursor_at_take_time(t)
