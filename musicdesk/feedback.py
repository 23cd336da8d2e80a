"""The per-note report: what happened to every score note, extra notes, summary figures, ratings.

Pure functions over a Score, a PitchContour and an Alignment. Tolerances follow mir_eval's
conventions (a pitch within 50 cents is the right note; an onset within 50 ms is on time), and are
named parameters of `Tolerances`.

Timing is judged against the player's *own local tempo*: for each note, the onsets of its neighbours
(the nearest played notes on each side, the note itself left out) give a robust local curve from score
beats to seconds; the timing error is how far the note's onset lies from that curve. A slow but steady
take is therefore not "late" everywhere, while one rushed note still stands out, and does not make its
neighbours look early.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from musicdesk.align import Alignment
from musicdesk.dsp import small_median
from musicdesk.pitch import PitchContour
from musicdesk.score import Score
from musicdesk.take_checks import score_passes, tuning_offset_cents

CORRECT, WRONG_PITCH, MISSED = "correct", "wrong_pitch", "missed"


@dataclass(frozen=True)
class Tolerances:
    pitch_cents: float = 50.0        # |played - expected| below this: the right note (mir_eval: 50 cents)
    intonation_cents: float = 25.0   # a right note further off than this is out of tune (sharp/flat)
    timing_ms: float = 50.0          # |timing error| above this: early/late (mir_eval onsets: 50 ms)
    min_voiced_frames: int = 3       # fewer voiced frames inside a note's span: the note is missed
    edge_trim: float = 0.2           # fraction of a note's span ignored at each end when reading its pitch
    reference_a4_hz: float = 440.0   # the reference pitch notes are judged against (415, 440, 442, ...)


@dataclass(frozen=True)
class NoteResult:
    id: str
    index: int
    measure: int
    beat: float
    expected_midi: int
    status: str                      # correct | wrong_pitch | missed
    played_midi: float | None        # median MIDI (float) of the performed note
    cents: float | None              # played - expected, in cents
    onset_s: float | None
    offset_s: float | None
    timing_error_ms: float | None    # onset relative to the local tempo line (+ late, - early)
    intonation: str | None = None    # in_tune | sharp | flat (right notes only), against the take's tuning
    timing: str | None = None        # on_time | early | late; None: not judged (see pulse_errors_ms)
    intonation_cents: float | None = None  # cents against the take's own tuning (= cents when it has none)
    expected_name: str = ""          # the note as the score spells it, at written pitch (e.g. "Bb4")
    played_name: str | None = None   # the semitone played, at written pitch, spelled in the part's key
    expected_concert_name: str = ""  # the same two at concert (sounding) pitch: equal for a part in C
    played_concert_name: str | None = None


@dataclass(frozen=True)
class ExtraNote:
    onset_s: float
    offset_s: float
    midi: float | None
    name: str | None = None          # at written pitch, spelled in the part's key
    concert_name: str | None = None  # at concert (sounding) pitch


@dataclass(frozen=True)
class Report:
    notes: tuple[NoteResult, ...]
    extra_notes: tuple[ExtraNote, ...]
    summary: dict
    ratings: dict
    warnings: tuple[str, ...] = field(default_factory=tuple)
    remarks: tuple[str, ...] = field(default_factory=tuple)   # about the take as a whole, e.g. its tuning

    def to_json_dict(self) -> dict:
        """The stable JSON contract of `musicdesk analyze --json`."""
        return {
            "notes": [_round_floats(asdict(n)) for n in self.notes],
            "extra_notes": [_round_floats(asdict(e)) for e in self.extra_notes],
            "summary": _round_floats(dict(self.summary)),
            "ratings": _round_floats(dict(self.ratings)),
            "warnings": list(self.warnings),
            "remarks": list(self.remarks),
        }


def _round_floats(d: dict, ndigits: int = 4) -> dict:
    return {k: (round(v, ndigits) if isinstance(v, float) and math.isfinite(v) else v) for k, v in d.items()}


def onsets_s(notes: Sequence) -> np.ndarray:
    """Each note's played onset (s, float64), NaN where it was not found: of a Report's notes
    (NoteResult) or an Alignment's (NoteAlignment)."""
    return np.array([np.nan if n.onset_s is None else n.onset_s for n in notes], dtype=np.float64)


