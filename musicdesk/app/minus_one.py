"""Minus-one practice: Record plays the other parts (an ensemble recording's other stems, from Tools >
Stems, or the score's other parts rendered) while you record yours, and the take is judged against
your part with the accompaniment taken out of it (musicdesk.separate.minusone: echo cancellation
against exactly what was played). The take file keeps the raw input. With headphones (Settings) the
microphone does not hear the accompaniment and nothing is removed.

Computes nothing itself: rendering and cleaning run in background workers.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from musicdesk.app import workers
from musicdesk.app.score_nav import ScoreNavigator
from musicdesk.app.session import Session, make_action, stop_quietly, user_errors
from musicdesk.separate.minusone import POOR_ECHO_DB, Accompaniment

PLAY_SR = 44100


def render_job(score_path: str, part: str) -> Accompaniment:
    """The worker for "the score's other parts": every part but `part`, rendered."""
    from musicdesk.separate.core import TooFewPartsError, load_parts
    from musicdesk.separate.minusone import rendered_accompaniment

    try:
        scores = load_parts(score_path)
    except TooFewPartsError as exc:
        raise ValueError("Minus-one needs a score with two parts or more: yours and the ones the app "
                         "plays. Open the full score, or open a recording of the ensemble in Tools > Stems.") from exc
    names = [sc.part for sc in scores]
    if part not in names:
        raise ValueError(f"The score has no part named {part!r}; choose one of: {', '.join(names)}.")
    y = rendered_accompaniment(scores, names.index(part), PLAY_SR)
    return Accompaniment(part, y, PLAY_SR, "the score's other parts")


def cleaned_take_job(samples: np.ndarray, sr: int, path: str, played: np.ndarray, expected_delay_s: float):
    """The worker after a minus-one take: (the Take to judge, with the accompaniment removed; the
    musicdesk.separate.minusone.Cleaned result). The file at `path` stays the raw input."""
    from musicdesk.audio import Take
    from musicdesk.separate.minusone import remove_accompaniment

    c = remove_accompaniment(np.asarray(samples, np.float32).reshape(-1), sr, played, expected_delay_s)
    return Take(c.samples, int(sr), path), c


class MinusOnePractice(QObject):
    """The accompaniment chosen for the next takes, and its playback while recording."""

    def __init__(self, session: Session, nav: ScoreNavigator):
        super().__init__(session)
        self.s, self.nav = session, nav
        self.acc: Accompaniment | None = None
        self.player = None
        self.played: np.ndarray | None = None      # the take's reference: count-in silence, then `acc`
        self.last = None                           # Cleaned of the last minus-one take
        self.last_underflows = 0                   # times the last take's accompaniment stuttered
        w = session.window
        self.act_from_score = make_action(w, "Minus-one from the score", self.from_score, None,
                                          "Record plays the score's other parts while you play the part on show")
        self.act_off = make_action(w, "Minus-one off", self.clear, None, "Record plays no accompaniment")
        session.changed.connect(self.update_enabled)
        self.update_enabled()

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        """An accompaniment is chosen for the part on show."""
        sc = self.s.score
        return self.acc is not None and sc is not None and sc.part == self.acc.part

    def update_enabled(self) -> None:
        idle = not self.s.is_recording
        self.act_from_score.setEnabled(idle and self.s.loaded is not None)
        self.act_off.setEnabled(idle and self.acc is not None)

    def describe(self) -> str:
        if self.acc is None:
            return ""
        where = "headphones: nothing is removed from the take" if self.s.settings.headphones else \
            "taken out of the take before it is judged"
        return f"Minus-one: {self.acc.source} ({self.acc.duration_s:.0f} s) play while you record {self.acc.part}; {where}."

    def set_accompaniment(self, acc: Accompaniment) -> None:
        """Use `acc` for the next takes, and show its part (the one the student plays)."""
        self.acc = acc
        self.nav.show_part(acc.part)
        self.s.status(self.describe(), 15000)
        self.s.update()

    def clear(self) -> None:
        self.acc = None
        self.s.status("Minus-one off: Record plays no accompaniment.", 6000)
        self.s.update()

    def from_score(self) -> None:
        """Render the other parts of the open score (a worker) and use them."""
        s = self.s
        if s.loaded is None or s.score is None:
            return
        task = workers.Task(render_job, s.loaded.path, s.score.part, user_errors=(ValueError, *user_errors()))
        s.status(f"Rendering the parts other than {s.score.part}…")
        s.run(task, self.set_accompaniment, "Cannot play the other parts")

    # ------------------------------------------------------------------ recording
    def start(self, sr: int, lead_s: float) -> None:
        """Recording has started: play the accompaniment after `lead_s` (the count-in)."""
        from musicdesk.playback import PlaybackError, Player
        from musicdesk.separate.minusone import PLAY_LATENCY_S, for_take

        self.played = None
        if not self.active:
            return
        ref = for_take(self.acc, lead_s, int(sr))
        try:
            self.player = Player(latency_s=PLAY_LATENCY_S)
            self.player.play(ref, int(sr), device=self.s.device(False))
        except (PlaybackError, OSError, RuntimeError) as exc:
            self.player = None
            self.s.status(f"The accompaniment cannot play ({exc}); recording without it.", 10000)
            return
        self.played = ref

    @property
    def last_was_troubled(self) -> bool:
        """Whether the last take's accompaniment stuttered or was taken out poorly (its judgement may
        be off near those moments: worth recording again)."""
        return bool(self.last_underflows) or self._poor_echo

    @property
    def _poor_echo(self) -> bool:
        """The last take's accompaniment was taken out by under POOR_ECHO_DB."""
        return self.last is not None and self.last.echo_reduction_db < POOR_ECHO_DB

    def reliability_note(self) -> str:
        """Sentences for the status bar when the last take's accompaniment stuttered or could only be
        taken out poorly, else ""."""
        n, text = self.last_underflows, ""
        if n:
            text += (f" The accompaniment stuttered {n} time{'s' if n > 1 else ''} while you played (the "
                     "computer was busy): notes near those moments may be judged less reliably.")
        if self._poor_echo:
            text += (f" The accompaniment could only be taken out by {self.last.echo_reduction_db:.0f} dB "
                     "(its timing wavered, or the room is loud): some of it may be judged as your notes.")
        if text:
            text += " Close other programs or use headphones, and record again if the results look wrong."
        return text

    def stop(self) -> None:
        self.last_underflows = getattr(self.player, "underflows", 0)
        stop_quietly(self.player)
        self.player = None

    def take_task(self, samples: np.ndarray, sr: int, path: str) -> workers.Task | None:
        """The worker that turns a minus-one take into what is judged, or None (no accompaniment
        played, or headphones: judge the take as recorded)."""
        played, self.played = self.played, None
        if played is None or self.s.settings.headphones:
            return None
        lat = float(self.s.settings.latency_ms) / 1000.0
        return workers.Task(cleaned_take_job, samples, int(sr), path, played, lat, user_errors=user_errors())
