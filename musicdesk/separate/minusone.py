"""Minus-one practice: the accompaniment the app plays while you record, and keeping it out of the take.

Without headphones the accompaniment reaches the microphone as well as the player. The app knows what
it played and when it started it, so the take is cleaned by echo cancellation before it is analysed:

1. the delay from the accompaniment's start to its arrival in the take is found by GCC-PHAT (whitened
   cross-correlation), searched around the calibrated round-trip latency, then followed along the take
   (an output underrun shifts what follows; the two clocks drift apart smoothly, so the drift read off
   the followed delays is taken out of each stretch and the delays followed again, then smoothed, and
   the accompaniment placed at them block by block);
2. the path from speaker to microphone (gain, colour, the room's first reflections) is estimated per
   frequency bin as a short convolutive transfer function over STFT frames: least squares over the whole
   take, reweighted so that frames where the player dominates count less;
3. the estimated echo is subtracted in the STFT domain, and a residual-echo suppressor (a Wiener-style
   gain where the echo estimate dominates what is left, never below -20 dB) takes off what a linear path
   misses (on the design set: 97.5% of notes right with it, 96.8% without; alone 97.1%).

The take file keeps the raw input; only the analysis sees the cleaned signal. With headphones
(a setting) nothing is removed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

N_FFT = 2048
HOP = 512
TAPS = 10                # STFT frames of echo path per bin (10 x 512 / 44.1 kHz: about 116 ms of room);
                         # chosen on training/minusone_design.py (3: 84.0% notes right, 6: 94.7%, 10: 96.8%)
SEARCH_S = 0.25          # the delay is searched this far either side of the expected one
EDGE_GUARD_S = 0.005     # a peak just beyond the search window: its slope this far inside is no delay
ITERATIONS = 3           # least-squares passes (the later ones reweighted)
RIDGE = 1e-3             # regularisation, relative to each bin's accompaniment power
SUPPRESS_FLOOR = 0.1     # the residual suppressor's smallest gain (-20 dB)
SEGMENT_S = 1.5          # the delay is also followed along the take (an output underrun shifts the rest of
TRACK_STEP_S = 0.25      # the accompaniment later): from this much of it, every this often,
TRACK_S = 0.06           # moving by up to this much from one step to the next at no cost but MOVE_COST,
MAX_SHIFT_S = 1.0        # or later (an underrun) by up to this much over the whole take, at a cost of
JUMP_COST = 3.0          # this many typical correlation peaks (the later peaks must outweigh it)
MOVE_COST = 0.001        # per grid bin moved, so that quiet stretches stay put
GRID_S = 0.001           # the delay path's grid (each stretch's delay is then to the sample)
POOR_ECHO_DB = 10.0      # an echo taken out by less than this (the Cleaned estimate) may still be read as
                         # notes. Good takes read 19-29 dB on the synthetic design set and 14 dB on the
                         # screenshot's quieter real one; takes whose loopback timing a starved machine
                         # mangled, with no underflow reported, read 1.5-6.4 dB (the real-input test)
PLAY_LATENCY_S = 0.2     # the accompaniment's output buffer (s): the Python audio callback waits for the
                         # interpreter, which a busy 2-core machine pauses for 70-160 ms at a time (painting,
                         # the garbage collector); with the usual 35 ms buffer most test takes stuttered


@dataclass(frozen=True)
class Accompaniment:
    """What plays while the student records `part`: `samples` (float32, mono) at `sr`; `source` says
    where it came from ("the recording's other stems", "the score's other parts")."""

    part: str
    samples: np.ndarray
    sr: int
    source: str

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sr


def for_take(acc: Accompaniment, lead_s: float, sr: int) -> np.ndarray:
    """The accompaniment as the take's reference: `lead_s` of silence (the count-in) and then it,
    resampled to the take's rate `sr`; float32."""
    y = np.asarray(acc.samples, np.float32)
    if acc.sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=acc.sr, target_sr=sr).astype(np.float32)
    return np.concatenate([np.zeros(int(round(max(0.0, lead_s) * sr)), np.float32), y])


