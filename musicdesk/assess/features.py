"""Model inputs of the assessment networks, as in the reference (biboamy/FBA-Fall19).

- The performance: a pitch contour at FRAME_HOP_S (about 29 ms; the reference tracks pYIN at a 5.8 ms
  hop and keeps every 5th frame), as MIDI numbers with 0 where unvoiced. Networks see MIDI / 128.
- The score: a frame-wise MIDI sequence at the same frame rate (0 in rests), aligned to the contour by
  DTW with an octave-tolerant distance, so both have one value per performance frame.
- DistMatNet: the whole distance matrix between contour and score frames, resized to a fixed square.

Everything here is numpy, with the loops in numba kernels (musicdesk.assess.kernels, imported on first
use, so that a process that only runs the networks never loads numba); no model code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from musicdesk.dsp import small_median

FRAME_HOP_S = 5 * 128 / 22050.0   # 0.0290 s: a 5.8 ms hop (128 samples at 22050 Hz) decimated by 5
MIDI_SCALE = 1.0 / 128.0          # network input = MIDI number * MIDI_SCALE (0 = unvoiced / rest)
REST_DISTANCE = 7.0               # distance between a pitch and silence: the largest pitch distance
DISTMAT_SIZE = 600                # DistMatNet's input is DISTMAT_SIZE x DISTMAT_SIZE
MIN_FRAMES = 241                  # shortest input the 4-layer contour encoder accepts (kernel 7, stride 3)


PULSE_SLACK_MS = 50.0  # note_pulse_frames: a note with a pulse on one side only counts beyond this (the report's)
TERM_NOTE_S = 0.25    # SIConvNet-Delta's timing term: a note this far off its neighbours' grids counts in full
                      # (the rubric's 250 ms; musicdesk.assess.models.note_timing_share)

def contour_frames(times_s: np.ndarray, midi: np.ndarray, duration_s: float) -> np.ndarray:
    """Resample a pitch contour to the FRAME_HOP_S grid by nearest frame.

    times_s, midi: the tracker's frames (MIDI as float, NaN or 0 where unvoiced). Returns float32 MIDI
    per frame, 0 where unvoiced, covering [0, duration_s).
    """
    n = max(1, int(np.ceil(duration_s / FRAME_HOP_S)))
    grid = np.arange(n) * FRAME_HOP_S
    times_s = np.asarray(times_s, dtype=np.float64)
    m = np.nan_to_num(np.asarray(midi, dtype=np.float64), nan=0.0)
    if len(times_s) == 0:
        return np.zeros(n, dtype=np.float32)
    idx = np.clip(np.searchsorted(times_s, grid), 0, len(times_s) - 1)
    prev = np.clip(idx - 1, 0, len(times_s) - 1)
    closer_prev = np.abs(times_s[prev] - grid) < np.abs(times_s[idx] - grid)
    idx = np.where(closer_prev, prev, idx)
    return m[idx].astype(np.float32)


def score_frames(midi: Sequence[int], onset_s: Sequence[float], duration_s: Sequence[float]) -> np.ndarray:
    """The score as MIDI per FRAME_HOP_S frame from its first onset to its last offset (0 in rests).
    A note followed by one of the same pitch ends a frame early, so that a repeated note keeps its
    own onset for the alignment (players articulate it)."""
    on = np.asarray(onset_s, dtype=np.float64)
    if len(on) == 0:
        return np.zeros(1, dtype=np.float32)
    t0 = float(on.min())
    off = on + np.asarray(duration_s, dtype=np.float64)
    n = max(1, int(np.ceil((off.max() - t0) / FRAME_HOP_S)))
    out = np.zeros(n, dtype=np.float32)
    order = np.argsort(on, kind="stable")
    m_, lo_ = np.asarray(midi)[order], np.round((on[order] - t0) / FRAME_HOP_S).astype(np.int64)
    hi_ = np.ceil((off[order] - t0) / FRAME_HOP_S).astype(np.int64)
    for k in range(len(order)):
        lo, hi = lo_[k], max(hi_[k], lo_[k] + 1)
        if k + 1 < len(order) and m_[k + 1] == m_[k] and hi >= lo_[k + 1] > lo + 1:
            hi = lo_[k + 1] - 1   # a frame of rest before the repeated note
        out[lo:hi] = m_[k]
    return out


def octave_tolerant_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance matrix (len(a), len(b)) between MIDI sequences, in semitones.

    For two pitches d = |a - b|: min(d mod 12, 12 - d mod 12) + min(1, floor(d / 12)) (a pitch class
    distance, plus 1 for being in another octave). Silence (0) against silence is 0, against a pitch
    REST_DISTANCE.
    """
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    out = np.empty((len(a), len(b)), dtype=np.float32)
    _kernels().fill_distance(a, b, out)
    return out


