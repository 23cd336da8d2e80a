"""Streaming pitch for the live trace while recording: plain YIN over new frames, vectorised in numpy.

Samples arrive in blocks of any size (`LivePitch.push`); every 10 ms frame whose analysis span is
complete is analysed once, so the result does not depend on how the audio was split into blocks.
Per frame: YIN difference function via FFT, cumulative-mean-normalised difference (CMNDF), the first
trough below an absolute threshold (de Cheveigné & Kawahara 2002), parabolic interpolation, and an
energy gate. The offline trackers in `musicdesk.pitch` (Viterbi over pYIN candidates) stay the
reference for analysis; this one only has to be right and cheap enough for a 30 fps display.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdesk.dsp import next_fast_len

DEFAULT_THRESHOLD = 0.15   # CMNDF threshold: a trough below it is a period
DEFAULT_GATE_DBFS = -55.0  # frames quieter than this (RMS, dB re full scale) are unvoiced
_EPS = 1e-12


@dataclass(frozen=True)
class LiveFrames:
    """New pitch frames: times in seconds since the first sample pushed (centre of each frame's
    analysis span), MIDI pitch (fractional; NaN when unvoiced) and RMS level in dBFS."""

    times_s: np.ndarray
    midi: np.ndarray
    level_dbfs: np.ndarray

    def __len__(self) -> int:
        return len(self.times_s)


class LivePitch:
    """Incremental YIN pitch tracker for a mono float stream at `sr` Hz (not thread-safe: one consumer)."""

    def __init__(self, sr: int, hop_s: float = 0.01, fmin_hz: float = 50.0, fmax_hz: float = 2000.0,
                 window_s: float = 0.046, threshold: float = DEFAULT_THRESHOLD,
                 gate_dbfs: float = DEFAULT_GATE_DBFS) -> None:
        if sr <= 0 or not (0 < fmin_hz < fmax_hz < sr / 2):
            raise ValueError(f"Need 0 < fmin_hz < fmax_hz < sr/2 (got {fmin_hz}, {fmax_hz}, sr={sr}).")
        self.sr = int(sr)
        self.hop = max(1, int(round(hop_s * sr)))
        self.hop_s = self.hop / self.sr
        self.win = max(4, int(round(window_s * sr)))
        self.min_lag = max(2, int(np.floor(sr / fmax_hz)))
        self.max_lag = int(np.ceil(sr / fmin_hz)) + 1
        self.span = self.win + self.max_lag + 1          # samples one frame needs
        self.threshold = float(threshold)
        self.gate_dbfs = float(gate_dbfs)
        self._nfft = next_fast_len(self.span)
        self._buf = np.zeros(0, dtype=np.float32)       # samples from sample index `_buf_start` on
        self._buf_start = 0
        self._n_pushed = 0
        self._next_frame = 0

    @property
    def latency_s(self) -> float:
        """Delay from a frame's time to the moment it can be computed (half an analysis span)."""
        return (self.span / 2) / self.sr

    @property
    def n_frames(self) -> int:
        """Frames produced so far."""
        return self._next_frame

    def reset(self) -> None:
        """Forget all audio (a new take); frame times restart at 0."""
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = self._n_pushed = self._next_frame = 0

    def push(self, samples: np.ndarray) -> LiveFrames:
        """Add mono samples; return every frame completed since the last call (possibly none)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if x.size:
            self._buf = np.concatenate([self._buf, x]) if self._buf.size else x.copy()
            self._n_pushed += x.size
        n_ready = 0
        if self._n_pushed >= self.span:
            n_ready = (self._n_pushed - self.span) // self.hop + 1 - self._next_frame
        if n_ready <= 0:
            return _empty_frames()
        first = self._next_frame
        starts = (first + np.arange(n_ready)) * self.hop - self._buf_start
        midi, level = self._analyse(self._buf, starts)
        times = ((first + np.arange(n_ready)) * self.hop + self.span / 2) / self.sr
        self._next_frame += n_ready
        # keep only what the next frame needs
        drop = self._next_frame * self.hop - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:].copy()
            self._buf_start += drop
        return LiveFrames(times_s=times, midi=midi, level_dbfs=level)

    def _analyse(self, x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """YIN on frames x[s : s + span] for s in starts -> (midi (NaN unvoiced), level_dbfs)."""
        win, max_lag, n = self.win, self.max_lag, self.span
        frames = np.lib.stride_tricks.sliding_window_view(x, n)[starts].astype(np.float64)
        # r[t, tau] = sum_{j<win} f[j] f[j + tau]
        a = np.fft.rfft(frames, self._nfft, axis=1)
        b = np.fft.rfft(frames[:, win - 1::-1], self._nfft, axis=1)
        r = np.fft.irfft(a * b, self._nfft, axis=1)[:, win - 1: win + max_lag]
        sq = np.concatenate([np.zeros((len(starts), 1)), np.cumsum(frames * frames, axis=1)], axis=1)
        taus = np.arange(max_lag + 1)
        e0 = sq[:, win:win + 1]                                      # energy of the window
        e_tau = sq[:, taus + win] - sq[:, taus]                      # energy of the shifted window
        d = np.maximum(e0 + e_tau - 2.0 * r, 0.0)
        d[:, 0] = 0.0
        csum = np.cumsum(d[:, 1:], axis=1)
        cmndf = np.ones_like(d)
        cmndf[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(csum, _EPS)
        level = 10.0 * np.log10(np.maximum(e0[:, 0] / win, 1e-20))
        # first lag in [min_lag, max_lag - 2] below the threshold, then walk down to its trough
        lo, hi = self.min_lag, max_lag - 2
        c = cmndf[:, lo:hi + 1]
        below = c < self.threshold
        has = below.any(axis=1)
        k0 = np.argmax(below, axis=1)
        rising = np.zeros_like(below)
        rising[:, :-1] = c[:, 1:] >= c[:, :-1]
        rising[:, -1] = True
        idx = np.arange(c.shape[1])[None, :]
        k = np.argmax(rising & (idx >= k0[:, None]), axis=1) + lo
        k = np.clip(k, lo, hi)
        rows = np.arange(len(starts))
        y0, y1, y2 = cmndf[rows, k - 1], cmndf[rows, k], cmndf[rows, k + 1]
        den = y0 - 2.0 * y1 + y2
        shift = np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0)
        lag = k + np.clip(shift, -0.5, 0.5)
        f0 = self.sr / lag
        voiced = has & (level >= self.gate_dbfs)
        midi = np.where(voiced, 69.0 + 12.0 * np.log2(f0 / 440.0), np.nan)
        return midi, level


def _empty_frames() -> LiveFrames:
    z = np.zeros(0)
    return LiveFrames(times_s=z, midi=z.copy(), level_dbfs=z.copy())
