"""Background work for the window: run a core function off the GUI thread with progress and cancel.

`Task(fn, *args)` runs `fn(*args, progress=..., cancelled=...)` (when `fn` accepts them) in Qt's global
thread pool and reports through Qt signals, which arrive on the GUI thread.
"""
from __future__ import annotations

import inspect
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class TaskSignals(QObject):
    progress = Signal(str, float)      # stage, fraction done
    finished = Signal(object)          # the result
    failed = Signal(str)               # a message for the user
    cancelled = Signal()


class Task(QRunnable):
    """One piece of background work. Keep a reference until `finished`/`failed`/`cancelled`."""

    def __init__(self, fn: Callable[..., Any], *args: Any, user_errors: tuple[type, ...] = (), **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.user_errors = user_errors
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "progress" in params:
            self.kwargs["progress"] = lambda stage, frac: self.signals.progress.emit(stage, float(frac))
        if "cancelled" in params:
            self.kwargs["cancelled"] = self._cancel.is_set

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # noqa: D401 - Qt API
        from musicdesk.analysis import Cancelled

        try:
            result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except self.user_errors as exc:
            self.signals.failed.emit(str(exc))
        except MemoryError:
            self.signals.failed.emit("Not enough memory for this; try a shorter take or close other programs.")
        except Exception as exc:  # a bug of ours: say so, with the detail in the log
            traceback.print_exc()
            self.signals.failed.emit(f"Internal error: {type(exc).__name__}: {exc}. Please report it.")
        else:
            if self._cancel.is_set():
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(result)
        finally:
            self.done.set()


def start(task: Task) -> Task:
    """Queue `task` on the global thread pool and return it."""
    QThreadPool.globalInstance().start(task)
    return task
