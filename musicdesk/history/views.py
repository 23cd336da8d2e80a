"""What the window's history panel shows of one student's piece, fetched in one call (a worker's job),
and the bar-by-take matrices of its heatmap. No Qt here."""
from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass

import numpy as np

from musicdesk.history.progress import Progress

CRITERIA = (("note_accuracy", "Notes"), ("rhythmic_accuracy", "Rhythm"), ("intonation", "Intonation"))
HEAT_MEASURES = {"right": "Share of right notes", "cents": "Median |cents| of right notes",
                 "timing": "Timing spread (ms)"}


@dataclass(frozen=True)
class PieceHistory:
    """A student's takes of a piece (the part of a score file), oldest first, with their progress."""

    student: str
    student_id: uuid.UUID | None       # None: nobody of that name in the store yet
    piece_id: uuid.UUID
    progress: Progress                 # .takes: TakeRow, oldest first
    practice: list                     # (day "YYYY-MM-DD", seconds) oldest first
    bars_loaded: bool = True           # False: progress has the takes but not yet their bars (with_bars)

    @property
    def takes(self) -> list:
        return self.progress.takes


def piece_history(store, student: str, score_path: str | os.PathLike, part: str, bars: bool = True) -> PieceHistory:
    """The student's takes of `part` of the score at `score_path` (none when the store has not seen
    them): their ratings, grades, per-bar progress (unless `bars` is False: then with_bars adds it) and
    practice time. Writes nothing."""
    from musicdesk.history.reopen import piece_key

    from musicdesk.history.db import HistoryError

    piece = piece_key(score_path, part)
    try:
        who = store.person(student, create=False)
    except HistoryError:          # nobody of that name yet (or no name): no takes
        who = None
    if who is None:
        return PieceHistory(student, None, piece, Progress([], [], []), [])
    if not bars:        # the list and the ratings first (a few ms); the bars' note rows are most of the work
        return PieceHistory(student, who, piece, Progress(list(reversed(store.takes(student=who, piece=piece))), [], []),
                            store.practice(student=who, piece=piece), bars_loaded=False)
    return PieceHistory(student, who, piece, store.progress(who, piece), store.practice(student=who, piece=piece))


def with_bars(store, h: PieceHistory) -> PieceHistory:
    """`h` with the per-bar progress of its takes (the heatmap's data)."""
    if h.bars_loaded or h.student_id is None:
        return dataclasses.replace(h, bars_loaded=True)
    return dataclasses.replace(h, progress=store.progress(h.student_id, h.piece_id, takes=h.takes), bars_loaded=True)


def bar_matrix(progress: Progress, measure: str = "right") -> tuple[list[int], np.ndarray]:
    """(bars, matrix of shape (len(bars), len(takes))) for the heatmap: per bar and take the share of
    right notes (0..1), the median |cents| of its right notes, or its timing spread in ms (`measure`
    "right", "cents", "timing"); NaN where the take has no such value for the bar."""
    if measure not in HEAT_MEASURES:
        raise ValueError(f"measure must be one of {', '.join(HEAT_MEASURES)}")
    bars = list(progress.bars)
    row = {b: i for i, b in enumerate(bars)}
    out = np.full((len(bars), len(progress.takes)), np.nan)
    for j, per_bar in enumerate(progress.per_take):
        for b, st in per_bar.items():
            v = {"right": st.right_share, "cents": st.median_abs_cents, "timing": st.timing_spread_ms}[measure]
            if v is not None:
                out[row[b], j] = v
    return bars, out


def most_improved_bars(progress: Progress, last: int = 1, n: int = 3) -> list[tuple[int, float]]:
    """(bar, change in the share of right notes) of the bars that improved most from the first take
    that played them to the `last`-th newest take, best first; only bars that improved."""
    bars, mat = bar_matrix(progress, "right")
    if mat.shape[1] < 2:
        return []
    out = []
    for i, b in enumerate(bars):
        vals = mat[i][np.isfinite(mat[i])]
        if len(vals) >= 2 and vals[-last] > vals[0]:
            out.append((b, float(vals[-last] - vals[0])))
    return sorted(out, key=lambda x: -x[1])[:n]


__all__ = ["PieceHistory", "piece_history", "with_bars", "bar_matrix", "most_improved_bars", "CRITERIA", "HEAT_MEASURES"]
