"""The pitch trace as the roll draws it (issue 16, 10: vertical glitch lines where the trace drops out)."""
from __future__ import annotations

import numpy as np

from musicdesk.audio import load_take
from musicdesk.live_pitch import LivePitch
from musicdesk.resources import example_take_path
from musicdesk.trace import drawable_trace


def _strokes(midi: np.ndarray, semitones: float = 3.0) -> int:
    """Lines the roll draws between adjacent frames that far apart: vertical strokes."""
    d = np.abs(np.diff(midi))
    return int(np.sum(np.isfinite(d) & (d > semitones)))


def test_spikes_short_runs_and_jumps_are_not_drawn_and_slides_are():
    t = np.arange(16) * 0.01
    nan = np.nan
    m = np.array([72, 72, 72, 72, 91.1, 72, 72, 72, nan, 57.5, 57.6, 69.6, 69.6, 69.6, 69.6, 69.5])
    t2, m2 = drawable_trace(t, m)
    assert np.array_equal(m2[:8], [72] * 8)                 # the one-frame spike: its neighbours' mean
    assert np.isnan(m2[8:11]).all()                          # the two-frame stray after the break
    assert np.array_equal(m2[11:], m[11:]) and np.array_equal(t2, t)
    t3, m3 = drawable_trace(t[:10], np.array([60.0] * 5 + [67.0] * 5))   # a leap: a gap, not a line
    assert len(t3) == 11 and np.isnan(m3[5]) and 0.04 < t3[5] < 0.05 and _strokes(m3) == 0
    slide = 60 + 0.5 * np.arange(12)                         # 6 semitones in 120 ms: one line
    assert np.array_equal(drawable_trace(t[:12], slide)[1], slide)
    empty = drawable_trace(np.zeros(0), np.zeros(0))
    assert len(empty[0]) == len(empty[1]) == 0


def test_the_live_trace_of_a_real_take_has_no_vertical_strokes():
    """The bundled take through the live tracker: YIN makes one-to-three-frame jumps of an octave or
    more at note ends and breaths; drawn, none is left, and nearly every voiced frame still is."""
    take = load_take(example_take_path())
    lp = LivePitch(take.sr)
    frames = [lp.push(take.samples[i:i + 1024]) for i in range(0, len(take.samples), 1024)]
    t = np.concatenate([f.times_s for f in frames])
    m = np.concatenate([f.midi for f in frames])
    t2, m2 = drawable_trace(t, m)
    assert _strokes(m) >= 3 and _strokes(m2) == 0
    assert np.isfinite(m2).sum() >= 0.98 * np.isfinite(m).sum()
