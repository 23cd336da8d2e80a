"""Inpainting missing measures in the latent space of a frozen MeasureVAE (after Pati, Lerch & Hadjeres
2019, "Learning to traverse latent spaces for musical score inpainting").

LatentRNN: a window of WINDOW measures, each its VAE latent mean, the missing ones replaced by a
learnt placeholder, each with a flag that says whether it is missing; a bidirectional GRU reads the
window both ways, and at every missing measure a linear layer gives the mean and log-variance of its
latent. Decoding the mean gives the most likely fill; decoding samples gives other candidates.
Baselines: the last measure before the gap repeated, and the latents interpolated linearly between the
measures on either side of it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

WINDOW = 16          # measures the model sees at once (the reference: 2-6 missing inside 16)


@dataclass(frozen=True)
class InpaintConfig:
    latent: int = 32
    hidden: int = 128
    layers: int = 2
    window: int = WINDOW

    def to_dict(self) -> dict:
        return asdict(self)


class LatentRNN(nn.Module):
    def __init__(self, config: InpaintConfig = InpaintConfig()):
        super().__init__()
        c = self.config = config
        self.placeholder = nn.Parameter(torch.zeros(c.latent))
        self.rnn = nn.GRU(c.latent + 1, c.hidden, c.layers, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * c.hidden, c.latent)
        self.to_logvar = nn.Linear(2 * c.hidden, c.latent)

    def forward(self, z: torch.Tensor, missing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, W, latent) latent means (anything at missing places), missing (B, W) bool ->
        mean and log-variance (B, W, latent) of every measure's latent (used at the missing ones)."""
        m = missing.unsqueeze(-1).to(z.dtype)
        x = torch.cat([z * (1 - m) + self.placeholder * m, m], dim=-1)
        h, _ = self.rnn(x)
        return self.to_mu(h), self.to_logvar(h).clamp(-8.0, 4.0)


def gaussian_nll(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """-log N(z; mu, exp(logvar)) summed over the latent, per measure."""
    return 0.5 * (logvar + (z - mu) ** 2 / logvar.exp() + np.log(2 * np.pi)).sum(-1)


def repeat_last(z: np.ndarray, start: int, n: int) -> np.ndarray:
    """Baseline: the latent of the measure before the gap, for each missing measure (n, latent)."""
    return np.repeat(z[start - 1][None], n, axis=0)


def interpolate(z: np.ndarray, start: int, n: int) -> np.ndarray:
    """Baseline: latents on the straight line between the measures on either side of the gap."""
    a, b = z[start - 1], z[start + n] if start + n < len(z) else z[start - 1]
    w = (np.arange(1, n + 1) / (n + 1))[:, None]
    return (1 - w) * a + w * b


# ----------------------------------------------------------------------------------------------------
# the shipped model and the melody-level operation

INPAINT_NAME = "inpaint"


def load_inpainter(path=None) -> tuple[LatentRNN, dict]:
    """The shipped LatentRNN (models/melody-inpaint.safetensors), in eval mode, and its info (which
    MeasureVAE it was trained on: info['vae'])."""
    from musicdesk.melody.weights import load_module

    return load_module(INPAINT_NAME, path, lambda info: LatentRNN(InpaintConfig(**info["config"])),
                       "python -m training.train_inpaint")


def context_window(n_measures: int, start: int, n: int, window: int = WINDOW) -> tuple[int, int]:
    """The measures [a, b) the model sees for a gap [start, start + n): up to `window` measures with the
    gap as central as the melody allows."""
    if n_measures <= window:
        return 0, n_measures
    a = max(0, min(start - (window - n) // 2, n_measures - window))
    return a, a + window


@torch.inference_mode()
def fill_latents(rnn: LatentRNN, z: np.ndarray, start: int, n: int, k: int = 1,
                 rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """k latent fills (n, latent) of the gap [start, start + n) of the latent sequence z (M, latent):
    the predicted mean first, then draws from the predicted Gaussian."""
    a, b = context_window(len(z), start, n, rnn.config.window)
    zz = torch.as_tensor(z[a:b], dtype=torch.float32)[None]
    miss = torch.zeros(1, b - a, dtype=torch.bool)
    miss[0, start - a:start - a + n] = True
    mu, logvar = rnn(zz, miss)
    mu, sd = mu[0, start - a:start - a + n].numpy(), np.exp(0.5 * logvar[0, start - a:start - a + n].numpy())
    rng = rng or np.random.default_rng(0)
    return [mu] + [mu + sd * rng.standard_normal(mu.shape) for _ in range(k - 1)]


def inpaint_melody(melody, start: int, n: int, candidates: int = 1, lab=None, rnn: LatentRNN | None = None,
                   seed: int = 0) -> list:
    """Up to `candidates` melodies with measures [start, start + n) (0-based) filled in by the shipped
    LatentRNN over the shipped AR-VAE's latents; the most likely fill first, then other candidates
    (draws that decode to the same notes as an earlier one are skipped). Needs a measure before the gap."""
    from musicdesk.melody.lab import MelodyLab, with_measures
    from musicdesk.melody.tokens import encode, measure_ticks_for

    if start < 1 or start + n > melody.n_measures or n < 1:
        raise ValueError(f"Inpainting needs at least one measure before the gap, inside measures 1-{melody.n_measures}.")
    lab = lab or MelodyLab()
    rnn = rnn or load_inpainter()[0]
    rows = encode(melody)
    z = lab.encode(rows)
    ticks = measure_ticks_for(melody.measure_beats)
    out, seen = [], set()
    rng = np.random.default_rng(seed)
    for fill in fill_latents(rnn, z, start, n, max(1, candidates) * 4, rng):
        new = lab.decode(fill, ticks)
        if new.tobytes() in seen:
            continue
        seen.add(new.tobytes())
        out.append(with_measures(melody, rows, list(range(start, start + n)), new))
        if len(out) >= candidates:
            break
    return out
