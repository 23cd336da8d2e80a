"""Results and problems: runs the analysis of a take (progress and cancel), then draws it: colours and
marks on the score, the take's notes and pitch on the piano roll, the ratings, the problem list and a
selected note's details. The side panel of the window.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QFrame, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from musicdesk.app import workers
from musicdesk.app.colours import CATEGORY_COLOURS
from musicdesk.app.roll_note import RollNote
from musicdesk.app.results_panel import Legend, RatingsPanel
from musicdesk.app.session import Session, make_action, user_errors

ALL_RIGHT = "Every note was right, in tune and on time."
COMMENT_ROLE = Qt.ItemDataRole.UserRole + 1      # a comment's line: the note id it selects ("" for none)


class ResultsPanel(QWidget):
    """Ratings, legend, problems and details of the analysed take, and the analysis that makes them."""

    shown = Signal()                        # an analysis is drawn
    play_stretch = Signal(float, float)     # play the take from .. to (s): a clicked note or problem
    cursor_note = Signal(str)               # put the score cursor on this element id

    def __init__(self, session: Session, score_view, roll):
        super().__init__()
        self.s = session
        self.score_view = score_view
        self.roll = roll
        self.categories: dict[str, str] = {}      # note id -> outcome category (after analysis)
        self.problems: list = []
        self.task: workers.Task | None = None     # the analysis running
        self.setMinimumWidth(320)
        # The column scrolls when the window is too short for it (the teacher's review open below):
        # squeezed, Qt cut the ratings box's summary off mid-line.
        column = QWidget()
        sl = QVBoxLayout(column)
        sl.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidget(column)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.ratings_box = RatingsPanel()
        sl.addWidget(self.ratings_box)
        sl.addWidget(Legend())
        sl.addWidget(QLabel("Problems (click to hear and see):"))
        self.problem_list = QListWidget()
        self.problem_list.setWordWrap(True)
        self.problem_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problem_list.itemClicked.connect(self.problem_clicked)
        self.problem_list.setMinimumHeight(90)   # a few problems, then the column scrolls
        sl.addWidget(self.problem_list, 1)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sl.addWidget(self.details)
        # for the status bar
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(200)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.act_cancel = make_action(session.window, "Cancel analysis", self.cancel_analysis, "Esc")

    # ------------------------------------------------------------------ analysis
    def analyse(self, score=None, take=None, while_recording: bool = False, done=None, failed=None) -> None:
        """Judge the session's take against its score (or `take` against `score`, an excerpt of it: a
        pass of a loop recording, judged `while_recording` the next) in the background; a running
        analysis is cancelled. `done(analysis)` is called after it is shown; `failed(message)` (said
        in the status bar only) when it could not be judged."""
        from musicdesk.analysis import analyze

        s = self.s
        score = score if score is not None else s.score
        take = take if take is not None else s.take
        if score is None or take is None or (s.is_recording and not while_recording):
            return  # (a take finished loading while the next one is being recorded: that one counts)
        self.cancel_analysis()
        self.clear()
        st = s.settings
        model = None if st.assess_model in ("", "none") else st.assess_model
        task = workers.Task(analyze, score, take, tracker=st.tracker, tolerances=st.tolerances(),
                            assess_model=model, device=st.assess_device, user_errors=user_errors())
        self.task = task
        s.analysing = True
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.cancel_button.setVisible(True)
        task.signals.progress.connect(s.alive(self._on_progress))
        task.signals.cancelled.connect(s.alive(self._ended))
        task.signals.failed.connect(s.alive(lambda _m: self._ended()))
        if failed is not None:
            task.signals.failed.connect(s.alive(failed))

        def shown(analysis):
            self._ended()
            s.take = take
            s.stored_take_id = None          # judged now: the history keeps this analysis too
            self.show_analysis(analysis)
            if done is not None:
                done(analysis)

        s.run(task, shown, "Cannot analyse the take", quiet=failed is not None)
        s.update()

    def _on_progress(self, stage: str, frac: float) -> None:
        self.progress.setValue(int(100 * frac))
        self.progress.setFormat(f"{stage} %p%")

    def _ended(self) -> None:
        self.task = None
        self.s.analysing = False
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.s.update()

    def cancel_analysis(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.s.status("Analysis cancelled.", 5000)
            self._ended()

    # ------------------------------------------------------------------ drawing
    def clear(self) -> None:
        """No results on screen (a new score, a new take, recording)."""
        self.s.analysis = None
        self.categories = {}
        self.problems = []
        self.problem_list.clear()
        self.details.setText("")
        self.score_view.set_colours({})
        self.score_view.set_marks({})
        if not self.s.is_recording:          # (a loop recording's live trace stays while a pass is judged)
            self.roll.set_contour([], [])
            self.roll.clear_live()
        self.score_view.set_timing_marks({})
        self.score_view.set_comment_marks({})
        self.score_view.set_comment_bars([])
        self.roll.set_comment_spans([])
        self.ratings_box.clear()

    def show_analysis(self, analysis) -> None:
        """Draw a finished analysis: colours on the score, the roll, ratings and the problem list."""
        from musicdesk.describe import extra_after, note_category, pitch_category, problems, timing_mark

        self.s.analysis = analysis
        rep = analysis.report
        score = self.s.judged_score
        self.categories = {r.id: note_category(r) for r in rep.notes}
        # colour by pitch, so a right note stays green; a timing problem is a mark of its own
        colours = {score.notes[r.index].element_id: CATEGORY_COLOURS[pitch_category(r)] for r in rep.notes}
        self.score_view.set_colours(colours)
        self.score_view.set_timing_marks({score.notes[r.index].element_id: timing_mark(r) for r in rep.notes
                                          if timing_mark(r)})
        self.score_view.set_marks({score.notes[i].element_id: CATEGORY_COLOURS["extra"]
                                   for i in extra_after(rep) if i is not None})
        self.problems = problems(rep, self.s.settings.concert_pitch)
        if not self.s.is_recording:          # (the roll follows the loop recording's next pass)
            self.roll.set_notes(self._roll_notes(rep))
            self.roll.set_contour(analysis.contour.times_s, analysis.contour.midi)
            found = [r.onset_s for r in rep.notes if r.onset_s is not None]
            if found:
                self.roll.show_range(max(0.0, min(found) - 1.0), max(r.offset_s or 0 for r in rep.notes) + 1.0)
        self.ratings_box.show_analysis(analysis)
        self.problem_list.clear()
        for i, p in enumerate(self.problems):
            item = QListWidgetItem(p.text)
            pix = QPixmap(12, 12)
            pix.fill(QColor(CATEGORY_COLOURS.get(p.category, "#333333")))
            item.setIcon(QIcon(pix))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.problem_list.addItem(item)
        if not self.problems:
            self.problem_list.addItem(ALL_RIGHT)
        self.s.update()
        self.shown.emit()

    def show_comments(self, pins) -> None:
        """Put the comments on this take (musicdesk.history.review.Pin) first in the problems list, each
        with where it is pinned; [] removes them. Clicking one selects its note."""
        from musicdesk.app.colours import COMMENT_COLOUR

        for i in reversed(range(self.problem_list.count())):
            if self.problem_list.item(i).data(COMMENT_ROLE) is not None:
                self.problem_list.takeItem(i)
        pix = QPixmap(12, 12)
        pix.fill(QColor(COMMENT_COLOUR))
        for k, p in enumerate(pins):
            item = QListWidgetItem(f"{p.comment.author}, {p.where}: “{p.comment.text}”")
            item.setIcon(QIcon(pix))
            item.setData(COMMENT_ROLE, p.first_note or "")
            item.setToolTip(f"A comment by {p.comment.author}, "
                            f"{p.comment.created_at.astimezone():%Y-%m-%d %H:%M}")
            self.problem_list.insertItem(k, item)

    def comment_lines(self) -> list[str]:
        """The comments' lines in the problems list (for tests)."""
        return [self.problem_list.item(i).text() for i in range(self.problem_list.count())
                if self.problem_list.item(i).data(COMMENT_ROLE) is not None]

    def _roll_notes(self, rep) -> list[RollNote]:
        """The take's notes at their performed times; missed ones between their neighbours (outlined
        grey); extra notes; labelled with cents or ms where they are off."""
        from musicdesk.describe import pitch_category, timing_mark

        roll: list[RollNote] = []
        for r in rep.notes:
            on, off = r.onset_s, r.offset_s
            if on is None:
                on, off = self._missed_span(r.index)
                if on is None:
                    continue
            cat = pitch_category(r)
            label = ""
            if r.cents is not None and cat in ("out_of_tune", "wrong_pitch"):
                label = f"{r.cents:+.0f}c"
            if timing_mark(r):
                label = (label + " " if label else "") + f"{r.timing_error_ms:+.0f}ms"
            roll.append(RollNote(r.id, on, off, r.expected_midi, cat, label))
        for i, e in enumerate(rep.extra_notes):
            if e.midi is not None:
                roll.append(RollNote(f"extra:{i}", e.onset_s, e.offset_s, e.midi, "extra"))
        return roll

    def _missed_span(self, index: int) -> tuple[float | None, float | None]:
        from musicdesk.describe import found_neighbours

        prev, nxt = found_neighbours(self.s.analysis.report.notes, index)
        if prev is None or nxt is None:
            return None, None
        return prev.offset_s, max(nxt.onset_s, prev.offset_s + 0.05)

    # ------------------------------------------------------------------ selection
    def problem_clicked(self, item: QListWidgetItem) -> None:
        note = item.data(COMMENT_ROLE)
        if note is not None:
            if note:
                self.select_note(note)
            return
        i = item.data(Qt.ItemDataRole.UserRole)
        if i is None:
            return
        p = self.problems[i]
        if p.note_id is not None:
            self.select_note(p.note_id)
        else:
            self.details.setText(p.text)
            if p.onset_s is not None:
                self.roll.show_range(p.onset_s - 1.0, (p.offset_s or p.onset_s) + 1.0)
                self.play_stretch.emit(p.onset_s, p.offset_s or p.onset_s + 0.5)

    def select_note(self, key: str) -> None:
        """Show a note's details, move the cursor to it, and play that stretch of the take."""
        from musicdesk.describe import (describe_note, extra_name, fmt_beat, note_name, pitch_names_note, played_name,
                                        timing_note)

        s = self.s
        concert = s.settings.concert_pitch
        if key.startswith("extra:") and s.analysis is not None:
            e = s.analysis.report.extra_notes[int(key.split(":")[1])]
            self.details.setText(f"Extra note {extra_name(e, '', concert)} at {e.onset_s:.2f} s (not in the score)")
            self.play_stretch.emit(e.onset_s, e.offset_s)
            return
        if s.score is None:
            return
        judged = s.judged_score.notes if s.analysis is not None else ()
        sn = next((n for n in (*judged, *s.score.notes) if n.id == key or n.element_id == key), None)
        if sn is None:
            return
        self.cursor_note.emit(sn.element_id)
        name = sn.name or note_name(sn.midi)
        text = f"Bar {sn.measure}, beat {fmt_beat(sn.beat)}: {s.score.concert(name) if concert else name}"
        k = next((j for j, n in enumerate(judged) if n.id == sn.id), None)
        if s.analysis is not None and k is None:
            text += " - not in the bars of this take"
        elif s.analysis is not None:
            r = s.analysis.report.notes[k]
            d = describe_note(r, concert) or "right, in tune and on time"
            text += f" - {d}"
            if r.played_midi is not None:
                text += f"\nplayed {played_name(r, concert)} ({r.cents:+.0f} cents)"
            if r.onset_s is not None:
                text += f"; {timing_note(r)}"
                self.roll.show_range(r.onset_s - 1.5, r.offset_s + 1.5)
                self.roll.set_cursor(r.onset_s)
                self.play_stretch.emit(r.onset_s, r.offset_s)
            else:
                on, off = self._missed_span(k)
                if on is not None:
                    self.roll.show_range(on - 1.5, off + 1.5)
                    self.play_stretch.emit(on - 0.3, off + 0.3)
        if pitch_names_note(s.score, concert):
            text += f"\n{pitch_names_note(s.score, concert)}"
        self.details.setText(text)
