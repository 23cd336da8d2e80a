"""The separation network, after IASS (Hung & Lerch 2020): a residual U-Net over the mixture's magnitude
spectrogram with an instrument-activity head, made score-informed by per-part prior channels.

For each part the network sees four channels on the STFT grid (2048 / 512 at 22050 Hz, the first 1024
bins): the mixture's log magnitude, the part's own score prior, the strongest prior of the other parts,
and the part's mask from the score-informed NMF baseline (musicdesk/separate/nmf.py, run on the same
notes). The mask logits are the network's output plus the log of that NMF mask, and the output layer
starts at zero: an untrained network gives the NMF's masks, and training learns corrections to them.
(A first run with the three score channels alone reached 6.3 dB on the design set after 1,000 steps,
where NMF gives 9.5 dB: training/logs/train_separate-prior-only.log.)
A prior is the harmonic comb of each aligned note's pitch (partials as narrow bumps, amplitudes falling
with the partial number) with soft onset and offset edges, so a roughly aligned score still helps. One
network, shared by all parts, gives each part a mask logit per bin and frame and an activity logit per
frame; the masks are a softmax over the parts, so they sum to one and the stems sum to the mixture. The
number of parts is free (two to eight).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SR = 22050
N_FFT = 2048
HOP = 512
N_BINS = 1024            # bins the network sees (the Nyquist bin takes the mask of the one below)
TIME_MULTIPLE = 16       # frames are padded to a multiple of this (four halvings)


@dataclass(frozen=True)
class ModelConfig:
    channels: tuple[int, ...] = (12, 24, 48, 64, 96)
    n_partials: int = 20
    partial_cents: float = 35.0
    edge_s: float = 0.04          # soft onset / offset edges of the prior (logistic scale)
    nmf_input: bool = True        # the NMF baseline's mask as a fourth channel and the logits' base


def prior_channels(notes: Sequence[tuple[float, float, int]], n_frames: int, cfg: ModelConfig | None = None,
                   sr: int = SR, hop: int = HOP, n_fft: int = N_FFT, n_bins: int = N_BINS) -> np.ndarray:
    """(n_bins, n_frames) float32 score prior of one part from its notes (onset_s, offset_s, midi)."""
    cfg = cfg or ModelConfig()
    out = np.zeros((n_bins, n_frames), np.float32)
    if not len(notes):
        return out
    freqs = np.arange(n_bins) * sr / n_fft
    t = np.arange(n_frames) * hop / sr
    combs: dict[int, np.ndarray] = {}
    for on, off, m in notes:
        m = int(round(m))
        if m not in combs:
            f0 = 440.0 * 2 ** ((m - 69) / 12)
            c = np.zeros(n_bins, np.float32)
            for h in range(1, cfg.n_partials + 1):
                fh = h * f0
                if fh >= freqs[-1]:
                    break
                w = max(fh * (2 ** (cfg.partial_cents / 1200) - 1), sr / n_fft)
                c = np.maximum(c, np.exp(-0.5 * ((freqs - fh) / w) ** 2).astype(np.float32) / h ** 0.5)
            combs[m] = c
        a = int(max(0, np.searchsorted(t, on - 6 * cfg.edge_s)))
        b = int(min(n_frames, np.searchsorted(t, off + 6 * cfg.edge_s)))
        if b <= a:
            continue
        tt = t[a:b]
        env = (1 / (1 + np.exp(-(tt - on) / cfg.edge_s))) * (1 / (1 + np.exp((tt - off) / cfg.edge_s)))
        out[:, a:b] = np.maximum(out[:, a:b], combs[m][:, None] * env[None, :].astype(np.float32))
    return out


def build_network(cfg: ModelConfig | None = None):
    """The torch module (imported here so that the rest of the package does not need torch)."""
    import torch
    from torch import nn

    cfg = cfg or ModelConfig()

    class ResBlock(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                                      nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.act(x + self.body(x))

    class IASSNet(nn.Module):
        def __init__(self):
            super().__init__()
            ch = cfg.channels
            n_in = 4 if cfg.nmf_input else 3
            self.stem = nn.Sequential(nn.Conv2d(n_in, ch[0], 3, padding=1), nn.ReLU(inplace=True), ResBlock(ch[0]))
            self.down = nn.ModuleList([nn.Sequential(nn.Conv2d(ch[i], ch[i + 1], 3, stride=2, padding=1),
                                                     nn.BatchNorm2d(ch[i + 1]), nn.ReLU(inplace=True),
                                                     ResBlock(ch[i + 1])) for i in range(len(ch) - 1)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(len(ch) - 1)])
            self.fuse = nn.ModuleList([nn.Sequential(nn.Conv2d(2 * ch[i], ch[i], 3, padding=1), nn.BatchNorm2d(ch[i]),
                                                     nn.ReLU(inplace=True), ResBlock(ch[i])) for i in range(len(ch) - 1)])
            self.mask = nn.Conv2d(ch[0], 1, 1)
            if cfg.nmf_input:   # start at the NMF's masks
                nn.init.zeros_(self.mask.weight)
                nn.init.zeros_(self.mask.bias)
            self.activity = nn.Sequential(nn.Conv1d(ch[-1], 64, 3, padding=1), nn.ReLU(inplace=True),
                                          nn.Conv1d(64, 1, 1))

        def body(self, x):
            """(N, channels, F, T) inputs -> (N, 1, F, T) mask logits, (N, 1, T) activity logits."""
            F, T = x.shape[-2:]
            skips = []
            h = self.stem(x)
            for d in self.down:
                skips.append(h)
                h = d(h)
            act = self.activity(h.mean(2))                       # (N, 1, T / 16)
            act = torch.nn.functional.interpolate(act, size=T, mode="linear", align_corners=False)
            for i in range(len(self.up) - 1, -1, -1):
                h = self.up[i](h)
                h = self.fuse[i](torch.cat([h, skips[i]], 1))
            return self.mask(h), act

        def forward(self, mix_logmag, priors, nmf_masks=None):
            """mix_logmag (B, F, T), priors (B, P, F, T), nmf_masks (B, P, F, T) -> masks (B, P, F, T),
            activity logits (B, P, T)."""
            B, P, F, T = priors.shape
            others = torch.stack([torch.cat([priors[:, :k], priors[:, k + 1:]], 1).amax(1) if P > 1
                                  else torch.zeros_like(priors[:, 0]) for k in range(P)], 1)
            chans = [mix_logmag[:, None].expand(B, P, F, T), priors, others]
            if cfg.nmf_input:
                chans.append(nmf_masks)
            x = torch.stack(chans, 2).reshape(B * P, len(chans), F, T)
            if self.training:
                logits, act = self.body(x)
            else:   # one part at a time: the same result with a quarter of the activations' memory
                outs = [self.body(x[i:i + 1]) for i in range(B * P)]
                logits, act = torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])
            logits = logits.float().reshape(B, P, F, T)   # float32 even when the body ran in bfloat16
            if cfg.nmf_input:
                logits = logits + torch.log(nmf_masks + 1e-3)
            return torch.softmax(logits, 1), act.float().reshape(B, P, T)

    return IASSNet()


def mixture_input(mag: np.ndarray) -> np.ndarray:
    """The network's mixture channel from |STFT| (bins, frames): log1p of the magnitude over its 99th
    percentile x 10, so the input does not depend on the recording level."""
    ref = float(np.percentile(mag, 99)) + 1e-8
    return np.log1p(10.0 * mag / ref).astype(np.float32)
