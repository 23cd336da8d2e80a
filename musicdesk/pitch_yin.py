"""Fast probabilistic-YIN pitch tracking (the numeric core of `musicdesk.pitch`'s "fastpyin" tracker).

Method, per 10 ms frame:
1. The YIN difference function is computed for all frames at once with FFTs on a 2x-decimated signal
   (about 11 kHz: pitch up to 2 kHz loses nothing, and the FFTs are 3x smaller).
2. Cumulative-mean-normalised difference (CMNDF); its troughs are the period candidates, each refined by
   parabolic interpolation; each candidate gets a probability as in pYIN (Mauch & Dixon 2014): a beta
   prior over YIN thresholds, and for every threshold the troughs below it share its mass with a
   Boltzmann preference for the shortest period (which is what avoids octave-down errors).
3. The K most probable candidates are refined on the full-rate signal (difference function at a few
   lags around twice the coarse lag, parabolic interpolation), so cents are as accurate as full-rate YIN.
4. Viterbi over the candidates, each in a voiced and an unvoiced copy (as pYIN's HMM, but over the few
   real candidates instead of hundreds of pitch bins): pitch continuity, a cost for switching voicing,
   and an energy gate (quiet frames relative to the take are unvoiced).

All loops are numba kernels (`cache=True`: the first call in a fresh install compiles for a few seconds;
the command line uses them compiled ahead of time, musicdesk.compiled).
"""
from __future__ import annotations

import math

import numpy as np

from musicdesk.compiled import kernel
from musicdesk.dsp import next_fast_len

N_THRESHOLDS = 100
BETA_PARAMS = (2.0, 18.0)        # pYIN's default prior over YIN thresholds (mean 0.1)
BOLTZMANN = 2.0                  # preference for the first trough below a threshold
NO_TROUGH_PROB = 0.01            # mass given to the global minimum when no trough is below a threshold
COARSE_SR_TARGET = 11025.0       # candidate search rate (Hz)
WINDOW_S = 0.046                 # YIN integration window (s): >= 2 periods at 43 Hz


def _threshold_prior() -> tuple[np.ndarray, np.ndarray]:
    """YIN thresholds and the beta prior's mass on each: scipy.stats.beta.cdf differences, computed
    exactly for the integer parameters as a binomial tail (scipy.special alone costs a fresh command
    about 0.15 s to import): I_x(a, b) = P(Binomial(a + b - 1, x) >= a)."""
    a, b = (int(p) for p in BETA_PARAMS)
    n = a + b - 1
    thr = np.linspace(0.0, 1.0, N_THRESHOLDS + 1)
    cdf = sum(math.comb(n, j) * thr ** j * (1.0 - thr) ** (n - j) for j in range(a, n + 1))
    return thr[1:].astype(np.float64), np.diff(cdf).astype(np.float64)


def _boltzmann(n: int) -> np.ndarray:
    """Truncated Boltzmann (discrete exponential) pmf over 0..n-1: scipy.stats.boltzmann.pmf."""
    lam = BOLTZMANN
    return ((1.0 - np.exp(-lam)) / (1.0 - np.exp(-lam * n)) * np.exp(-lam * np.arange(n))).astype(np.float64)


def cross_correlation_frames(xc: np.ndarray, starts: np.ndarray, win: int, max_lag: int) -> np.ndarray:
    """r[t, tau] = sum_j xc[s+j] * xc[s+j+tau], j < win, tau = 0..max_lag, for s in starts (via FFT)."""
    n = win + max_lag + 1
    nfft = next_fast_len(n)
    frames = np.lib.stride_tricks.sliding_window_view(xc, n)[starts]          # (T, n) copy
    a = np.fft.rfft(frames, nfft, axis=1)
    b = np.fft.rfft(frames[:, win - 1::-1], nfft, axis=1)
    return np.fft.irfft(a * b, nfft, axis=1)[:, win - 1: win + max_lag]


