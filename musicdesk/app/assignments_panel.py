"""View > Assignments: what a teacher asked for, and the submissions that answer it.

The teacher makes an assignment from the open score (its part, the Bars range, the tempo, a due date,
instructions, the criteria and scale it will be graded on) and exports it as a bundle. The student
imports it (or drops it on the window), sees it here, presses Practise (the piece opens with the bars
and tempo set, Loop on; every take recorded then is kept as played for it), then Submit: a bundle of
the takes they choose, for the teacher. Feedback bundles come back the same way, and each comment then
shows on its note of its take. The core (musicdesk.history) does the work in workers.
"""
from __future__ import annotations

import datetime as dt
import uuid

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (QDateEdit, QDialog, QDialogButtonBox, QDockWidget, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit,
                               QPushButton, QSpinBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from musicdesk.app import bundles, workers
from musicdesk.app.history_keeper import history_errors, session_store
from musicdesk.app.history_panel import cache_dir
from musicdesk.app.session import Session

ID_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("Assignment", "Piece", "Bars", "Tempo", "Due", "Takes")


class AssignmentDialog(QDialog):
    """A new assignment's fields, from the open score (its Bars range and tempo as defaults)."""

    def __init__(self, parent, title_hint: str, bars: tuple[int, int], tempo_bpm: float, criteria: str,
                 scale_max: float):
        super().__init__(parent)
        self.setWindowTitle("New assignment")
        form = QFormLayout(self)
        self.title = QLineEdit(title_hint)
        form.addRow("Title", self.title)
        self.bar_from, self.bar_to = QSpinBox(), QSpinBox()
        for sp, v in ((self.bar_from, bars[0]), (self.bar_to, bars[1])):
            sp.setRange(0, 9999)
            sp.setValue(v)
        row = QHBoxLayout()
        row.addWidget(self.bar_from)
        row.addWidget(QLabel("–"))
        row.addWidget(self.bar_to)
        row.addStretch(1)
        form.addRow("Bars", row)
        self.tempo = QSpinBox()
        self.tempo.setRange(20, 400)
        self.tempo.setValue(int(round(tempo_bpm)))
        self.tempo.setSuffix(" bpm")
        form.addRow("Tempo", self.tempo)
        self.due = QDateEdit(QDate.currentDate().addDays(7))
        self.due.setCalendarPopup(True)
        form.addRow("Due", self.due)
        self.criteria = QLineEdit(criteria)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(1, 1000)
        self.scale.setDecimals(0)
        self.scale.setValue(scale_max)
        row = QHBoxLayout()
        row.addWidget(self.criteria, 1)
        row.addWidget(QLabel("out of"))
        row.addWidget(self.scale)
        form.addRow("Graded on", row)
        self.instructions = QPlainTextEdit()
        self.instructions.setPlaceholderText("e.g. Slowly first; breathe at bar 4.")
        self.instructions.setMaximumHeight(80)
        form.addRow("Instructions", self.instructions)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    def values(self) -> dict:
        """The keyword arguments of Store.assign (less the teacher and the piece)."""
        d = self.due.date()
        due = dt.datetime(d.year(), d.month(), d.day(), 23, 59, 59).astimezone()
        return {"title": self.title.text().strip(), "bars": tuple(sorted((self.bar_from.value(), self.bar_to.value()))),
                "tempo_bpm": float(self.tempo.value()), "due": due,
                "criteria": [c.strip() for c in self.criteria.text().split(",") if c.strip()],
                "scale_max": self.scale.value(), "instructions": self.instructions.toPlainText().strip()}


class SubmitDialog(QDialog):
    """Choose the takes to submit: the student's takes of the piece, those recorded for it ticked."""

    def __init__(self, parent, title: str, takes: list, assignment_id: uuid.UUID):
        super().__init__(parent)
        self.setWindowTitle(f"Submit: {title}")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("The takes to send to your teacher:"))
        self.list = QListWidget()
        for t in takes:
            right = f", {t.n_correct}/{t.n_notes} notes right" if t.n_notes else ""
            item = QListWidgetItem(f"{t.recorded_at.astimezone():%Y-%m-%d %H:%M}, {t.duration_s:.0f} s{right}")
            item.setData(ID_ROLE, str(t.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if t.assignment_id == assignment_id else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        lay.addWidget(self.list)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.button(QDialogButtonBox.StandardButton.Ok).setText("Submit…")
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def chosen(self) -> list[str]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]


class AssignmentsPanel(QDockWidget):
    """Assignments in the store. Signals: `loaded` once drawn, `practising(id)` once the piece is on show
    with its bars and tempo, `exported(path)` once a bundle is written, `imported` after an import."""

    loaded = Signal()
    practising = Signal(str)
    exported = Signal(str)
    imported = Signal()

    def __init__(self, session: Session, nav, takes, parent=None):
        super().__init__("Assignments", parent)
        self.setObjectName("assignments")
        self.s, self.nav, self.takes_ctl = session, nav, takes
        self.rows: list = []             # (Assignment, Piece, n takes)
        self._task = None
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(COLUMNS)
        self.list.setRootIsDecorated(False)
        self.list.itemSelectionChanged.connect(self._selected)
        self.list.itemDoubleClicked.connect(lambda *_: self.practise_selected())
        lay.addWidget(self.list, 1)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        lay.addWidget(self.details)
        row = QHBoxLayout()
        self.practise_button = QPushButton("Practise")
        self.practise_button.setToolTip("Open the piece with the assignment's bars and tempo; the takes you record "
                                        "are kept as played for it")
        self.practise_button.clicked.connect(self.practise_selected)
        self.submit_button = QPushButton("Submit…")
        self.submit_button.clicked.connect(self._ask_submit)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import an assignment, or your teacher's feedback (or drop the file here)")
        self.import_button.clicked.connect(lambda: bundles.ask_import(self.s, lambda _r: self._after_import()))
        self.new_button = QPushButton("New…")
        self.new_button.setToolTip("(Teachers) an assignment on the open score's part, its Bars range and tempo")
        self.new_button.clicked.connect(self._ask_new)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("(Teachers) the selected assignment as a bundle to send to students")
        self.export_button.clicked.connect(self._ask_export)
        for b in (self.practise_button, self.submit_button, self.import_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.new_button)
        row.addWidget(self.export_button)
        lay.addLayout(row)
        self.setWidget(body)
        self.setAcceptDrops(True)
        session.changed.connect(self._update_enabled)
        self._update_enabled()

    def _who(self, teacher: bool) -> str:
        from musicdesk.history.keep import login_name

        st = self.s.settings
        return (st.teacher_name if teacher else st.student_name) or login_name()

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def _update_enabled(self) -> None:
        busy = self.s.is_recording
        chosen = self.selected_id() is not None
        self.practise_button.setEnabled(chosen and not busy)
        self.submit_button.setEnabled(chosen and not busy)
        self.export_button.setEnabled(chosen and not busy)
        self.new_button.setEnabled(self.s.score is not None and bool(self.s.score.source_path) and not busy)

    # ------------------------------------------------------------------ the list
    def refresh(self) -> None:
        store = session_store(self.s)

        def work():
            pieces = {p.id: p for p in store.pieces()}
            counts: dict = {}
            for t in store.takes():
                counts[t.assignment_id] = counts.get(t.assignment_id, 0) + 1
            return [(a, pieces[a.piece_id], counts.get(a.id, 0)) for a in store.assignments()]

        if self._task is not None:
            self._task.cancel()
        self._task = self.s.run(workers.Task(work, user_errors=history_errors()), self.show_rows,
                                "Cannot read the assignments", quiet=True)

    def show_rows(self, rows: list) -> None:
        self._task = None
        keep = self.selected_id()
        self.rows = rows
        self.list.clear()
        for a, p, n in rows:
            cells = [a.title, f"{p.title or 'untitled'} ({p.part})",
                     f"{a.first_bar}-{a.last_bar}" if a.first_bar is not None else "all",
                     f"{a.tempo_bpm:g} bpm" if a.tempo_bpm else "", a.due.astimezone().strftime("%a %d %b") if a.due else "",
                     str(n)]
            item = QTreeWidgetItem(cells)
            item.setData(0, ID_ROLE, str(a.id))
            self.list.addTopLevelItem(item)
            if str(a.id) == keep:
                self.list.setCurrentItem(item)
        for i in range(len(COLUMNS)):
            self.list.resizeColumnToContents(i)
        if not rows:
            self.details.setText("No assignments yet. Import one your teacher sent (or drop it here); teachers "
                                 "make one with New… from the open score.")
        self._selected()
        self.loaded.emit()

    def row(self, assignment_id: str):
        return next((r for r in self.rows if str(r[0].id) == assignment_id), None)

    def _selected(self) -> None:
        r = self.row(self.selected_id() or "")
        if r is not None:
            a, p, n = r
            practising = " You are practising it: your takes are kept for it." if self.s.assignment_id == str(a.id) else ""
            self.details.setText(f"<b>{a.title}</b>: {p.title} ({p.part}). Graded on {', '.join(a.criteria)} out of "
                                 f"{a.scale_max:g}. {a.instructions}{practising}")
        self._update_enabled()

    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if bundles.is_bundle(u.toLocalFile())]
        if paths:
            bundles.import_bundles(self.s, paths, lambda _r: self._after_import())
        ev.acceptProposedAction()

    def _after_import(self) -> None:
        self.refresh()
        self.imported.emit()

    # ------------------------------------------------------------------ the teacher's side
    def _ask_new(self) -> None:
        score = self.s.score
        if score is None:
            return
        st = self.s.settings
        bars = self.nav.loop_bars() if self.nav.looping else (score.notes[0].measure, score.notes[-1].measure)
        dlg = AssignmentDialog(self, f"{score.title or 'Piece'}, bars {bars[0]}-{bars[1]}", bars, score.tempo_bpm,
                               st.rubric, st.rubric_scale)
        if dlg.exec():
            self.new_assignment(**dlg.values())

    def new_assignment(self, title: str, bars, tempo_bpm, due, criteria, scale_max, instructions: str = "",
                       done=None) -> None:
        """Make an assignment on the open score's part (in a worker); `done(id)` after."""
        score, store, teacher = self.s.score, session_store(self.s), self._who(teacher=True)

        def work():
            piece = store.piece(score.source_path, score.part, score.title or "")
            return store.assign(store.person(teacher, "teacher"), piece, title, bars=bars, tempo_bpm=tempo_bpm,
                                due=due, criteria=criteria, scale_max=scale_max, instructions=instructions)

        def finished(aid) -> None:
            self.refresh()
            self.s.status(f"Assignment {title!r} made: Export… sends it to your students.", 10000)
            if done is not None:
                done(str(aid))

        self.s.run(workers.Task(work, user_errors=(*history_errors(), ValueError)), finished,
                   "Cannot make the assignment")

    def _ask_export(self) -> None:
        aid = self.selected_id()
        if aid:
            path = bundles.ask_export_path(self.s, "Export the assignment", "assignment.zip")
            if path:
                self.export_assignment(aid, path)

    def export_assignment(self, assignment_id: str, path: str) -> None:
        bundles.export_bundle(self.s, path, kind="assignment", assignment_ids=[assignment_id],
                              done=lambda p: self.exported.emit(str(p)))

    # ------------------------------------------------------------------ the student's side
    def practise_selected(self) -> None:
        aid = self.selected_id()
        if aid:
            self.practise(aid)

    def practise(self, assignment_id: str) -> None:
        """Open the assignment's piece (from the store when another score is open), set its bars (Loop on)
        and tempo; takes recorded from now on are kept as played for it."""
        from musicdesk.history.reopen import piece_key

        r = self.row(assignment_id)
        if r is None or self.s.is_recording:
            return
        a, p, _ = r
        s = self.s

        def bars() -> None:             # (after the tempo: the score drawn again resets the Bars range)
            s.assignment_id = assignment_id
            if a.first_bar is not None:
                self.nav.loop_from.setValue(a.first_bar)
                self.nav.loop_to.setValue(a.last_bar)
                self.nav.loop_check.setChecked(True)
            self._practising(a)

        def preset() -> None:
            self.takes_ctl.drop_take()       # a new practice: the take on show is not judged again at this tempo
            if a.tempo_bpm and s.score is not None and abs(s.score.tempo_bpm - a.tempo_bpm) > 0.5:
                def at_tempo() -> None:
                    self.nav.shown.disconnect(at_tempo)
                    bars()

                self.nav.shown.connect(at_tempo)
                self.nav.tempo_spin.setValue(int(round(a.tempo_bpm)))
            else:
                bars()

        score = s.score
        if score is not None and score.source_path and piece_key(score.source_path, score.part) == p.id:
            preset()
            return
        store, folder = session_store(self.s), cache_dir(s.settings) / "scores" / str(p.id)[:8]

        def work():
            folder.mkdir(parents=True, exist_ok=True)
            return str(store.score_file(p.id, folder))

        def then(path: str) -> None:
            def shown() -> None:
                self.nav.shown.disconnect(shown)
                preset()

            self.nav.shown.connect(shown)
            self.nav.open_score(path, p.part)

        s.run(workers.Task(work, user_errors=history_errors()), then, "Cannot open the assignment's score")

    def _practising(self, a) -> None:
        bars = f"bars {a.first_bar}-{a.last_bar}" if a.first_bar is not None else "the whole part"
        tempo = f" at {a.tempo_bpm:g} bpm" if a.tempo_bpm else ""
        self.s.status(f"Practising {a.title!r}: {bars}{tempo}. Record; Submit… sends your takes.", 15000)
        self._selected()
        self.practising.emit(str(a.id))

    def _ask_submit(self) -> None:
        aid = self.selected_id()
        r = self.row(aid or "")
        if r is None:
            return
        a, p, _ = r
        from musicdesk.history.db import HistoryError

        store, student = session_store(self.s), self._who(teacher=False)
        try:
            try:
                who = store.person(student, create=False)
            except HistoryError:          # nobody of that name in the store yet: no takes
                who = None
            takes = store.takes(student=who, piece=p.id) if who is not None else []
        except HistoryError as exc:
            self.s.error("Cannot read the practice history", str(exc))
            return
        if not takes:
            self.s.error("Nothing to submit", f"You have no takes of {p.title} ({p.part}) yet: press Practise, "
                         "record, then submit.")
            return
        dlg = SubmitDialog(self, a.title, takes, a.id)
        if dlg.exec() and dlg.chosen():
            path = bundles.ask_export_path(self.s, "Submit", f"submission-{student}.zip")
            if path:
                self.submit(aid, dlg.chosen(), path)

    def submit(self, assignment_id: str, take_ids: list[str], path: str) -> None:
        """Mark the takes as played for the assignment and write them as a submission bundle."""
        aid = uuid.UUID(assignment_id)
        bundles.export_bundle(self.s, path, take_ids, kind="submission",
                              before=lambda store: store.submit(aid, [uuid.UUID(t) for t in take_ids]),
                              done=lambda p: (self.refresh(), self.exported.emit(str(p))))