def played_midi(contour: PitchContour, onset_s: float, offset_s: float, tol: Tolerances) -> tuple[float | None, int]:
    """Median MIDI pitch of the voiced frames in the middle part of [onset_s, offset_s]; and their count."""
    span = offset_s - onset_s
    lo, hi = onset_s + tol.edge_trim * span, offset_s - tol.edge_trim * span
    midi = contour.midi
    sel = (contour.times_s >= lo) & (contour.times_s <= hi) & np.isfinite(midi)
    if sel.sum() < tol.min_voiced_frames:  # very short notes: use the whole span
        sel = (contour.times_s >= onset_s) & (contour.times_s <= offset_s) & np.isfinite(midi)
    n = int(sel.sum())
    return (float(np.median(midi[sel])) if n else None), n


MIN_SIDE_WEIGHT = 2.0  # tricube weight needed on each side of a note for a local parabola (else a line)


def local_tempo_errors_ms(onset_beats: np.ndarray, onset_s: np.ndarray, window_beats: float,
                          window_notes: int = 6) -> np.ndarray:
    """Leave-one-out timing error (ms) of each onset against one robust local curve beats -> seconds,
    fitted through the neighbours on both sides (the rule of the first reports; kept for comparison in
    benchmarks/bench_timing.py). A hold or a breath between two notes bends that one curve, so the
    notes around it read early and late: `report_timing_errors_ms` is the rule the report uses.

    For note i, its neighbours are the `window_notes` played notes on each side, and any others within
    `window_beats`; they are fitted by weighted least squares (tricube weights over the neighbour's
    rank, Tukey-bisquare reweighting against outliers): a parabola when the neighbours on each side
    that are not outliers of a robust line weigh at least MIN_SIDE_WEIGHT (about two close notes; it
    follows an accelerando or ritardando), else that line. Counting neighbours by rank, not by beats,
    keeps a late note identifiable as the outlier when a long note follows it. The error is
    onset_s[i] minus the fit at onset_beats[i]. With fewer than 3 neighbours a global line is used.
    """
    n = len(onset_s)
    out = np.full(n, np.nan)
    if n < 4:
        return out
    glob = _robust_poly(onset_beats, onset_s, np.ones(n), 1)
    ranks = np.arange(n)
    for i in range(n):
        dx = onset_beats - onset_beats[i]
        rank = np.abs(ranks - i)
        nb = ((rank <= window_notes) | (np.abs(dx) <= window_beats)) & (rank > 0)
        if nb.sum() >= 3 and np.ptp(onset_beats[nb]) > 0:
            x, y = dx[nb], onset_s[nb]
            span = max(window_notes, int(rank[nb].max())) + 1
            w = (1 - (rank[nb] / span) ** 3) ** 3
            coef, rw = _robust_poly(x, y, w, 1, with_weights=True)
            # a parabola only with real support on both sides: outliers (a late note) do not pin it
            # down, and its extrapolation would amplify onset noise
            eff = w * rw
            if min(float(eff[x < 0].sum()), float(eff[x > 0].sum())) >= MIN_SIDE_WEIGHT:
                coef = _robust_poly(x, y, w, 2)
            pred = coef[-1]  # the fit at dx = 0
        else:
            pred = np.polyval(glob, onset_beats[i])
        out[i] = (onset_s[i] - pred) * 1000.0
    return out


PULSE_CONTEXT_NOTES = 3   # each side's pulse comes from this many played notes next to the note
                          # (chosen on simulated professionals: training/timing_design.py)
BREAK_MIN_S = 0.15        # an inter-onset interval this much longer than the pulse, not made up for by
                          # its neighbours, is a hold or a breath (a phrase end): see `timing_breaks`


def timing_breaks(onset_beats: np.ndarray, onset_s: np.ndarray, min_s: float = BREAK_MIN_S,
                  context_notes: int = PULSE_CONTEXT_NOTES) -> np.ndarray:
    """Per note, whether the player held it or breathed after it: the interval to the next onset is at
    least `min_s` longer than the local pulse says (the median seconds per beat of the `context_notes`
    intervals on each side), and the intervals next to it do not make up for it (a note played late
    lengthens the interval before it and shortens the one after; a hold lengthens one only)."""
    b = np.asarray(onset_beats, dtype=np.float64)
    t = np.asarray(onset_s, dtype=np.float64)
    n = len(t)
    out = np.zeros(n, dtype=bool)
    if n < 3:
        return out
    db, dt = np.diff(b), np.diff(t)
    ok = db > 1e-9
    spb = np.where(ok, dt / np.maximum(db, 1e-9), np.nan)
    excess = np.zeros(n - 1)
    for j in range(n - 1):
        near = [k for k in range(max(0, j - context_notes), min(n - 1, j + 1 + context_notes)) if k != j and ok[k]]
        if not near or not ok[j]:
            continue
        excess[j] = dt[j] - db[j] * float(np.median(spb[near]))
    for j in range(n - 1):
        before = excess[j - 1] if j > 0 else 0.0
        after = excess[j + 1] if j + 2 < n else 0.0
        # the longest of neighbouring long intervals (a ritardando lengthens those before a hold)
        out[j] = (excess[j] >= min_s and min(excess[j] + before, excess[j] + after) >= min_s
                  and excess[j] >= max(before, after))
    return out


