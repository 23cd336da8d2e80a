"""The assessment networks, after the reference implementation (biboamy/FBA-Fall19; Huang & Lerch 2019,
Pati, Gururani & Lerch 2018).

- PCConvNet: the performance pitch contour only (no score): 4 Conv1d layers (kernel 7, stride 3;
  4/8/16/16 channels, BatchNorm, ReLU), mean over time, a linear layer.
- SIConvNet: the same encoder on the 2-channel stack of contour and DTW-aligned score.
- JointEmbedNet: one such encoder for the contour and one for the aligned score; the cosine similarity
  of the two embeddings is the rating.
- DistMatNet: the contour-vs-score distance matrix resized to 600 x 600, a residual CNN and an MLP.

The reference trains one model per criterion. Here one network rates all criteria (`CRITERIA`): the
encoders are shared and each criterion has its own output (a linear unit; for JointEmbedNet a linear
projection of each embedding per criterion, then their cosine). Outputs are in [0, 1] (sigmoid; the
cosine is clipped at inference).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from musicdesk.assess import CRITERIA, DISPLAY_NAMES  # noqa: F401  (re-exported)
from musicdesk.assess.features import (DELTA_FEATURE_NAMES, DELTA_FEATURES, DELTA_SEPARATE, DISTMAT_SIZE,  # noqa: F401
                                       MIN_FRAMES, TERM_NOTE_S)



class ContourEncoder(nn.Module):
    """(B, in_ch, T) -> (B, 16): the reference PCConvNet's fully convolutional trunk, mean-pooled."""

    def __init__(self, in_ch: int = 1, kernel: int = 7, stride: int = 3, channels=(4, 8, 16, 16)):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_ch
        for ch in channels:
            layers += [nn.Conv1d(prev, ch, kernel, stride), nn.BatchNorm1d(ch), nn.ReLU()]
            prev = ch
        self.conv = nn.Sequential(*layers)
        self.out_features = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=2)


class _EncoderNet(nn.Module):
    """The contour encoder on the channel stack of the inputs in `uses`, then a linear unit per
    criterion and a sigmoid. `embed` is the pooled encoder output, `readout` the rest."""

    uses: tuple[str, ...] = ()

    def __init__(self, n_out: int = len(CRITERIA)):
        super().__init__()
        self.enc = ContourEncoder(self.in_channels)
        self.head = nn.Linear(self.enc.out_features, n_out)

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.enc(torch.cat(inputs, dim=1))

    def readout(self, e: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(e))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.readout(self.embed(*inputs))


class PCConvNet(_EncoderNet):
    """Contour only. Input (B, 1, T) of MIDI / 128."""

    uses = ("contour",)
    in_channels = 1


class SIConvNet(_EncoderNet):
    """Score-informed: input (B, 2, T), the contour and the aligned score stacked as channels."""

    uses = ("contour", "score")
    in_channels = 2


