"""Colours of note outcomes, shared by the score, the piano roll, the legend and the problem list."""
from __future__ import annotations

CATEGORY_COLOURS = {
    "correct": "#2e9d46",      # green
    "wrong_pitch": "#d62728",  # red
    "missed": "#9e9e9e",       # grey
    "out_of_tune": "#ff8c00",  # orange
    "early": "#1f77b4",        # blue
    "late": "#8e44ad",         # purple
    "extra": "#e377c2",        # pink
}
CATEGORY_LABELS = {
    "correct": "correct", "wrong_pitch": "wrong note", "missed": "missed", "out_of_tune": "out of tune",
    "early": "early", "late": "late", "extra": "extra note",
}
# marks drawn above a note head whose onset was off the player's pulse (the note keeps its pitch colour)
TIMING_GLYPHS = {"early": "◂", "late": "▸"}
# a teacher's comment pinned to a note: a pen below the note head, its text as the tooltip
COMMENT_GLYPH = "✎"
COMMENT_COLOUR = "#00838f"