def pulse_errors_ms(onset_beats: np.ndarray, onset_s: np.ndarray, context_notes: int = PULSE_CONTEXT_NOTES,
                    breaks: np.ndarray | None = None, combine: str = "min",
                    one_sided_slack_ms: float | None = None, tempo_within_phrase: bool = False,
                    off_anchor_ms: float | None = None) -> np.ndarray:
    """Timing error (ms, + late) of each onset against the player's own pulse on both sides of it;
    NaN where a note is not judged.

    The pulse before note i: each of the `context_notes` played notes before it, carried forward to
    note i's beat at the local tempo (`_local_spb`: the median seconds per beat of the intervals
    around it, not the two that touch note i), and the median of those. The pulse after it: the same
    from the notes after it, carried back. A note is off only as far as both pulses agree: the same
    sign, and the smaller of the two sizes (`combine="geometric"`: their geometric mean); else 0. A
    note played early or late is off both.

    Holds and breaths (`breaks[i]`: the player may hold or breathe after note i; default
    `timing_breaks`, to which a caller adds the score's fermatas) split the take into phrases, and no
    pulse reaches across a phrase end. The last note of a phrase is judged by both sides, across the
    break (a ritardando into a fermata is off the next phrase's pulse, not off its own, so it is not
    called late), and is no anchor for the others' pulse unless it is the only one. A note with a
    pulse on one side only (the first note of the take and of each phrase, the last of the take) has no
    second opinion: with `one_sided_slack_ms` only what lies beyond that slack counts (an entry after a
    breath is the player's choice, within reason); without it (None) it is not judged (NaN).
    `tempo_within_phrase`: the local tempo from the note's own phrase only (a candidate, not the
    report's rule; training/README.md).
    """
    b = np.asarray(onset_beats, dtype=np.float64)
    t = np.asarray(onset_s, dtype=np.float64)
    n = len(t)
    out = np.full(n, np.nan)
    if n < 3 or np.ptp(b) <= 0:
        return out
    brk = timing_breaks(b, t, context_notes=context_notes) if breaks is None else np.asarray(breaks, dtype=bool)
    brk = brk.copy()
    brk[-1] = False
    seg = np.concatenate([[0], np.cumsum(brk[:-1])])   # phrase number of each note
    glob_spb = float(_robust_poly(b, t, np.ones(n), 1)[0])
    off = np.zeros(n, dtype=bool)
    todo = range(n)
    if off_anchor_ms is not None:
        first = pulse_errors_ms(b, t, context_notes, brk, combine, one_sided_slack_ms, tempo_within_phrase)
        off = np.abs(np.nan_to_num(first)) > off_anchor_ms
        if not off.any():
            return first
        # only notes whose sides or tempo intervals reach an off note can change
        near = np.zeros(n, dtype=bool)
        for m in np.flatnonzero(off):
            near[max(0, m - context_notes - 2):m + context_notes + 3] = True
        out, todo = first.copy(), np.flatnonzero(near)
    skip = (brk | off | np.roll(off, -1)).tolist()   # intervals not used for the local tempo
    # plain Python values: the loop works on a handful of notes at a time
    bl, tl, sg, bk, of = b.tolist(), t.tolist(), seg.tolist(), brk.tolist(), off.tolist()
    for i in todo:
        out[i] = np.nan
        left = [j for j in range(max(0, i - context_notes), i) if sg[j] == sg[i]]
        right = [j for j in range(i + 1, min(n, i + 1 + context_notes)) if sg[j] == sg[i] or bk[i]]
        left, right = ([j for j in side if not bk[j]] or side for side in (left, right))
        left, right = ([j for j in side if not of[j]] or side for side in (left, right))
        if not left and not right:
            continue
        spb = _local_spb(bl, tl, i, skip, context_notes, glob_spb, seg if tempo_within_phrase else None)
        # onset i minus a side's pulse: its notes carried to note i's beat at the local tempo, their median
        off_side = lambda side: tl[i] - small_median([tl[j] + (bl[i] - bl[j]) * spb for j in side])  # noqa: E731
        if not left or not right:
            if one_sided_slack_ms is None:
                continue
            # one side only: no second opinion, so only what lies beyond the slack counts
            e = off_side(left or right)
            out[i] = float(np.sign(e) * max(0.0, abs(e) * 1000.0 - one_sided_slack_ms))
            continue
        e_left, e_right = off_side(left), off_side(right)
        if np.sign(e_left) != np.sign(e_right):
            out[i] = 0.0
        elif combine == "min":
            out[i] = min(e_left, e_right, key=abs) * 1000.0
        else:   # "geometric": large only where both sides say so, nearer the size both see
            out[i] = float(np.sign(e_left) * np.sqrt(e_left * e_right)) * 1000.0
    return out


