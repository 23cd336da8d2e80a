"""Ratings of a take by an assessment network: `Assessor` hides the device and the weights, `rate()` is
the pure entry point (inputs -> ratings per criterion in [0, 1]).

torch (about 1.3 s to import) is imported when a network is loaded or run, not with this module, so
that the analysis can name and start networks cheaply; `start_loading` loads one in a child process
(musicdesk.assess.preload) while this process does other work. On the CPU, the contour-encoder
networks need no torch at all: `assessor` gives a `NumpyAssessor` (musicdesk.assess.numpy_net).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from musicdesk.assess.features import (MIDI_SCALE, MIN_FRAMES, AssessInput, build_input, contour_frames,
                                       delta_channels, score_frames, score_onset_frames, take_path)
from musicdesk.assess import CRITERIA, DEFAULT_MODEL, DISPLAY_NAMES

if TYPE_CHECKING:
    import torch

CHUNK_FRAMES = 2000           # about 58 s: the reference's chunk size; longer takes are rated in windows
DEVICE_ENV = "MUSICDESK_DEVICE"


def select_device(preference: str | None = None) -> torch.device:
    """cuda, then mps, then cpu; `preference` ("cuda", "mps", "cpu", "auto"/None, or the MUSICDESK_DEVICE
    environment variable) overrides. A device asked for but missing falls back to the CPU."""
    import torch

    pref = (preference or os.environ.get(DEVICE_ENV) or "auto").lower()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if pref.startswith("cuda") and torch.cuda.is_available():
        return torch.device(pref)
    if pref == "mps" and has_mps:
        return torch.device("mps")
    if pref not in ("cpu", "cuda", "mps") and not pref.startswith("cuda:"):
        raise ValueError(f"Unknown device {preference!r}; choose auto, cuda, mps or cpu.")
    return torch.device("cpu")


def windows(n_frames: int, chunk: int = CHUNK_FRAMES) -> list[tuple[int, int]]:
    """Frame ranges covering a take: one range when it fits in `chunk`, else chunks overlapping by half
    with the last one ending at the take's end."""
    if n_frames <= chunk:
        return [(0, n_frames)]
    hop = chunk // 2
    starts = list(range(0, n_frames - chunk + 1, hop))
    if starts[-1] != n_frames - chunk:
        starts.append(n_frames - chunk)
    return [(s, s + chunk) for s in starts]


def batch_for(inputs: Sequence[AssessInput], uses: Sequence[str], chunk: int = CHUNK_FRAMES,
              features: Sequence[str] | None = None) -> tuple[dict[str, torch.Tensor], list[int]]:
    """Network inputs for the windows of each take (padded to MIN_FRAMES); returns the batch and, per
    take, how many rows of it belong to that take. Windows of one batch share a length: takes longer
    than `chunk` give full chunks, shorter ones are batched one by one. `features`: the channels of the
    "delta" input (the network's own, `model.features`)."""
    import torch

    batch, counts = batch_arrays(inputs, uses, chunk, features)
    return {k: torch.from_numpy(v) for k, v in batch.items()}, counts


def batch_arrays(inputs: Sequence[AssessInput], uses: Sequence[str], chunk: int = CHUNK_FRAMES,
                 features: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], list[int]]:
    """`batch_for`'s batch as float32 numpy arrays."""
    rows_c, rows_s, rows_d, rows_x, counts = [], [], [], [], []
    for inp in inputs:
        c = inp.contour_midi * MIDI_SCALE
        s = inp.aligned_score_midi * MIDI_SCALE
        x = delta_channels(inp, features) if "delta" in uses else None
        if len(c) < MIN_FRAMES:
            c = np.pad(c, (0, MIN_FRAMES - len(c)))
            s = np.pad(s, (0, MIN_FRAMES - len(s)))
            if x is not None:
                x = np.pad(x, ((0, 0), (0, MIN_FRAMES - x.shape[1])))
        w = windows(len(c), chunk) if "distmat" not in uses else [(0, len(c))]
        for a, b in w:
            rows_c.append(c[a:b])
            rows_s.append(s[a:b])
            if x is not None:
                rows_x.append(x[:, a:b])
            if "distmat" in uses:
                rows_d.append(inp.distmat)
        counts.append(len(w))
    batch: dict[str, np.ndarray] = {}
    if "delta" in uses:
        if len({r.shape[1] for r in rows_x}) != 1:
            raise ValueError("batch_for: windows of different lengths; rate such takes separately")
        batch["delta"] = np.stack(rows_x)
    if "contour" in uses or "score" in uses:
        if len({len(r) for r in rows_c}) != 1:
            raise ValueError("batch_for: windows of different lengths; rate such takes separately")
        batch["contour"] = np.stack(rows_c)[:, None, :].astype(np.float32)
        batch["score"] = np.stack(rows_s)[:, None, :].astype(np.float32)
    if "distmat" in uses:
        if any(d is None for d in rows_d):
            raise ValueError("DistMatNet needs the distance image: build the input with with_distmat=True")
        batch["distmat"] = np.stack(rows_d)[:, None].astype(np.float32)
    return batch, counts