@kernel(cache=True, nogil=True)
def candidates_from_correlation(r, sq_cum, starts, win, min_lag, max_cands, thr, thr_mass, boltz,
                                no_trough_prob):
    """CMNDF troughs -> (lag, cmndf value, probability) of the `max_cands` most probable per frame.

    r: (T, L) cross-correlations (`cross_correlation_frames`); sq_cum: cumulative sum of the squared
    signal with a leading 0, so that the YIN difference is d[tau] = E(s) + E(s + tau) - 2 r[tau].
    Lags are fractional (parabolic interpolation); absent candidates have lag 0 and probability 0.
    """
    n_frames, n_lags = r.shape
    out_lag = np.zeros((n_frames, max_cands))
    out_val = np.ones((n_frames, max_cands))
    out_p = np.zeros((n_frames, max_cands))
    c = np.empty(n_lags)
    tl = np.empty(n_lags)
    tv = np.empty(n_lags)
    tc = np.empty(n_lags)
    tp = np.empty(n_lags)
    n_thr = thr.shape[0]
    for t in range(n_frames):
        # cumulative mean normalised difference
        s0 = starts[t]
        e0 = sq_cum[s0 + win] - sq_cum[s0]
        c[0] = 1.0
        acc = 0.0
        for k in range(1, n_lags):
            dk = e0 + sq_cum[s0 + k + win] - sq_cum[s0 + k] - 2.0 * r[t, k]
            if dk < 0.0:
                dk = 0.0
            acc += dk
            c[k] = dk * k / acc if acc > 1e-12 * (e0 + 1e-30) else 1.0
        # troughs in [min_lag, n_lags - 2]
        nt = 0
        gmin = 1e9
        gi = -1
        for k in range(max(min_lag, 1), n_lags - 1):
            if c[k] < gmin:
                gmin = c[k]
                gi = k
            if c[k] < c[k - 1] and c[k] <= c[k + 1]:
                den = c[k - 1] - 2.0 * c[k] + c[k + 1]
                sh = 0.0
                if den > 0.0:
                    sh = 0.5 * (c[k - 1] - c[k + 1]) / den
                    if sh > 0.5:
                        sh = 0.5
                    elif sh < -0.5:
                        sh = -0.5
                tl[nt] = k + sh
                tv[nt] = max(0.0, c[k] - 0.25 * (c[k - 1] - c[k + 1]) * sh)
                tc[nt] = tv[nt]  # interpolated value: fair to short, non-integer periods
                tp[nt] = 0.0
                nt += 1
        if gi < 0:
            continue
        # pYIN probabilities
        for i in range(n_thr):
            rank = 0
            for j in range(nt):
                if tc[j] < thr[i]:
                    tp[j] += thr_mass[i] * boltz[rank]
                    rank += 1
            if rank == 0:
                # no trough below this threshold: a little mass on the global minimum
                found = -1
                for j in range(nt):
                    if tl[j] - 0.5 <= gi <= tl[j] + 0.5:
                        found = j
                if found < 0 and nt < n_lags:
                    tl[nt] = gi
                    tv[nt] = c[gi]
                    tc[nt] = c[gi]
                    tp[nt] = 0.0
                    found = nt
                    nt += 1
                tp[found] += thr_mass[i] * no_trough_prob
        # keep the most probable (ties: lowest CMNDF)
        for m in range(max_cands):
            best = -1
            bp = -1.0
            for j in range(nt):
                if tp[j] < 0.0:
                    continue
                if tp[j] > bp or (tp[j] == bp and best >= 0 and tv[j] < tv[best]):
                    bp = tp[j]
                    best = j
            if best < 0:
                break
            out_lag[t, m] = tl[best]
            out_val[t, m] = tv[best]
            out_p[t, m] = tp[best]
            tp[best] = -1.0
    return out_lag, out_val, out_p


@kernel(cache=True, fastmath=True, nogil=True)
def _diff_at(x, s, win, tau):
    """YIN difference sum_j (x[s+j] - x[s+j+tau])^2, j < win (float32 slices + fastmath: SIMD)."""
    a = x[s:s + win]
    b = x[s + tau:s + tau + win]
    acc = np.float32(0.0)
    for j in range(win):
        e = a[j] - b[j]
        acc += e * e
    return acc