def _kernels():
    """musicdesk.assess.kernels, imported (with numba) on first use."""
    from musicdesk.assess import kernels

    return kernels


def align_path(perf_midi: np.ndarray, score_midi: np.ndarray) -> np.ndarray:
    """DTW (octave-tolerant distance) of performance frames to score frames: for each performance frame
    the index of the first score frame matched to it."""
    perf = np.ascontiguousarray(perf_midi, dtype=np.float32)
    score = np.ascontiguousarray(score_midi, dtype=np.float32)
    if len(perf) == 0 or len(score) == 0:
        return np.zeros(len(perf), dtype=np.int64)
    return _kernels().dtw_path_rows(perf, score)


def align_score(perf_midi: np.ndarray, score_midi: np.ndarray) -> np.ndarray:
    """DTW-align the score frames to the performance frames; returns the score's MIDI per performance
    frame (same length as `perf_midi`)."""
    if len(perf_midi) == 0 or len(score_midi) == 0:
        return np.zeros(len(perf_midi), dtype=np.float32)
    return np.asarray(score_midi, dtype=np.float32)[align_path(perf_midi, score_midi)]


def timing_deviation_s(score_index: np.ndarray, perf_midi: np.ndarray, clip_s: float = 1.0) -> np.ndarray:
    """Per performance frame, how far (s) the score position reached there is ahead (+) or behind (-)
    a steady player at the take's own mean tempo: the DTW path minus its least-squares line over the
    sounding frames, clipped to +-clip_s. Rushing, dragging, hesitations and restarts show here."""
    j = np.asarray(score_index, dtype=np.float64)
    i = np.arange(len(j), dtype=np.float64)
    v = np.asarray(perf_midi) > 0
    if v.sum() < 2:
        return np.zeros(len(j), dtype=np.float32)
    a, b = np.polyfit(i[v], j[v], 1)
    return np.clip((j - (a * i + b)) * FRAME_HOP_S, -clip_s, clip_s).astype(np.float32)


DELTA_CLIP_SEMITONES = 3.0
LOCAL_WINDOW_S = 2.0   # the timing deviation minus its moving average over this window is note-level timing
NOTE_CONTEXT = 4       # a note's onset is judged against the tempo of this many intervals on each side
NOTE_CLIP_S = 0.5      # note onset errors are clipped to +-this (s)

# SIConvNet-Δ's input channels: all there are, and the shipped network's, in order (see `delta_channels`)
DELTA_FEATURE_NAMES: tuple[str, ...] = ("pitch", "score", "timing", "local_timing", "voicing", "note_timing")
DELTA_FEATURES: tuple[str, ...] = ("pitch", "score", "timing", "voicing", "note_timing")
DELTA_SEPARATE: tuple[str, ...] = ("note_timing",)   # ... those with an encoder of their own (SIConvNetDelta)


def local_timing_s(timing_s: np.ndarray, window_s: float = LOCAL_WINDOW_S) -> np.ndarray:
    """Note-level timing (s): `timing_deviation_s` minus its moving average over `window_s`, so a single
    early or late note stands out however the tempo drifts around it."""
    from musicdesk.dsp import uniform_filter1d

    t = np.asarray(timing_s, dtype=np.float32)
    if len(t) == 0:
        return t
    w = max(1, int(round(window_s / FRAME_HOP_S)))
    return (t - uniform_filter1d(t, w)).astype(np.float32)


