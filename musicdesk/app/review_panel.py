"""View > Teacher review: the teacher's side of the practice history.

People, then their pieces, then the takes (drop students' bundles here to import them). Opening a take
shows it with its coloured score, contour, problems and playback, loading its piece's score first when
another is open. Click a note on the score (or give bars, or a time), type, and the comment is pinned
there: it shows on the score and first in the problems list. Grades per criterion on the teacher's
rubric (or the take's assignment's), kept as drafts until released. Export the feedback of a student's
takes as a bundle; "Calibrate from my grades" learns the teacher's grading and shows its
cross-validated R², or refuses while there are too few grades. The core (musicdesk.history.review)
does the work in workers; the panel only draws.
"""
from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QDockWidget, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QMessageBox, QPushButton, QRadioButton,
                               QSpinBox, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from musicdesk.app import bundles, workers
from musicdesk.app.history_keeper import history_errors, session_store
from musicdesk.app.history_panel import cache_dir, grade_text, open_stored_take, page
from musicdesk.app.session import Session

TAKE_ROLE = Qt.ItemDataRole.UserRole
PIECE_ROLE = Qt.ItemDataRole.UserRole + 1
STUDENT_ROLE = Qt.ItemDataRole.UserRole + 2
GRADE_COLUMN_MAX_PX = 300       # the roster's grade column at most this wide (longer text elided, whole as tooltip)
PIN_KINDS = (("note", "the note I click on the score"), ("bars", "bars"), ("time", "a time (s)"),
             ("take", "the whole take"))


