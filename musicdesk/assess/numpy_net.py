"""The contour-encoder networks (PCConvNet, SIConvNet, SIConvNet-Delta) run on the CPU in numpy.

Why: these networks are small (four 1-D convolutions, a mean and a linear unit; a take is rated in
milliseconds), but importing torch costs a fresh `musicdesk analyze` about 1.3 s of CPU. On a machine
without a GPU the command and the window rate with this forward pass instead, from the same safetensors
weights; it agrees with the torch network to float32 rounding (tests/test_assess_numpy.py). Training,
the other networks and GPUs use torch (musicdesk.assess.models).
"""
from __future__ import annotations

import glob
import os
import platform
import sys
from pathlib import Path

import numpy as np

from musicdesk.assess import CRITERIA
from musicdesk.assess.features import TERM_NOTE_S

NUMPY_MODELS = ("pcconvnet", "siconvnet", "siconvnet_delta")
BN_EPS = 1e-5          # torch.nn.BatchNorm1d's default
KERNEL, STRIDE = 7, 3  # musicdesk.assess.models.ContourEncoder's


def gpu_present() -> bool:
    """Whether this machine may have a GPU torch could use (an NVIDIA or AMD device node, Apple
    silicon); True where that cannot be told cheaply (Windows), so torch decides there."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform.startswith("linux"):
        return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/dev/kfd") or os.path.exists("/dev/dxg")
    return True


def runs_here(name: str, device: str | None = None) -> bool:
    """Whether the network `name` on `device` (as musicdesk.assess.predict.select_device reads it,
    MUSICDESK_DEVICE included) is rated by this module: one of NUMPY_MODELS, on the CPU, asked for
    ("cpu") or because no GPU is there ("auto")."""
    from musicdesk.assess.predict import DEVICE_ENV

    pref = (device or os.environ.get(DEVICE_ENV) or "auto").lower()
    return name in NUMPY_MODELS and (pref == "cpu" or (pref == "auto" and not gpu_present()))


class _Encoder:
    """musicdesk.assess.models.ContourEncoder in eval mode: (B, C, T) -> (B, 16)."""

    def __init__(self, state: dict, prefix: str):
        self.layers = []
        for conv, bn in ((0, 1), (3, 4), (6, 7), (9, 10)):
            w = state[f"{prefix}.conv.{conv}.weight"].astype(np.float32)
            b = state[f"{prefix}.conv.{conv}.bias"].astype(np.float32)
            g = state[f"{prefix}.conv.{bn}.weight"] / np.sqrt(state[f"{prefix}.conv.{bn}.running_var"] + BN_EPS)
            shift = state[f"{prefix}.conv.{bn}.bias"] - state[f"{prefix}.conv.{bn}.running_mean"] * g
            self.layers.append((w, b, g.astype(np.float32), shift.astype(np.float32)))
        self.in_channels = int(self.layers[0][0].shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for w, b, g, shift in self.layers:
            win = np.lib.stride_tricks.sliding_window_view(x, KERNEL, axis=2)[:, :, ::STRIDE]   # (B, C, T', K)
            y = np.einsum("bctk,ock->bot", win, w, optimize=True) + b[None, :, None]
            x = np.maximum(y * g[None, :, None] + shift[None, :, None], 0.0).astype(np.float32)
        return x.mean(axis=2)


class NumpyNet:
    """One of NUMPY_MODELS with its weights: `uses` and `features` as the torch network's, `embed`
    and `readout` on numpy batches (musicdesk.assess.predict.batch_arrays)."""

    def __init__(self, name: str, state: dict, info: dict):
        from musicdesk.assess.features import DELTA_FEATURES

        self.name = name
        self.uses = {"pcconvnet": ("contour",), "siconvnet": ("contour", "score")}.get(name, ("delta",))
        self.features = tuple(info.get("delta_features", DELTA_FEATURES)) if self.uses == ("delta",) else None
        sep = tuple(info.get("delta_separate", ())) if self.features else ()
        self._main = [i for i, f in enumerate(self.features or ()) if f not in sep]
        self._sep = [i for i, f in enumerate(self.features or ()) if f in sep]
        self.enc = _Encoder(state, "enc")
        self.enc_sep = _Encoder(state, "enc_sep") if self._sep else None
        self.head_w = state["head.weight"].astype(np.float32)
        self.head_b = state["head.bias"].astype(np.float32)
        # SIConvNet-Delta's timing term (musicdesk.assess.models.SIConvNetDelta, timing_term=True)
        self.term_w = float(np.logaddexp(0.0, state["term_w"])) if "term_w" in state else None
        n_in = len(self._main) if self.features else len(self.uses)
        if self.enc.in_channels != n_in or (self.enc_sep and self.enc_sep.in_channels != len(self._sep)):
            raise ValueError("the weights' input channels do not match the network's inputs")

    def embed(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """(B, D) pooled encoder features of a batch (keys as `batch_arrays` makes them)."""
        if self.features is None:
            return self.enc(np.concatenate([batch[k] for k in self.uses], axis=1))
        x = batch["delta"]
        if self.enc_sep is None:
            e = self.enc(x)
        else:
            e = np.concatenate([self.enc(x[:, self._main]), self.enc_sep(x[:, self._sep])], axis=1)
        if self.term_w is not None:
            nt = x[:, self.features.index("note_timing")]
            share = np.minimum(np.abs(nt) / TERM_NOTE_S, 1.0).mean(axis=1)
            e = np.concatenate([e, share[:, None]], axis=1).astype(np.float32)
        return e

    def readout(self, e: np.ndarray) -> np.ndarray:
        """(B, n_criteria) ratings from `embed`'s features (the linear units and a sigmoid; SIConvNet-Delta's
        timing term taken off the rhythm unit)."""
        if self.term_w is None:
            z = e @ self.head_w.T + self.head_b
        else:
            z = e[:, :-1] @ self.head_w.T + self.head_b
            z[:, CRITERIA.index("rhythmic_accuracy")] -= self.term_w * e[:, -1]
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


class NumpyEnsemble:
    """musicdesk.assess.models.Ensemble in numpy: `members` (NumpyNets) whose ratings are averaged (per
    criterion with `member_weights`, as there)."""

    def __init__(self, members: list[NumpyNet], member_weights: list[list[float]] | None = None):
        self.members = members
        self.member_weights = member_weights
        self.uses = members[0].uses


def load(name: str, path: str | os.PathLike | None = None) -> tuple[NumpyNet | NumpyEnsemble, dict]:
    """The network `name` (one of NUMPY_MODELS) with its shipped (or given) weights, and its info;
    ModelError as musicdesk.assess.weights.load gives it. Weights of several networks give a
    NumpyEnsemble."""
    from musicdesk.assess.weights import ModelError, member_weights, read_weights, weights_path

    if name not in NUMPY_MODELS:
        raise ValueError(f"{name!r} has no numpy forward pass; use musicdesk.assess.weights.load")
    p = Path(path) if path is not None else weights_path(name)
    state, info = read_weights(p, name, framework="np")
    try:
        if "members" in info:
            nets = []
            for i, m in enumerate(info["members"]):
                pre = f"members.{i}."
                nets.append(NumpyNet(name, {k[len(pre):]: v for k, v in state.items() if k.startswith(pre)}, m))
            return NumpyEnsemble(nets, member_weights(info)), info
        return NumpyNet(name, state, info), info
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelError(f"The weights in {p} do not fit the {name} network ({exc}); retrain them with "
                         f"`python -m training.train --model {name}`.") from exc
