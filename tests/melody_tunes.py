"""A hand-made melody for the melody lab's tests."""
from __future__ import annotations

from musicdesk.melody.tokens import Melody, Note


def plain_tune() -> Melody:
    """Eight 4/4 measures of quarters and eighths in C major: a plain melody with room to vary."""
    notes, t = [], 0.0
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65]
    for bar in range(8):
        for k, d in enumerate((1.0, 1.0, 0.5, 0.5, 1.0) if bar % 2 else (1.0, 1.0, 1.0, 1.0)):
            notes.append(Note(pitches[(bar * 4 + k) % 16], t, d))
            t += d
    return Melody(tuple(notes), 4.0, 8, "4/4", "test tune", 100.0)
