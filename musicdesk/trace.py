"""A pitch trace as it is drawn: in segments, without the one-frame jumps a tracker makes at note
ends and breaths.

A frame-wise tracker (the live YIN above all) gives a frame or three an octave or a fifth off where a
note starts, ends or the sound drops out (a violin's -37 semitones for 30 ms at a string crossing, a
flute's +19 for one frame at a breath). A line drawn through every voiced frame turns each of them
into a vertical stroke across the roll. `drawable_trace` smooths a lone one-frame spike away, breaks the line wherever the pitch steps by
more than `max_step_semitones` from one frame to the next, and leaves out what is then a segment of
fewer than `min_run_frames` frames. The analysis never sees this: it reads the tracker's own contour.
"""
from __future__ import annotations

import numpy as np

MAX_STEP_SEMITONES = 1.0   # per frame (10 ms): a slide of 5 semitones in 60 ms stays one line
MIN_RUN_FRAMES = 4         # shorter segments (under 40 ms at 10 ms frames) are not drawn


def drawable_trace(times_s: np.ndarray, midi: np.ndarray, max_step_semitones: float = MAX_STEP_SEMITONES,
                   min_run_frames: int = MIN_RUN_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """(times_s, midi) to draw with breaks at NaN: a one-frame spike between two frames that agree takes
    their mean; a NaN point is put between two frames that step by
    more than `max_step_semitones`, and segments (between breaks or unvoiced frames) of fewer than
    `min_run_frames` frames become NaN. Times in seconds, pitch in fractional MIDI (NaN unvoiced)."""
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    m = np.asarray(midi, dtype=np.float64).reshape(-1)
    if len(t) != len(m):
        raise ValueError(f"{len(t)} times for {len(m)} pitches")
    if len(m) == 0:
        return t.copy(), m.copy()
    if len(m) >= 3:   # a one-frame spike between two frames that agree: take their mean
        a, b, c = m[:-2], m[1:-1], m[2:]
        spike = (np.abs(a - c) <= max_step_semitones) & (np.abs(b - 0.5 * (a + c)) > max_step_semitones)
        m = m.copy()
        m[1:-1][spike] = 0.5 * (a + c)[spike]
    step = np.abs(np.diff(m))
    jump = np.isfinite(step) & (step > max_step_semitones)         # a break after frame i
    voiced = np.isfinite(m)
    # segment ids: a new segment after every jump and at every unvoiced frame
    new_seg = np.concatenate([[True], jump | ~voiced[:-1] | ~voiced[1:]])
    seg = np.cumsum(new_seg)
    counts = np.bincount(seg, weights=voiced.astype(np.float64))
    keep = voiced & (counts[seg] >= min_run_frames)
    m = np.where(keep, m, np.nan)
    at = np.flatnonzero(jump & keep[:-1] & keep[1:]) + 1              # both sides drawn: a gap between
    if len(at):
        t = np.insert(t, at, 0.5 * (t[at - 1] + t[at]))
        m = np.insert(m, at, np.nan)
    return t, m
