"""Every take the window records or opens goes into the practice history with its analysis, in the
background once its results are on screen (musicdesk.history.keep does the work). A take that cannot
be kept stays in its file; the status bar says why."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from musicdesk.app import workers
from musicdesk.app.session import Session


class HistoryKeeper(QObject):
    kept = Signal(str)            # the id of the take just kept

    def __init__(self, session: Session, results):
        super().__init__(session)
        self.s = session
        self.last_take_id: str | None = None
        results.shown.connect(self._analysis_shown)

    def _analysis_shown(self) -> None:
        s = self.s
        st = s.settings
        analysis, take, score = s.analysis, s.take, s.score
        if not st.history_enabled or analysis is None or take is None or score is None or not take.path:
            return
        if s.stored_take_id is not None:           # a take opened from the history: kept already
            self.last_take_id = s.stored_take_id
            return
        from musicdesk.history.keep import keep_take

        judged = s.judged_score
        bars = None
        if judged is not None and judged is not score and judged.notes:
            bars = (judged.notes[0].measure, judged.notes[-1].measure)
        recorded = s.is_recording or s.recording is not None      # (a loop pass is judged while recording)
        task = workers.Task(keep_take, st.history_db, st.student_name, score.source_path, score.part,
                            score.title or "", take.path, analysis,
                            device=(st.input_device or "default input") if recorded else "",
                            latency_ms=st.latency_ms if recorded else 0.0, tempo_bpm=score.tempo_bpm, bars=bars,
                            assignment=s.assignment_id if recorded else None, user_errors=history_errors())
        s.run(task, self._kept, "Not kept in the practice history (the take's file is kept)", quiet=True)

    def _kept(self, take_id) -> None:
        self.last_take_id = str(take_id)
        self.kept.emit(self.last_take_id)


def history_errors() -> tuple[type, ...]:
    """The errors a history task reports to the user as they are (the rest are bugs of ours)."""
    from musicdesk.app.session import user_errors
    from musicdesk.history.db import HistoryError

    return (*user_errors(), HistoryError)


def session_store(s: Session):
    """The window's practice history store (Settings > History store; "" is MUSICDESK_DB, else the user
    data folder's file), opened once per process."""
    from musicdesk.history.keep import store_for

    return store_for(s.settings.history_db or None)
