"""Separation in a child process, for a window that must stay responsive.

Why: importing torch holds Python's GIL for about 250 ms on this CPU (the C++ library's start-up), and
the NMF's alignment, the pitch tracking and full garbage collections for 45-150 ms at a time, so a
worker thread stalls the window's event loop however it is written. A child process (multiprocessing,
spawn) imports torch and separates on its own interpreter; the stems come back pickled. One child is kept per process and reused, so only the first separation pays for its
start (about 3 s of imports, on the other core). Progress and cancel go through a queue and an event.

    sep = ChildSeparator()
    ens = sep.open_ensemble(source, score_path, "auto", progress=..., cancel=...)
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

_Q = None          # in the child: progress messages to the parent
_CANCEL = None     # in the child: set by the parent to cancel


CHILD_NICENESS = 10   # the child yields the CPU to the window's own thread whenever that has work


def _init(q, cancel) -> None:
    global _Q, _CANCEL
    _Q, _CANCEL = q, cancel
    # before numpy or torch start their threads, which inherit it: on a 2-core machine the child's
    # BLAS threads took both cores, and the window's thread waited its turn (drawing a lane took
    # 20-45 ms instead of 20); a lower priority costs the separation nothing while the window is idle
    try:
        os.nice(CHILD_NICENESS)
    except OSError:
        pass


def _job(source, score_path: str, method: str):
    """In the child: read the recording and separate it (musicdesk.separate.mixer.open_ensemble)."""
    from musicdesk.audio import load_take
    from musicdesk.separate import mixer

    _CANCEL.clear()
    take = load_take(source) if isinstance(source, (str, os.PathLike)) else source

    def say(frac: float, stage: str) -> None:
        _Q.put((stage, float(frac)))

    return mixer.open_ensemble(take.samples, take.sr, score_path, method, audio_path=take.path or "",
                               progress=say, cancel=_CANCEL.is_set)


class ChildSeparator:
    """A child process that separates; started on first use, reused, ended by `close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._ctx = mp.get_context("spawn")
        self._q = None
        self._cancel = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._q = self._ctx.Queue()
            self._cancel = self._ctx.Event()
            self._pool = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=_init,
                                             initargs=(self._q, self._cancel))
        return self._pool

    def open_ensemble(self, source, score_path: str, method: str,
                      progress: Callable[[float, str], None] | None = None,
                      cancel: Callable[[], bool] | None = None):
        """As musicdesk.separate.mixer.open_ensemble on a path or Take, run in the child; raises what the
        child raised (SeparationError, InterruptedError when cancelled, ...)."""
        with self._lock:
            pool = self._start()
            fut = pool.submit(_job, source, os.fspath(score_path), method)
            while True:
                try:
                    stage, frac = self._q.get(timeout=0.05)
                    if progress is not None:
                        progress(frac, stage)
                except queue.Empty:
                    pass
                if cancel is not None and cancel():
                    self._cancel.set()
                if fut.done() and self._q.empty():
                    break
            try:
                return fut.result()
            except BrokenProcessPool:           # the child died: start afresh next time
                self._pool = None
                raise

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
