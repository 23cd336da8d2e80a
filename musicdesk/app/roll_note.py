"""A note as the piano roll draws it (a plain type, apart from the roll so that panels can make them
without importing pyqtgraph)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RollNote:
    key: str             # note id (score) or "extra:<n>"
    start_s: float
    end_s: float
    midi: float
    category: str = ""   # "" = not judged yet (drawn neutral)
    label: str = ""      # e.g. "-35c"


LABEL_ORDER = ("wrong_pitch", "out_of_tune")   # whose label stays when labels collide; then the rest


def label_priority(n: RollNote) -> tuple[int, float]:
    """Sort key of a note's label: wrong notes first, then out of tune, then timing only; earlier first."""
    rank = LABEL_ORDER.index(n.category) if n.category in LABEL_ORDER else len(LABEL_ORDER)
    return rank, n.start_s


def unoverlapping(rects: list[tuple[float, float, float, float]], gap: float = 2.0) -> list[bool]:
    """Which of the `rects` (x0, y0, x1, y1 in pixels; most important first) to show so that no two
    shown ones overlap (nor come within `gap` pixels): greedily, in their order."""
    shown = [False] * len(rects)
    kept: list[tuple[float, float, float, float]] = []
    for i, (x0, y0, x1, y1) in enumerate(rects):
        if all(x1 + gap <= a or b + gap <= x0 or y1 + gap <= c or d + gap <= y0 for a, c, b, d in kept):
            shown[i] = True
            kept.append((x0, y0, x1, y1))
    return shown