FIT_CONTEXT_NOTES = 4     # the phrase fit (a candidate rule) takes this many played notes a side


def phrase_fit_errors_ms(onset_beats: np.ndarray, onset_s: np.ndarray, context_notes: int = FIT_CONTEXT_NOTES,
                         breaks: np.ndarray | None = None, one_sided_slack_ms: float | None = None,
                         pulse: np.ndarray | None = None) -> np.ndarray:
    """Timing error (ms, + late) of each onset against the player's own pulse through it: a line
    beats -> seconds fitted through up to `context_notes` played notes on each side within its phrase,
    leaving the note itself out (weighted least squares, tricube weights over the beat distance,
    Tukey-bisquare reweighting so that one misplaced neighbour does not move it); NaN where not judged.

    Holds and breaths (`breaks`, default `timing_breaks`; a caller adds the score's fermatas) end
    phrases, as in `pulse_errors_ms`, and the held note is no anchor for its neighbours. A note with
    no neighbour on one side within its phrase (the first of the take or of a phrase, the last of the
    take) and the last note of a phrase are judged by `pulse_errors_ms` (its rules for those cases).
    Not the report's rule on its own (it adds it beyond FIT_BEYOND_MS: `report_timing_errors_ms`;
    training/timing_design.py compares them). Against
    `pulse_errors_ms`'s two pulses of three notes each, one line through both sides is not pulled off
    by misplaced neighbours, so a note played 120 ms off is found far more often (80.8% against 63.7%
    of the moved notes on rendered takes), but where onsets scatter as a bowed violin's do to our
    aligner it flags 20% of a clean take's notes (the pulses: 9%), beyond the 10% a professional's take
    may show; the smaller of the two pulses keeps that scatter in.
    """
    b = np.asarray(onset_beats, dtype=np.float64)
    t = np.asarray(onset_s, dtype=np.float64)
    n = len(t)
    if n < 3 or np.ptp(b) <= 0:
        return np.full(n, np.nan)
    brk = timing_breaks(b, t) if breaks is None else np.asarray(breaks, dtype=bool)
    brk = brk.copy()
    brk[-1] = False
    # `pulse`: pulse_errors_ms of the same onsets, breaks and slack, when the caller has it already
    out = (pulse_errors_ms(b, t, breaks=brk, one_sided_slack_ms=one_sided_slack_ms) if pulse is None
           else np.array(pulse, dtype=np.float64))
    seg = np.concatenate([[0], np.cumsum(brk[:-1])])
    k = context_notes
    offs = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
    nb = np.arange(n)[:, None] + offs[None, :]                      # (n, 2k) neighbour indices
    inside = (nb >= 0) & (nb < n)
    nbc = np.clip(nb, 0, n - 1)
    valid = inside & (seg[nbc] == seg[:, None]) & ~brk[nbc]
    has_left = (valid & (offs < 0)).any(axis=1)
    has_right = (valid & (offs > 0)).any(axis=1)
    rows = np.flatnonzero(has_left & has_right & ~brk)
    if not len(rows):
        return out
    x = np.where(valid[rows], b[nbc[rows]] - b[rows, None], 0.0)
    y = np.where(valid[rows], t[nbc[rows]], 0.0)
    d = np.abs(x)
    span = 1.01 * d.max(axis=1, keepdims=True) + 1e-9
    w0 = np.where(valid[rows], (1 - (d / span) ** 3) ** 3, 0.0)
    rw = np.ones_like(w0)
    icpt = np.full(len(rows), np.nan)
    for _ in range(20):
        ww = w0 * rw
        S, Sx, Sy = ww.sum(1), (ww * x).sum(1), (ww * y).sum(1)
        Sxx, Sxy = (ww * x * x).sum(1), (ww * x * y).sum(1)
        det = S * Sxx - Sx ** 2
        fit = (np.count_nonzero(ww > 0, axis=1) >= 2) & (np.abs(det) > 1e-12)
        slope = np.where(fit, (S * Sxy - Sx * Sy) / np.where(fit, det, 1.0), 0.0)
        icpt = np.where(fit, (Sy - slope * Sx) / np.where(S > 0, S, 1.0), icpt)
        r = np.abs(y - (icpt[:, None] + slope[:, None] * x))
        scale = 6.0 * np.maximum(_weighted_median_rows(r, w0), 0.005)
        new_rw = np.clip(1 - (r / scale[:, None]) ** 2, 0, None) ** 2
        done = np.max(np.abs(new_rw - rw)) < 1e-3
        rw = new_rw
        if done:
            break
    ok = np.isfinite(icpt)
    out[rows[ok]] = (t[rows[ok]] - icpt[ok]) * 1000.0
    return out


