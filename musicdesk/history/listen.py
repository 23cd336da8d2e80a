"""Listening to two takes of one piece side by side: A then B over the same bars, or both at once with B
stretched onto A's timeline, and where in the score each moment of what plays lies (for the cursor).

Takes come with their alignments (score note index -> performed onset/offset), so the same bars are
found in each; "both at once" time-stretches B segment by segment between the notes both takes played
(phase vocoder, pitch unchanged), so that both reach each note together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdesk.audio import Take
from musicdesk.score import Score

GAP_S = 0.8            # silence between A and B
FADE_S = 0.01          # fades at the joins (no clicks)


@dataclass(frozen=True)
class Listening:
    """Mono audio to play, and the score time (s) at each knot of its timeline (np.interp between)."""

    samples: np.ndarray        # float32, mono
    sr: int
    out_s: np.ndarray          # knots: time in `samples`
    score_s: np.ndarray        # ... and the score time there (NaN in the gap)
    parts: tuple               # ((label, start_s, end_s) in `samples`), e.g. ("A", 0, 12.3)


def _warp_knots(score: Score, alignment) -> tuple[np.ndarray, np.ndarray]:
    """(score_s, take_s) of the notes the take played, monotonic in both (playback's score-to-take warp)."""
    from musicdesk.playback import _Warp

    try:
        w = _Warp(score, alignment)
    except ValueError as exc:
        raise ValueError("A take of the comparison has no performed notes: nothing to line up.") from exc
    return w.x, w.y


def _span(score: Score, alignment, bars: tuple[int, int] | None, take: Take) -> tuple[float, float]:
    from musicdesk.playback import take_span_s

    if bars is None:
        return 0.0, len(take.samples) / take.sr
    return take_span_s(alignment, score, *bars)


def _fade(y: np.ndarray, sr: int) -> np.ndarray:
    n = min(len(y) // 2, int(FADE_S * sr))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y = y.copy()
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def _resampled(take: Take, sr: int) -> np.ndarray:
    from musicdesk.dsp import resample

    y = np.asarray(take.samples, dtype=np.float32)
    return y if take.sr == sr else resample(y, take.sr, sr).astype(np.float32)


def _segment(score: Score, take: Take, alignment, bars: tuple[int, int] | None,
             sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The take's `bars` at `sr` (faded at both ends), and the (segment time, score time) knots in it."""
    y = _resampled(take, sr)
    a, b = _span(score, alignment, bars, take)
    seg = _fade(y[int(a * sr):int(b * sr)], sr)
    xs, ys = _warp_knots(score, alignment)
    inside = (ys >= a) & (ys <= b)
    return seg, ys[inside] - a, xs[inside]


def one_take(score: Score, take: Take, alignment, bars: tuple[int, int] | None = None,
             label: str = "A") -> Listening:
    """One take's `bars` (None: all of it), with its score times."""
    seg, out_k, score_k = _segment(score, take, alignment, bars, take.sr)
    return Listening(seg, take.sr, out_k, score_k, ((label, 0.0, len(seg) / take.sr),))


def a_then_b(score: Score, take_a: Take, align_a, take_b: Take, align_b,
             bars: tuple[int, int] | None = None, gap_s: float = GAP_S) -> Listening:
    """Take A's `bars` (None: all of it), a short silence, then take B's same bars."""
    sr = take_a.sr
    seg_a, out_a, score_a = _segment(score, take_a, align_a, bars, sr)
    seg_b, out_b, score_b = _segment(score, take_b, align_b, bars, sr)
    end_a = len(seg_a) / sr
    gap = np.zeros(int(gap_s * sr), dtype=np.float32)
    start_b = end_a + len(gap) / sr
    return Listening(np.concatenate([seg_a, gap, seg_b]).astype(np.float32), sr,
                     np.concatenate([out_a, [end_a + gap_s / 2], start_b + out_b]),
                     np.concatenate([score_a, [np.nan], score_b]),
                     (("A", 0.0, end_a), ("B", start_b, start_b + len(seg_b) / sr)))


def b_on_a(score: Score, take_a: Take, align_a, take_b: Take, align_b,
           bars: tuple[int, int] | None = None, gains: tuple[float, float] = (0.6, 0.6)) -> Listening:
    """A and B together: B stretched, between the notes both played, onto A's timeline."""
    import librosa

    sr = take_a.sr
    ya, yb = _resampled(take_a, sr), _resampled(take_b, sr)
    xa, ta = _warp_knots(score, align_a)
    xb, tb = _warp_knots(score, align_b)
    common = np.intersect1d(xa, xb)
    if len(common) < 2:
        raise ValueError("The two takes share too few notes to be played together.")
    ka = np.interp(common, xa, ta)             # A's time of each shared note
    kb = np.interp(common, xb, tb)
    out = np.zeros_like(ya)
    # before the first shared note and after the last: B as it is, shifted onto A
    edges_a = np.concatenate([[max(0.0, ka[0] - kb[0])], ka, [len(ya) / sr]])
    edges_b = np.concatenate([[max(0.0, kb[0] - ka[0])], kb, [kb[-1] + (len(ya) / sr - ka[-1])]])
    for i in range(len(edges_a) - 1):
        a0, a1 = int(edges_a[i] * sr), int(edges_a[i + 1] * sr)
        b0, b1 = int(edges_b[i] * sr), int(min(edges_b[i + 1] * sr, len(yb)))
        if a1 <= a0 or b1 <= b0:
            continue
        seg = yb[b0:b1]
        want = a1 - a0
        if abs(len(seg) - want) > 0.01 * sr and len(seg) > 2048:
            seg = librosa.effects.time_stretch(seg, rate=len(seg) / want)
        seg = _fade(np.resize(seg, want) if len(seg) >= want else np.pad(seg, (0, want - len(seg))), sr)
        out[a0:a1] += seg[: len(out) - a0]
    mixed = gains[0] * ya + gains[1] * out
    peak = float(np.max(np.abs(mixed))) if len(mixed) else 0.0
    if peak > 0.99:
        mixed *= 0.99 / peak
    a, b = _span(score, align_a, bars, take_a)
    seg = _fade(mixed[int(a * sr):int(b * sr)].astype(np.float32), sr)
    inside = (ta >= a) & (ta <= b)
    return Listening(seg, sr, ta[inside] - a, xa[inside], (("A+B", 0.0, len(seg) / sr),))


def score_time_at(listening: Listening, t_s: float) -> float | None:
    """The score time (s) heard at `t_s` of the listening, None in the gap or outside the notes."""
    k, v = listening.out_s, listening.score_s
    if len(k) == 0 or t_s < k[0] or t_s > k[-1]:
        return None
    x = float(np.interp(t_s, k, v))
    return None if not np.isfinite(x) else x


__all__ = ["Listening", "one_take", "a_then_b", "b_on_a", "score_time_at", "GAP_S"]