def score_onset_frames(onset_s: Sequence[float]) -> np.ndarray:
    """The score's note onsets as frame indices of `score_frames` (sorted, unique). Repeated notes are
    one run of equal values in the score frames, so the note-level inputs take the onsets from here."""
    on = np.asarray(onset_s, dtype=np.float64)
    if len(on) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.round((on - on.min()) / FRAME_HOP_S).astype(np.int64))


def onsets_from_score_frames(score_midi: np.ndarray) -> np.ndarray:
    """Note onsets (frame indices) where the score frames change to another pitch: a stand-in for
    `score_onset_frames` when only the frames are known (repeated notes then count as one)."""
    s = np.asarray(score_midi)
    if len(s) == 0:
        return np.zeros(0, dtype=np.int64)
    ch = np.flatnonzero((s[1:] != s[:-1]) & (s[1:] > 0)) + 1
    return np.concatenate([[0], ch]).astype(np.int64) if s[0] > 0 else ch.astype(np.int64)


def _local_ratio(r: list[float], lo: int, hi: int, fallback: float) -> float:
    """The median of r[lo:hi], or `fallback` when that is empty."""
    seg = r[max(0, lo):max(0, hi)]
    return small_median(seg) if seg else fallback


def note_starts(score_index: np.ndarray, onset_frames: np.ndarray, perf_midi: np.ndarray) -> np.ndarray:
    """The performance frame where each score note starts: the first frame the DTW path maps to it or
    beyond, moved past unvoiced frames (the silence between two notes belongs to neither, and DTW gives
    it to either) as long as it stays before the next note's start."""
    idx = np.asarray(score_index)
    p = np.searchsorted(idx, np.asarray(onset_frames, dtype=np.int64), side="left")
    voiced = np.flatnonzero(np.asarray(perf_midi) > 0)
    if len(voiced) == 0:
        return p.astype(np.float64)
    nxt = np.append(p[1:], len(idx))
    v = voiced[np.minimum(np.searchsorted(voiced, p), len(voiced) - 1)]
    return np.where((v >= p) & (v < np.maximum(nxt, p + 1)), v, p).astype(np.float64)