class SIConvNetDelta(_EncoderNet):
    """SIConvNet with better-conditioned inputs (ours, not in the reference): the same encoder on the
    channels of musicdesk.assess.features.delta_channels, DELTA_FEATURES: the pitch deviation from the
    aligned score in semitones, the aligned score (MIDI / 128), the timing deviation of the DTW path
    from the take's own steady tempo and its note-level part (s), and where the take is silent though
    the score expects a note (or sounds in a rest).

    Why: with the reference's MIDI / 128 stack a wrong note moves the input by 0.008 per semitone and
    20 cents by 0.0016, while the pitch varies by 0.3 between takes and every gap between notes jumps
    by 0.5; trained on our data the reference SIConvNet does not get past R² 0.15. The aligned score
    is warped onto the performance, so rushing and dragging are invisible to it; and a pitch deviation
    alone hides a missed note (nothing sounds, so nothing deviates)."""

    uses = ("delta",)

    def __init__(self, features: tuple[str, ...] | list[str] = DELTA_FEATURES, n_out: int = len(CRITERIA),
                 separate: tuple[str, ...] | list[str] | None = None, timing_term: bool = False):
        """`separate`: input channels that get an encoder of their own (default: those of DELTA_SEPARATE
        among `features`); its pooled features join the main encoder's before the outputs, so what
        they see adds to the outputs' logits instead of mixing with the other channels inside one
        encoder. `timing_term`: the rhythm logit also falls with `note_timing_share` through a learnt
        weight that cannot turn positive (a design option, not the shipped network's: training/README.md,
        fifth round); the share is the embedding's last feature."""
        if separate is None:
            separate = [f for f in DELTA_SEPARATE if f in features]
            separate = separate if len(separate) < len(features) else []
        unknown = [f for f in (*features, *separate) if f not in DELTA_FEATURE_NAMES]
        if unknown or not features:
            raise ValueError(f"Unknown SIConvNet-Delta inputs {unknown}; choose from {', '.join(DELTA_FEATURE_NAMES)}.")
        if not set(separate) <= set(features) or set(separate) == set(features):
            raise ValueError("SIConvNet-Delta: the separate inputs must be some, not all, of its inputs.")
        self.features = tuple(features)
        self.separate = tuple(f for f in self.features if f in separate)
        self._main = [i for i, f in enumerate(self.features) if f not in self.separate]
        self._sep = [i for i, f in enumerate(self.features) if f in self.separate]
        self.in_channels = len(self._main)
        super().__init__(n_out)
        if self._sep:
            self.enc_sep = ContourEncoder(len(self._sep))
            self.head = nn.Linear(self.enc.out_features + self.enc_sep.out_features, n_out)
        self.timing_term = bool(timing_term)
        if self.timing_term:
            if "note_timing" not in self.features:
                raise ValueError("SIConvNet-Delta: the timing term needs the note_timing input.")
            self._nt = self.features.index("note_timing")
            # softplus(term_w): how much the rhythm logit falls per unit of `note_timing_share`
            self.term_w = nn.Parameter(torch.tensor(TERM_W_INIT))

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        x = torch.cat(inputs, dim=1)
        if not self._sep:
            e = self.enc(x)
        else:
            e = torch.cat([self.enc(x[:, self._main]), self.enc_sep(x[:, self._sep])], dim=1)
        if self.timing_term:
            e = torch.cat([e, note_timing_share(x[:, self._nt])[:, None]], dim=1)
        return e

    def readout(self, e: torch.Tensor) -> torch.Tensor:
        if not self.timing_term:
            return torch.sigmoid(self.head(e))
        z = self.head(e[:, :-1])
        r = CRITERIA.index("rhythmic_accuracy")
        z = torch.cat([z[:, :r], z[:, r:r + 1] - F.softplus(self.term_w) * e[:, -1:], z[:, r + 1:]], dim=1)
        return torch.sigmoid(z)


TERM_W_INIT = 4.0      # softplus(4) ~ 4: near the rubric's slope at a rhythm rating of 0.8 (0.7 / (0.8 * 0.2))


def note_timing_share(nt: torch.Tensor) -> torch.Tensor:
    """(B, T) note_timing (s) -> (B,): the mean over frames of |error| / TERM_NOTE_S, capped at 1. The
    rhythm output falls with it through a weight that cannot turn positive, so that a note moved off
    its neighbours' grids lowers the rating, whatever the rest of the network makes of it."""
    return (nt.abs() / TERM_NOTE_S).clamp(max=1.0).mean(dim=1)


