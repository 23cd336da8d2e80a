"""Comments on the take on show: once a take from the practice history is drawn, its comments are
fetched (musicdesk.history.review, in a worker) and shown as a pen below each note they are pinned to,
with their text as its tooltip (a comment on bars also shades those bars on the score, one on a time
of the take that stretch of the piano roll), and first in the problems list. The student sees the teacher's comments on the take they came back with; the teacher sees their
own as they add them."""
from __future__ import annotations

import uuid

from PySide6.QtCore import QObject, Signal

from musicdesk.app import workers
from musicdesk.app.history_keeper import history_errors, session_store
from musicdesk.app.session import Session


class CommentsOverlay(QObject):
    shown = Signal()              # the comments of the take on show are drawn

    def __init__(self, session: Session, results):
        super().__init__(session)
        self.s, self.results = session, results
        self.pins: list = []
        self._task = None
        self._fetch = 0               # the number of the latest fetch: only it draws
        results.shown.connect(self.refresh)

    def refresh(self) -> None:
        """Fetch and draw the comments of the stored take on show (none for a take not stored)."""
        s = self.s
        take_id, score, analysis = s.stored_take_id, s.judged_score, s.analysis
        if take_id is None or score is None or analysis is None:     # a take not from the history: none
            self.pins = []
            self.results.score_view.set_comment_marks({})
            self.results.score_view.set_comment_bars([])
            self.results.roll.set_comment_spans([])
            self.results.show_comments([])
            return
        from musicdesk.history.review import feedback, pins

        if self._task is not None:
            self._task.cancel()
        store = session_store(s)

        def work():
            return pins(feedback(store, uuid.UUID(take_id)), score, analysis.report)

        self._fetch += 1
        self._task = s.run(workers.Task(work, user_errors=history_errors()),
                           lambda p, shown_id=take_id, n=self._fetch: self._draw(p, shown_id, n),
                           "Cannot read the comments", quiet=True)

    def _draw(self, pins: list, take_id: str, fetch: int) -> None:
        # a fetch overtaken by a newer one (a comment added while the take's first fetch ran) could
        # finish after cancel() and draw, and announce, the comments as they were before
        if fetch != self._fetch or self.s.stored_take_id != take_id:
            return
        self._task = None
        self.pins = pins
        element = {n.id: n.element_id for n in self.s.judged_score.notes}
        marks: dict[str, list[str]] = {}
        bars, spans = [], []             # comments on bars (the score shades them), on a time (the roll)
        for p in pins:
            c = p.comment
            said = f"{c.author}: {c.text}"
            for nid in p.note_ids:
                if nid in element:
                    marks.setdefault(element[nid], []).append(said)
            if c.note_ids:
                continue
            if c.bars is not None:
                bars.append((*c.bars, f"{p.where}: {said}"))
            elif c.times_s is not None:
                spans.append((*c.times_s, f"{p.where}: {said}"))
        self.results.score_view.set_comment_marks({k: "\n".join(v) for k, v in marks.items()})
        self.results.score_view.set_comment_bars(bars)
        self.results.roll.set_comment_spans(spans)
        self.results.show_comments(pins)
        self.shown.emit()
