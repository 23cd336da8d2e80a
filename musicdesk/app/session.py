"""What the window's panels share: the score on show, the take and its analysis, the settings, and the
few services every panel needs (messages, background tasks, audio devices, actions).

Each panel (score navigation, takes and recording, results, transport, ...) owns its widgets and
actions; they meet here rather than in the window, so that a new panel joins by taking a `Session`
instead of growing `MainWindow`. No Qt widgets are made here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from musicdesk.app import workers
from musicdesk.app.settings import AppSettings

FRAME_MS = 16          # GUI timer while recording/playing: about 60 frames per second at most


@dataclass
class Loaded:
    """A score ready to show: the Score of the chosen part, its part names and its engraving."""

    path: str
    score: object
    parts: list
    engraving: object


def user_errors() -> tuple[type, ...]:
    """The exceptions whose message is for the user (a bad file, a missing device), not a bug of ours."""
    from musicdesk.analysis import AnalysisError
    from musicdesk.audio import AudioError
    from musicdesk.score import ScoreError

    errs: list[type] = [ScoreError, AudioError, AnalysisError, FileNotFoundError, PermissionError]
    for mod, name in (("musicdesk.capture", "CaptureError"), ("musicdesk.playback", "PlaybackError"),
                      ("musicdesk.synth", "SynthError")):
        try:
            errs.append(getattr(__import__(mod, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errs)


def stop_quietly(thing) -> None:
    """Stop a player or metronome, if any; a device that already went away must not stop us."""
    if thing is not None:
        try:
            thing.stop()
        except Exception:
            pass


def device_index(name: str, want_input: bool = True) -> int | None:
    """PortAudio index of the device called `name` with inputs (or outputs); None = the system default
    (no name, or that device is gone)."""
    if not name:
        return None
    try:
        import sounddevice as sd

        for i, d in enumerate(sd.query_devices()):
            ch = d["max_input_channels"] if want_input else d["max_output_channels"]
            if d["name"] == name and ch > 0:
                return i
    except Exception:
        return None
    return None


def make_action(parent: QObject, text: str, slot, shortcut: str | None = None, tip: str | None = None) -> QAction:
    """An action with its shortcut in the tooltip (the toolbar shows it on hover)."""
    a = QAction(text, parent)
    a.triggered.connect(slot)
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    a.setToolTip(f"{tip or text}" + (f" ({shortcut})" if shortcut else ""))
    return a


class Session(QObject):
    """The state the panels share, and how they report to the user.

    `changed` is emitted whenever something that decides which actions are enabled changes (a score
    opened, recording started, an analysis ended); every panel updates its actions on it.
    """

    changed = Signal()

    def __init__(self, window: QMainWindow, settings: AppSettings, settings_org: str | None = None):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.settings_org = settings_org
        self.loaded: Loaded | None = None
        self.score = None                 # musicdesk.score.Score of the part on show
        self.take = None                  # musicdesk.audio.Take being judged
        self.take_path: str | None = None
        self.stored_take_id: str | None = None   # the history's id when the take on show came from it
        self.assignment_id: str | None = None    # the assignment being practised: takes kept are for it
        self.recording = None             # (samples, sr) of the last take recorded here
        self.analysis = None              # musicdesk.analysis.Analysis of `take` against `score`
        self.recorder = None              # the Recorder while recording
        self.player = None                # the Player while playing
        self.analysing = False            # an analysis is running
        self.warming = False              # the compiled analysis code is loading (recording waits)
        self.last_error: str | None = None
        self.tasks: set = set()
        self.closed = False  # the window has closed: background results are ignored

    # ------------------------------------------------------------------ state
    @property
    def is_recording(self) -> bool:
        return self.recorder is not None

    @property
    def judged_score(self):
        """The score the analysis on show judged (an excerpt of `score` for a pass of a loop
        recording): its notes are the report's, index for index. `score` when there is none."""
        a = self.analysis
        return a.score if a is not None and a.score is not None else self.score

    def update(self) -> None:
        """Tell the panels to re-check what is enabled."""
        self.changed.emit()

    def device(self, want_input: bool = True) -> int | None:
        """The input (or output) device chosen in Settings, as a PortAudio index."""
        s = self.settings
        return device_index(s.input_device if want_input else s.output_device, want_input)

    # ------------------------------------------------------------------ messages
    def status(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    def error(self, title: str, text: str) -> None:
        """A clear, non-blocking message box, repeated in the status bar (tests read `last_error`)."""
        self.last_error = text
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.status(text, 15000)

    def playback_failed(self, exc: Exception) -> None:
        """Playback could not start (no output device, or it refused the stream): said once, in the
        status bar, not in a dialog on every click (the message already says what to do)."""
        from musicdesk.playback import playback_message

        self.last_error = playback_message(exc)
        self.status(self.last_error, 15000)

    # ------------------------------------------------------------------ background work
    def run(self, task: workers.Task, on_done: Callable[[Any], None], what: str, quiet: bool = False
            ) -> workers.Task:
        """Start `task`; `on_done(result)` on success, a message titled `what` on failure (only in the
        status bar when `quiet`: a pass of a loop recording that could not be judged while the next
        one is being played)."""
        self.tasks.add(task)

        def finish(result):
            self.tasks.discard(task)
            if task.is_cancelled or self.closed:  # it came in after a cancel or the window closing:
                return                            # unwanted, and the widgets it would fill may be gone
            on_done(result)

        def fail(msg):
            self.tasks.discard(task)
            if task.is_cancelled or self.closed:
                return
            if quiet:
                self.last_error = msg
                self.status(f"{what}: {msg}", 15000)
            else:
                self.error(what, msg)
            self.update()

        task.signals.finished.connect(finish)
        task.signals.failed.connect(fail)
        task.signals.cancelled.connect(lambda: self.tasks.discard(task))
        return workers.start(task)

    def cancel_all(self) -> None:
        for t in list(self.tasks):
            t.cancel()

    def close(self) -> None:
        """The window is closing: cancel all work, and from now on ignore what it still reports
        (a result or a cancel queued before the window went would reach widgets already deleted)."""
        self.closed = True
        self.cancel_all()

    def alive(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """`fn`, made to do nothing once the window has closed: for a task's signals connected
        outside `run`."""
        def call(*args: Any) -> None:
            if not self.closed:
                fn(*args)
        return call