@dataclass(frozen=True)
class Cleaned:
    """A take with the accompaniment removed: `samples` (float32, the take's rate and length), the
    delay found from the accompaniment's start to the take (s), and how much the echo was reduced:
    accompaniment power in the take before over after (dB, on the frames where the accompaniment
    plays; computed against the linear echo estimate, so an estimate, not a measurement)."""

    samples: np.ndarray
    delay_s: float
    echo_reduction_db: float


def accompaniment(stems: np.ndarray, my_part: int, gains: Sequence[float] | None = None) -> np.ndarray:
    """The minus-one mix: every stem but `my_part` (each at its gain, default 1), float32."""
    st = np.asarray(stems, dtype=np.float32)
    g = np.ones(len(st), np.float32) if gains is None else np.asarray(gains, np.float32).copy()
    if not 0 <= my_part < len(st):
        raise ValueError(f"no part {my_part}: the recording has {len(st)} stems")
    g[my_part] = 0.0
    return np.tensordot(g, st, axes=1).astype(np.float32)


def rendered_accompaniment(scores: Sequence, my_part: int, sr: int) -> np.ndarray:
    """The other parts of the score rendered to audio (musicdesk.playback.render_reference, each part on
    its own instrument), for minus-one practice without a recording; float32 at `sr`, peak 0.9 at most."""
    from musicdesk.playback import render_reference

    programs = ("violin", "clarinet", "tenor_sax", "bassoon", "flute", "cello", "oboe", "trombone")
    out: list[np.ndarray] = []
    for k, sc in enumerate(scores):
        if k == my_part:
            continue
        out.append(np.asarray(render_reference(sc, sr=sr, program=programs[k % len(programs)]).samples,
                              np.float32))
    if not out:
        raise ValueError("the score has no other part to play")
    y = np.zeros(max(len(x) for x in out), np.float32)
    for x in out:
        y[:len(x)] += x
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return y * (0.9 / peak) if peak > 0.9 else y


def find_delay_s(take: np.ndarray, played: np.ndarray, sr: int, expected_s: float = 0.0,
                 search_s: float = SEARCH_S) -> float:
    """Delay (s) of `played` inside `take` (both at `sr`, `played` started at take time 0), by GCC-PHAT
    within expected_s +- search_s (never negative): the whitened cross-correlation peaks at the
    direct path even when the player plays the same harmony. Not the edge of the window on the slope of
    a higher peak beyond it (`_highest_peak`): that was returned as the delay before."""
    x = np.asarray(take, np.float64)
    cc = _gcc_phat(x, np.asarray(played, np.float64))
    lo = max(0, int((expected_s - search_s) * sr))
    hi = min(len(x), int((expected_s + search_s) * sr) + 1)
    if hi <= lo:
        return max(0.0, expected_s)
    return (lo + _highest_peak(cc, lo, hi, int(EDGE_GUARD_S * sr))) / sr


def _highest_peak(cc: np.ndarray, lo: int, hi: int, guard: int) -> int:
    """Index (from `lo`) of the highest value of cc[lo:hi] that is no edge of a peak beyond the window:
    where cc's highest value over the window widened by `guard` samples lies outside it, the `guard`
    samples next to that side (the peak's slope and its sinc ringing) are left out."""
    a, b = max(0, lo - guard), min(len(cc), hi + guard)
    k = a + int(np.argmax(cc[a:b]))
    seg = cc[lo:hi].copy()
    if k >= hi:
        seg[max(0, len(seg) - guard):] = -np.inf
    elif k < lo:
        seg[:guard] = -np.inf
    if not np.isfinite(seg).any():
        return int(np.argmax(cc[lo:hi]))
    return int(np.argmax(seg))


def _gcc_phat(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The whitened (PHAT) cross-correlation of `x` with `r`; index k: r starting at x's sample k."""
    m = 1 << int(np.ceil(np.log2(max(len(x) + len(r), 2))))
    cross = np.fft.rfft(x, m) * np.conj(np.fft.rfft(r, m))
    return np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), m)


