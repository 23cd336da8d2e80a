"""Align every part of a multi-part score to an ensemble recording at once.

Method, in two stages, on a 10 ms grid (hop 220 at 22050 Hz):

1. **Global path.** The recording's semitone spectrum (|STFT| 2048 pooled into MIDI bins, log-compressed)
   is compared with the spectrum the score predicts at each moment (harmonic combs of every sounding note
   of every part), as chroma and as a pitch profile (cosine distances), plus an onset term: where the
   score starts notes the recording should show spectral rises in those notes' harmonics. Subsequence DTW
   (librosa) over 20 ms frames: the whole score must be matched, the recording may start late (silence,
   talk, tuning) and end later; local tempo is free (drift, ritardandi, fermata holds).
2. **Each part's onsets.** Along the path each note has an expected onset; each part's onsets are then
   placed together by a small dynamic programme: the frames between two onsets belong to the earlier note,
   and the choice maximises the salience of each note's own pitch over its frames (its harmonics in the
   semitone spectrum) plus the rise in its harmonics at its onset, within +-`search_s` of the path and
   in score order. Legato changes are found by which pitch sounds, re-attacks and repeated notes by the
   rise.

Offsets are the next onset in the part (or the written end along the path) when the note is held to it,
else where its pitch's salience falls. Parameters (`MixAlignParams`) were set on FluidSynth renders of
simulated ensembles (training/ensemble.py: non-Bach10 chorales, a shared pulse with holds and breaths,
each player's own scatter and tuning), never on the evaluation recordings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musicdesk.align import Alignment, NoteAlignment

SR = 22050
HOP = 220               # 9.98 ms at 22050 Hz
N_FFT = 2048
MIDI_LO, MIDI_HI = 24, 120   # semitone bins of the spectrum (C1 .. C9)
HARMONICS = np.array([0, 12, 19, 24, 28, 31, 34, 36, 38, 40])   # semitones of partials 1-10 above f0


@dataclass(frozen=True)
class MixAlignParams:
    """Chosen on simulated ensembles (training/ensemble.py), never on the evaluation recordings."""

    harmonic_decay: float = 0.8      # weight of partial h: decay ** (h - 1)
    compress: float = 100.0          # log(1 + compress x |X| / max|X|)
    chroma_weight: float = 0.5       # global path: cost = w (1 - cos chroma) + (1 - w) (1 - cos pitch profile)
    onset_weight: float = 2.0        # ... + this x (score onset strength) x (1 - recording rise)
    silence_db: float = -30.0        # ... frames this far below the loud level (a breath, a pause) cost
    silence_cost: float = 0.3        # ... this against every score frame: silence says nothing of where
    step_penalty: float = 0.05       # ... per horizontal or vertical DTW step (discourages stalls)
    search_s: float = 0.25           # per-part onsets within this of the global path's
    salience_weight: float = 1.0     # DP: weight of each note's pitch salience over its frames (0.3 before the
                                     # reverberant design set: +1.0 and +1.9 points on held-out dry and room pieces)
    rise_weight: float = 10.0        # DP: weight of the harmonic rise at an onset against pitch salience
    prior_weight: float = 50.0       # DP: cost per (distance from the path's onset / search_s)^2
    min_gap_s: float = 0.05          # DP: onsets of one part at least this far apart
    onset_shift_s: float = 0.01      # added to every onset: on the design set, with onsets defined as Bach10
                                     # defines them (where the isolated part's F0 holds the note; -0.03 for
                                     # note-on times), -0.03 to +0.02 gave signed medians of -40 to +10 ms


@dataclass(frozen=True)
class MixFeatures:
    """Per-frame features of a recording on the 10 ms grid."""

    times_s: np.ndarray           # (T,)
    spec: np.ndarray              # (n_midi, T) log-compressed semitone spectrum
    rise: np.ndarray              # (n_midi, T) positive change per semitone bin (SuperFlux-like)
    level_db: np.ndarray          # (T,) frame level relative to the loud frames (95th percentile)
    hop_s: float = HOP / SR


@dataclass(frozen=True)
class EnsembleAlignment:
    """One Alignment per part (in score part order) and the global path (recording s, score s)."""

    parts: tuple[Alignment, ...]
    path_s: np.ndarray = field(repr=False)   # (K, 2): recording time, score time
    start_s: float = 0.0                     # where the score begins in the recording
    end_s: float = 0.0
    cost: float = 0.0                        # mean path cost (0 perfect, about 1 unrelated)
    match_ratio: float = 0.0                 # cost over the mean cost of the score moved by -5, +1 and +6
                                             # semitones: about 0.5 for this piece, near 1 for another one


_POOL: dict = {}


def _semitone_pool(sr: int, n_fft: int) -> np.ndarray:
    """(n_midi, n_bins) 0/1 matrix pooling STFT bins into semitones (the nearest bin where a semitone is
    narrower than a bin)."""
    key = (sr, n_fft)
    if key not in _POOL:
        f = np.arange(1 + n_fft // 2) * sr / n_fft
        m = np.full(f.shape, -1.0)
        m[1:] = 69 + 12 * np.log2(f[1:] / 440.0)
        midis = np.arange(MIDI_LO, MIDI_HI + 1)
        P = np.zeros((len(midis), len(f)), np.float32)
        for i, mm in enumerate(midis):
            sel = np.flatnonzero((m >= mm - 0.5) & (m < mm + 0.5))
            if len(sel) == 0:
                sel = [int(np.argmin(np.abs(m - mm)))]
            P[i, sel] = 1.0
        _POOL[key] = P
    return _POOL[key]


def mix_features(samples: np.ndarray, sr: int = SR, p: MixAlignParams | None = None) -> MixFeatures:
    """The semitone spectrum, its rises and the level of a recording (mono, `sr` Hz) on a 10 ms grid."""
    from musicdesk.dsp import stft_magnitude_blocks

    p = p or MixAlignParams()
    hop = int(round(HOP * sr / SR))
    n_fft = int(2 ** round(np.log2(N_FFT * sr / SR)))
    y = np.asarray(samples, np.float32)
    P = _semitone_pool(sr, n_fft)
    # in blocks of frames, so that a long recording never holds its whole spectrogram
    n_frames = 1 + len(y) // hop
    E = np.empty((P.shape[0], n_frames), np.float32)
    power = np.empty(n_frames, np.float64)
    for f0, S in stft_magnitude_blocks(y, n_fft, hop):
        S2 = S ** 2
        E[:, f0:f0 + S.shape[1]] = np.sqrt(P @ S2)
        power[f0:f0 + S.shape[1]] = S2.sum(axis=0, dtype=np.float64)
    C = np.log1p(p.compress * E / (float(E.max()) + 1e-12))
    ref = np.maximum(C, np.maximum(np.roll(C, 1, axis=0), np.roll(C, -1, axis=0)))
    lag = 2
    R = np.zeros_like(C)
    R[:, lag:] = np.maximum(0.0, C[:, lag:] - ref[:, :-lag])
    db = 10 * np.log10(power + 1e-12)
    db -= np.percentile(db, 95) if len(db) else 0.0
    return MixFeatures(np.arange(C.shape[1]) * hop / sr, C, R, db, hop / sr)


def _harmonic_matrix(midis: np.ndarray, decay: float) -> np.ndarray:
    """(len(midis), n_midi) weights of each pitch's partials over the semitone bins."""
    n = MIDI_HI - MIDI_LO + 1
    H = np.zeros((len(midis), n), np.float32)
    for i, m in enumerate(midis):
        for h, off in enumerate(HARMONICS):
            b = int(m) + int(off) - MIDI_LO
            if 0 <= b < n:
                H[i, b] += decay ** h
    return H


