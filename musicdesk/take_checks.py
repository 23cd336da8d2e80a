"""Checks of a whole take before its notes are believed: its tuning reference, and whether it holds the
piece once. Pure functions over a PitchContour and per-note cents; no audio, no Qt.

- `tuning_offset_cents`: where most notes share a pitch offset (a player tuned to A=442, or a whole take
  30 cents sharp), that offset, like a tuner's reference setting; notes are then right or wrong against
  it, and their intonation is still judged against the reference pitch.
- `contour_tuning_cents`: where the take sits against the semitone grid, before any alignment (a take
  near a quarter tone off is aligned at both readings, musicdesk.align).
- `score_passes`: each stretch of the take that plays the whole part (its notes in order, tempo-free),
  so that a take played several times in a row, or a take of another piece, can be told.
"""
from __future__ import annotations

import numpy as np

from musicdesk.dsp import median_filter1d
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


TUNING_STEADY_SEMITONES = 0.1   # frames whose pitch moves less than this from the frame before (no glides)


def contour_tuning_cents(contour: PitchContour) -> float:
    """Where the take's steady voiced frames sit against the semitone grid of the reference pitch:
    the circular mean of their offsets from the nearest semitone, in cents within (-50, 50]. Needs no
    score, so it is known before the alignment; +55 cents and -45 cents read the same here (the score
    tells them apart: musicdesk.align tries both)."""
    m = contour.midi
    ok = np.isfinite(m)
    ok[1:] &= np.isfinite(m[:-1]) & (np.abs(np.diff(np.nan_to_num(m))) < TUNING_STEADY_SEMITONES)
    ok[0] = False
    if ok.sum() < 10:
        return 0.0
    ang = 2.0 * np.pi * m[ok]                        # one turn per semitone
    w = np.clip(np.asarray(contour.confidence, dtype=np.float64)[ok], 0.05, 1.0)
    z = np.sum(w * np.exp(1j * ang))
    if abs(z) < 1e-9 * np.sum(w):
        return 0.0
    d = float(np.angle(z) / (2.0 * np.pi) * 100.0)
    return 50.0 if d <= -50.0 else d


TRANSCRIBE_MIN_S = 0.08     # a steady semitone this long is a note of the take's transcription
MATCH_MAX_DISTANCE = 0.35   # a stretch of the take is a pass through the score when its notes are at
                            # most this share of edits (in the score's length) from the score's notes


def transcribe(contour: PitchContour, min_s: float = TRANSCRIBE_MIN_S) -> tuple[np.ndarray, np.ndarray]:
    """The take as a sequence of pitch changes: (MIDI semitones, onset s) of each run of one semitone
    lasting at least `min_s` (a 5-frame median first, so vibrato and note edges make no notes), with
    consecutive equal pitches merged (repeated notes are not told apart here)."""
    m = np.where(contour.voiced, np.nan_to_num(contour.midi, nan=0.0), 0.0)
    q = np.round(median_filter1d(m, 5))
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
    # Row by row in numpy: the diagonal and upward moves first, then the leftward chain as a running
    # minimum of (cost - j), its start taken from the last j that set that minimum (as the loop
    # `D[i, j] = min(diag, up, left)`, preferring diagonal, then up, then left, would).
    cols = np.arange(L + 1)
    for i in range(1, m + 1):
        diag = D[i - 1, :-1] + (tp != sm[i - 1])
        up = D[i - 1, 1:] + 1
        use_up = up < diag
        t = np.concatenate([[i], np.where(use_up, up, diag)])
        ts = np.concatenate([[0], np.where(use_up, S[i - 1, 1:], S[i - 1, :-1])])
        v = t - cols
        run = np.minimum.accumulate(v)
        record = v == run                     # v[j] at or below every v before it
        D[i] = run + cols
        S[i] = ts[np.maximum.accumulate(np.where(record, cols, 0))]
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