def rate_inputs(model: torch.nn.Module, inputs: Sequence[AssessInput], device: torch.device | str = "cpu"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Whole-take ratings in [0, 1], (len(inputs), n_criteria), and the network's features averaged over
    each take's windows, (len(inputs), D). The windows of all takes go through the network in one batch
    where their lengths allow. `model` must be in eval mode; or a musicdesk.assess.numpy_net.NumpyNet
    (then `device` is not used). An ensemble (a `members` attribute: musicdesk.assess.models.Ensemble,
    numpy_net.NumpyEnsemble) takes per take a tuple of inputs, one per member (`build_inputs`): the
    members' ratings averaged (per criterion with its `member_weights`), their features joined."""
    from musicdesk.assess.numpy_net import NumpyNet

    members = getattr(model, "members", None)
    if members is not None:
        if any(not isinstance(x, tuple) or len(x) != len(members) for x in inputs):
            raise ValueError(f"an ensemble of {len(members)} networks rates a tuple of inputs per take, one per "
                             f"member: build them with build_inputs(its weights' info, ...)")
        per = [rate_inputs(m, [x[i] for x in inputs], device) for i, m in enumerate(members)]
        return (members_mean([r for r, _ in per], getattr(model, "member_weights", None)),
                np.concatenate([e for _, e in per], axis=1))
    if isinstance(model, NumpyNet):
        return _rate_inputs(model, inputs, _numpy_forward(model))
    import torch

    with torch.inference_mode():
        return _rate_inputs(model, inputs, _torch_forward(model, device))


def members_mean(ratings: Sequence[np.ndarray], member_weights: Sequence[Sequence[float]] | None = None
                 ) -> np.ndarray:
    """An ensemble's ratings (takes, criteria) from its members' (each (takes, criteria)): per criterion
    the mean weighted by `member_weights` (members x criteria; None: equal)."""
    r = np.stack(ratings)
    w = (np.full((len(r), r.shape[2]), 1.0 / len(r)) if member_weights is None
         else np.asarray(member_weights, dtype=np.float64))
    return (w[:, None, :] * r).sum(axis=0)


def _numpy_forward(net):
    def forward(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        e = net.embed(batch)
        return net.readout(e), e
    return forward


def _torch_forward(model, device):
    import torch

    from musicdesk.assess.models import embed

    def forward(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        e = embed(model, {k: torch.from_numpy(v).to(device) for k, v in batch.items()})
        return model.readout(e).float().cpu().numpy(), e.float().cpu().numpy()
    return forward


def _rate_inputs(model, inputs, forward):
    uses = model.uses
    if "distmat" not in uses:   # full-chunk windows share a length; a shorter take goes on its own
        long = [i for i, x in enumerate(inputs) if len(x.contour_midi) >= CHUNK_FRAMES]
        groups = [long] + [[i] for i in range(len(inputs)) if i not in set(long)]
    else:                       # distance images all have one size
        groups = [list(range(len(inputs)))]
    ratings: list = [None] * len(inputs)
    feats: list = [None] * len(inputs)
    for g in groups:
        if not g:
            continue
        batch, counts = batch_arrays([inputs[i] for i in g], uses, features=getattr(model, "features", None))
        y, e = forward(batch)
        y = np.clip(y, 0.0, 1.0)
        pos = 0
        for i, n in zip(g, counts):
            ratings[i] = y[pos:pos + n].mean(axis=0)
            feats[i] = e[pos:pos + n].mean(axis=0)
            pos += n
    return np.asarray(ratings, dtype=np.float64), np.asarray(feats, dtype=np.float64)


@dataclass(frozen=True)
class Assessment:
    """A network's ratings of one take: criterion -> value in [0, 1]."""

    model: str            # display name, e.g. "SIConvNet"
    device: str           # "cpu", "cuda", "mps"
    ratings: dict
    seconds: float = 0.0  # time for features and network
    # the network's features before its outputs, averaged over windows (teacher calibration uses them)
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    # which weights rated it (musicdesk.assess.weights.weights_id; "" where unknown): a teacher's
    # calibration fits only the weights it was made on
    weights_id: str = ""

    def to_json_dict(self) -> dict:
        return {"model": self.model, "device": self.device, "weights_id": self.weights_id,
                "ratings": {k: round(float(v), 4) for k, v in self.ratings.items()}}


class Assessor:
    """A loaded assessment network on its device. Load once, rate many takes."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str | None = None, weights: str | None = None):
        from musicdesk.assess.weights import load

        t = time.perf_counter()
        self.name = name
        self.device = select_device(device)
        model, self.info = load(name, weights)
        self.model = model.to(self.device)
        self.criteria = tuple(self.info.get("criteria", CRITERIA))
        self.load_s = time.perf_counter() - t

    @property
    def weights_id(self) -> str:
        """The fingerprint of the weights loaded (musicdesk.assess.weights.weights_id)."""
        return str(self.info.get("weights_id", ""))

    @property
    def display_name(self) -> str:
        return DISPLAY_NAMES.get(self.name, self.name)

    @property
    def device_name(self) -> str:
        return self.device.type

    def rate_inputs(self, inputs: Sequence[AssessInput]) -> np.ndarray:
        """(len(inputs), n_criteria) ratings in [0, 1] (see `rate_inputs`)."""
        return rate_inputs(self.model, inputs, self.device)[0]

    def rate(self, perf_midi: np.ndarray, score_midi: np.ndarray, onset_frames: np.ndarray | None = None,
             note_onsets_s: np.ndarray | None = None, score_onsets_s: np.ndarray | None = None) -> Assessment:
        """Ratings of one take from its contour frames, score frames and the score's onset frames (see
        musicdesk.assess.features and `take_frames`), and, for networks that judge them, the aligner's
        note onsets (`aligned_onsets_s`) and the score's own (s)."""
        t = time.perf_counter()
        inp = build_inputs(self.info, perf_midi, score_midi, onset_frames, "distmat" in self.model.uses,
                           note_onsets_s, score_onsets_s)
        vals, emb = rate_inputs(self.model, [inp], self.device)
        return Assessment(self.display_name, self.device_name, dict(zip(self.criteria, map(float, vals[0]))),
                          time.perf_counter() - t, emb[0], self.weights_id)


class NumpyAssessor(Assessor):
    """An `Assessor` for the networks musicdesk.assess.numpy_net runs on the CPU without torch (their
    ratings agree with the torch network's to float32 rounding): what `assessor` gives on a machine
    with no GPU."""

    def __init__(self, name: str = DEFAULT_MODEL, weights: str | None = None):
        from musicdesk.assess import numpy_net

        t = time.perf_counter()
        self.name = name
        self.device = "cpu"
        self.model, self.info = numpy_net.load(name, weights)
        self.criteria = tuple(self.info.get("criteria", CRITERIA))
        self.load_s = time.perf_counter() - t

    @property
    def device_name(self) -> str:
        return "cpu"


def input_options(info: dict, note_onsets_s: np.ndarray | None, score_onsets_s: np.ndarray | None = None) -> dict:
    """`build_input`'s options for a network with weights `info` (its "note_onsets", as training.train
    made note_timing): networks trained on the aligner's onsets judged by the pulse rule
    ("aligner_pulses") get them (s), judged against the player's pulse at the score's own onsets (s);
    without them (None) the DTW path's note starts and the score's onset frames stand in, judged the
    same way. "aligner" (the onsets against the grids; a design option the app's weights.load refuses)
    gets the onsets only; "dtw", nothing."""
    mode = info.get("note_onsets", "dtw")
    if mode == "aligner_pulses":
        return {"note_onsets_s": note_onsets_s, "note_rule": "pulses", "score_onsets_s": score_onsets_s}
    if mode == "aligner":
        return {"note_onsets_s": note_onsets_s}
    return {}


def build_inputs(info: dict, perf_midi: np.ndarray, score_midi: np.ndarray, onset_frames: np.ndarray | None,
                 with_distmat: bool = False, note_onsets_s: np.ndarray | None = None,
                 score_onsets_s: np.ndarray | None = None, built: dict | None = None,
                 path: tuple | None = None) -> AssessInput | tuple[AssessInput, ...]:
    """`build_input` for the network whose weights' info is `info` (`input_options`); for an ensemble
    (info "members"), a tuple with each member's input, members trained alike sharing one, and all of
    them one DTW path (`features.take_path`; `path`: the caller's). `built`: inputs already made, by
    their weights' "note_onsets" (made here when missing)."""
    from musicdesk.assess.weights import member_infos

    built = {} if built is None else built
    out = []
    for m in member_infos(info):
        key = m.get("note_onsets", "dtw")
        if key not in built:
            path = take_path(perf_midi, score_midi) if path is None else path
            built[key] = build_input(perf_midi, score_midi, onset_frames, with_distmat=with_distmat,
                                     path=path, **input_options(m, note_onsets_s, score_onsets_s))
        out.append(built[key])
    return tuple(out) if "members" in info else out[0]


def aligned_onsets_s(alignment) -> np.ndarray:
    """Each score note's onset as musicdesk's aligner placed it (s; NaN where not found)."""
    from musicdesk.feedback import onsets_s

    return onsets_s(alignment.notes)


def score_onsets_s(score) -> np.ndarray:
    """The score's note onsets (s, at its written tempo): where the pulse rule places each note."""
    return np.array([n.onset_s for n in score.notes], dtype=np.float64)


def take_frames(score, contour) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contour frames of a take's pitch contour (musicdesk.pitch.PitchContour), and the score frames and
    note onset frames of its score (musicdesk.score.Score): the arguments of `build_input`."""
    c = contour
    duration_s = float(c.times_s[-1] + c.hop_s) if len(c.times_s) else 0.0
    perf = contour_frames(c.times_s, c.midi, duration_s)
    notes = score.notes
    sc = score_frames([n.midi for n in notes], [n.onset_s for n in notes], [n.duration_s for n in notes])
    return perf, sc, score_onset_frames([n.onset_s for n in notes])


_CACHE: dict[tuple[str, str], Assessor] = {}
_CACHE_LOCK = threading.Lock()
_STARTED: dict[tuple[str, str | None], "Assessor"] = {}   # networks loading in a child process


def start_loading(name: str = DEFAULT_MODEL, device: str | None = None) -> None:
    """Start loading a network in a child process (musicdesk.assess.preload.NetworkProcess): importing
    torch and reading the weights then run on another core while this process tracks pitch and aligns,
    and `assessor(name, device)` returns it, rating exactly as an in-process Assessor would. For the
    command line, where every run starts a fresh process; `stop_loading` ends the children."""
    from musicdesk.assess.numpy_net import runs_here
    from musicdesk.assess.preload import NetworkProcess

    if runs_here(name, device):   # no torch to import: `assessor` loads it in a millisecond
        return
    with _CACHE_LOCK:
        if (name, device) not in _STARTED:
            _STARTED[(name, device)] = NetworkProcess(name, device)


def stop_loading() -> None:
    """End the child processes `start_loading` started (their networks are gone from `assessor`)."""
    with _CACHE_LOCK:
        started = list(_STARTED.values())
        _STARTED.clear()
    for p in started:
        p.close()


def assessor(name: str = DEFAULT_MODEL, device: str | None = None) -> Assessor:
    """A process-wide loaded Assessor per (model, device): the one `start_loading` started, if any;
    on the CPU, for the networks musicdesk.assess.numpy_net runs, a NumpyAssessor (no torch)."""
    from musicdesk.assess.numpy_net import runs_here

    with _CACHE_LOCK:
        started = _STARTED.get((name, device))
        if started is not None:
            return started
        if runs_here(name, device):
            key = (name, "numpy")
            if key not in _CACHE:
                _CACHE[key] = NumpyAssessor(name)
            return _CACHE[key]
        key = (name, str(select_device(device)))
        if key not in _CACHE:
            _CACHE[key] = Assessor(name, device)
        return _CACHE[key]


def assess(score, contour, model: str = DEFAULT_MODEL, device: str | None = None, alignment=None) -> Assessment:
    """The network's ratings of a take of `score`, from its pitch contour (as the analysis refined it)
    and its alignment (musicdesk.align.Alignment: the note onsets, for networks that judge them)."""
    onsets = aligned_onsets_s(alignment) if alignment is not None else None
    return assessor(model, device).rate(*take_frames(score, contour), onsets, score_onsets_s(score))