FIT_BEYOND_MS = 100.0     # the report: the phrase fit's word counts only beyond this (see report_timing_errors_ms)
OFF_ANCHOR_MS = 100.0     # the report: a note the pulses find this far off is no anchor for its neighbours


def report_timing_errors_ms(onset_beats: np.ndarray, onset_s: np.ndarray, breaks: np.ndarray,
                            one_sided_slack_ms: float, fit_beyond_ms: float = FIT_BEYOND_MS,
                            off_anchor_ms: float | None = OFF_ANCHOR_MS) -> np.ndarray:
    """The report's timing error (ms, + late; NaN: not judged) of each onset: the two pulses
    (`pulse_errors_ms`), except where the phrase fit (`phrase_fit_errors_ms`, one robust line through
    both sides) sees the note more than `fit_beyond_ms` off and the pulses do not flag it: there the
    fit's error. The fit finds a note played off next to misplaced neighbours, which pull one pulse
    with them; its higher bar keeps a bowed violin's onset scatter, which it flags beyond 50 ms, in.
    Chosen on simulated professionals (training/timing_design.py: moved notes found 73.7% -> 79.7%,
    and 61.7% -> 69.5% with a violin's scatter, clean notes flagged 3.3% -> 3.4% and 9.0% -> 9.7%).
    The pulses take a second pass in which a note they found more than `off_anchor_ms` off is no
    anchor for its neighbours (`pulse_errors_ms`): a moved note no longer hides its neighbours' own
    errors, so the take with it is rated lower more often (rendered takes: 95.3% -> 95.9% of pairs;
    onsets with a violin's scatter: 94.4% -> 95.0%), with as many clean notes flagged."""
    pulse = pulse_errors_ms(onset_beats, onset_s, breaks=breaks, one_sided_slack_ms=one_sided_slack_ms,
                            off_anchor_ms=off_anchor_ms)
    fit = phrase_fit_errors_ms(onset_beats, onset_s, breaks=breaks, one_sided_slack_ms=one_sided_slack_ms,
                               pulse=pulse)
    out = pulse.copy()
    take = np.isfinite(fit) & (np.abs(fit) > fit_beyond_ms) & ~(np.abs(np.nan_to_num(pulse)) > one_sided_slack_ms)
    out[take] = fit[take]
    return out


