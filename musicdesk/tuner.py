"""The tuner's arithmetic: the nearest note and its cents against a reference pitch, a steady reading
from the live pitch frames, and a drone (a sustained reference tone that loops without a click).
The window's tuner draws these; the pitch itself comes from musicdesk.live_pitch, as while recording.
"""
from __future__ import annotations

import math

import numpy as np

STEADY_FRAMES = 7       # frames (10 ms each) in the median of a reading: steady, and quick to follow


def tuning(midi: float, a4_hz: float = 440.0) -> tuple[int, float]:
    """The nearest equal-tempered note (MIDI number, with A4 tuned to `a4_hz`) and how far `midi` (a
    fractional MIDI pitch at A4 = 440 Hz) lies from it, in cents (-50 to +50; positive = sharp)."""
    m = float(midi) - 12.0 * math.log2(a4_hz / 440.0)
    n = int(round(m))
    return n, 100.0 * (m - n)


def steady_midi(midi_frames: np.ndarray, n: int = STEADY_FRAMES) -> float | None:
    """The median of the last `n` voiced frames (NaN = unvoiced), or None when fewer than half of them
    are voiced (silence, or a note just starting)."""
    last = np.asarray(midi_frames, dtype=float)[-n:]
    voiced = last[np.isfinite(last)]
    if len(voiced) < max(1, n // 2 + 1):
        return None
    return float(np.median(voiced))


def drone_samples(freq_hz: float, sr: int = 44100, seconds: float = 2.0, gain: float = 0.25) -> np.ndarray:
    """A soft organ-like tone at `freq_hz` (fundamental and two quieter octaves/fifths), as many whole
    cycles as fit in about `seconds`, so that it loops without a click (float32, mono)."""
    cycles = max(1, int(round(seconds * freq_hz)))
    n = int(round(cycles * sr / freq_hz))
    phase = 2 * np.pi * cycles * np.arange(n) / n          # exactly `cycles` turns over the n samples
    x = np.sin(phase) + 0.35 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
    return (gain * x / np.max(np.abs(x))).astype(np.float32)


def midi_hz(midi: int, a4_hz: float = 440.0) -> float:
    """Frequency of MIDI note `midi` with A4 tuned to `a4_hz`."""
    return a4_hz * 2.0 ** ((midi - 69) / 12.0)
