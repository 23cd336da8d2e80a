"""MeasureVAE (Pati, Lerch & Hadjeres 2019), the model under the melody lab's sliders, and the AR-VAE
attribute regularisation (Pati & Lerch 2020).

Encoder: token embedding, a bidirectional GRU over the ticks, its last hidden states to the mean and
log-variance of a `latent`-dim Gaussian. Decoder, hierarchical: z sets the first hidden state of a beat
GRU unrolled once per beat; each beat's output sets the hidden state (and a constant input) of a tick
GRU that writes that beat's ticks one token at a time, fed the token before. A measure's length is
given to the decoder, which writes PAD past it and never inside it (START and END are never written).

AR-VAE: for attribute a, latent dimension r_a is tied to it by the loss
L1(tanh(delta * (z[i, r_a] - z[j, r_a])), sign(a_i - a_j)) over all pairs i, j of a batch, so that
moving z along r_a moves the attribute the same way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from musicdesk.melody.tokens import END, MEASURE_TICKS, PAD, START, TICKS_PER_BEAT, VOCAB_SIZE


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of a MeasureVAE (kept in its weights file)."""

    vocab_size: int = VOCAB_SIZE
    n_beats: int = MEASURE_TICKS // TICKS_PER_BEAT     # 4; 8 for dMelodies' two bars in one row
    ticks_per_beat: int = TICKS_PER_BEAT
    latent: int = 32
    embedding: int = 16
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1

    @property
    def n_ticks(self) -> int:
        return self.n_beats * self.ticks_per_beat

    def to_dict(self) -> dict:
        return asdict(self)


class MeasureVAE(nn.Module):
    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.embedding)
        self.encoder = nn.GRU(c.embedding, c.hidden, c.layers, batch_first=True, bidirectional=True,
                              dropout=c.dropout if c.layers > 1 else 0.0)
        self.to_mu = nn.Linear(2 * c.layers * c.hidden, c.latent)
        self.to_logvar = nn.Linear(2 * c.layers * c.hidden, c.latent)
        self.z_to_beat_h = nn.Sequential(nn.Linear(c.latent, c.layers * c.hidden), nn.SELU())
        self.beat_rnn = nn.GRU(1, c.hidden, c.layers, batch_first=True)
        self.beat_to_tick_h = nn.Sequential(nn.Linear(c.hidden, c.layers * c.hidden), nn.SELU())
        self.beat_to_tick_in = nn.Sequential(nn.Linear(c.hidden, c.hidden), nn.SELU())
        self.x0 = nn.Parameter(torch.zeros(c.embedding))
        self.tick_rnn = nn.GRU(c.embedding + c.hidden, c.hidden, c.layers, batch_first=True,
                               dropout=c.dropout if c.layers > 1 else 0.0)
        self.out = nn.Linear(c.hidden, c.vocab_size)

    # ------------------------------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, n_ticks) int -> mean and log-variance (B, latent)."""
        _, h = self.encoder(self.embed(tokens))
        h = h.transpose(0, 1).reshape(tokens.shape[0], -1)
        return self.to_mu(h), self.to_logvar(h)

    def _h0(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return layer(x).view(x.shape[0], c.layers, c.hidden).transpose(0, 1).contiguous()

    def _mask(self, logits: torch.Tensor, tick: int, measure_ticks: torch.Tensor) -> torch.Tensor:
        """PAD past the measure's end, never PAD inside it; never START or END."""
        past = (tick >= measure_ticks).unsqueeze(1)                 # (B, 1)
        allowed = torch.ones_like(logits, dtype=torch.bool)
        allowed[:, [START, END]] = False
        allowed = torch.where(past, torch.zeros_like(allowed), allowed)
        allowed[:, PAD] = past.squeeze(1)
        return logits.masked_fill(~allowed, -1e9)

    def decode(self, z: torch.Tensor, measure_ticks: torch.Tensor | int | None = None,
               target: torch.Tensor | None = None, teacher_forcing: bool = False) -> torch.Tensor:
        """Logits (B, n_ticks, vocab). With `teacher_forcing`, the tick GRU is fed `target`'s tokens
        (training); otherwise its own most likely ones (argmax decoding, deterministic)."""
        c = self.config
        b = z.shape[0]
        if measure_ticks is None:
            measure_ticks = c.n_ticks
        mt = torch.as_tensor(measure_ticks, device=z.device)
        if mt.dim() == 0:
            mt = mt.expand(b)
        beats, _ = self.beat_rnn(torch.zeros(b, c.n_beats, 1, device=z.device), self._h0(self.z_to_beat_h, z))
        prev = self.x0.expand(b, -1)
        logits = []
        for k in range(c.n_beats):
            h = self._h0(self.beat_to_tick_h, beats[:, k])
            cond = self.beat_to_tick_in(beats[:, k])
            ticks = range(k * c.ticks_per_beat, (k + 1) * c.ticks_per_beat)
            if teacher_forcing and target is not None:
                before = torch.cat([prev.unsqueeze(1), self.embed(target[:, ticks.start:ticks.stop - 1])], dim=1)
                inp = torch.cat([before, cond.unsqueeze(1).expand(-1, c.ticks_per_beat, -1)], dim=2)
                o, _ = self.tick_rnn(inp, h)
                lg = self.out(o)
                logits += [self._mask(lg[:, i], t, mt) for i, t in enumerate(ticks)]
                prev = self.embed(target[:, ticks.stop - 1])
            else:
                for t in ticks:
                    o, h = self.tick_rnn(torch.cat([prev, cond], dim=1).unsqueeze(1), h)
                    lg = self._mask(self.out(o[:, 0]), t, mt)
                    logits.append(lg)
                    prev = self.embed(lg.argmax(dim=1))
        return torch.stack(logits, dim=1)

    def forward(self, tokens: torch.Tensor, measure_ticks: torch.Tensor | int | None = None,
                teacher_forcing: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, z, mu, logvar) with z sampled by the reparametrisation (the mean in eval mode)."""
        mu, logvar = self.encode(tokens)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z, measure_ticks, tokens, teacher_forcing), z, mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), summed over dimensions, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()


def ar_loss(z_dim: torch.Tensor, attribute: torch.Tensor, delta: float = 10.0) -> torch.Tensor:
    """AR-VAE's attribute regularisation of one latent dimension (B,) against one attribute (B,)."""
    dz = z_dim[:, None] - z_dim[None, :]
    da = attribute[:, None] - attribute[None, :]
    return F.l1_loss(torch.tanh(delta * dz), torch.sign(da))


def linear_loss(mu_dim: torch.Tensor, attribute: torch.Tensor) -> torch.Tensor:
    """1 - r² of the batch's Pearson correlation between one latent dimension's means (B,) and one attribute (B,).

    AR-VAE's sign loss fixes only the order of the codes along the dimension, so the codes' spacing follows the
    ranks of the attribute's values, not the values; this term (scale-free, so it leaves the scale to the KL
    term) asks for a dimension linear in the attribute, the form the interpretability metric and a slider in
    attribute units want. 0 for a batch where the attribute does not vary."""
    x = mu_dim - mu_dim.mean()
    y = attribute - attribute.mean()
    vy = (y * y).sum()
    if float(vy) == 0.0:
        return torch.zeros((), dtype=mu_dim.dtype)
    r = (x * y).sum() / torch.sqrt((x * x).sum() * vy + 1e-12)
    return 1.0 - r * r


def reconstruction_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the tokens, summed over ticks, averaged over the batch."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1).long(),
                           reduction="sum") / tokens.shape[0]
