"""Presets: a high-level quality as a Gaussian mixture over the low-level faders, learnt semi-supervised
from few labels (after Music FaderNets: Tan & Herremans 2020).

The quality is the tune type (reel, jig, hornpipe: training/melody_data.py takes it from the ABC R:
field; most measures have no label). Each type is one Gaussian (full covariance) over a measure's
fader coordinates, the AR-VAE latent dimensions tied to the attributes. EM fits the mixture to all
training measures: a labelled measure belongs to its type's component, an unlabelled one is shared by
responsibility, weighted by `unlabelled_weight` (chosen on the validation split by
training/fit_presets.py). A preset moves a measure's faders to its type's mean; the other latent dimensions
(what the faders do not describe) stay.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mixture:
    """K Gaussians over D fader coordinates."""

    names: tuple[str, ...]
    weights: np.ndarray          # (K,)
    means: np.ndarray            # (K, D)
    covs: np.ndarray             # (K, D, D)

    def log_likelihoods(self, x: np.ndarray) -> np.ndarray:
        """(N, K) log(weight_k N(x; mean_k, cov_k))."""
        x = np.atleast_2d(x)
        out = np.empty((len(x), len(self.names)))
        for k in range(len(self.names)):
            d = x - self.means[k]
            sign, logdet = np.linalg.slogdet(self.covs[k])
            sol = np.linalg.solve(self.covs[k], d.T).T
            out[:, k] = np.log(self.weights[k]) - 0.5 * (np.sum(d * sol, axis=1) + logdet + x.shape[1] * np.log(2 * np.pi))
        return out

    def classify(self, x: np.ndarray) -> np.ndarray:
        """Most likely component per row."""
        return np.argmax(self.log_likelihoods(x), axis=1)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "weights": self.weights.tolist(), "means": self.means.tolist(),
                "covs": self.covs.tolist()}

    @staticmethod
    def from_dict(d: dict) -> "Mixture":
        return Mixture(tuple(d["names"]), np.asarray(d["weights"]), np.asarray(d["means"]), np.asarray(d["covs"]))


def fit_mixture(x: np.ndarray, labels: np.ndarray, names: tuple[str, ...], iters: int = 50,
                reg: float = 1e-3, unlabelled_weight: float = 1.0) -> Mixture:
    """Semi-supervised EM: x (N, D); labels (N,) component index, or -1 for unlabelled rows. Starts from
    the labelled rows alone (every component needs some); `unlabelled_weight` scales what an unlabelled
    row counts for against a labelled one (0: the labelled rows alone)."""
    k = len(names)
    lab = labels >= 0
    if any(not np.any(labels == j) for j in range(k)):
        raise ValueError("every component needs at least one labelled row")
    resp = np.zeros((len(x), k))
    resp[lab, labels[lab]] = 1.0
    mix = _m_step(x[lab], resp[lab], names, reg)
    if unlabelled_weight <= 0 or lab.all():
        return mix
    for _ in range(iters):
        ll = mix.log_likelihoods(x[~lab])
        r = np.exp(ll - ll.max(axis=1, keepdims=True))
        resp[~lab] = unlabelled_weight * r / r.sum(axis=1, keepdims=True)
        new = _m_step(x, resp, names, reg)
        if np.max(np.abs(new.means - mix.means)) < 1e-6:
            return new
        mix = new
    return mix


def _m_step(x: np.ndarray, resp: np.ndarray, names: tuple[str, ...], reg: float) -> Mixture:
    nk = resp.sum(axis=0) + 1e-9
    means = (resp.T @ x) / nk[:, None]
    covs = np.stack([((resp[:, j, None] * (x - means[j])).T @ (x - means[j])) / nk[j] + reg * np.eye(x.shape[1])
                     for j in range(len(names))])
    return Mixture(names, nk / nk.sum(), means, covs)
