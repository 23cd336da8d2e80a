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
