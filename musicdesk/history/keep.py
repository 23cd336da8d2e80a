"""Keeping takes as they are made (the window, `analyze --save`): one Store per URL for the process,
opened on first use (its migrations run then), shared by the threads that save."""
from __future__ import annotations

import os
import threading
import uuid

_stores: dict = {}
_lock = threading.Lock()
_keeping = threading.Lock()


def login_name() -> str:
    """The student's name when none is set: MUSICDESK_STUDENT, else the login name."""
    import getpass

    if os.environ.get("MUSICDESK_STUDENT"):
        return os.environ["MUSICDESK_STUDENT"]
    try:
        return getpass.getuser()
    except Exception:   # no login name (a container without one)
        return "me"


def store_for(url: str | None = None):
    """The process's Store for `url` ("" or None: MUSICDESK_DB, else the user data folder's file)."""
    from musicdesk.history.db import resolve_url
    from musicdesk.history.store import Store

    key = resolve_url(url or None)
    with _lock:
        if key not in _stores:
            _stores[key] = Store(key)
        return _stores[key]


def keep_take(url: str | None, student: str, score_path: str, part: str, title: str, take_path: str, analysis,
              *, device: str = "", latency_ms: float = 0.0, tempo_bpm: float | None = None,
              bars: tuple[int, int] | None = None, assignment: str | None = None) -> uuid.UUID:
    """Store a take and its analysis (musicdesk.analysis.Analysis) for `student` (made when new), as
    played for `assignment` when it is of the assignment's piece; the same take kept again adds nothing.
    Returns the take's id. Raises HistoryError with the user's message."""
    from musicdesk.history.records import analysis_record

    store = store_for(url)
    with _keeping:          # one take at a time: two passes of a loop finish close together
        who = store.person(student or login_name())
        piece = store.piece(score_path, part, title)
        for_it = None
        if assignment:
            a = next((a for a in store.assignments() if str(a.id) == assignment), None)
            for_it = a.id if a is not None and a.piece_id == piece else None
        return store.save_take(who, piece, take_path, record=analysis_record(analysis), device=device,
                               latency_ms=latency_ms, tempo_bpm=tempo_bpm, bars=bars, assignment=for_it)