class ReviewPanel(QDockWidget):
    """The teacher's review. Signals (for the window and tests): `loaded` once the people are drawn,
    `opened(take id)` once a take is on screen, `commented`, `graded`, `exported(path)`, `calibrated`."""

    loaded = Signal()
    opened = Signal(str)
    commented = Signal()
    graded = Signal()
    exported = Signal(str)
    calibrated = Signal()

    def __init__(self, session: Session, takes, nav, comments, parent=None):
        super().__init__("Teacher review", parent)
        self.setObjectName("review")
        self.s, self.takes_ctl, self.nav, self.comments = session, takes, nav, comments
        self.roster: list = []
        self.take_id: str | None = None            # the take on show, opened here
        self.rubric = None                         # its history.review.Rubric
        self.note_id: str | None = None            # the score note clicked (Score.notes[i].id)
        self.calibration_box: QMessageBox | None = None
        self._task = None
        self.setAcceptDrops(True)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._build_people())
        split.addWidget(self._build_review())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.setWidget(split)
        takes.results.score_view.note_clicked.connect(self._note_clicked)
        comments.shown.connect(self._show_comment_list)
        session.changed.connect(self._update_enabled)
        self._update_enabled()

    # ------------------------------------------------------------------ building
    def _build_people(self) -> QWidget:
        w, lay = page()
        self.title = QLabel("Students' takes: drop their bundles here, or Import.")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(("Student / piece / take", "Length", "Notes right", "Grade", "Comments"))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.tree.itemSelectionChanged.connect(self._update_enabled)
        lay.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self.open_selected)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import students' submissions (or drop the files here)")
        self.import_button.clicked.connect(lambda: bundles.ask_import(self.s, lambda _r: self.refresh()))
        self.export_button = QPushButton("Export feedback…")
        self.export_button.setToolTip("Your comments and released grades on the selected student's takes, as a "
                                      "bundle to send back (drafts stay here)")
        self.export_button.clicked.connect(self._ask_export)
        self.calibrate_button = QPushButton("Calibrate from my grades")
        self.calibrate_button.setToolTip("Learn your grading from your released grades, and see how well it "
                                         "predicts takes it did not learn from")
        self.calibrate_button.clicked.connect(self.calibrate)
        for b in (self.open_button, self.import_button, self.export_button, self.calibrate_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        return w

    def _build_review(self) -> QWidget:
        w, lay = page()
        self.take_label = QLabel("Open a take to comment on it and grade it.")
        self.take_label.setWordWrap(True)
        lay.addWidget(self.take_label)

        box = QGroupBox("Comment")
        bl = QVBoxLayout(box)
        self.pin_group = QButtonGroup(self)
        self.pin_buttons: dict[str, QRadioButton] = {}
        pins = QHBoxLayout()
        pins.addWidget(QLabel("On"))
        for kind, text in PIN_KINDS:
            b = QRadioButton(text)
            self.pin_group.addButton(b)
            self.pin_buttons[kind] = b
            pins.addWidget(b)
        pins.addStretch(1)
        self.pin_buttons["note"].setChecked(True)
        bl.addLayout(pins)
        where = QHBoxLayout()
        self.bar_from, self.bar_to = QSpinBox(), QSpinBox()
        for sp in (self.bar_from, self.bar_to):
            sp.setRange(0, 9999)
        self.time_from, self.time_to = QDoubleSpinBox(), QDoubleSpinBox()
        for sp in (self.time_from, self.time_to):
            sp.setRange(0, 36000)
            sp.setDecimals(1)
            sp.setSuffix(" s")
        for lab, wdg in (("bars", self.bar_from), ("–", self.bar_to), ("  time", self.time_from), ("–", self.time_to)):
            where.addWidget(QLabel(lab))
            where.addWidget(wdg)
        where.addStretch(1)
        bl.addLayout(where)
        self.note_label = QLabel("No note chosen: click one on the score.")
        bl.addWidget(self.note_label)
        row = QHBoxLayout()
        self.comment_edit = QLineEdit()
        self.comment_edit.setPlaceholderText("Type a comment, then Enter")
        self.comment_edit.returnPressed.connect(self.add_comment)
        self.comment_button = QPushButton("Add")
        self.comment_button.clicked.connect(self.add_comment)
        row.addWidget(self.comment_edit, 1)
        row.addWidget(self.comment_button)
        bl.addLayout(row)
        self.comment_list = QListWidget()
        self.comment_list.setMaximumHeight(110)
        bl.addWidget(self.comment_list)
        lay.addWidget(box)

        self.grade_box = QGroupBox("Grades")
        gl = QVBoxLayout(self.grade_box)
        self.grade_form = QFormLayout()
        gl.addLayout(self.grade_form)
        self.grade_spins: dict[str, QDoubleSpinBox] = {}
        self.grade_status = QLabel("")
        self.grade_status.setWordWrap(True)
        gl.addWidget(self.grade_status)
        row = QHBoxLayout()
        self.draft_button = QPushButton("Save draft")
        self.draft_button.setToolTip("Keep the grades here; the student sees them once you release them")
        self.draft_button.clicked.connect(lambda: self.save_grades(release=False))
        self.release_button = QPushButton("Release to the student")
        self.release_button.clicked.connect(lambda: self.save_grades(release=True))
        row.addWidget(self.draft_button)
        row.addWidget(self.release_button)
        row.addStretch(1)
        gl.addLayout(row)
        lay.addWidget(self.grade_box)
        lay.addStretch(1)
        return w

    def _update_enabled(self) -> None:
        item = self.tree.currentItem()
        busy = self.s.is_recording
        self.open_button.setEnabled(item is not None and item.data(0, TAKE_ROLE) is not None and not busy)
        self.export_button.setEnabled(item is not None and not busy)
        on_show = self.take_id is not None and self.s.stored_take_id == self.take_id
        for wdg in (self.comment_edit, self.comment_button, self.draft_button, self.release_button):
            wdg.setEnabled(on_show and not busy)

    # ------------------------------------------------------------------ people, pieces, takes
    def teacher(self) -> str:
        from musicdesk.history.keep import login_name

        return self.s.settings.teacher_name or login_name()

    def refresh(self) -> None:
        """Fetch every student's pieces and takes again (in a worker)."""
        from musicdesk.history.review import roster

        store = session_store(self.s)
        if self._task is not None:
            self._task.cancel()
        self._task = self.s.run(workers.Task(roster, store, user_errors=history_errors()), self.show_roster,
                                "Cannot read the practice history", quiet=True)

    def show_roster(self, roster: list) -> None:
        self._task = None
        self.roster = roster
        keep = self.tree.currentItem().data(0, TAKE_ROLE) if self.tree.currentItem() else None
        self.tree.clear()
        n = sum(st.n_takes for st in roster)
        self.title.setText(f"{len(roster)} student{'s' if len(roster) != 1 else ''}, {n} takes. Drop students' "
                           "bundles here to import them." if roster else
                           "No students' takes yet: drop their submission bundles here, or Import.")
        for st in roster:
            top = QTreeWidgetItem([f"{st.name}  ({st.n_takes} takes, {st.n_ungraded} not graded)"])
            top.setData(0, STUDENT_ROLE, str(st.student_id))
            self.tree.addTopLevelItem(top)
            for p in st.pieces:
                pi = QTreeWidgetItem([f"{p.title or 'untitled'} ({p.part})"])
                pi.setData(0, PIECE_ROLE, str(p.piece_id))
                pi.setData(0, STUDENT_ROLE, str(st.student_id))
                top.addChild(pi)
                for t in p.takes:
                    cells = [t.recorded_at.astimezone().strftime("%Y-%m-%d %H:%M"), f"{t.duration_s:.1f} s",
                             f"{t.n_correct}/{t.n_notes}" if t.n_notes else "-",
                             grade_text(t.grades, released_only=False) or "not graded",
                             f"✎ {t.n_comments}" if t.n_comments else ""]
                    ti = QTreeWidgetItem(cells)
                    ti.setToolTip(3, cells[3])
                    ti.setData(0, TAKE_ROLE, str(t.id))
                    ti.setData(0, PIECE_ROLE, str(p.piece_id))
                    ti.setData(0, STUDENT_ROLE, str(st.student_id))
                    pi.addChild(ti)
                    if str(t.id) == keep:
                        self.tree.setCurrentItem(ti)
            top.setExpanded(True)
        for i in range(5):
            self.tree.resizeColumnToContents(i)
        if self.tree.columnWidth(3) > GRADE_COLUMN_MAX_PX:      # a long rubric: elided, whole in the tooltip
            self.tree.setColumnWidth(3, GRADE_COLUMN_MAX_PX)
        self._update_enabled()
        self.loaded.emit()

    def take_item(self, take_id: str) -> QTreeWidgetItem | None:
        for it in self._items():
            if it.data(0, TAKE_ROLE) == take_id:
                return it
        return None

    def _items(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            it = stack.pop(0)
            yield it
            stack[0:0] = [it.child(k) for k in range(it.childCount())]

    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in ev.mimeData().urls()]
        ok = [p for p in paths if bundles.is_bundle(p)]
        if len(ok) != len(paths):
            self.s.error("Not a bundle", "Drop musicdesk bundles (.zip) here: students' submissions or backups.")
        if ok:
            bundles.import_bundles(self.s, ok, lambda _r: self.refresh())
        ev.acceptProposedAction()

    # ------------------------------------------------------------------ opening a take
    def open_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None and item.data(0, TAKE_ROLE):
            self.open_take(item.data(0, TAKE_ROLE), item.data(0, PIECE_ROLE))

    def open_take(self, take_id: str, piece_id: str) -> None:
        """Show the take; when the open score is not its piece, open the piece's score (from the store) first."""
        from musicdesk.history.reopen import piece_key

        s = self.s
        if s.is_recording:
            return
        score = s.score
        if score is not None and score.source_path and str(piece_key(score.source_path, score.part)) == piece_id:
            open_stored_take(s, self.takes_ctl, take_id, self._opened)
            return
        store, folder = session_store(self.s), cache_dir(s.settings) / "scores" / piece_id[:8]

        def work():
            folder.mkdir(parents=True, exist_ok=True)
            path = store.score_file(uuid.UUID(piece_id), folder)
            part = next(p.part for p in store.pieces() if str(p.id) == piece_id)
            return str(path), part

        def then(result) -> None:
            path, part = result

            def shown() -> None:
                self.nav.shown.disconnect(shown)
                open_stored_take(s, self.takes_ctl, take_id, self._opened)

            self.nav.shown.connect(shown)
            self.nav.open_score(path, part)

        s.run(workers.Task(work, user_errors=history_errors()), then, "Cannot open the take's score")

    def _opened(self, take_id: str) -> None:
        """The take is on screen: fetch its rubric and this teacher's grades (a worker), then fill the form."""
        from musicdesk.history.review import feedback, rubric_for

        st = self.s.settings
        store, teacher = session_store(self.s), self.teacher()
        tid = uuid.UUID(take_id)
        self.take_id, self.note_id = take_id, None

        def work():
            grader = store.person(teacher, "teacher")
            mine = {g.criterion: g for g in feedback(store, tid, released_only=False, grader=grader).grades
                    if g.grader == teacher}
            return rubric_for(store, tid, st.rubric.split(","), st.rubric_scale), mine

        self.s.run(workers.Task(work, user_errors=history_errors()), lambda r: self._show_take(take_id, *r),
                   "Cannot read the take's grades")

    def _show_take(self, take_id: str, rubric, mine: dict) -> None:
        if self.take_id != take_id:
            return
        self.rubric = rubric
        self._build_grade_form(mine)
        item = self.take_item(take_id)
        if item is not None:
            self.tree.setCurrentItem(item)
        student = item.parent().parent().text(0).split("  (")[0] if item is not None and item.parent() else ""
        notes = self.s.judged_score.notes if self.s.judged_score is not None else ()
        if notes and self.property("bars_for") != take_id:      # (not again after grading: keep the user's bars)
            self.setProperty("bars_for", take_id)
            self.bar_from.setValue(notes[0].measure)
            self.bar_to.setValue(notes[-1].measure)
        piece = item.parent().text(0) if item is not None and item.parent() else ""
        when = item.text(0) if item is not None else ""
        self.take_label.setText(f"{student}, {piece}, {when}: click a note on the score to comment on it.")
        self.note_label.setText("No note chosen: click one on the score.")
        self._update_enabled()
        self.opened.emit(take_id)

    def _build_grade_form(self, mine: dict) -> None:
        while self.grade_form.rowCount():
            self.grade_form.removeRow(0)
        self.grade_spins = {}
        r = self.rubric
        for c in r.criteria:
            sp = QDoubleSpinBox()
            sp.setRange(-1, r.scale_max)
            sp.setDecimals(1)
            sp.setSingleStep(0.5)
            sp.setSpecialValueText("not graded")
            sp.setValue(mine[c].value if c in mine else -1)
            sp.setSuffix(f" / {r.scale_max:g}")
            self.grade_spins[c] = sp
            self.grade_form.addRow(c, sp)
        drafts = [c for c, g in mine.items() if g.status == "draft"]
        released = [c for c, g in mine.items() if g.status == "released"]
        self.grade_status.setText(
            f"On {r.source}. " + (f"Draft (the student does not see it yet): {', '.join(sorted(drafts))}. "
                                  if drafts else "") + (f"Released: {', '.join(sorted(released))}." if released else "")
            + ("" if mine else "Not graded yet."))

    # ------------------------------------------------------------------ comments
    def _note_clicked(self, element_id: str) -> None:
        score = self.s.judged_score
        if score is None or self.take_id is None:
            return
        from musicdesk.describe import fmt_beat, note_name

        n = next((n for n in score.notes if n.element_id == element_id), None)
        if n is None:
            return
        self.note_id = n.id
        self.pin_buttons["note"].setChecked(True)
        a = self.s.analysis                   # the clicked note's time in the take, for a comment on a time
        r = next((r for r in a.report.notes if r.id == n.id), None) if a is not None else None
        if r is not None and r.onset_s is not None:
            self.time_from.setValue(r.onset_s)
            self.time_to.setValue(r.offset_s if r.offset_s is not None else r.onset_s)
        self.bar_from.setValue(n.measure)
        self.bar_to.setValue(n.measure)
        self.note_label.setText(f"On bar {n.measure}, beat {fmt_beat(n.beat)}: {n.name or note_name(n.midi)}")

    def pin_kind(self) -> str:
        return next(k for k, b in self.pin_buttons.items() if b.isChecked())

    def add_comment(self) -> None:
        """Pin the typed comment to the chosen note, bars, time or the whole take."""
        text = self.comment_edit.text().strip()
        if not text or self.take_id is None:
            return
        kind = self.pin_kind()
        if kind == "note" and self.note_id is None:
            self.s.error("Choose a note", "Click the note on the score the comment is about, or pin it to bars, "
                         "a time, or the whole take.")
            return
        store, tid = session_store(self.s), uuid.UUID(self.take_id)
        author = store.person(self.teacher(), "teacher")
        notes = (self.note_id,) if kind == "note" else ()
        bars = (self.bar_from.value(), self.bar_to.value()) if kind == "bars" else None
        times = (self.time_from.value(), self.time_to.value()) if kind == "time" else None

        def done(_cid) -> None:
            self.comment_edit.clear()
            self.comments.refresh()
            self.commented.emit()

        self.s.run(workers.Task(store.comment, tid, author, text, notes, bars, times, user_errors=history_errors()),
                   done, "Cannot keep the comment")

    def _show_comment_list(self) -> None:
        self.comment_list.clear()
        for p in self.comments.pins:
            self.comment_list.addItem(f"{p.where}: {p.comment.text}  ({p.comment.author})")

    # ------------------------------------------------------------------ grades
    def grade_values(self) -> dict:
        return {c: (sp.value() if sp.value() >= 0 else None) for c, sp in self.grade_spins.items()}

    def save_grades(self, release: bool) -> None:
        """Keep the grades as drafts, or release them to the student."""
        from musicdesk.history.review import save_grades

        if self.take_id is None or self.rubric is None:
            return
        store, tid = session_store(self.s), uuid.UUID(self.take_id)
        grader = store.person(self.teacher(), "teacher")
        values, top = self.grade_values(), self.rubric.scale_max
        if not any(v is not None for v in values.values()):
            self.s.error("No grades", "Set at least one criterion's grade first.")
            return

        def done(_n) -> None:
            self._opened(self.take_id)
            self.refresh()
            self.s.status("Grades released to the student: they go with the next feedback bundle." if release
                          else "Grades kept as a draft: the student does not see them until you release them.", 10000)
            self.graded.emit()

        self.s.run(workers.Task(save_grades, store, tid, grader, values, top, release, user_errors=history_errors()),
                   done, "Cannot keep the grades")

    # ------------------------------------------------------------------ feedback and calibration
    def feedback_takes(self) -> list[str]:
        """The takes whose feedback goes out: the selected student's (or piece's, or the one take)."""
        item = self.tree.currentItem()
        if item is None:
            return []
        if item.data(0, TAKE_ROLE):
            return [item.data(0, TAKE_ROLE)]
        return [it.data(0, TAKE_ROLE) for it in self._items() if it.data(0, TAKE_ROLE) and
                (it.parent() is item or (it.parent() is not None and it.parent().parent() is item))]

    def _ask_export(self) -> None:
        takes = self.feedback_takes()
        if takes:
            path = bundles.ask_export_path(self.s, "Export feedback", "feedback.zip")
            if path:
                self.export_feedback(path, takes)

    def export_feedback(self, path: str, takes: list[str]) -> None:
        """Write the comments and released grades on `takes` as a feedback bundle."""
        bundles.export_bundle(self.s, path, takes, kind="feedback", done=lambda p: self.exported.emit(str(p)))

    def calibrate(self) -> None:
        """Learn the teacher's grading from their released grades (a worker) and show how well it predicts."""
        from musicdesk.history.review import calibrate_from_store

        store = session_store(self.s)
        grader = store.person(self.teacher(), "teacher")
        model = self.s.settings.assess_model
        if model in ("", "none"):
            self.s.error("No network", "Calibration learns from the assessment network's ratings: choose a network "
                         "in Settings, and analyse the takes with it.")
            return
        self.s.status("Learning from your grades…")
        self.s.run(workers.Task(calibrate_from_store, store, model, grader, user_errors=history_errors()),
                   self._show_calibration, "Cannot calibrate")

    def _show_calibration(self, result) -> None:
        rows = "".join(f"<tr><td>{c}</td><td align=right>{n}</td><td align=right>"
                       f"{'too few' if r2 is None else f'{r2:.2f}'}</td></tr>" for c, n, r2 in result.rows)
        table = (f"<table cellspacing=6><tr><th>criterion</th><th>graded takes</th><th>cross-validated R²</th></tr>"
                 f"{rows}</table>") if rows else ""
        box = QMessageBox(QMessageBox.Icon.Information if result.calibration else QMessageBox.Icon.Warning,
                          "Calibrate from my grades", f"<p>{result.message}</p>{table}", parent=self)
        box.setModal(False)
        if result.calibration is not None:
            save = box.addButton("Use it", QMessageBox.ButtonRole.AcceptRole)
            save.clicked.connect(lambda: self._save_calibration(result.calibration))
        box.addButton(QMessageBox.StandardButton.Close)
        box.show()
        self.calibration_box = box
        self.calibrated.emit()

    def _save_calibration(self, cal) -> None:
        from musicdesk.assess.calibrate import default_path

        try:
            cal.save(default_path())
        except OSError as exc:
            self.s.error("Cannot save the calibration", f"{default_path()}: {exc.strerror or exc}")
            return
        self.s.status(f"Calibration saved to {default_path()}: `musicdesk analyze` now shows your grades.", 10000)
