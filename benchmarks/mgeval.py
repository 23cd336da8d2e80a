"""MGEval-style evaluation of generated monophonic measures (after Yang & Lerch 2020, "On the evaluation
of generative models in music"; implemented here from the paper, not vendored).

Each measure gets a set of features (pitch and rhythm families). For a reference set A (real held-out
measures) and a generated set B, and each feature:
  - intra-set distances: every pair within A (and within B), Euclidean on the feature;
  - inter-set distances: every pair (a, b), a in A, b in B;
  - the distributions of intra(A) and inter(A, B), smoothed with a Gaussian kernel density on a common
    grid, compared by the KL divergence KL(intra(A) || inter(A, B)) and their overlapped area (OA,
    the integral of the smaller density: 1 when B's measures lie among A's as A's lie among themselves).
Small, pure functions; no torch.
"""
from __future__ import annotations

import numpy as np

from musicdesk.melody.tokens import Melody, decode

PITCH_FEATURES = ("pitch_class_histogram", "pitch_class_transitions", "pitch_count", "pitch_range",
                  "interval_histogram", "mean_interval")
RHYTHM_FEATURES = ("note_count", "note_length_histogram", "mean_ioi")
FEATURES = PITCH_FEATURES + RHYTHM_FEATURES
FAMILIES = {"pitch": PITCH_FEATURES, "rhythm": RHYTHM_FEATURES}
LENGTH_BINS = np.array([1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24]) / 6.0   # note lengths in quarter beats (grid ticks / 6)
GRID = 200                                                              # points of the density grid


def measure_features(melody: Melody) -> dict[str, np.ndarray]:
    """The features of a one-measure melody (Melody with n_measures 1), each a 1-d array."""
    notes = sorted(melody.notes, key=lambda n: n.onset_beats)
    midi = np.array([n.midi for n in notes], dtype=float)
    pcs = (midi % 12).astype(int) if len(midi) else np.zeros(0, int)
    pch = np.bincount(pcs, minlength=12).astype(float)
    pch = pch / pch.sum() if pch.sum() else pch
    trans = np.zeros((12, 12))
    for a, b in zip(pcs, pcs[1:]):
        trans[a, b] += 1
    trans = trans / trans.sum() if trans.sum() else trans
    steps = np.diff(midi)
    ih = np.bincount(np.clip(steps, -12, 12).astype(int) + 12, minlength=25).astype(float)
    ih = ih / ih.sum() if ih.sum() else ih
    lengths = np.array([n.duration_beats for n in notes])
    lh = np.zeros(len(LENGTH_BINS))
    for d in lengths:
        lh[int(np.argmin(np.abs(LENGTH_BINS - d)))] += 1
    lh = lh / lh.sum() if lh.sum() else lh
    onsets = np.array([n.onset_beats for n in notes])
    return {
        "pitch_class_histogram": pch,
        "pitch_class_transitions": trans.ravel(),
        "pitch_count": np.array([len(set(midi.tolist()))], float),
        "pitch_range": np.array([midi.max() - midi.min() if len(midi) else 0.0]),
        "interval_histogram": ih,
        "mean_interval": np.array([np.abs(steps).mean() if len(steps) else 0.0]),
        "note_count": np.array([float(len(notes))]),
        "note_length_histogram": lh,
        "mean_ioi": np.array([np.diff(onsets).mean() if len(onsets) > 1 else melody.measure_beats]),
    }


def features_of_rows(rows: np.ndarray, measure_beats: np.ndarray) -> dict[str, np.ndarray]:
    """Feature matrices (n, dim) of token rows (n, 24), each measure decoded on its own."""
    rows = np.atleast_2d(rows)
    beats = np.broadcast_to(np.asarray(measure_beats, dtype=float), (len(rows),))
    per = [measure_features(decode(r[None], float(b))) for r, b in zip(rows, beats)]
    return {f: np.stack([p[f] for p in per]) for f in FEATURES}


def pairwise(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: within `a` (each unordered pair once) or between every a and every b."""
    a = np.asarray(a, dtype=float).reshape(len(a), -1)
    if b is None:
        d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))
        return d[np.triu_indices(len(a), 1)]
    b = np.asarray(b, dtype=float).reshape(len(b), -1)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).ravel()


def _density(x: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of samples `x` on `grid` (normalised to integrate to 1 there)."""
    z = (grid[:, None] - x[None, :]) / bandwidth
    p = np.exp(-0.5 * z * z).sum(1)
    area = np.trapezoid(p, grid)
    return p / area if area > 0 else p


def compare(intra: np.ndarray, inter: np.ndarray) -> tuple[float, float]:
    """(KL divergence KL(intra || inter) in nats, overlapped area) of two distance samples, on one
    grid with one bandwidth (Scott's rule on the pooled samples, at least 1% of their span)."""
    pooled = np.concatenate([intra, inter])
    lo, hi = float(pooled.min()), float(pooled.max())
    span = max(hi - lo, 1e-6)
    grid = np.linspace(lo - 0.1 * span, hi + 0.1 * span, GRID)
    bw = max(1.06 * float(pooled.std()) * len(pooled) ** -0.2, 0.01 * span)
    p, q = _density(intra, grid, bw), _density(inter, grid, bw)
    eps = 1e-12
    kl = float(np.trapezoid(p * np.log((p + eps) / (q + eps)), grid))
    oa = float(np.trapezoid(np.minimum(p, q), grid))
    return max(kl, 0.0), oa


def evaluate_set(reference: dict, generated: dict) -> dict[str, dict]:
    """Per feature: KL divergence and overlapped area of intra(reference) against inter(reference,
    generated), and the mean intra-set distance of each (feature matrices as from features_of_rows)."""
    out = {}
    for f in FEATURES:
        intra_a = pairwise(reference[f])
        inter = pairwise(reference[f], generated[f])
        kl, oa = compare(intra_a, inter)
        out[f] = {"kl": kl, "oa": oa, "intra_ref_mean": float(intra_a.mean()),
                  "intra_gen_mean": float(pairwise(generated[f]).mean()), "inter_mean": float(inter.mean())}
    return out


def family_means(per_feature: dict) -> dict[str, dict]:
    """Mean OA and KL over each feature family."""
    return {fam: {"oa": float(np.mean([per_feature[f]["oa"] for f in feats])),
                  "kl": float(np.mean([per_feature[f]["kl"] for f in feats]))} for fam, feats in FAMILIES.items()}


__all__ = ["measure_features", "features_of_rows", "pairwise", "compare", "evaluate_set", "family_means",
           "FEATURES", "FAMILIES"]
