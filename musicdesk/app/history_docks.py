"""The practice history's parts of the window: View > History (the student's takes), View > Teacher
review, View > Assignments, File > Import bundle…, and bundles dropped on the window. Each dock is made
on first use; the comments of a stored take show on the score whichever dock opened it."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal

from musicdesk.app import bundles
from musicdesk.app.comments import CommentsOverlay
from musicdesk.app.session import Session, make_action

DOCK_SHARE = 0.4    # of the window's height, for a history dock when it first opens


class HistoryDocks(QObject):
    bundles_imported = Signal(list)      # [(path, ImportResult)] once the docks show what came in

    def __init__(self, session: Session, window, nav, takes, results, keeper):
        super().__init__(window)
        self.s, self.w, self.nav, self.takes, self.keeper = session, window, nav, takes, keeper
        self.comments = CommentsOverlay(session, results)
        self.history_panel = None
        self.review_panel = None
        self.assignments_panel = None
        self.act_history = make_action(window, "History", self.open_history, "Ctrl+H",
                                       "Your takes of this piece: open an old one, progress, bars, practice time")
        self.act_review = make_action(window, "Teacher review", self.open_review, "Ctrl+Shift+R",
                                      "Students' takes: listen, comment on notes, grade, send feedback")
        self.act_assignments = make_action(window, "Assignments", self.open_assignments, "Ctrl+Shift+A",
                                           "What your teacher asked for: practise it, submit your takes")
        self.act_import = make_action(window, "Import bundle…", self.ask_import, "Ctrl+I",
                                      "Import an assignment, a submission, feedback or a backup")
        self.view_actions = (self.act_history, self.act_review, self.act_assignments)
        if session.settings.teacher_mode:
            self.open_review()

    def _dock(self, panel) -> None:
        if not panel.property("docked"):
            self.w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, panel)
            # under half the window, so that the score and the roll stay readable above it
            self.w.resizeDocks([panel], [int(DOCK_SHARE * self.w.height())], Qt.Orientation.Vertical)
            panel.setProperty("docked", True)
            panel.refresh()
        panel.show()
        panel.raise_()

    def open_history(self):
        """The history panel (musicdesk.app.history_panel), docked below the score."""
        from musicdesk.app.history_panel import HistoryPanel

        if self.history_panel is None:
            self.history_panel = HistoryPanel(self.s, self.takes, self.nav, self.keeper, self.w)
        self._dock(self.history_panel)
        return self.history_panel

    def open_review(self):
        """The teacher's review (musicdesk.app.review_panel)."""
        from musicdesk.app.review_panel import ReviewPanel

        if self.review_panel is None:
            self.review_panel = ReviewPanel(self.s, self.takes, self.nav, self.comments, self.w)
            self.keeper.kept.connect(lambda _id: self.review_panel.refresh())
        self._dock(self.review_panel)
        return self.review_panel

    def open_assignments(self):
        """The assignments (musicdesk.app.assignments_panel)."""
        from musicdesk.app.assignments_panel import AssignmentsPanel

        if self.assignments_panel is None:
            self.assignments_panel = AssignmentsPanel(self.s, self.nav, self.takes, self.w)
        self._dock(self.assignments_panel)
        return self.assignments_panel

    def ask_import(self) -> None:
        bundles.ask_import(self.s, self.imported)

    def import_files(self, paths: list[str]) -> None:
        """Bundles dropped on the window."""
        bundles.import_bundles(self.s, paths, self.imported)

    def imported(self, results: list) -> None:
        """After an import: the docks that show what came in are refreshed (and opened: an assignment's, a
        submission's for the teacher); the take on show gets its new comments."""
        kinds = {r.kind for _, r in results if r.anything_new}
        if "assignment" in kinds:
            self.open_assignments()
        if "submission" in kinds or ("takes" in kinds and self.s.settings.teacher_mode):
            self.open_review()
        for panel in (self.history_panel, self.review_panel, self.assignments_panel):
            if panel is not None and panel.isVisible():
                panel.refresh()
        if "feedback" in kinds:
            self.comments.refresh()
        self.bundles_imported.emit(results)
