"""Inpainting missing measures in the latent space of a frozen MeasureVAE (after Pati, Lerch & Hadjeres
2019, "Learning to traverse latent spaces for musical score inpainting").

LatentRNN: a window of WINDOW measures, each its VAE latent mean, the missing ones replaced by a
learnt placeholder, each with a flag that says whether it is missing; a bidirectional GRU reads the
window both ways, and at every missing measure a linear layer gives the mean and log-variance of its
latent. Decoding the mean gives the most likely fill; decoding samples gives other candidates.
Baselines: the last measure before the gap repeated, and the latents interpolated linearly between the
measures on either side of it.

Choosing the fill (`choose_fills`): folk tunes repeat whole measures, mostly in phrases of 4 and 8,
and decoding the predicted mean latent gives a smoothed "average" measure, which loses on token
accuracy to plainly copying a measure of the tune although its likelihood is far better. So for each
missing measure the candidates are the decoded mean and the window's known measures of the same
length, each scored by the decoder's log-likelihood given the LatentRNN's predicted latent, plus a
phrase prior for a known measure 4 or 8 measures away (FillRule); the best is taken. The LatentRNN's
prediction still decides among them. The rule's numbers were chosen on the validation windows
(python -m training.inpaint_choice, training/results/melody-inpaint-choice.json), never the test ones.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

WINDOW = 16          # measures the model sees at once (the reference: 2-6 missing inside 16)


@dataclass(frozen=True)
class FillRule:
    """How `choose_fills` scores its candidates, in nats added to their log-likelihoods: `copy_bonus_nats`
    added to every known measure (negative: the decoded mean is preferred), and `phrase_bonus_nats`
    (distance in measures, bonus) added to a known measure that far from the missing one."""

    copy_bonus_nats: float = 15.0
    phrase_bonus_nats: tuple[tuple[int, float], ...] = ((4, 20.0), (8, 10.0))

    def bonus(self, distance: np.ndarray) -> np.ndarray:
        b = np.full(np.shape(distance), self.copy_bonus_nats, dtype=float)
        for d, nats in self.phrase_bonus_nats:
            b[np.asarray(distance) == d] += nats
        return b


FILL_RULE = FillRule()     # chosen on the validation windows: python -m training.inpaint_choice


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


@torch.inference_mode()
def token_log_likelihood(vae, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """log p(rows | z) in nats (n,) under the MeasureVAE's decoder, teacher-forced: z (n, latent) or one
    latent (latent,) for every row; rows (n, 24) tokens (their length: the ticks that are not PAD)."""
    from musicdesk.melody.tokens import PAD

    rows = np.atleast_2d(rows)
    dev = next(vae.parameters()).device
    zz = torch.as_tensor(np.broadcast_to(z, (len(rows), np.shape(z)[-1])).copy(), dtype=torch.float32, device=dev)
    tok = torch.as_tensor(rows, dtype=torch.long, device=dev)
    logits = vae.decode(zz, (tok != PAD).sum(1), tok, teacher_forcing=True)
    return -torch.nn.functional.cross_entropy(logits.transpose(1, 2), tok, reduction="none").sum(1).cpu().numpy()


@torch.inference_mode()
def fill_scores(vae, mu: np.ndarray, measure_ticks: np.ndarray, gap_positions: np.ndarray,
                context_rows: np.ndarray, context_positions: np.ndarray) -> tuple[np.ndarray, list]:
    """What `choose_fills` decides on: the decoded means (n, 24) of the predicted latents mu (n, latent)
    of the missing measures (lengths measure_ticks (n,), positions gap_positions (n,) in measures), and
    per missing measure (indices of the known context_rows (C, 24) of the same length, log-likelihoods
    in nats of [decoded mean, those rows] under the decoder given its mu, their distances in measures)."""
    from musicdesk.melody.tokens import PAD

    ticks = np.broadcast_to(measure_ticks, (len(mu),))
    dev = next(vae.parameters()).device
    decoded = vae.decode(torch.as_tensor(mu, dtype=torch.float32, device=dev),
                         torch.as_tensor(ticks.copy(), device=dev)).argmax(-1).cpu().numpy()
    ctx = np.atleast_2d(np.asarray(context_rows)).reshape(-1, decoded.shape[1])
    ctx_ticks = (ctx != PAD).sum(1)
    same = [np.flatnonzero(ctx_ticks == ticks[j]) for j in range(len(mu))]
    # one teacher-forced pass for every (missing measure, candidate) pair
    which = np.concatenate([np.full(1 + len(sm), j) for j, sm in enumerate(same)])
    rows = np.concatenate([np.concatenate([decoded[j][None], ctx[sm]]) for j, sm in enumerate(same)])
    ll = token_log_likelihood(vae, np.asarray(mu, dtype=np.float32)[which], rows)
    pos = np.asarray(context_positions)
    return decoded, [(sm, ll[which == j], np.abs(pos[sm] - gap_positions[j])) for j, sm in enumerate(same)]


def pick_fills(decoded: np.ndarray, scores: list, context_rows: np.ndarray,
               rule: FillRule = FILL_RULE) -> tuple[np.ndarray, list[int]]:
    """`choose_fills`' choice on `fill_scores`' output."""
    ctx = np.atleast_2d(np.asarray(context_rows)).reshape(-1, decoded.shape[1])
    out, source = decoded.copy(), []
    for j, (same, ll, dist) in enumerate(scores):
        total = ll + np.r_[0.0, rule.bonus(dist)]
        best = int(np.argmax(total))
        if best > 0:
            out[j] = ctx[same[best - 1]]
        source.append(int(same[best - 1]) if best > 0 else -1)
    return out, source


def choose_fills(vae, mu: np.ndarray, measure_ticks: np.ndarray, gap_positions: np.ndarray,
                 context_rows: np.ndarray, context_positions: np.ndarray,
                 rule: FillRule = FILL_RULE) -> tuple[np.ndarray, list[int]]:
    """Fills (n, 24) of the missing measures at gap_positions (n,) from their predicted latent means mu
    (n, latent) and lengths measure_ticks (n,): per measure the best scored (`FillRule`) of the decoded
    mean and the known measures context_rows (C, 24) at context_positions (C,) of the same length.
    Also, per measure, the context row copied (-1: the decoded mean)."""
    decoded, scores = fill_scores(vae, mu, measure_ticks, gap_positions, context_rows, context_positions)
    return pick_fills(decoded, scores, context_rows, rule)


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


@dataclass(frozen=True)
class Fill:
    """An inpainting candidate: the melody with the gap filled, where the fill comes from, and why it
    stands where it does in the list (for the first: why it is first)."""

    melody: object           # musicdesk.melody.tokens.Melody
    source: str              # "the tune's own bar 7" / "the model's most likely fill" / "a draw from the model"
    reason: str


def fill_problems(melody, filled, start: int, n: int, allowed: frozenset | None) -> list[str]:
    """What a composer would not keep in the fill of measures [start, start + n) of `melody` (the
    filled melody `filled`): a copy of the pickup or the closing bar in mid-tune, a bar of rests where
    the tune has none, a leap larger than any in the tune, notes outside its key ([] when none)."""
    from musicdesk.melody.keys import PC_NAMES

    out = []
    gap = range(start, start + n)
    beats = melody.measure_beats
    last = melody.n_measures - 1

    def same(i: int, j: int) -> bool:          # measure i of `filled` as measure j of `melody`, by rhythm and pitch
        a = [(n_.midi, round(n_.onset_beats - i * beats, 4)) for n_ in filled.notes_in(i)]
        b = [(n_.midi, round(n_.onset_beats - j * beats, 4)) for n_ in melody.notes_in(j)]
        return a == b

    for i in gap:
        if melody.pickup and i != 0 and same(i, 0):
            out.append(f"bar {melody.bar_number(i)} would copy the pickup bar")
        if last not in gap and same(i, last):
            out.append(f"bar {melody.bar_number(i)} would copy the closing bar")

    def sounding(mel, i: int) -> float:         # share of measure i that a note sounds in
        a, b = i * beats, (i + 1) * beats
        return sum(max(0.0, min(b, x.offset_beats) - max(a, x.onset_beats)) for x in mel.notes) / beats

    known = [i for i in range(melody.n_measures) if i not in gap and not (melody.pickup and i == 0)]
    least = min((sounding(melody, i) for i in known), default=0.0)
    for i in gap:
        if sounding(filled, i) < min(0.5, least) - 1e-6:
            out.append(f"bar {melody.bar_number(i)} would be mostly rests (every bar of the tune sounds "
                       f"{least:.0%} or more)")
    own = [abs(b_.midi - a_.midi) for a_, b_ in zip(melody.notes, melody.notes[1:])]
    widest = max(own, default=12)
    lo, hi = start * beats, (start + n) * beats
    seq = [x for x in filled.notes]
    for a_, b_ in zip(seq, seq[1:]):
        inside = lo - 1e-6 <= b_.onset_beats < hi - 1e-6 or lo - 1e-6 <= a_.onset_beats < hi - 1e-6
        if inside and abs(b_.midi - a_.midi) > widest:
            out.append(f"a leap of {abs(b_.midi - a_.midi)} semitones (the tune's widest is {widest})")
            break
    if allowed is not None:
        odd = sorted({x.midi % 12 for i in gap for x in filled.notes_in(i)} - set(allowed))
        if odd:
            out.append("notes outside the key (" + ", ".join(PC_NAMES[p] for p in odd) + ")")
    return out


def inpaint_candidates(melody, start: int, n: int, candidates: int = 1, lab=None, rnn: LatentRNN | None = None,
                       seed: int = 0, chromatic: bool = False) -> list[Fill]:
    """Up to `candidates` fills of measures [start, start + n) (0-based) by the shipped LatentRNN over
    the shipped AR-VAE's latents, each with where it comes from and why it is where it is: the chosen
    fill (`choose_fills`: the decoded mean or one of the window's measures), the decoded mean, then
    draws from the predicted Gaussian (repeats skipped). Fills a composer would not keep
    (`fill_problems`: a copy of the pickup or the closing bar mid-tune, a bar of rests, a leap wider
    than the tune's, notes outside the key unless `chromatic`) are passed over; only when too few are
    left do they come last, with their problem said. Needs a measure before the gap."""
    from musicdesk.melody.keys import allowed_pitch_classes
    from musicdesk.melody.lab import MelodyLab, with_measures
    from musicdesk.melody.tokens import encode, measure_ticks_for

    if start < 1 or start + n > melody.n_measures or n < 1:
        raise ValueError(f"Inpainting needs at least one measure before the gap, inside bars "
                         f"{melody.bar_number(0)}-{melody.bar_number(melody.n_measures - 1)}.")
    lab = lab or MelodyLab()
    rnn = rnn or load_inpainter()[0]
    allowed = None if chromatic else allowed_pitch_classes(melody)
    rows = encode(melody)
    z = lab.encode(rows)
    ticks = measure_ticks_for(melody.measure_beats)
    rng = np.random.default_rng(seed)
    fills = fill_latents(rnn, z, start, n, max(1, candidates) * 8, rng)
    a, b = context_window(len(z), start, n, rnn.config.window)
    known = [i for i in range(a, b) if not start <= i < start + n]
    decoded, scores = fill_scores(lab.model, fills[0], np.full(n, ticks), np.arange(start, start + n), rows[known],
                                  np.array(known))
    chosen, source = pick_fills(decoded, scores, rows[known])
    draws = lab.decode(np.concatenate(fills[1:]), ticks).reshape(len(fills) - 1, n, -1) if len(fills) > 1 else []
    copied = [known[k] for k in source if k >= 0]
    chosen_from = (f"the tune's own bar{'s' if len(copied) > 1 else ''} "
                   + ", ".join(str(melody.bar_number(i)) for i in copied)) if copied else "the model's most likely fill"
    pool = [(chosen, chosen_from, "the model's choice"), (decoded, "the model's most likely fill", "")]
    pool += [(d, "a draw from the model", "") for d in draws]
    good, bad, seen = [], [], set()
    for new, src, why in pool:
        if new.tobytes() in seen:
            continue
        seen.add(new.tobytes())
        mel = with_measures(melody, rows, list(range(start, start + n)), new)
        problems = fill_problems(melody, mel, start, n, allowed)
        (bad if problems else good).append((mel, src, why, problems))
    out: list[Fill] = []
    skipped = [f"{src} ({'; '.join(p)})" for _, src, _, p in bad if src != "a draw from the model"]
    for k, (mel, src, why, _) in enumerate(good[:candidates]):
        if k == 0:
            reason = (f"first: {why}, {src}" if why else f"first: {src}") + \
                     (f"; passed over: {', '.join(skipped)}" if skipped else "")
            if "own bar" in src:
                reason += " (the tune repeats its bars, and the model rates this one most likely here)"
        else:
            reason = src
        out.append(Fill(mel, src, reason))
    for mel, src, _, problems in bad[:max(0, candidates - len(out))]:
        out.append(Fill(mel, src, f"{src}, kept only for want of better: {'; '.join(problems)}"))
    return out


def inpaint_melody(melody, start: int, n: int, candidates: int = 1, lab=None, rnn: LatentRNN | None = None,
                   seed: int = 0, chromatic: bool = False) -> list:
    """The melodies of `inpaint_candidates` (the same order)."""
    return [f.melody for f in inpaint_candidates(melody, start, n, candidates, lab, rnn, seed, chromatic)]