def _weighted_median_rows(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted median of v (as `_weighted_median`, one row at a time)."""
    order = np.argsort(v, axis=1)
    vs = np.take_along_axis(v, order, axis=1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    pos = (cw >= 0.5 * cw[:, -1:]).argmax(axis=1)
    return vs[np.arange(len(v)), pos]


def _local_spb(b: np.ndarray, t: np.ndarray, i: int, brk: np.ndarray, k: int, fallback: float,
               seg: np.ndarray | None = None) -> float:
    """Seconds per beat around note i: the median over the inter-onset intervals within k notes, leaving
    out the two that touch note i (its own placement) and those that end a phrase (holds, breaths).
    With `seg` (each note's phrase number), only intervals inside note i's own phrase, where it has any."""
    n = len(t)
    m = [j for j in range(max(0, i - k - 1), min(n - 1, i + k + 1))
         if j not in (i - 1, i) and not brk[j] and b[j + 1] - b[j] > 1e-9]
    if seg is not None:
        m = [j for j in m if seg[j] == seg[i]] or m
    if not m:
        return fallback
    return small_median([(t[j + 1] - t[j]) / (b[j + 1] - b[j]) for j in m])


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(v)
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return float(np.median(v))
    return float(v[order][np.searchsorted(cw, 0.5 * cw[-1])])


def _robust_poly(x: np.ndarray, y: np.ndarray, w: np.ndarray, deg: int, iters: int = 20,
                 with_weights: bool = False):
    """Weighted robust (bisquare) polynomial fit of y on x; coefficients highest power first.

    Reweights until the weights settle (at most `iters` times): one far-off onset (a note 150 ms
    late) inflates the first fit's residual scale, and a few rounds only halve its pull on the curve,
    which would make its right neighbours look early. With `with_weights`, also the final robustness
    weights (0 for an outlier, near 1 for a point on the curve)."""
    rw = np.ones_like(w)
    coef = np.zeros(deg + 1)
    coef[-1] = float(np.median(y))
    for _ in range(iters):
        ww = w * rw
        if np.count_nonzero(ww > 0) <= deg:
            break
        coef = np.polyfit(x, y, deg, w=np.sqrt(ww))
        r = y - np.polyval(coef, x)
        # residual scale from the points that count here (weighted median), 5 ms floor: sub-frame noise
        s = 6.0 * max(_weighted_median(np.abs(r), w), 0.005)
        new_rw = np.clip(1 - (r / s) ** 2, 0, None) ** 2
        if np.max(np.abs(new_rw - rw)) < 1e-3:
            rw = new_rw
            break
        rw = new_rw
    return (coef, rw) if with_weights else coef


def build_report(score: Score, contour: PitchContour, alignment: Alignment,
                 tol: Tolerances = Tolerances()) -> Report:
    """Judge every score note of the take and sum up.

    Pitch: `cents` is each note against the score at the reference pitch (`tol.reference_a4_hz`). When
    most notes share an offset (`take_checks.tuning_offset_cents`: a take tuned to another A, or
    consistently sharp), right and wrong notes and each note's intonation are judged against that
    offset, as a tuner set to the take's own A would; the offset itself is reported once
    (`summary["tuning_offset_cents"]`) and lowers the intonation rating, which stays against the
    reference. Timing: `report_timing_errors_ms`, with the score's fermatas as phrase ends.
    """
    notes = score.notes
    ref_cents = 1200.0 * math.log2(tol.reference_a4_hz / 440.0)
    results: list[dict] = []
    for sn, na in zip(notes, alignment.notes):
        r = dict(id=sn.id, index=sn.index, measure=sn.measure, beat=sn.beat, expected_midi=sn.midi,
                 status=MISSED, played_midi=None, cents=None, onset_s=na.onset_s, offset_s=na.offset_s,
                 timing_error_ms=None, expected_name=sn.name or score.spell(sn.midi))
        r["expected_concert_name"] = score.concert(r["expected_name"])
        if na.onset_s is not None and na.offset_s is not None:
            pm, _ = played_midi(contour, na.onset_s, na.offset_s, tol)
            if pm is not None:
                r.update(played_midi=pm, cents=100.0 * (pm - sn.midi) - ref_cents, played_name=score.spell(pm),
                         played_concert_name=score.concert(score.spell(pm)))
        results.append(r)
    offset = tuning_offset_cents(np.array([r["cents"] if r["cents"] is not None else np.nan for r in results]))
    for r in results:
        if r["cents"] is None:
            r.update(onset_s=None, offset_s=None)
            continue
        rel = r["cents"] - offset
        r["status"] = CORRECT if abs(rel) < tol.pitch_cents else WRONG_PITCH
        if r["status"] == CORRECT:
            r["intonation_cents"] = rel
            r["intonation"] = ("in_tune" if abs(rel) <= tol.intonation_cents else ("sharp" if rel > 0 else "flat"))

    played = [i for i, r in enumerate(results) if r["status"] != MISSED]
    n_holds = 0
    if played:
        beats = np.array([notes[i].onset_beats for i in played])
        secs = np.array([results[i]["onset_s"] for i in played])
        brk = timing_breaks(beats, secs) | np.array([notes[i].fermata for i in played], dtype=bool)
        brk[-1] = False
        n_holds = int(brk.sum())
        errs = report_timing_errors_ms(beats, secs, brk, one_sided_slack_ms=tol.timing_ms)
        for i, e in zip(played, errs):
            if np.isfinite(e):
                results[i]["timing_error_ms"] = float(e)
                results[i]["timing"] = ("on_time" if abs(e) <= tol.timing_ms else ("late" if e > 0 else "early"))

    extra = []
    for on, off in alignment.extra:
        m = played_midi(contour, on, off, tol)[0]
        name = score.spell(m) if m is not None else None
        extra.append(ExtraNote(on, off, m, name, score.concert(name) if name else None))
    extra = tuple(extra)
    note_results = tuple(NoteResult(**r) for r in results)
    passes = score_passes(contour, np.array([n.midi for n in score.notes]))
    summary, ratings, warnings = _summarise(score, note_results, extra, tol, _matched_time(contour, note_results),
                                            n_passes=len(passes))
    summary.update(tuning_offset_cents=offset, reference_a4_hz=float(tol.reference_a4_hz), n_holds=n_holds,
                   n_timing_judged=sum(r.timing is not None for r in note_results))
    remarks = [tuning_sentence(offset, tol.reference_a4_hz)] if offset else []
    warnings = _repeat_warning(passes) + warnings
    return Report(note_results, extra, summary, ratings, tuple(warnings), tuple(remarks))


def tuning_sentence(offset_cents: float, reference_a4_hz: float) -> str:
    """'You play 35 cents sharp overall (against A = 440 Hz) ...', for a take with its own tuning."""
    a4 = reference_a4_hz * 2 ** (offset_cents / 1200.0)
    return (f"You play {abs(offset_cents):.0f} cents {'sharp' if offset_cents > 0 else 'flat'} overall (against "
            f"A = {reference_a4_hz:g} Hz; your A is about {a4:.0f} Hz). Notes are judged right or wrong against "
            "your own tuning; tune your instrument, or set the reference pitch in Settings if you tuned to "
            "another A.")


def _repeat_warning(passes: list) -> list[str]:
    """A warning when the part was played several times in the take (`take_checks.score_passes`)."""
    out = []
    if len(passes) >= 2:
        starts = ", ".join(f"{a:.0f} s" for a, _, _ in passes)
        out.append(f"The part is played {len(passes)} times in this take (passes start at {starts}); only one "
                   "pass is judged, so tempo and coverage here mean little. Trim the take to one pass, or "
                   "record each pass as its own take.")
    return out


def _matched_time(contour: PitchContour, notes: tuple[NoteResult, ...]) -> tuple[float, float]:
    """(seconds of pitched sound inside the spans of the score notes found, seconds of pitched sound)."""
    inside = np.zeros(len(contour.times_s), dtype=bool)
    for r in notes:
        if r.onset_s is not None and r.offset_s is not None:
            lo, hi = np.searchsorted(contour.times_s, [r.onset_s, r.offset_s])
            inside[lo:hi] = True
    return float((inside & contour.voiced).sum() * contour.hop_s), float(contour.voiced.sum() * contour.hop_s)


# A take with at least MISMATCH_MIN_VOICED_S of pitched sound of which less than MIN_MATCHED_FRACTION lies
# inside score notes is not (mostly) a performance of this part: it is judged against the whole score.
MIN_MATCHED_FRACTION = 0.5
# Fewer right notes than this share of the stretch played (at least 8 notes): ask whether the take is of
# this piece. A take of another tune in a nearby key is force-fitted to the score as wrong notes, so its
# pitched sound still lies "inside" score notes; a beginner's honest attempt gets the question too.
MIN_CORRECT_FRACTION = 0.4
MISMATCH_MIN_VOICED_S = 2.0
# ... or fewer than this share when the part's notes are nowhere to be found in order in the take
# (take_checks.score_passes): a take of another chorale in the same key matches 40-45% of the notes by
# chance, while a weak student's take of the right piece still contains the tune
MIN_CORRECT_IN_ORDER = 0.6


def _summarise(score: Score, notes: tuple[NoteResult, ...], extra: tuple[ExtraNote, ...],
               tol: Tolerances, matched: tuple[float, float] = (0.0, 0.0), n_passes: int = 1
               ) -> tuple[dict, dict, list[str]]:
    n = len(notes)
    matched_s, voiced_s = matched
    matched_fraction = matched_s / voiced_s if voiced_s > 0 else 0.0
    mismatch = voiced_s >= MISMATCH_MIN_VOICED_S and matched_fraction < MIN_MATCHED_FRACTION
    played = [r for r in notes if r.status != MISSED]
    # The stretch the player covered: from the first to the last note found. Ratings judge that stretch;
    # `coverage` says how much of the score it is, so stopping early is visible but not double-counted.
    first = next((r.index for r in notes if r.status != MISSED), None)
    last = next((r.index for r in reversed(notes) if r.status != MISSED), None)
    in_range = [r for r in notes if first is not None and first <= r.index <= last]
    coverage = (len(in_range) / n) if n else 0.0
    if mismatch:  # the covered stretch means little when most of the take is something else
        in_range = list(notes)
    correct = [r for r in in_range if r.status == CORRECT]
    cents = np.array([r.cents for r in correct if r.cents is not None])
    terr = np.array([r.timing_error_ms for r in played if r.timing_error_ms is not None])
    summary = {
        "n_notes": n,
        "n_correct": sum(r.status == CORRECT for r in notes),
        "n_wrong_pitch": sum(r.status == WRONG_PITCH for r in notes),
        "n_missed": sum(r.status == MISSED for r in notes),
        "n_extra": len(extra),
        "first_played_index": first,
        "last_played_index": last,
        "coverage": coverage,
        "percent_correct": (100.0 * len(correct) / len(in_range)) if in_range else 0.0,
        "median_abs_cents": float(np.median(np.abs(cents))) if len(cents) else None,
        "n_out_of_tune": sum(r.intonation in ("sharp", "flat") for r in notes),
        "median_abs_timing_ms": float(np.median(np.abs(terr))) if len(terr) else None,
        "timing_spread_ms": float(1.4826 * np.median(np.abs(terr - np.median(terr)))) if len(terr) else None,
        "n_early": sum(r.timing == "early" for r in notes),
        "n_late": sum(r.timing == "late" for r in notes),
        "played_tempo_bpm": _played_tempo_bpm(score, played),
        "n_passes": n_passes,
        # share of the take's pitched sound that lies inside score notes found in it
        "matched_fraction": matched_fraction,
        "score_tempo_bpm": score.tempo_bpm,
    }
    ratings = {
        # share of the covered notes played at the right pitch
        "note_accuracy": (len(correct) / len(in_range)) if in_range else 0.0,
        # mean over played notes of 1 - |timing error| / (4 x tolerance), floored at 0: 0 ms -> 1,
        # one tolerance (50 ms) -> 0.75, 200 ms or more -> 0
        "rhythmic_accuracy": float(np.mean(np.clip(1 - np.abs(terr) / (4 * tol.timing_ms), 0, 1))) if len(terr) else 0.0,
        # mean over right notes of 1 - |cents| / pitch tolerance: 0 cents -> 1, 25 -> 0.5, 50 -> 0
        "intonation": float(np.mean(np.clip(1 - np.abs(cents) / tol.pitch_cents, 0, 1))) if len(cents) else 0.0,
    }
    warnings: list[str] = list(score.warnings)
    if not played:
        warnings.append("No note of the score was found in the take: is it a recording of this piece and part?")
    elif mismatch and n_passes < 2:   # (several passes get a warning of their own)
        warnings.append(f"Only {matched_s:.1f} s of the {voiced_s:.1f} s played were found to match the score: "
                        "is this take of the chosen piece and part, at the written key?")
    elif n_passes < 2 and len(in_range) >= 8 and (len(correct) / len(in_range) < MIN_CORRECT_FRACTION
                                 or (n_passes == 0 and len(correct) / len(in_range) < MIN_CORRECT_IN_ORDER)):
        warnings.append(f"Only {len(correct)} of {len(in_range)} notes match the score: "
                        "is this take of the chosen piece and part, at the written key?")
    return summary, ratings, warnings


def _played_tempo_bpm(score: Score, played: list[NoteResult]) -> float | None:
    """The player's average tempo in quarter notes per minute (robust line over all played onsets)."""
    if len(played) < 2:
        return None
    beats = np.array([score.notes[r.index].onset_beats for r in played])
    secs = np.array([r.onset_s for r in played])
    if np.ptp(beats) <= 0:
        return None
    b = _robust_poly(beats, secs, np.ones(len(beats)), 1)[0]  # seconds per quarter note
    return 60.0 / b if b > 0 else None