def note_onset_errors_s(score_index: np.ndarray, onset_frames: np.ndarray, perf_midi: np.ndarray,
                        k: int = NOTE_CONTEXT, clip_s: float = NOTE_CLIP_S, starts: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per score note, how early (-) or late (+) its onset is against the grid of its neighbours on
    both sides (s), and the performance frame where it starts (`note_starts`).

    The left grid extrapolates the previous onset by the median tempo of the `k` inter-onset intervals
    before it; the right grid goes back from the next onset by the median tempo of the `k` after it.
    A note is off only as far as both grids agree (same sign, the smaller size): a fermata, a breath,
    a hesitation or a restart puts the notes after it off the left grid but not off the right one,
    so it leaves no trace here, while a rushed or late single note is off both.

    `starts`: the performance frame where each note starts, when known better than the DTW path's
    (`aligned_starts`: musicdesk's aligner, NaN where it found none: those from the path)."""
    f = np.asarray(onset_frames, dtype=np.int64)
    n = len(f)
    p = note_starts(score_index, f, perf_midi)
    if starts is not None:
        st = np.asarray(starts, dtype=np.float64)
        p = np.where(np.isfinite(st), st, p)
    if n < 3:
        return np.zeros(n), p
    g = np.diff(f).astype(np.float64)                 # score inter-onset intervals (frames)
    q = np.diff(p)                                     # performed ones
    ratio = q / np.maximum(g, 1.0)
    glob = float(np.median(ratio))
    err = np.zeros(n)
    ratio = ratio.tolist()
    for i in range(n):
        e = []
        if i >= 1:   # left grid: intervals i-1-k .. i-2 (not touching note i)
            e.append(p[i] - (p[i - 1] + g[i - 1] * _local_ratio(ratio, i - 1 - k, i - 1, glob)))
        if i + 1 < n:   # right grid: intervals i+1 .. i+k
            e.append(p[i] - (p[i + 1] - g[i] * _local_ratio(ratio, i + 1, i + 1 + k, glob)))
        if len(e) == 2 and np.sign(e[0]) != np.sign(e[1]):
            continue
        err[i] = min(e, key=abs)
    return np.clip(err * FRAME_HOP_S, -clip_s, clip_s), p


def _per_frame(values: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Note values painted over the performance frames, each from its note's start to the next's."""
    out = np.zeros(n_frames, dtype=np.float32)
    s = np.clip(np.asarray(starts).astype(np.int64), 0, n_frames)
    for i in range(len(values)):
        out[s[i]:(s[i + 1] if i + 1 < len(values) else n_frames)] = values[i]
    return out


def note_timing_frames(score_index: np.ndarray, onset_frames: np.ndarray, perf_midi: np.ndarray,
                       starts: np.ndarray | None = None) -> np.ndarray:
    """`note_onset_errors_s` per performance frame (s): each note's error from its onset to the next."""
    err, p = note_onset_errors_s(score_index, onset_frames, perf_midi, starts=starts)
    return _per_frame(err, np.maximum.accumulate(np.clip(p, 0, len(perf_midi))), len(perf_midi))


def note_pulse_frames(score_index: np.ndarray, onset_frames: np.ndarray, perf_midi: np.ndarray,
                      note_onsets_s: np.ndarray, score_onsets_s: np.ndarray | None = None) -> np.ndarray:
    """note_timing from musicdesk's aligner's onsets (s from the start of `perf_midi`, the trimmed
    take; NaN: not found), judged as the report judges them: each onset against the player's pulse on
    both sides (musicdesk.feedback.pulse_errors_ms, three notes a side, holds and breaths ending
    phrases), per performance frame (s); a note the aligner did not find counts 0 and is no anchor for
    the others. The score's positions are `score_onsets_s`
    (the score's own note onsets, s) where given, else its onset frames, whose rounding to 29 ms
    frames moves a pulse by up to 15 ms."""
    from musicdesk.feedback import pulse_errors_ms

    t = np.asarray(note_onsets_s, dtype=np.float64)
    f = np.asarray(onset_frames, dtype=np.float64)
    pos = f if score_onsets_s is None or len(score_onsets_s) != len(f) else np.asarray(score_onsets_s, dtype=np.float64)
    ok = np.isfinite(t)
    err = np.zeros(len(t))
    if ok.sum() >= 3:
        e = pulse_errors_ms(pos[ok], t[ok], 3, one_sided_slack_ms=PULSE_SLACK_MS) / 1000.0
        err[ok] = np.nan_to_num(e)
    err = np.clip(err, -NOTE_CLIP_S, NOTE_CLIP_S)
    starts = fill_missing_starts(aligned_starts(t, 0, len(perf_midi)), f)
    if not np.isfinite(starts).all():
        starts = note_starts(score_index, np.asarray(onset_frames, dtype=np.int64), perf_midi)
    return _per_frame(err, np.maximum.accumulate(np.clip(starts, 0, len(perf_midi))), len(perf_midi))


def aligned_starts(note_onsets_s: np.ndarray, trim_frames: int, n_frames: int) -> np.ndarray:
    """The performance frames (of the trimmed take, see `trim_silence`) of the note onsets musicdesk's
    aligner found (s from the start of the take; NaN where none), NaN kept."""
    st = np.asarray(note_onsets_s, dtype=np.float64) / FRAME_HOP_S - trim_frames
    return np.where(np.isfinite(st), np.clip(np.round(st), 0, max(0, n_frames - 1)), np.nan)


def fill_missing_starts(starts: np.ndarray, onset_frames: np.ndarray) -> np.ndarray:
    """`starts` (performance frames, NaN where the aligner found no onset) with each missing note placed
    between the found notes around it, in proportion to its score position: where `note_pulse_frames`
    paints such a note's value (0) and ends its neighbour's, instead of where the DTW path, which cannot
    tell repeated notes apart, starts it. All missing: unchanged (the path's starts are used)."""
    st = np.asarray(starts, dtype=np.float64)
    ok = np.isfinite(st)
    if ok.all() or not ok.any():
        return st
    f = np.asarray(onset_frames, dtype=np.float64)
    out = st.copy()
    out[~ok] = np.round(np.interp(f[~ok], f[ok], st[ok]))
    return out


def voicing_mismatch(contour_midi: np.ndarray, aligned_score_midi: np.ndarray) -> np.ndarray:
    """+1 where the score expects a note and the take is silent (missed or cut notes), -1 where the take
    sounds in a rest, 0 elsewhere."""
    c, s = np.asarray(contour_midi), np.asarray(aligned_score_midi)
    return ((s > 0) & (c <= 0)).astype(np.float32) - ((s <= 0) & (c > 0)).astype(np.float32)


def delta_channels(inp: "AssessInput", features: Sequence[str] | None = None) -> np.ndarray:
    """SIConvNet-Δ's input (len(features), T), by default DELTA_FEATURES:

    - pitch: the deviation from the aligned score in semitones where both sound (clipped to
      +-DELTA_CLIP_SEMITONES, 0 elsewhere);
    - score: the aligned score (MIDI / 128);
    - timing: the timing deviation from the take's own steady tempo in seconds (`timing_deviation_s`);
    - local_timing: its note-level part (`local_timing_s`);
    - voicing: silence where a note is expected and sound in rests (`voicing_mismatch`);
    - note_timing: each note's onset against its neighbours on both sides, which holds and pauses
      leave alone (the input carries it): the DTW path's note starts against their grids
      (`note_onset_errors_s`, the shipped network's), or, for networks trained so, musicdesk's
      aligner's onsets against the player's pulse as the report judges them (`note_pulse_frames`).
    """
    c, s = inp.contour_midi, inp.aligned_score_midi
    t = inp.timing_s if inp.timing_s is not None else np.zeros(len(c), dtype=np.float32)
    make = {
        "pitch": lambda: np.where((c > 0) & (s > 0), np.clip(c - s, -DELTA_CLIP_SEMITONES, DELTA_CLIP_SEMITONES), 0.0),
        "score": lambda: s * MIDI_SCALE,
        "timing": lambda: t,
        "local_timing": lambda: local_timing_s(t),
        "voicing": lambda: voicing_mismatch(c, s),
        "note_timing": lambda: _need(inp.note_timing_s, "note_timing"),
    }
    return np.stack([make[f]() for f in (features or DELTA_FEATURES)]).astype(np.float32)


def _need(x: np.ndarray | None, name: str) -> np.ndarray:
    if x is None:
        raise ValueError(f"the {name} input needs an AssessInput made by build_input")
    return x


def distance_image(perf_midi: np.ndarray, score_midi: np.ndarray, size: int = DISTMAT_SIZE) -> np.ndarray:
    """The contour-vs-score distance matrix scaled to [0, 1] and resized to (size, size), float32."""
    a = np.ascontiguousarray(perf_midi, dtype=np.float32)
    b = np.ascontiguousarray(score_midi, dtype=np.float32)
    if len(a) == 0 or len(b) == 0:
        return np.ones((size, size), dtype=np.float32)
    return (_kernels().pooled_distance(a, b, size) / REST_DISTANCE).astype(np.float32)


@dataclass(frozen=True)
class AssessInput:
    """What the networks see for one take: per performance frame the contour and the aligned score
    (MIDI, 0 = silence), and the resized distance image for DistMatNet (optional: it is the costly one)."""

    contour_midi: np.ndarray        # (T,) float32
    aligned_score_midi: np.ndarray  # (T,) float32
    distmat: np.ndarray | None = None  # (DISTMAT_SIZE, DISTMAT_SIZE) float32 in [0, 1]
    timing_s: np.ndarray | None = None  # (T,) float32, see `timing_deviation_s`
    note_timing_s: np.ndarray | None = None  # (T,) float32, see `note_onset_errors_s`


def trim_silence(perf_midi: np.ndarray, pad_frames: int = 3) -> np.ndarray:
    """Drop unvoiced frames before the first and after the last voiced frame (keeping a little)."""
    a, b = _trim_bounds(perf_midi, pad_frames)
    return perf_midi[a:b]


def _trim_bounds(perf_midi: np.ndarray, pad_frames: int = 3) -> tuple[int, int]:
    v = np.flatnonzero(perf_midi > 0)
    if len(v) == 0:
        return 0, len(perf_midi)
    return int(max(0, v[0] - pad_frames)), int(v[-1] + 1 + pad_frames)


def take_path(perf_midi: np.ndarray, score_midi: np.ndarray) -> tuple[int, int, np.ndarray]:
    """The take's sounding stretch (first and end frame, silence trimmed as `build_input` trims it) and
    the DTW path of its frames to the score frames (`align_path`): what every input of one take shares."""
    perf_all = np.asarray(perf_midi, dtype=np.float32)
    a, b = _trim_bounds(perf_all)
    return a, b, align_path(perf_all[a:b], np.asarray(score_midi, dtype=np.float32))


def build_input(perf_midi: np.ndarray, score_midi: np.ndarray, onset_frames: np.ndarray | None = None,
                with_distmat: bool = True, note_onsets_s: np.ndarray | None = None,
                note_rule: str = "grids", score_onsets_s: np.ndarray | None = None,
                path: tuple[int, int, np.ndarray] | None = None) -> AssessInput:
    """Everything the networks need, from the contour and score frames (see `contour_frames`,
    `score_frames`) and the score's note onsets (`score_onset_frames`; without them, where the score
    frames change pitch). Leading and trailing silence of the take is dropped first.

    `note_onsets_s`: each score note's onset as musicdesk's aligner placed it (s; NaN: not found), for
    networks trained on them (weights info "note_onsets"): note_timing then judges those onsets instead
    of the DTW path's note starts (29 ms frames, blind to repeated notes). `note_rule`: "grids"
    (`note_onset_errors_s`) or "pulses" (`note_pulse_frames`, the report's pulse rule, at the score's
    own onsets `score_onsets_s`, s; without aligner onsets the path's note starts stand in). `path`:
    `take_path` of the same frames, when the caller has it (an ensemble's inputs share one DTW)."""
    perf_all = np.asarray(perf_midi, dtype=np.float32)
    a, b, idx = take_path(perf_all, score_midi) if path is None else path
    perf = perf_all[a:b]
    score = np.asarray(score_midi, dtype=np.float32)
    aligned = score[idx] if len(score) and len(perf) else np.zeros(len(perf), dtype=np.float32)
    dm = distance_image(perf, score) if with_distmat else None
    onsets = onsets_from_score_frames(score) if onset_frames is None else np.asarray(onset_frames)
    starts = None
    have = note_onsets_s is not None and len(note_onsets_s) == len(onsets)
    if note_rule == "pulses":
        if have:
            t = np.asarray(note_onsets_s, dtype=np.float64) - a * FRAME_HOP_S
        else:   # no aligner: the DTW path's note starts stand in
            t = note_starts(idx, np.asarray(onsets, dtype=np.int64), perf).astype(np.float64) * FRAME_HOP_S
        nt = note_pulse_frames(idx, onsets, perf, t, score_onsets_s)
        return AssessInput(perf, aligned.astype(np.float32), dm, timing_deviation_s(idx, perf), nt)
    if have:
        starts = aligned_starts(note_onsets_s, a, len(perf))
    return AssessInput(perf, aligned.astype(np.float32), dm, timing_deviation_s(idx, perf),
                       note_timing_frames(idx, onsets, perf, starts))
