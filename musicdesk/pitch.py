"""Pitch trackers behind one interface, returning a `PitchContour`.

Trackers (`TRACKERS`):
- "fastpyin": our probabilistic-YIN tracker (see `musicdesk.pitch_yin`): candidates per frame from the
  YIN difference function, pYIN probabilities, Viterbi over candidates with a voiced/unvoiced copy each.
  About 250x real time on a 2-core CPU, keeps its per-frame candidates for `refine_with_score`.
- "yin": librosa.yin plus an energy gate for voicing (fast, no voicing model, no candidates).
- "pyin": librosa.pyin (the classic reference; about 5x real time).

`DEFAULT_TRACKER` is chosen by benchmarks/bench_pitch.py (see benchmarks/results/pitch.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from musicdesk.audio import Take


@dataclass(frozen=True)
class PitchContour:
    """Frame-wise fundamental frequency of a monophonic take.

    times_s: frame centres in seconds; f0_hz: estimate per frame (0 where there is none; in unvoiced
    frames it may hold the tracker's best guess); voiced: whether the frame holds a pitched sound;
    confidence: in [0, 1].
    Optional (trackers that have them): candidates_hz (T, K) alternative f0 per frame (0 = none), their
    probabilities candidate_prob (T, K) and aperiodicity candidate_aperiodicity (T, K) (YIN's CMNDF
    value: 0 = perfectly periodic at that period, 1 = not at all).
    """

    times_s: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    confidence: np.ndarray
    hop_s: float
    tracker: str
    candidates_hz: np.ndarray | None = None
    candidate_prob: np.ndarray | None = None
    candidate_aperiodicity: np.ndarray | None = None

    @property
    def midi(self) -> np.ndarray:
        """MIDI number as float per frame, NaN where unvoiced."""
        out = np.full(self.f0_hz.shape, np.nan)
        ok = self.voiced & (self.f0_hz > 0)
        out[ok] = 69.0 + 12.0 * np.log2(self.f0_hz[ok] / 440.0)
        return out


DEFAULT_FMIN_HZ = 50.0
DEFAULT_FMAX_HZ = 2000.0
DEFAULT_HOP_S = 0.01

# Energy gate (all trackers): a frame quieter than this below the take's loud frames (its 95th
# percentile RMS) is unvoiced; the gate ramps over GATE_RAMP_DB. Absolute floor for digital silence.
GATE_REL_DB = 40.0
GATE_RAMP_DB = 6.0
SILENCE_DBFS = -75.0

# Viterbi costs of "fastpyin" (negative log-probabilities per 10 ms frame), chosen on synthetic renders.
SIGMA_SEMITONES = 1.0     # pitch drift between frames that costs 0.5
JUMP_COST = 6.0           # any larger move (a note change) costs this
SWITCH_COST = 4.6         # voiced <-> unvoiced, log(1/0.01) as pYIN
N_CANDIDATES = 5


def _frame_times(n_frames: int, hop: int, sr: int) -> np.ndarray:
    return np.arange(n_frames) * (hop / float(sr))


def _n_frames(n_samples: int, hop: int) -> int:
    return 1 + n_samples // hop if n_samples > 0 else 0


def _rms_db(x: np.ndarray, n_frames: int, hop: int, win: int) -> np.ndarray:
    """RMS level (dBFS) of a window of `win` samples centred on each frame."""
    xp = np.pad(x.astype(np.float64), (win // 2, win // 2 + hop))
    cs = np.concatenate([[0.0], np.cumsum(xp * xp)])
    starts = np.arange(n_frames) * hop
    e = (cs[starts + win] - cs[starts]) / win
    return 10.0 * np.log10(np.maximum(e, 1e-20))


def energy_gate(level_db: np.ndarray) -> np.ndarray:
    """Voicing gate in [0, 1] per frame from its level: 0 for silence and for frames far below the take's
    loud frames, 1 for frames within GATE_REL_DB - GATE_RAMP_DB of them."""
    if len(level_db) == 0:
        return np.zeros(0)
    ref = float(np.percentile(level_db, 95))
    g = np.clip((level_db - (ref - GATE_REL_DB)) / GATE_RAMP_DB, 0.0, 1.0)
    g[level_db < SILENCE_DBFS] = 0.0
    return g


def _empty(tracker: str, hop_s: float, n: int = 0, k: int | None = None) -> PitchContour:
    z = np.zeros(n)
    cands = None if k is None else np.zeros((n, k))
    return PitchContour(times_s=np.arange(n) * hop_s, f0_hz=z, voiced=np.zeros(n, dtype=bool),
                        confidence=z.copy(), hop_s=hop_s, tracker=tracker, candidates_hz=cands,
                        candidate_prob=None if k is None else np.zeros((n, k)),
                        candidate_aperiodicity=None if k is None else np.ones((n, k)))


def _track_fastpyin(take: Take, fmin_hz: float, fmax_hz: float, hop_s: float) -> PitchContour:
    from musicdesk import pitch_yin as py

    sr = int(take.sr)
    q = py.coarse_factor(sr)
    hop = max(q, q * int(round(hop_s * sr / q)))
    hop_s = hop / float(sr)
    x = np.asarray(take.samples, dtype=np.float32)
    n = _n_frames(len(x), hop)
    k = N_CANDIDATES
    if n == 0:
        return _empty("fastpyin", hop_s, 0, k)
    if not np.any(x):
        return _empty("fastpyin", hop_s, n, k)
    sr_c = sr / q
    hop_c = hop // q
    max_lag_c = int(np.ceil(sr_c / fmin_hz)) + 1
    min_lag_c = max(2, int(np.floor(sr_c / fmax_hz)))
    win_c = max(int(round(py.WINDOW_S * sr_c)), max_lag_c // 2 + 2)
    span_c = win_c + max_lag_c + 1
    # Frame t covers coarse samples [t*hop_c - span/2, t*hop_c + span/2) (centred like librosa).
    pad_c = span_c // 2
    xc = py.decimate(x, q)
    xc = np.pad(xc, (pad_c, pad_c + span_c + hop_c))
    starts_c = np.arange(n) * hop_c
    r = py.cross_correlation_frames(xc, starts_c, win_c, max_lag_c)
    sq_cum = np.concatenate([[0.0], np.cumsum(xc.astype(np.float64) ** 2)])
    thr, mass = py._threshold_prior()
    lag_c, aper, prob = py.candidates_from_correlation(r, sq_cum, starts_c, win_c, min_lag_c, k, thr, mass,
                                                       py._boltzmann(max_lag_c + 2), py.NO_TROUGH_PROB)
    # refine on the full-rate signal (same window, in full-rate samples) where the gate lets sound through
    win_f, max_lag_f = win_c * q, max_lag_c * q + 2 * q
    gate = energy_gate(_rms_db(x, n, hop, win_f))
    xf = np.pad(x, (pad_c * q, pad_c * q + span_c * q + hop + 4 * q))
    lag_f = py.refine_lags(xf, (starts_c * q).astype(np.int64), win_f, lag_c, q, max_lag_f, gate > 0)
    cand_hz = np.where(lag_f > 0, sr / np.maximum(lag_f, 1e-9), 0.0)
    cand_hz[(cand_hz < fmin_hz * 0.97) | (cand_hz > fmax_hz * 1.03)] = 0.0
    prob = np.where(cand_hz > 0, prob, 0.0)
    aper = np.where(cand_hz > 0, aper, 1.0)
    cand_midi = np.full(cand_hz.shape, np.nan)
    ok = cand_hz > 0
    cand_midi[ok] = 69.0 + 12.0 * np.log2(cand_hz[ok] / 440.0)
    path, voiced = py.viterbi_candidates(cand_midi, prob, gate, SIGMA_SEMITONES, JUMP_COST, SWITCH_COST)
    pick = np.where(path < 2 * k, path % k, -1)
    rows = np.arange(n)
    f0 = np.where(pick >= 0, cand_hz[rows, np.maximum(pick, 0)], 0.0)
    voiced = voiced & (f0 > 0)
    conf = np.clip(prob.sum(axis=1), 0.0, 1.0) * gate
    return PitchContour(times_s=_frame_times(n, hop, sr), f0_hz=f0, voiced=voiced, confidence=conf,
                        hop_s=hop_s, tracker="fastpyin", candidates_hz=cand_hz, candidate_prob=prob,
                        candidate_aperiodicity=aper)


def _librosa_frame(sr: int, fmin_hz: float) -> int:
    """Frame length (samples, a power of 2) holding at least 2 periods of fmin plus the lag range."""
    need = 3.0 * sr / fmin_hz
    return int(2 ** np.ceil(np.log2(max(need, 512))))


def _track_yin(take: Take, fmin_hz: float, fmax_hz: float, hop_s: float) -> PitchContour:
    import librosa

    sr = int(take.sr)
    hop = max(1, int(round(hop_s * sr)))
    hop_s = hop / float(sr)
    x = np.asarray(take.samples, dtype=np.float32)
    n = _n_frames(len(x), hop)
    if n == 0 or not np.any(x):
        return _empty("yin", hop_s, n)
    frame = _librosa_frame(sr, fmin_hz)
    xp = np.pad(x, (0, max(0, frame - len(x))))
    f0 = librosa.yin(xp, fmin=fmin_hz, fmax=fmax_hz, sr=sr, frame_length=frame, hop_length=hop,
                     center=True)[:n].astype(np.float64)
    f0 = np.pad(f0, (0, n - len(f0)))
    gate = energy_gate(_rms_db(x, n, hop, frame // 2))
    # librosa.yin returns the search bounds when nothing is periodic: treat those as unvoiced
    in_range = (f0 > fmin_hz * 1.01) & (f0 < fmax_hz * 0.99)
    voiced = (gate >= 0.5) & in_range
    return PitchContour(times_s=_frame_times(n, hop, sr), f0_hz=np.where(in_range, f0, 0.0),
                        voiced=voiced, confidence=gate * in_range, hop_s=hop_s, tracker="yin")


def _track_pyin(take: Take, fmin_hz: float, fmax_hz: float, hop_s: float) -> PitchContour:
    import librosa

    sr = int(take.sr)
    hop = max(1, int(round(hop_s * sr)))
    hop_s = hop / float(sr)
    x = np.asarray(take.samples, dtype=np.float32)
    n = _n_frames(len(x), hop)
    if n == 0 or not np.any(x):
        return _empty("pyin", hop_s, n)
    frame = _librosa_frame(sr, fmin_hz)
    xp = np.pad(x, (0, max(0, frame - len(x))))
    f0, voiced, vprob = librosa.pyin(xp, fmin=fmin_hz, fmax=fmax_hz, sr=sr, frame_length=frame,
                                     hop_length=hop, center=True, fill_na=None)
    f0 = np.nan_to_num(np.pad(f0[:n], (0, max(0, n - len(f0)))), nan=0.0)
    voiced = np.pad(voiced[:n], (0, max(0, n - len(voiced)))).astype(bool) & (f0 > 0)
    vprob = np.nan_to_num(np.pad(vprob[:n], (0, max(0, n - len(vprob)))))
    return PitchContour(times_s=_frame_times(n, hop, sr), f0_hz=f0, voiced=voiced,
                        confidence=np.clip(vprob, 0, 1), hop_s=hop_s, tracker="pyin")


TRACKERS: dict[str, Callable[[Take, float, float, float], PitchContour]] = {
    "fastpyin": _track_fastpyin,
    "yin": _track_yin,
    "pyin": _track_pyin,
}
DEFAULT_TRACKER = "fastpyin"


def track_pitch(take: Take, tracker: str = DEFAULT_TRACKER, *, fmin_hz: float = DEFAULT_FMIN_HZ,
                fmax_hz: float = DEFAULT_FMAX_HZ, hop_s: float = DEFAULT_HOP_S) -> PitchContour:
    """Pitch contour of a monophonic take: one frame every `hop_s` seconds (rounded to whole samples;
    the contour's `hop_s` is the exact value), f0 searched in [fmin_hz, fmax_hz].

    Silent or empty takes give a contour whose frames are all unvoiced.
    """
    if tracker not in TRACKERS:
        raise ValueError(f"Unknown pitch tracker {tracker!r}; choose one of: {', '.join(TRACKERS)}.")
    if not (0 < fmin_hz < fmax_hz):
        raise ValueError(f"Need 0 < fmin_hz < fmax_hz, got {fmin_hz}, {fmax_hz}.")
    if fmax_hz >= take.sr / 2:
        raise ValueError(f"fmax_hz {fmax_hz} must be below half the sample rate ({take.sr / 2} Hz).")
    if hop_s <= 0:
        raise ValueError(f"hop_s must be positive, got {hop_s}.")
    return TRACKERS[tracker](take, float(fmin_hz), float(fmax_hz), float(hop_s))


# Harmonic relations a tracker confuses (frequency ratios candidate / pick): octaves and the twelfth.
# A plain fifth (3/2) is deliberately absent: a student playing a fifth off must stay wrong.
ERROR_RATIOS = (2.0, 3.0, 4.0, 0.5, 1.0 / 3.0, 0.25)
RATIO_TOL_CENTS = 60.0          # how close to an exact ratio the two candidates must be
EXPECT_TOL_SEMITONES = 1.5      # the replacement must lie this close to the expected pitch
LOWER_GAIN = 0.6                # a lower alternative must be this much more periodic (aperiodicity ratio)
HIGHER_APER_MAX = 0.35          # a higher alternative must itself be clearly periodic ...
HIGHER_APER_SLACK = 0.1         # ... and at most this much less periodic than the pick


def refine_with_score(contour: PitchContour, expected_midi: np.ndarray) -> PitchContour:
    """Fix octave-type tracker errors with the pitch the score expects at each frame.

    `expected_midi`: per frame, NaN where the score expects nothing. In a voiced frame whose pitch is an
    octave / twelfth / two octaves away from the expected pitch, the frame's own candidate nearest the
    expected pitch replaces it when that candidate is plausible: a lower-pitched alternative must be
    clearly more periodic (an octave-up error on a weak fundamental leaves the true period the best
    one); a higher-pitched alternative must be about as periodic (for an octave-down error both periods
    fit, for a real low note the half period does not). Nothing is invented: a frame without such a
    candidate (e.g. a genuinely wrong note) is left as it is. Contours without candidates are returned
    unchanged.
    """
    exp = np.asarray(expected_midi, dtype=np.float64)
    if exp.shape != contour.f0_hz.shape:
        raise ValueError(f"expected_midi has shape {exp.shape}, the contour has {contour.f0_hz.shape}.")
    if contour.candidates_hz is None or len(exp) == 0:
        return contour
    cand = contour.candidates_hz
    aper = contour.candidate_aperiodicity if contour.candidate_aperiodicity is not None \
        else np.zeros_like(cand)
    f0 = contour.f0_hz.copy()
    cur_midi = contour.midi
    frames = np.flatnonzero(contour.voiced & (f0 > 0) & ~np.isnan(exp)
                            & (np.abs(cur_midi - exp) > EXPECT_TOL_SEMITONES))
    for t in frames:
        ok = cand[t] > 0
        if not ok.any():
            continue
        cm = np.full(cand.shape[1], np.nan)
        cm[ok] = 69.0 + 12.0 * np.log2(cand[t, ok] / 440.0)
        # aperiodicity of the current pick: that of the candidate it came from
        i_cur = int(np.nanargmin(np.abs(np.where(ok, cm, np.nan) - cur_midi[t])))
        a_cur = aper[t, i_cur]
        best, best_dist = -1, EXPECT_TOL_SEMITONES
        for i in np.flatnonzero(ok):
            dist = abs(cm[i] - exp[t])
            if dist > best_dist:
                continue
            ratio_cents = 1200.0 * np.log2(cand[t, i] / f0[t])
            if not any(abs(ratio_cents - 1200.0 * np.log2(r)) <= RATIO_TOL_CENTS for r in ERROR_RATIOS):
                continue
            if ratio_cents < 0:      # alternative is lower: it must explain the signal clearly better
                plausible = aper[t, i] <= LOWER_GAIN * a_cur
            else:                    # alternative is higher: it must fit about as well
                plausible = aper[t, i] <= min(HIGHER_APER_MAX, a_cur + HIGHER_APER_SLACK)
            if plausible:
                best, best_dist = i, dist
        if best >= 0:
            f0[t] = cand[t, best]
    return replace(contour, f0_hz=f0)
