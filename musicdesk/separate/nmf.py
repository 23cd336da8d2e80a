"""The learning-free baseline: score-informed NMF (after Ewert & Mueller 2012).

The mixture's magnitude spectrogram V (STFT 2048 / 512 at 22050 Hz) is modelled as W H, with one
template column per (part, pitch) of the score and one activation row for each:

- templates start as harmonic combs (partials h f0 up to the Nyquist frequency, amplitudes decaying with h,
  each partial a bump `partial_cents` wide plus the window's main lobe), zero elsewhere;
- activations start at 1 where the aligned score has that part playing that pitch (from `tolerance_s`
  before the aligned onset to `tolerance_s` after the offset) and at 0 everywhere else.

Multiplicative updates for the generalised KL divergence keep every zero at zero, so a template can only
reshape its own partials and a part can only sound where its score says so. Each part's stem is the
mixture filtered by a soft (Wiener-like) mask, the part's modelled power over all parts' modelled power:
the masks sum to one, so the stems sum to the mixture and a minus-one mix is the mixture less one stem.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

N_FFT = 2048
HOP = 512


@dataclass(frozen=True)
class NMFParams:
    """Set on rendered ensembles (training/ensemble.py), never on the evaluation recordings."""

    n_harmonics: int = 30
    harmonic_decay: float = 0.9       # initial amplitude of partial h: decay ** (h - 1)
    partial_cents: float = 30.0       # half width of each partial's band (detuning, vibrato; design set:
                                      # 30 cents 8.3 dB, 60 cents 8.1 dB mean SDR)
    tolerance_s: float = 0.15         # activations may start this early and end this late
    iterations: int = 50
    mask_power: float = 2.0           # soft mask: modelled magnitude ** power, normalised over parts
    eps: float = 1e-10


def harmonic_templates(midis: Sequence[int], sr: int, n_fft: int = N_FFT, p: NMFParams | None = None
                       ) -> np.ndarray:
    """(bins, len(midis)) non-negative harmonic combs, each column summing to one."""
    p = p or NMFParams()
    freqs = np.arange(1 + n_fft // 2) * sr / n_fft
    bin_hz = sr / n_fft
    W = np.zeros((len(freqs), len(midis)), np.float64)
    for j, m in enumerate(midis):
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        for h in range(1, p.n_harmonics + 1):
            fh = h * f0
            if fh >= sr / 2:
                break
            half = max(fh * (2 ** (p.partial_cents / 1200) - 1), 1.5 * bin_hz)
            sel = np.abs(freqs - fh) <= half
            W[sel, j] += p.harmonic_decay ** (h - 1) * (1 - 0.5 * np.abs(freqs[sel] - fh) / half)
    return W / (W.sum(axis=0, keepdims=True) + 1e-12)


def activation_mask(notes_per_part: Sequence[Sequence[tuple[float, float, int]]], n_frames: int, hop_s: float,
                    tolerance_s: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(components, frames) 0/1 initial activations and the (part, MIDI) of each component, from each
    part's aligned notes (onset_s, offset_s, midi)."""
    comps: list[tuple[int, int]] = []
    for k, notes in enumerate(notes_per_part):
        for m in sorted({n[2] for n in notes}):
            comps.append((k, m))
    index = {c: i for i, c in enumerate(comps)}
    H = np.zeros((len(comps), n_frames), np.float64)
    for k, notes in enumerate(notes_per_part):
        for on, off, m in notes:
            a = max(0, int(np.floor((on - tolerance_s) / hop_s)))
            b = min(n_frames, int(np.ceil((off + tolerance_s) / hop_s)) + 1)
            H[index[(k, m)], a:b] = 1.0
    return H, comps


def nmf_masks(V: np.ndarray, W0: np.ndarray, H0: np.ndarray, comp_part: np.ndarray, n_parts: int,
              p: NMFParams | None = None, progress: Callable[[float], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """(parts, bins, frames) soft masks from KL-NMF of V (bins, frames) started at W0, H0."""
    p = p or NMFParams()
    W, H = W0.copy(), H0.copy()
    eps = p.eps
    ones = np.ones_like(V)
    for it in range(p.iterations):
        if cancel is not None and cancel():
            raise InterruptedError("Separation cancelled.")
        WH = W @ H + eps
        H *= (W.T @ (V / WH)) / (W.T @ ones + eps)
        WH = W @ H + eps
        W *= ((V / WH) @ H.T) / (ones @ H.T + eps)
        s = W.sum(axis=0, keepdims=True) + eps
        W /= s
        H *= s.T
        if progress is not None:
            progress((it + 1) / p.iterations)
    Y = np.zeros((n_parts,) + V.shape)
    for k in range(n_parts):
        sel = comp_part == k
        if sel.any():
            Y[k] = W[:, sel] @ H[sel]
    Y = Y ** p.mask_power
    return Y / (Y.sum(axis=0, keepdims=True) + eps)


def part_masks(mag: np.ndarray, sr: int, notes_per_part: Sequence[Sequence[tuple[float, float, int]]],
               p: NMFParams | None = None, progress: Callable[[float], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """(parts, bins, frames) soft masks of a magnitude spectrogram (STFT N_FFT / HOP at `sr`) from each
    part's aligned notes (onset_s, offset_s, midi; times from the spectrogram's first frame)."""
    p = p or NMFParams()
    V = np.asarray(mag, np.float64)
    H0, comps = activation_mask(notes_per_part, V.shape[1], HOP / sr, p.tolerance_s)
    W0 = harmonic_templates([m for _, m in comps], sr, N_FFT, p)
    comp_part = np.array([k for k, _ in comps], dtype=int)
    return nmf_masks(V, W0, H0, comp_part, len(notes_per_part), p, progress, cancel)


def separate_nmf(samples: np.ndarray, sr: int, notes_per_part: Sequence[Sequence[tuple[float, float, int]]],
                 p: NMFParams | None = None, progress: Callable[[float], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """(parts, samples) float32 stems of `samples` (mono, `sr` Hz) from each part's aligned notes
    (onset_s, offset_s, midi); they sum to the input."""
    import librosa

    p = p or NMFParams()
    y = np.asarray(samples, np.float32)
    X = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    M = part_masks(np.abs(X), sr, notes_per_part, p, progress, cancel)
    stems = np.stack([librosa.istft(M[k] * X, hop_length=HOP, n_fft=N_FFT, length=len(y))
                      for k in range(len(notes_per_part))]).astype(np.float32)
    # masks sum to one up to eps: put the rounding residue in equal shares so the stems sum to the input
    stems += (y - stems.sum(axis=0)) / len(stems)
    return stems