@kernel(cache=True, nogil=True)
def refine_lags(x, starts, win, lags_coarse, q, max_lag, active):
    """Refine coarse lags (in coarse samples) to full-rate lags (in full-rate samples).

    Difference function of the full-rate window x[s:s+win] at the integer lags around q * coarse lag
    (walking downhill at most q steps), then parabolic interpolation around its minimum. Frames with
    `active` False keep q * coarse lag.
    """
    n_frames, k_max = lags_coarse.shape
    out = np.zeros((n_frames, k_max))
    for t in range(n_frames):
        s = starts[t]
        for m in range(k_max):
            lc = lags_coarse[t, m]
            if lc <= 0.0:
                continue
            if not active[t]:
                out[t, m] = lc * q
                continue
            b_tau = int(np.round(lc * q))
            if b_tau < 3 or b_tau > max_lag - 1:
                out[t, m] = lc * q
                continue
            a = _diff_at(x, s, win, b_tau - 1)
            b = _diff_at(x, s, win, b_tau)
            cc = _diff_at(x, s, win, b_tau + 1)
            steps = 0
            while steps < q and (a < b or cc < b):
                if a < cc:
                    if b_tau - 2 < 2:
                        break
                    b_tau -= 1
                    cc = b
                    b = a
                    a = _diff_at(x, s, win, b_tau - 1)
                else:
                    if b_tau + 2 > max_lag:
                        break
                    b_tau += 1
                    a = b
                    b = cc
                    cc = _diff_at(x, s, win, b_tau + 1)
                steps += 1
            den = a - 2.0 * b + cc
            sh = 0.5 * (a - cc) / den if den > 0.0 else 0.0
            out[t, m] = b_tau + max(-1.0, min(1.0, sh))
    return out


@kernel(cache=True, nogil=True)
def viterbi_candidates(midi, prob, gate, sigma_st, jump_cost, switch_cost):
    """Best path over states (candidate k voiced | candidate k unvoiced | no pitch) per frame.

    midi, prob: (T, K) candidate pitch (NaN when absent) and pYIN probability; gate: (T,) in [0, 1],
    the energy gate that scales the voiced probability. Returns (state index (T,), voiced (T,) bool).
    Costs are negative log-probabilities: a pitch move of d semitones between frames costs
    min(0.5 (d / sigma)^2, jump_cost); changing voicing costs switch_cost.
    """
    n, k = midi.shape
    ns = 2 * k + 1
    eps = 1e-6
    emit = np.full((n, ns), np.inf)
    for t in range(n):
        p_sum = 0.0
        for m in range(k):
            if not np.isnan(midi[t, m]):
                p_sum += prob[t, m]
        pv = min(1.0, p_sum) * gate[t]
        if p_sum <= 0.0:
            emit[t, 2 * k] = 0.0
            continue
        for m in range(k):
            if not np.isnan(midi[t, m]):
                rel = prob[t, m] / p_sum
                emit[t, m] = -np.log(pv * rel + eps)
                emit[t, k + m] = -np.log((1.0 - pv) * rel + eps)
    cost = emit[0].copy()
    back = np.zeros((n, ns), dtype=np.int32)
    new = np.empty(ns)
    for t in range(1, n):
        for j in range(ns):
            if emit[t, j] == np.inf:
                new[j] = np.inf
                continue
            vj = j < k
            mj = midi[t, j % k] if j < 2 * k else np.nan
            best = np.inf
            bi = 0
            for i in range(ns):
                ci = cost[i]
                if ci == np.inf:
                    continue
                vi = i < k
                if vi != vj:
                    ci += switch_cost
                if i < 2 * k and j < 2 * k:
                    dd = abs(midi[t - 1, i % k] - mj) / sigma_st
                    ci += min(0.5 * dd * dd, jump_cost)
                if ci < best:
                    best = ci
                    bi = i
            new[j] = best + emit[t, j]
            back[t, j] = bi
        for j in range(ns):
            cost[j] = new[j]
    path = np.zeros(n, dtype=np.int32)
    if n == 0:
        return path, np.zeros(0, dtype=np.bool_)
    best = 0
    for j in range(ns):
        if cost[j] < cost[best]:
            best = j
    path[n - 1] = best
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    voiced = path < k
    return path, voiced


def coarse_factor(sr: int) -> int:
    """Decimation factor from `sr` to about 11 kHz (1 when sr is already low)."""
    return max(1, int(round(sr / COARSE_SR_TARGET)))


def decimate(x: np.ndarray, q: int) -> np.ndarray:
    """Zero-phase polyphase low-pass + downsample by q (no delay, so frame times stay exact); the same
    samples as scipy.signal.resample_poly(x, 1, q), without importing scipy.signal."""
    from musicdesk.dsp import decimate as _decimate

    return _decimate(x, q)