def _score_frames(parts, hop_s: float, decay: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Predicted semitone spectrum (n_midi, S) and onset strength (S,) of the score on a grid of hop_s
    score seconds, and the score's first onset (s)."""
    t0 = min(n.onset_s for sc in parts for n in sc.notes)
    t1 = max(n.offset_s for sc in parts for n in sc.notes)
    S = int(np.ceil((t1 - t0) / hop_s)) + 1
    n = MIDI_HI - MIDI_LO + 1
    E = np.zeros((n, S), np.float32)
    O = np.zeros(S, np.float32)
    for sc in parts:
        H = _harmonic_matrix(np.array([x.midi for x in sc.notes]), decay)
        for i, x in enumerate(sc.notes):
            a = int(round((x.onset_s - t0) / hop_s))
            b = max(a + 1, int(round((x.offset_s - t0) / hop_s)))
            E[:, a:b] += H[i][:, None]
            O[a] = 1.0
    return E, O, t0


def _unit(X: np.ndarray, axis: int = 0) -> np.ndarray:
    return X / (np.linalg.norm(X, axis=axis, keepdims=True) + 1e-9)


def _chroma(X: np.ndarray) -> np.ndarray:
    n = X.shape[0]
    C = np.zeros((12, X.shape[1]), X.dtype)
    for k in range(12):
        C[(MIDI_LO + k) % 12] += X[k::12].sum(axis=0) if k < n else 0
    return C


FULL_DTW_CELLS = 2.0e7     # above this many cells (score x recording frames) the path is found coarse to fine
COARSE_CELLS = 1.0e7       # ... the coarse pass at most this many
BAND_S = 3.0               # ... and the fine pass within this of the coarse path


class _PathCost:
    """The global path's frame cost (module docstring), computable for any block of (score, recording)
    frames, so a long recording never needs the whole matrix."""

    def __init__(self, parts, f: MixFeatures, p: MixAlignParams, decim: int):
        self.p = p
        E, O, self.t0 = _score_frames(parts, f.hop_s * decim, p.harmonic_decay)
        T = f.spec.shape[1] // decim
        X = f.spec[:, :T * decim].reshape(f.spec.shape[0], T, decim).mean(axis=2)
        Rr = f.rise[:, :T * decim].reshape(f.rise.shape[0], T, decim).sum(axis=2)
        Ec = np.log1p(E)   # the score's pitch profile as the recording would show it (log-compressed)
        self.chE, self.ppE = _unit(_chroma(Ec)), _unit(Ec)
        self.chX, self.ppX = _unit(_chroma(X)), _unit(X)
        rise = Rr.sum(axis=0)
        self.rise = np.clip(rise / (np.percentile(rise, 95) + 1e-9), 0, 1)
        self.O = O
        self.silent = f.level_db[:T * decim].reshape(T, decim).max(axis=1) < p.silence_db
        self.S, self.T = E.shape[1], T

    def block(self, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
        p = self.p
        c = p.chroma_weight * (1 - self.chE[:, i0:i1].T @ self.chX[:, j0:j1])
        c += (1 - p.chroma_weight) * (1 - self.ppE[:, i0:i1].T @ self.ppX[:, j0:j1])
        c += p.onset_weight * self.O[i0:i1, None] * (1 - self.rise[None, j0:j1])
        c[:, self.silent[j0:j1]] = p.silence_cost
        return c.astype(np.float64)

    def coarse(self, r: int) -> "_PathCost":
        """The same cost on frames r times longer (unit vectors averaged, onsets and rises maxed)."""
        def pool(A, n, how):
            k = n // r
            B = A[..., :k * r].reshape(A.shape[:-1] + (k, r))
            return B.max(-1) if how == "max" else (B.min(-1) if how == "min" else B.mean(-1))

        c = object.__new__(_PathCost)
        c.p, c.t0 = self.p, self.t0
        c.chE, c.ppE = _unit(pool(self.chE, self.S, "mean")), _unit(pool(self.ppE, self.S, "mean"))
        c.chX, c.ppX = _unit(pool(self.chX, self.T, "mean")), _unit(pool(self.ppX, self.T, "mean"))
        c.O, c.rise = pool(self.O, self.S, "max"), pool(self.rise, self.T, "max")
        c.silent = pool(self.silent.astype(float), self.T, "min") > 0.5
        c.S, c.T = c.chE.shape[1], c.chX.shape[1]
        return c


def global_path(parts, f: MixFeatures, p: MixAlignParams | None = None, decim: int = 2
                ) -> tuple[np.ndarray, float]:
    """(K, 2) path of (recording s, score s) and its mean cost, by subsequence DTW on decim x 10 ms frames;
    for long recordings first on coarser frames, then within BAND_S of that path."""
    p = p or MixAlignParams()
    hop = f.hop_s * decim
    pc = _PathCost(parts, f, p, decim)
    if pc.S * pc.T <= FULL_DTW_CELLS:
        cost = pc.block(0, pc.S, 0, pc.T)
        wp = subsequence_dtw(cost, p.step_penalty)
        c = cost[wp[:, 0], wp[:, 1]]
    else:
        r = int(np.ceil(np.sqrt(pc.S * pc.T / COARSE_CELLS)))
        cc = pc.coarse(r)
        wc = subsequence_dtw(cc.block(0, cc.S, 0, cc.T), p.step_penalty)
        band = int(round(BAND_S / hop))
        lo = np.full(pc.S, pc.T, np.int64)
        hi = np.zeros(pc.S, np.int64)
        for i, j in wc:
            a, b = i * r, min(pc.S, (i + 1) * r)
            lo[a:b] = np.minimum(lo[a:b], j * r - band)
            hi[a:b] = np.maximum(hi[a:b], (j + 1) * r + band)
        lo[wc[-1, 0] * r:] = np.minimum(lo[wc[-1, 0] * r:], lo[wc[-1, 0] * r])
        hi[(wc[-1, 0] + 1) * r:] = hi[min(pc.S - 1, (wc[-1, 0] + 1) * r - 1)]
        lo = np.clip(np.minimum.accumulate(lo[::-1])[::-1], 0, pc.T - 1)
        hi = np.clip(np.maximum.accumulate(hi), lo + 1, pc.T)
        W = int((hi - lo).max())
        Cb = np.full((pc.S, W), np.inf)
        for i0 in range(0, pc.S, 256):
            i1 = min(pc.S, i0 + 256)
            j0, j1 = int(lo[i0:i1].min()), int(hi[i0:i1].max())
            blk = pc.block(i0, i1, j0, j1)
            for i in range(i0, i1):
                w = hi[i] - lo[i]
                Cb[i, :w] = blk[i - i0, lo[i] - j0:hi[i] - j0]
        wp = _banded_numba(Cb, lo, hi - lo, float(p.step_penalty))
        c = Cb[wp[:, 0], wp[:, 1] - lo[wp[:, 0]]]
    path = np.stack([wp[:, 1] * hop, wp[:, 0] * hop + pc.t0], axis=1)
    return path, float(np.mean(c))


def _banded_impl(Cb, lo, width, pen):
    S, W = Cb.shape
    D = np.full((S, W), np.inf)
    B = np.zeros((S, W), np.int8)
    for jj in range(width[0]):
        D[0, jj] = Cb[0, jj]
    for i in range(1, S):
        for jj in range(width[i]):
            j = lo[i] + jj
            best = np.inf
            how = 0
            k = j - 1 - lo[i - 1]          # diagonal
            if 0 <= k < width[i - 1] and D[i - 1, k] < best:
                best = D[i - 1, k]
                how = 0
            k = j - lo[i - 1]              # score advances, recording stays
            if 0 <= k < width[i - 1] and D[i - 1, k] + pen < best:
                best = D[i - 1, k] + pen
                how = 1
            if jj > 0 and D[i, jj - 1] + pen < best:   # recording advances
                best = D[i, jj - 1] + pen
                how = 2
            D[i, jj] = best + Cb[i, jj]
            B[i, jj] = how
    jj = 0
    for k in range(1, width[S - 1]):
        if D[S - 1, k] < D[S - 1, jj]:
            jj = k
    i = S - 1
    j = lo[i] + jj
    out = np.empty((S + lo[S - 1] + width[S - 1], 2), np.int64)
    n = 0
    while True:
        out[n, 0] = i
        out[n, 1] = j
        n += 1
        if i == 0:
            break
        b = B[i, j - lo[i]]
        if b == 0:
            i -= 1
            j -= 1
        elif b == 1:
            i -= 1
        else:
            j -= 1
    return out[:n][::-1].copy()


_banded_compiled = None


def _banded_numba(Cb, lo, width, pen):
    global _banded_compiled
    if _banded_compiled is None:
        from numba import njit

        _banded_compiled = njit(cache=True)(_banded_impl)
    return _banded_compiled(np.ascontiguousarray(Cb), np.ascontiguousarray(lo, np.int64),
                            np.ascontiguousarray(width, np.int64), pen)


def subsequence_dtw(cost: np.ndarray, step_penalty: float) -> np.ndarray:
    """(K, 2) warping path (score frame, recording frame) through cost (S, T): every score frame matched,
    the recording entered and left anywhere; steps (1,1), (1,0), (0,1), the last two paying
    `step_penalty` extra. The banded kernel with a band as wide as the recording."""
    S, T = cost.shape
    return _banded_numba(cost, np.zeros(S, np.int64), np.full(S, T, np.int64), float(step_penalty))


def _score_to_rec(path: np.ndarray, score_s: np.ndarray) -> np.ndarray:
    """Recording time of score times along the path (first path point at or after each score time)."""
    st = path[:, 1]
    idx = np.clip(np.searchsorted(st, score_s - 1e-9), 0, len(st) - 1)
    return path[idx, 0]


def _place_part(sc, f: MixFeatures, expected_s: np.ndarray, p: MixAlignParams) -> np.ndarray:
    """Onset frame of each note of one part: the DP of the module docstring."""
    notes = sc.notes
    N = len(notes)
    T = f.spec.shape[1]
    H = _harmonic_matrix(np.array([x.midi for x in notes]), p.harmonic_decay)
    H = H / (H.sum(axis=1, keepdims=True) + 1e-9)
    W = int(round(p.search_s / f.hop_s))
    gap = max(1, int(round(p.min_gap_s / f.hop_s)))
    e = np.clip(np.round(expected_s / f.hop_s).astype(int), 0, T - 1)
    cands = [np.arange(max(0, c - W), min(T, c + W + 1)) for c in e]
    last_end = min(T, int(e[-1] + max(1, round(notes[-1].duration_s / f.hop_s))))

    # Each note's salience (its pitch's harmonics in the spectrum) and rise, only on the frames its own
    # segments can cover (its candidates to the next note's): a (notes x frames) matrix of a 10-minute
    # recording would take gigabytes.
    def window(i: int) -> tuple[int, int]:
        nxt = cands[i + 1] if i + 1 < N else np.array([max(last_end, 1)])
        return int(min(cands[i][0], nxt[0])), int(max(cands[i][-1], nxt[-1])) + 1

    def csum_at(i: int, lo: int, hi: int) -> np.ndarray:
        """Cumulative salience of note i over frames [lo, hi): index x - lo is the sum over [lo, x)."""
        sal = p.salience_weight * (H[i] @ f.spec[:, lo:hi])
        return np.concatenate([[0.0], np.cumsum(sal, dtype=np.float64)])

    def rise_at(i: int, a: np.ndarray) -> np.ndarray:
        r = H[i] @ f.rise[:, a[0]:min(T, a[-1] + 2)]
        r = np.pad(r, (0, a[-1] + 2 - a[0] - len(r)))
        return r[a - a[0]] + r[a - a[0] + 1]

    best = [None] * N
    back = [None] * N
    c0 = cands[0]
    best[0] = p.rise_weight * rise_at(0, c0) - p.prior_weight * ((c0 - e[0]) / max(W, 1)) ** 2
    for i in range(1, N):
        a_prev, a = cands[i - 1], cands[i]
        # total(prev at ap, i at ai) = best[i-1][ap] + seg(i-1, ap, ai) + start(i, ai)
        lo, hi = window(i - 1)
        cs = csum_at(i - 1, lo, hi)
        seg = cs[a - lo][None, :] - cs[a_prev - lo][:, None]        # (P, A)
        tot = best[i - 1][:, None] + seg
        tot = np.where(a[None, :] - a_prev[:, None] >= gap, tot, -np.inf)
        k = np.argmax(tot, axis=0)
        v = tot[k, np.arange(len(a))]
        start = p.rise_weight * rise_at(i, a) - p.prior_weight * ((a - e[i]) / max(W, 1)) ** 2
        best[i] = v + start
        back[i] = k
    # the last note's segment runs to its expected end
    lo, hi = window(N - 1)
    cs = csum_at(N - 1, lo, hi)
    fin = best[N - 1] + (cs[max(last_end, 1) - lo] - cs[cands[N - 1] - lo])
    j = int(np.argmax(np.where(np.isfinite(fin), fin, -np.inf)))
    on = np.zeros(N, int)
    for i in range(N - 1, -1, -1):
        on[i] = cands[i][j]
        if i > 0:
            j = int(back[i][j])
    return on


def align_ensemble(parts, samples: np.ndarray, sr: int = SR, params: MixAlignParams | None = None,
                   features: MixFeatures | None = None) -> EnsembleAlignment:
    """Align every part (a sequence of musicdesk Scores, one per part, same time line) to an ensemble
    recording (mono samples at `sr`). Each part gets an Alignment with an onset and offset for every note."""
    p = params or MixAlignParams()
    f = features if features is not None else mix_features(samples, sr, p)
    path, cost = global_path(parts, f, p)
    ratio = cost / float(np.mean([global_path(_transposed(parts, k), f, p)[1] for k in (-5, 1, 6)]) + 1e-9)
    out = []
    for sc in parts:
        on_score = np.array([n.onset_s for n in sc.notes])
        off_score = np.array([n.offset_s for n in sc.notes])
        on_f = _place_part(sc, f, _score_to_rec(path, on_score), p)
        on_s = on_f * f.hop_s + p.onset_shift_s
        end_s = _score_to_rec(path, off_score)
        nxt = np.append(on_s[1:], np.inf)
        # held to the next note when written so (no rest between), else its end along the path
        legato = np.append(np.abs(off_score[:-1] - on_score[1:]) < 1e-6, False)
        off_s = np.where(legato, nxt, np.minimum(np.maximum(end_s, on_s + 0.05), nxt))
        out.append(Alignment(tuple(NoteAlignment(n.index, float(a), float(b))
                                   for n, a, b in zip(sc.notes, on_s, off_s)), (), "mixture"))
    return EnsembleAlignment(tuple(out), path, float(path[0, 0]), float(path[-1, 0]), cost, ratio)


def _transposed(parts, semitones: int):
    import dataclasses

    return [dataclasses.replace(s, notes=tuple(dataclasses.replace(n, midi=n.midi + semitones) for n in s.notes))
            for s in parts]