def delay_track_s(take: np.ndarray, played: np.ndarray, sr: int, delay_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(start of each stretch of `played`, s; its delay, s): the delay followed every TRACK_STEP_S of the
    accompaniment, from the SEGMENT_S of it centred there (GCC-PHAT on the take's stretch where it can
    arrive). Why: when the output underruns, what follows reaches the microphone later than the array
    says, by as long as the underrun lasted (on a loaded machine, 100-200 ms).

    The delays are one path through every stretch's correlation over the delays from SEARCH_S before
    `delay_s` (the whole take's) to MAX_SHIFT_S after it, on a 1 ms grid (Viterbi): from one stretch to
    the next it moves by up to TRACK_S freely (clock drift) or jumps later at a cost of JUMP_COST
    typical peaks (an underrun); never earlier. So a spurious peak in a reverberant room does not pull
    it away, and an underrun of any length is followed once the later peaks outweigh the jump. Quiet
    stretches keep the delay before them.

    The two clocks' drift (`drift_lines`, read off this path) is then taken out of each stretch of the
    accompaniment before it is correlated again, and the path found again from where that line says the
    first stretch's delay is: 250 ppm smears a stretch's echo over 16 samples, which lowers its whitened
    peak, and the whole take's delay, smeared likewise, can be far off (a first path begun 200 ms off
    stayed there for its first stretches). Each of the DRIFT_CANDIDATES longest runs of the first path
    gives a line, and of the paths found again along them (and the first) the one whose stretches
    correlate most in all is kept. A first path that is one run, begun where the whole take's delay
    put it, is kept as it is: on twelve drift scenes the second pass judged every note as the first
    did, at two to three times the cost."""
    x = np.asarray(take, np.float64)
    r = np.asarray(played, np.float64)
    first = _track(x, r, sr, delay_s, 0.0)
    best = first
    lines = drift_lines(first[0], first[1], first[2])
    runs = np.unique(_runs(first[1], RUN_BREAK_S)[first[2]])
    if len(runs) == 1 and lines and abs(lines[0][1] - delay_s) <= RUN_BREAK_S:
        return first[0], first[1]       # one arrival followed from where it was found: nothing to correct
    for rate, start_s in lines[:DRIFT_CANDIDATES]:
        rate = rate if abs(rate) >= MIN_DRIFT else 0.0
        if rate or abs(start_s - delay_s) > GRID_S:
            again = _track(x, r, sr, max(0.0, start_s), rate)
            if again[3] > best[3]:
                best = again
    return best[0], best[1]


MIN_DRIFT = 20e-6        # clocks closer than this (20 ppm: under 1.5 samples over a stretch) are not corrected
MAX_DRIFT = 2000e-6      # a slope beyond this is no clock drift (sound cards are specified to 100 ppm or so)
RUN_BREAK_S = 0.002      # a step this large between stretches (an underrun, a jump) ends a run of the path
DRIFT_CANDIDATES = 2     # the first path's longest runs whose lines are tried (the echo's, the player's)


def drift_lines(starts_s: np.ndarray, delays_s: np.ndarray, measured: np.ndarray | None = None
                ) -> list[tuple[float, float]]:
    """The output clock's drift against the input's, as lines through the tracked delays, longest run
    first: (slope, s of delay per s, + the delay grows; the delay at the first stretch, s). One robust
    (Theil-Sen) line per run without a step (RUN_BREAK_S) of at least 8 stretches whose delay was
    measured (`measured`; not those that kept their neighbour's), unless its slope is beyond MAX_DRIFT
    (no clock drifts that fast)."""
    from scipy.stats import theilslopes

    t = np.asarray(starts_s, np.float64)
    d = np.asarray(delays_s, np.float64)
    ok = np.ones(len(d), bool) if measured is None else np.asarray(measured, bool)
    if len(d) < 8 or not ok.any():
        return []
    run = _runs(d, RUN_BREAK_S)
    counts = np.bincount(run[ok], minlength=run[-1] + 1)
    out = []
    for k in np.argsort(-counts, kind="stable"):
        sel = ok & (run == k)
        if sel.sum() < 8:
            break
        slope, icpt = theilslopes(d[sel], t[sel])[:2]
        if abs(slope) <= MAX_DRIFT:
            out.append((float(slope), float(icpt + slope * t[0])))
    return out


def _runs(delays_s: np.ndarray, step_s: float) -> np.ndarray:
    """Per stretch, the number of its run: a step of `step_s` or more between neighbours starts the next."""
    return np.concatenate([[0], np.cumsum(np.abs(np.diff(delays_s)) >= step_s)])


def _track(x: np.ndarray, r: np.ndarray, sr: int, delay_s: float, rate: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """`delay_track_s`'s path, each stretch of `r` stretched by 1 + `rate` first (the clocks' drift
    within it); also which stretches' delays were measured (not kept from a neighbour), and the sum of
    the stretches' correlation peaks on the path (its evidence)."""
    from scipy.signal import resample

    seg, step = int(SEGMENT_S * sr), int(TRACK_STEP_S * sr)
    taper = np.hanning(seg)
    stretched = int(round(seg * (1 + rate)))
    level = float(np.sqrt(np.mean(r ** 2))) if len(r) else 0.0
    lo_s = max(0.0, delay_s - SEARCH_S)
    g = max(1, int(round(GRID_S * sr)))                  # samples per grid bin
    n_bins = int(np.ceil((delay_s + MAX_SHIFT_S - lo_s) * sr / g)) + 1
    lo = int(lo_s * sr)
    centres = list(range(0, len(r), step))
    E = np.zeros((len(centres), n_bins))                 # each stretch's best correlation per bin ...
    fine = np.full((len(centres), n_bins), -1, np.int64)  # ... and the lag (samples after lo) giving it
    for si, c in enumerate(centres):
        a = max(0, c + step // 2 - seg // 2)
        piece = r[a:a + seg]
        window = x[a + lo:a + lo + n_bins * g + stretched]
        if len(piece) < seg or len(window) <= stretched or np.sqrt(np.mean(piece ** 2)) < 0.1 * level:
            continue
        # tapered: with PHAT, the piece's cut ends would otherwise line up with the window's as a peak
        piece = piece * taper
        if stretched != seg:
            piece = resample(piece, stretched)
        cc = _gcc_phat(window, piece)[:len(window) - len(piece) + 1]
        m = (len(cc) // g) * g
        if m == 0:
            continue
        blocks = cc[:m].reshape(-1, g)
        k = np.argmax(blocks, axis=1)
        E[si, :len(k)] = np.maximum(blocks[np.arange(len(k)), k], 0.0)
        fine[si, :len(k)] = np.arange(len(k)) * g + k
    loud = (fine >= 0).any(axis=1)
    times = np.array([c / sr for c in centres])
    if not loud.any():
        return times, np.full(len(centres), delay_s), np.zeros(len(centres), bool), 0.0
    typical = float(np.median(E[loud].max(axis=1)))
    jump, w = JUMP_COST * typical, max(1, int(round(TRACK_S * sr / g)))
    move = MOVE_COST * typical * np.abs(np.arange(-w, w + 1))   # a small cost per bin moved
    start = int(round((delay_s - lo_s) * sr / g))
    score = E[0] - jump * (np.abs(np.arange(n_bins) - start) > w)
    back = np.zeros((len(centres), n_bins), np.int64)
    idx = np.arange(n_bins)
    for si in range(1, len(centres)):
        padded = np.concatenate([np.full(w, -np.inf), score, np.full(w, -np.inf)])
        near = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1) - move[None, :]
        kn = np.argmax(near, axis=1)
        best, arg = near[idx, kn], idx + kn - w
        # a jump later, from any bin more than w below: the running maximum of the scores before it
        run = np.maximum.accumulate(score)
        run_arg = np.maximum.accumulate(np.where(score >= run, idx, 0))
        far = np.full(n_bins, -np.inf)
        far_arg = np.zeros(n_bins, np.int64)
        far[w + 1:] = run[:-w - 1] - jump
        far_arg[w + 1:] = run_arg[:-w - 1]
        take_far = far > best
        back[si] = np.where(take_far, far_arg, arg)
        score = np.where(take_far, far, best) + E[si]
    path = np.zeros(len(centres), np.int64)
    path[-1] = int(np.argmax(score))
    for si in range(len(centres) - 1, 0, -1):
        path[si - 1] = back[si, path[si]]
    delays = np.full(len(centres), np.nan)
    # a stretched piece's peak is the delay at its first sample; the stretch's own is at its middle
    mid = rate * seg / 2
    for si, b_ in enumerate(path):
        if fine[si, b_] >= 0 and E[si, b_] > 0:
            delays[si] = (lo + fine[si, b_] + mid) / sr
    # quiet stretches keep the delay before them (the first ones the one after them)
    measured = np.isfinite(delays)
    evidence = float(E[np.arange(len(centres)), path].sum())
    ok = np.flatnonzero(measured)
    if not len(ok):
        return times, np.full(len(centres), delay_s), measured, evidence
    held = np.maximum.accumulate(np.where(measured, np.arange(len(delays)), -1))
    delays = np.where(held >= 0, delays[np.maximum(held, 0)], delays[ok[0]])
    return times, delays, measured, evidence


PLACE_BLOCK = 256        # the reference is placed on the take's time line in blocks of this many samples,
DRIFT_S = 0.0003         # each at the delay interpolated between the tracked stretches' centres where
                         # neighbours differ by less than this (clock drift: 250 ppm moves the delay 62 us
                         # per stretch, and one stretch's peak scatters by up to 0.13 ms), else at its
                         # stretch's own delay (an underrun is a step; through PulseAudio some last 1 ms)


SMOOTH_STRETCHES = 8     # the tracked delays are smoothed by a line through this many stretches a side


def smooth_delays_s(delays: np.ndarray) -> np.ndarray:
    """The tracked delays (s, one per stretch) through a local line: each the fit at its stretch of a
    least-squares line through the SMOOTH_STRETCHES stretches a side that lie in the same run (no
    step of DRIFT_S or more between them: an underrun starts a new run). Why: one stretch's GCC-PHAT
    peak is smeared by the drift within its SEGMENT_S (250 ppm: 16 samples at 44.1 kHz), and scatters
    by several samples; the clocks drift smoothly."""
    d = np.asarray(delays, np.float64)
    run = _runs(d, DRIFT_S)
    out = d.copy()
    for i in range(len(d)):
        idx = np.arange(max(0, i - SMOOTH_STRETCHES), min(len(d), i + SMOOTH_STRETCHES + 1))
        idx = idx[run[idx] == run[i]]
        if len(idx) >= 3:
            t = idx - i
            beta = np.polyfit(t, d[idx], 1)
            out[i] = beta[1]
    return out


def _block_delays_s(starts: np.ndarray, delays: np.ndarray, n: int, sr: int) -> np.ndarray:
    """The delay (s) of each PLACE_BLOCK of the accompaniment's n samples: see DRIFT_S."""
    delays = smooth_delays_s(delays)
    bounds = np.append((starts * sr).astype(np.int64), n)
    centre = 0.5 * (bounds[:-1] + bounds[1:])
    m = np.arange(0, n, PLACE_BLOCK) + 0.5 * PLACE_BLOCK
    i = np.clip(np.searchsorted(bounds, m, side="right") - 1, 0, len(delays) - 1)
    j = np.where(m >= centre[i], i + 1, i - 1)
    ok = (j >= 0) & (j < len(delays))
    jc = np.clip(j, 0, len(delays) - 1)
    ok &= np.abs(delays[jc] - delays[i]) < DRIFT_S
    frac = np.where(ok, (m - centre[i]) / np.where(ok, centre[jc] - centre[i], 1.0), 0.0)
    return delays[i] + frac * (delays[jc] - delays[i])


def _aligned_reference(x: np.ndarray, r: np.ndarray, sr: int, delay_s: float) -> tuple[np.ndarray, float]:
    """`r` placed on the take's time line at its tracked delay (delay_track_s), block by block
    (_block_delays_s), one hop early; and the tracked delay where it starts (s)."""
    starts, delays = delay_track_s(x, r, sr, delay_s)
    ref = np.zeros(len(x), np.float32)
    for k, d in enumerate(_block_delays_s(starts, delays, len(r), sr)):
        a, b = k * PLACE_BLOCK, min((k + 1) * PLACE_BLOCK, len(r))
        shift = int(round(d * sr)) - HOP
        lo, hi = max(a + shift, 0), min(b + shift, len(x))
        if hi > lo:
            ref[lo:hi] = r[lo - shift:hi - shift]
    return ref, float(delays[0])


def _stft(x: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.stft(np.asarray(x, np.float32), n_fft=N_FFT, hop_length=HOP, window="hann", center=True)


def _delayed(R: np.ndarray, taps: int) -> np.ndarray:
    """(taps, bins, frames): R delayed by 0..taps-1 frames (zeros before the start)."""
    out = np.zeros((taps,) + R.shape, R.dtype)
    for k in range(taps):
        out[k, :, k:] = R[:, :R.shape[1] - k] if k else R
    return out


def remove_accompaniment(take: np.ndarray, sr: int, played: np.ndarray, expected_delay_s: float = 0.0,
                         taps: int = TAPS, suppress: bool = True) -> Cleaned:
    """`take` with `played` (the accompaniment, at `sr`, started at take time 0; its echo arrives after
    about `expected_delay_s`: the calibrated round trip) removed. See the module's docstring."""
    import librosa

    x = np.asarray(take, np.float32).reshape(-1)
    r = np.asarray(played, np.float32).reshape(-1)
    if len(x) == 0 or not np.any(r):
        return Cleaned(x.copy(), float("nan"), 0.0)
    delay_s = find_delay_s(x, r, sr, expected_delay_s)
    # the reference aligned so that its direct path falls on tap 1 (tap 0 takes a slightly early arrival),
    # following the delay segment by segment
    ref, delay_s = _aligned_reference(x, r, sr, delay_s)   # the delay as tracked, for the message
    X = _stft(x)
    R = _stft(ref)
    A = _delayed(R, taps)                                        # (K, F, T)
    pr = np.mean(np.abs(R) ** 2, axis=1)                         # (F,) accompaniment power per bin
    ridge = RIDGE * X.shape[1] * np.maximum(pr, 1e-12)[:, None, None] * np.eye(taps)[None]
    gram = np.einsum("kft,lft->fkl", np.conj(A), A) + ridge      # A^H A, per bin: the unweighted pass's
    w = None
    for it in range(ITERATIONS):
        H = _fit_path(A, X, gram if w is None else np.einsum("kft,lft->fkl", np.conj(A * w[None]), A) + ridge, w)
        echo = np.einsum("fk,kft->ft", H, A)
        if it + 1 < ITERATIONS:
            # the player's own sound is what the echo path does not explain: frames where the residual
            # is far above the echo estimate are the player's, and should not pull the path towards it
            res = np.abs(X - echo) ** 2
            e2 = np.abs(echo) ** 2
            w = np.minimum(1.0, (e2 + 1e-10) / (res + 1e-10)).astype(np.float32) ** 0.5
    Y = X - echo
    if suppress:
        e2 = np.abs(echo) ** 2
        g = np.maximum(SUPPRESS_FLOOR, 1.0 - e2 / np.maximum(np.abs(Y) ** 2 + e2, 1e-12))
        Y = Y * g
    y = librosa.istft(Y, hop_length=HOP, window="hann", center=True, length=len(x)).astype(np.float32)
    frame_power = np.mean(np.abs(echo) ** 2, axis=0)
    playing = frame_power > 1e-3 * np.max(frame_power + 1e-20)
    before = float(np.sum(np.abs(echo[:, playing]) ** 2))
    # what is left of the echo: the part of the cleaned frames still explained by the accompaniment
    left = np.einsum("fk,kft->ft", _fit_path(A, Y, gram), A)
    after = float(np.sum(np.abs(left[:, playing]) ** 2))
    red = 10 * np.log10(max(before, 1e-20) / max(after, before * 1e-6, 1e-20))
    return Cleaned(y, float(delay_s), float(red))


def _fit_path(A: np.ndarray, X: np.ndarray, gram: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """(F, K) echo path per bin: the (weighted) least-squares fit of X by the delayed reference A, given
    its regularised Gram matrix A^H W A + ridge."""
    b = np.einsum("kft,ft->fk", np.conj(A if w is None else A * w[None]), X)   # A^H W x
    return np.linalg.solve(gram, b[..., None])[..., 0]
