"""Checks of a whole take before its notes are believed: its tuning reference, and whether it holds the
piece once. Pure functions over a PitchContour and per-note cents; no audio, no Qt.

- `tuning_offset_cents`: where most notes share a pitch offset (a player tuned to A=442, or a whole take
  30 cents sharp), that offset, like a tuner's reference setting; notes are then right or wrong against
  it, and their intonation is still judged against the reference pitch.
- `repeated_passes`: a take that plays the same music several times in a row (the period at which the
  pitch contour repeats itself over the whole take).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdesk.pitch import PitchContour

# A take has its own tuning when at least TUNING_MIN_SHARE of its notes (and TUNING_MIN_NOTES) lie within
# TUNING_SPREAD_CENTS of their median offset, and that median is at least TUNING_MIN_CENTS from 0.
TUNING_MIN_SHARE = 0.6
TUNING_MIN_NOTES = 8
TUNING_SPREAD_CENTS = 30.0
TUNING_MIN_CENTS = 10.0
TUNING_MAX_CENTS = 100.0   # further off than a semitone is a transposition, not a tuning


def tuning_offset_cents(cents: np.ndarray) -> float:
    """The take's own tuning offset (cents, + sharp) from the notes' offsets against the score (cents,
    NaN for notes not played); 0 when the notes share no offset of at least TUNING_MIN_CENTS.

    Only offsets within a semitone count (a wrong note is not a tuning); the offset is the median of the
    notes near the first estimate, so a few out-of-tune notes do not move it.
    """
    c = np.asarray(cents, dtype=np.float64)
    c = c[np.isfinite(c) & (np.abs(c) < TUNING_MAX_CENTS)]
    if len(c) < TUNING_MIN_NOTES:
        return 0.0
    med = float(np.median(c))
    near = np.abs(c - med) <= TUNING_SPREAD_CENTS
    if near.sum() < max(TUNING_MIN_NOTES, TUNING_MIN_SHARE * len(c)):
        return 0.0
    off = float(np.median(c[near]))
    return off if abs(off) >= TUNING_MIN_CENTS else 0.0


TRANSCRIBE_MIN_S = 0.08     # a steady semitone this long is a note of the take's transcription
MATCH_MAX_DISTANCE = 0.35   # a stretch of the take is a pass through the score when its notes are at
                            # most this share of edits (in the score's length) from the score's notes


def transcribe(contour: PitchContour, min_s: float = TRANSCRIBE_MIN_S) -> tuple[np.ndarray, np.ndarray]:
    """The take as a sequence of pitch changes: (MIDI semitones, onset s) of each run of one semitone
    lasting at least `min_s` (a 5-frame median first, so vibrato and note edges make no notes), with
    consecutive equal pitches merged (repeated notes are not told apart here)."""
    from scipy.ndimage import median_filter

    m = np.where(contour.voiced, np.nan_to_num(contour.midi, nan=0.0), 0.0)
    q = np.round(median_filter(m, size=5, mode="nearest"))
    q[q < 1] = 0
    change = np.flatnonzero(np.diff(np.concatenate([[-1], q, [-1]])) != 0)
    pitches, onsets = [], []
    min_frames = max(1, int(round(min_s / max(contour.hop_s, 1e-6))))
    for a, b in zip(change[:-1], change[1:]):
        if q[a] <= 0 or b - a < min_frames:
            continue
        if pitches and pitches[-1] == q[a]:
            continue
        pitches.append(q[a])
        onsets.append(float(contour.times_s[a]))
    return np.asarray(pitches, dtype=np.int64), np.asarray(onsets)


def score_passes(contour: PitchContour, score_midi: np.ndarray, max_distance: float = MATCH_MAX_DISTANCE
                 ) -> list[tuple[float, float, float]]:
    """Each stretch of the take that plays the whole score part (its pitch sequence, repeated notes
    merged, within `max_distance` edits per score note: approximate string matching), as (start s,
    end s, share of edits), in time order and not overlapping. Tempo plays no part, so a take played
    several times in a row shows several passes, and a take of another piece none."""
    sm = np.asarray(score_midi, dtype=np.int64)
    sm = sm[np.concatenate([[True], sm[1:] != sm[:-1]])] if len(sm) else sm
    tp, ton = transcribe(contour)
    m, L = len(sm), len(tp)
    if m < 4 or L < m // 2:
        return []
    # D[i, j]: fewest edits turning score[:i] into some stretch of the take ending at note j (Sellers)
    D = np.zeros((m + 1, L + 1), dtype=np.int64)
    D[:, 0] = np.arange(m + 1)
    S = np.zeros((m + 1, L + 1), dtype=np.int64)   # where that stretch starts
    S[0, :] = np.arange(L + 1)
    for i in range(1, m + 1):
        for j in range(1, L + 1):
            best, start = D[i - 1, j - 1] + (sm[i - 1] != tp[j - 1]), S[i - 1, j - 1]
            if D[i - 1, j] + 1 < best:
                best, start = D[i - 1, j] + 1, S[i - 1, j]
            if D[i, j - 1] + 1 < best:
                best, start = D[i, j - 1] + 1, S[i, j - 1]
            D[i, j], S[i, j] = best, start
    limit = max_distance * m
    out: list[tuple[float, float, float]] = []
    taken = np.zeros(L, dtype=bool)
    for j in np.argsort(D[m, 1:], kind="stable") + 1:   # the stretch is take notes a .. j-1
        if D[m, j] > limit:
            break
        a = int(S[m, j])
        if j <= a or taken[a + 1:j - 1].any():   # (two passes may share a note: a last and first
            continue                               # note of one pitch are merged)
        taken[a:j] = True
        end = float(ton[j]) if j < L else float(contour.times_s[-1])
        out.append((float(ton[a]), end, float(D[m, j] / m)))
    return sorted(out)


@dataclass(frozen=True)
class Repetition:
    passes: float        # how many times the music is played (take span / period)
    period_s: float      # seconds from one pass to the next
    agreement: float     # share of voiced frames whose pitch one period later is the same


REPEAT_FRAME_S = 0.05       # the contour is compared on this grid
REPEAT_MIN_PERIOD_S = 4.0   # shorter repetitions are the music's own (a repeated bar, a sequence)
REPEAT_AGREEMENT = 0.8      # share of frames that must agree one period later ...
REPEAT_COVER = 0.8          # ... over this share of the voiced frames that have a frame a period later
REPEAT_SLACK_S = 0.3        # a frame agrees when the same semitone sounds within this of one period later


def repeated_passes(contour: PitchContour, min_passes: float = 1.8) -> Repetition | None:
    """Whether the take plays the same music about `min_passes` times or more in a row: the lag at which
    the pitch contour agrees with itself (same semitone) over nearly all of the take, when the take
    lasts at least `min_passes` such lags. None when it does not.

    A chorale's repeated first section (bar form, A A B) agrees with itself over the A sections only,
    not over the whole take, so it is not taken for a second pass.
    """
    t, m = contour.times_s, contour.midi
    if len(t) < 2:
        return None
    step = max(1, int(round(REPEAT_FRAME_S / max(contour.hop_s, 1e-6))))
    n = len(m) // step
    if n < 4:
        return None
    g = np.nanmedian(m[: n * step].reshape(n, step), axis=1) if step > 1 else m[:n]
    voiced = np.isfinite(g)
    if not voiced.any():
        return None
    first, last = np.flatnonzero(voiced)[[0, -1]]
    g, voiced = g[first:last + 1], voiced[first:last + 1]
    n = len(g)
    span_s = n * step * contour.hop_s
    lo = int(np.ceil(REPEAT_MIN_PERIOD_S / (step * contour.hop_s)))
    hi = int(n / min_passes)
    if hi < lo:
        return None
    gi = np.where(voiced, np.round(g), -1000.0)
    # per frame, which semitones sound within +-REPEAT_SLACK_S (a second pass is never at exactly one tempo)
    w = int(round(REPEAT_SLACK_S / (step * contour.hop_s)))
    pad = np.pad(gi, w, constant_values=-1000.0)
    near = np.stack([pad[k:k + n] for k in range(2 * w + 1)])          # (2w+1, n)
    best: Repetition | None = None
    have_all = gi > -1000
    for lag in range(lo, hi + 1):
        a, have = gi[:-lag], have_all[:-lag]
        if not have.any():
            continue
        later = near[:, lag:]
        cover = float(np.mean(np.any(later > -1000, axis=0)[have]))
        agree = float(np.mean(np.any(np.abs(later - a[None, :]) < 0.5, axis=0)[have]))
        if cover >= REPEAT_COVER and agree >= REPEAT_AGREEMENT and (best is None or agree > best.agreement):
            best = Repetition(span_s / (lag * step * contour.hop_s), lag * step * contour.hop_s, agree)
    return best