class JointEmbedNet(nn.Module):
    """Two encoders (contour, aligned score); per criterion the cosine similarity of the projected
    embeddings. Training regresses the raw cosine (as the reference); `forward` returns it raw and
    `rate` clips it to [0, 1]."""

    uses = ("contour", "score")

    def __init__(self, n_out: int = len(CRITERIA)):
        super().__init__()
        self.perf = ContourEncoder(1)
        self.score = ContourEncoder(1)
        d = self.perf.out_features
        self.proj_perf = nn.ModuleList(nn.Linear(d, d) for _ in range(n_out))
        self.proj_score = nn.ModuleList(nn.Linear(d, d) for _ in range(n_out))

    def embed(self, contour: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.perf(contour), self.score(score)], dim=1)

    def readout(self, e: torch.Tensor) -> torch.Tensor:
        p, s = e.split(self.perf.out_features, dim=1)
        return torch.stack([F.cosine_similarity(pp(p), ps(s), dim=1)
                            for pp, ps in zip(self.proj_perf, self.proj_score)], dim=1)

    def forward(self, contour: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        return self.readout(self.embed(contour, score))


class _ResBlock(nn.Module):
    """Pre-activation residual block of the reference DistMatNet (BatchNorm momentum 0.5)."""

    def __init__(self, inp: int, out: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp, momentum=0.5)
        self.conv1 = nn.Conv2d(inp, out, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out, momentum=0.5)
        self.conv2 = nn.Conv2d(out, out, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(out, momentum=0.5)
        self.skip = nn.Conv2d(inp, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.bn1(x))
        y = self.bn3(self.conv2(F.relu(self.bn2(y))))
        return y + self.skip(x)


class DistMatNet(nn.Module):
    """Input (B, 1, 600, 600): the distance matrix scaled to [0, 1]."""

    uses = ("distmat",)

    def __init__(self, n_out: int = len(CRITERIA), size: int = DISTMAT_SIZE):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 4, 3, 3), _ResBlock(4, 4), nn.Dropout(0.2), nn.MaxPool2d(3, 3),
            _ResBlock(4, 4), nn.Dropout(0.2), nn.MaxPool2d(3, 3),
            _ResBlock(4, 4), nn.Dropout(0.2), nn.ReLU(), nn.Conv2d(4, 4, 3, 3))
        with torch.no_grad():
            n_flat = self.conv(torch.zeros(1, 1, size, size)).numel()   # 196 for 600 x 600
        self.head = nn.Sequential(nn.Linear(n_flat, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, n_out))

    def embed(self, distmat: torch.Tensor) -> torch.Tensor:
        """The first hidden layer of the classifier (128 units after ReLU)."""
        return self.head[1](self.head[0](self.conv(distmat).flatten(1)))

    def readout(self, e: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head[3](self.head[2](e)))

    def forward(self, distmat: torch.Tensor) -> torch.Tensor:
        return self.readout(self.embed(distmat))


class Ensemble(nn.Module):
    """Networks of one kind (`members`) whose ratings are averaged, per criterion with the weights
    `member_weights` (members x criteria, each column summing to 1; None: equal). Each member takes its
    own input (its weights' info says how its note_timing is made), so musicdesk.assess.predict.
    rate_inputs gets a tuple of AssessInputs per take, one per member (`build_inputs`); the features
    are the members' joined."""

    def __init__(self, members: list[nn.Module], member_weights: list[list[float]] | None = None):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.member_weights = member_weights

    @property
    def uses(self) -> tuple[str, ...]:
        return tuple(self.members[0].uses)


MODELS: dict[str, type[nn.Module]] = {
    "pcconvnet": PCConvNet, "siconvnet": SIConvNet, "jointembednet": JointEmbedNet, "distmatnet": DistMatNet,
    "siconvnet_delta": SIConvNetDelta,
}


def build(name: str, **options) -> nn.Module:
    """A fresh (untrained) network by name (see MODELS); `options` go to its constructor (SIConvNet-Delta:
    `features`, its input channels)."""
    if name not in MODELS:
        raise ValueError(f"Unknown assessment model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name](**options)


def run(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Call `model` with the inputs it uses from `batch` (keys contour, score: (B, 1, T); delta: (B, len(model.features), T);
    distmat: (B, 1, S, S)); returns (B, len(CRITERIA))."""
    return model(*(batch[k] for k in model.uses))


def embed(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The network's features before its outputs (`model.readout` of them is `run`), (B, D)."""
    return model.embed(*(batch[k] for k in model.uses))
