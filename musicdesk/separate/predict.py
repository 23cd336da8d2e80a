"""Run the separation network on a recording: chunked, with a Wiener post-filter.

The recording is processed in chunks of `chunk_s` seconds that overlap by `overlap_s`; each chunk's stems
are cross-faded into the output with weights that sum to one, so the stems of the whole recording still
sum to the mixture and memory does not grow with the recording's length (besides the output itself).
Within a chunk: the STFT (2048 / 512), each part's score prior from the aligned notes in it, the NMF
baseline's masks on the same notes (computed on stretches of NMF_STRETCH_S: on 4-12 s chunks alone they
lose 3 dB), the network's masks (a softmax over the parts, so the stems sum to the mixture). norbert's
Wiener filter on the masked magnitudes is optional (`wiener`): on the design set it lowered SDR by
0.3-0.4 dB, with the untrained network (the NMF's masks) and with the trained one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from musicdesk.separate.model import HOP, N_BINS, N_FFT, SR, TIME_MULTIPLE, ModelConfig, mixture_input, prior_channels

MODEL_NAME = "separate_iass"
CHUNK_S = 12.0
OVERLAP_S = 1.0
NMF_STRETCH_S = 60.0     # the NMF input is computed on stretches this long (as `separate(method="nmf")`)

PRECISIONS = ("auto", "float32", "bfloat16")

_CACHE: dict = {}


def fast_bfloat16(device) -> bool:
    """Whether the U-Net's body runs in bfloat16 under "auto": on a CUDA device, or on a CPU with AMX or
    AVX512-BF16 (elsewhere bfloat16 is emulated and slower than float32). On this project's 2-core Xeon
    (AMX) a 12 s chunk takes 0.22 s instead of 0.48 s, masks within 0.03 of float32's."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        return True
    if kind != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


def autocast(device, precision: str = "auto"):
    """The context the network runs in: torch.autocast to bfloat16 when `precision` asks for it ("auto":
    `fast_bfloat16`), else a no-op."""
    import contextlib

    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}.")
    kind = getattr(device, "type", str(device))
    use = precision == "bfloat16" or (precision == "auto" and fast_bfloat16(device))
    if not use or kind not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)


def weights_path() -> Path:
    from musicdesk.assess.weights import models_dir

    return models_dir() / f"{MODEL_NAME}.safetensors"


def has_weights() -> bool:
    return weights_path().is_file()


def load_network(device: str | None = None, path: str | Path | None = None):
    """(network in eval mode on the chosen device, its ModelConfig); cached per (path, device)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from musicdesk.assess.predict import select_device
    from musicdesk.separate.model import build_network

    p = Path(path) if path else weights_path()
    dev = select_device(device)
    key = (str(p), str(dev))
    if key not in _CACHE:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
        cfg_d = json.loads(meta.get("config", "{}"))
        if "channels" in cfg_d:
            cfg_d["channels"] = tuple(cfg_d["channels"])
        cfg = ModelConfig(**cfg_d)
        net = build_network(cfg)
        net.load_state_dict(load_file(str(p)))
        net.eval().to(dev)
        if getattr(dev, "type", str(dev)) == "cpu":   # oneDNN's convolutions are twice as fast on NHWC here
            net.to(memory_format=torch.channels_last)
        _CACHE[key] = (net, cfg, dev)
    return _CACHE[key]


def notes_between(notes_per_part: Sequence[Sequence[tuple[float, float, int]]], t0_s: float, t1_s: float,
                  margin_s: float = 0.0) -> list[list[tuple[float, float, int]]]:
    """Each part's notes (onset_s, offset_s, midi) sounding within [t0_s - margin_s, t1_s + margin_s],
    with times from t0_s (a chunk's own time line)."""
    return [[(on - t0_s, off - t0_s, m) for on, off, m in part if off > t0_s - margin_s and on < t1_s + margin_s]
            for part in notes_per_part]


def chunk_bounds(n: int, sr: int, chunk_s: float = CHUNK_S, overlap_s: float = OVERLAP_S) -> list[tuple[int, int]]:
    """Sample ranges of the chunks: `chunk_s` long (the last up to one hop longer), each starting about
    `chunk_s - overlap_s` after the one before, on the STFT's hop grid."""
    L, O = int(chunk_s * sr), int(overlap_s * sr)
    if n <= L:
        return [(0, n)]
    # starts on the STFT's hop grid, so a chunk's frames are frames of the whole recording
    starts = [a - a % HOP for a in range(0, n - L, L - O)] + [max(0, n - L) - max(0, n - L) % HOP]
    starts = sorted(set(starts))
    return [(a, min(n, a + L)) for a in starts[:-1]] + [(starts[-1], n)]   # the last one ends at the end


def crossfade_weights(bounds: list[tuple[int, int]], n: int) -> list[np.ndarray]:
    """Per chunk, its weight over its samples: linear ramps over the overlaps, summing to one everywhere."""
    cover = np.zeros(n, np.float32)
    ramps = []
    for i, (a, b) in enumerate(bounds):
        w = np.ones(b - a, np.float32)
        if i > 0:
            pa, pb = bounds[i - 1]
            ov = max(0, pb - a)
            if ov:
                w[:ov] = np.linspace(0, 1, ov + 2, dtype=np.float32)[1:-1]
        if i + 1 < len(bounds):
            na, nb = bounds[i + 1]
            ov = max(0, b - na)
            if ov:
                w[-ov:] = np.minimum(w[-ov:], np.linspace(1, 0, ov + 2, dtype=np.float32)[1:-1])
        ramps.append(w)
        cover[a:b] += w
    return [w / cover[a:b] for w, (a, b) in zip(ramps, bounds)]


def run_chunked(y: np.ndarray, n_parts: int, fn: Callable[[np.ndarray, float], np.ndarray],
                chunk_s: float = CHUNK_S, overlap_s: float = OVERLAP_S, sr: int = SR,
                progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None
                ) -> np.ndarray:
    """(parts, samples) stems of `y` from fn(segment, start_s) -> (parts, len(segment)) per chunk,
    cross-faded (see module docstring)."""
    bounds = chunk_bounds(len(y), sr, chunk_s, overlap_s)
    weights = crossfade_weights(bounds, len(y))
    out = np.zeros((n_parts, len(y)), np.float32)
    for i, ((a, b), w) in enumerate(zip(bounds, weights)):
        if cancel is not None and cancel():
            raise InterruptedError("Separation cancelled.")
        out[:, a:b] += (fn(y[a:b], a / sr) * w[None, :]).astype(np.float32)
        if progress is not None:
            progress((i + 1) / len(bounds))
    return out


class StretchMasks:
    """The NMF baseline's masks (parts, N_BINS + 1, frames) of a recording on stretches of NMF_STRETCH_S (its
    templates need long stretches), computed when a chunk first needs them and dropped once the chunks have
    passed them, so a chunk holds at most three (two, and the last stretch, which ends at the recording's end
    and so overlaps the one before): 21 MB each for four parts, where a 10-minute recording's whole masks
    would be 220 MB.
    Chunks must ask in time order. Each frame comes from the last stretch starting at or before it."""

    def __init__(self, y: np.ndarray, notes_per_part, cancel: Callable[[], bool] | None = None):
        self.y, self.notes, self.cancel = y, notes_per_part, cancel
        self.bounds = chunk_bounds(len(y), SR, NMF_STRETCH_S, 0.0)
        self.starts = np.array([a // HOP for a, _ in self.bounds])
        self.held: dict[int, np.ndarray] = {}

    def _stretch(self, k: int) -> np.ndarray:
        if k not in self.held:
            import librosa

            from musicdesk.separate.nmf import part_masks

            a, b = self.bounds[k]
            X = np.abs(librosa.stft(self.y[a:b], n_fft=N_FFT, hop_length=HOP))
            M = part_masks(X, SR, notes_between(self.notes, a / SR, b / SR), cancel=self.cancel)
            self.held[k] = M.astype(np.float16)
        return self.held[k]

    def frames(self, f0: int, n: int) -> np.ndarray:
        """(parts, N_BINS + 1, n) float32 masks of frames [f0, f0 + n); 1 / parts past the recording's end."""
        P = len(self.notes)
        out = np.full((P, N_BINS + 1, n), 1.0 / P, np.float32)
        k0 = max(0, int(np.searchsorted(self.starts, f0, side="right")) - 1)
        for k in list(self.held):              # stretches the chunks have passed
            if k < k0:
                del self.held[k]
        for k in range(k0, len(self.bounds)):
            lo = max(f0, int(self.starts[k]))
            hi = f0 + n if k + 1 == len(self.bounds) else min(f0 + n, int(self.starts[k + 1]))
            if lo >= f0 + n:
                break
            if hi <= lo:
                continue
            M = self._stretch(k)
            g = np.arange(lo, hi) - int(self.starts[k])
            ok = g < M.shape[2]
            out[:, :, lo - f0:hi - f0][:, :, ok] = M[:, :, g[ok]]
        return out


def separate_segment(y: np.ndarray, start_s: float, notes_per_part: Sequence[Sequence[tuple[float, float, int]]],
                     net, cfg: ModelConfig, device, wiener: bool = False, nmf_masks: np.ndarray | None = None,
                     precision: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """((parts, len(y)) stems, (parts, STFT frames) activity in [0, 1]) of one segment starting at
    `start_s` in the recording."""
    import librosa
    import torch

    X = librosa.stft(np.asarray(y, np.float32), n_fft=N_FFT, hop_length=HOP)       # (1025, T)
    T = X.shape[1]
    Tp = int(np.ceil(T / TIME_MULTIPLE) * TIME_MULTIPLE)
    mag = np.abs(X[:N_BINS])
    mix_in = np.pad(mixture_input(mag), ((0, 0), (0, Tp - T)))
    mine = notes_between(notes_per_part, start_s, start_s + len(y) / SR, margin_s=1.0)
    pri = [prior_channels(part, Tp, cfg) for part in mine]
    args = [torch.from_numpy(mix_in[None]).to(device), torch.from_numpy(np.stack(pri)[None]).to(device)]
    if cfg.nmf_input:
        from musicdesk.separate.nmf import part_masks

        if nmf_masks is not None:   # the NMF of long stretches (StretchMasks) on this segment's T frames
            nm = np.asarray(nmf_masks[:, :N_BINS, :T], np.float32)
            nm = np.pad(nm, ((0, 0), (0, 0), (0, T - nm.shape[2])), constant_values=1.0 / len(nm))
        else:
            nm = part_masks(np.abs(X), SR, mine)[:, :N_BINS].astype(np.float32)
        nm = np.pad(nm, ((0, 0), (0, 0), (0, Tp - T)), constant_values=1.0 / len(nm))
        args.append(torch.from_numpy(nm[None]).to(device))
    with torch.no_grad(), autocast(device, precision):
        masks, act = net(*args)
    M = masks[0, :, :, :T].float().cpu().numpy()                                      # (P, 1024, T)
    A = torch.sigmoid(act[0, :, :T]).float().cpu().numpy()
    M = np.concatenate([M, M[:, -1:]], axis=1)                                         # the Nyquist bin
    if wiener:
        import norbert

        v = (M * np.abs(X)[None]) ** 2                                                 # (P, F, T) power
        Y = norbert.wiener(np.transpose(v, (2, 1, 0))[:, :, None, :], X.T[:, :, None], iterations=1)
        S = np.transpose(Y[:, :, 0, :], (2, 1, 0))                                     # (P, F, T)
    else:
        S = M * X[None]
    return np.stack([librosa.istft(s, hop_length=HOP, n_fft=N_FFT, length=len(y)) for s in S]), A


def separate_network(y: np.ndarray, notes_per_part: Sequence[Sequence[tuple[float, float, int]]],
                     device: str | None = None, weights: str | Path | None = None, chunk_s: float = CHUNK_S,
                     progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None,
                     activity_hop_s: float | None = None, precision: str = "auto"):
    """(parts, samples) float32 stems of `y` (mono, 22050 Hz) from each part's aligned notes; with
    `activity_hop_s`, also the activity head's (parts, frames) activity on that grid: (stems, activity).
    `precision` (PRECISIONS) is the U-Net body's: "auto" is bfloat16 where that is fast (`fast_bfloat16`)."""
    net, cfg, dev = load_network(device, weights)
    y = np.asarray(y, np.float32)
    pieces: list[tuple[float, np.ndarray]] = []

    stretches = StretchMasks(y, notes_per_part, cancel) if cfg.nmf_input else None

    def one(seg: np.ndarray, t0: float) -> np.ndarray:
        nm = None
        if stretches is not None:
            f0 = int(round(t0 * SR / HOP))
            nm = stretches.frames(f0, 1 + len(seg) // HOP)
        st, act = separate_segment(seg, t0, notes_per_part, net, cfg, dev, nmf_masks=nm, precision=precision)
        pieces.append((t0, act))
        return st

    stems = run_chunked(y, len(notes_per_part), one, chunk_s=chunk_s, progress=progress, cancel=cancel)
    stems += (y - stems.sum(axis=0)) / len(stems)   # rounding residue, in equal shares
    if activity_hop_s is None:
        return stems
    # the chunks' activity on one grid, cross-faded with the chunks' own weights
    n_grid = int(np.ceil(len(y) / SR / activity_hop_s))
    grid = np.arange(n_grid) * activity_hop_s
    bounds = chunk_bounds(len(y), SR, chunk_s, OVERLAP_S)
    weights = crossfade_weights(bounds, len(y))
    act = np.zeros((len(notes_per_part), n_grid), np.float32)
    for (t0, a), (lo, hi), w in zip(pieces, bounds, weights):
        sel = (grid >= lo / SR) & (grid < hi / SR)
        ft = t0 + np.arange(a.shape[1]) * HOP / SR
        ws = w[np.clip(((grid[sel] - lo / SR) * SR).astype(int), 0, len(w) - 1)]
        for k in range(len(a)):
            act[k, sel] += ws * np.interp(grid[sel], ft, a[k])
    act[:, silent_frames(y, grid, activity_hop_s)] = 0.0
    return stems, act


SILENCE_DB = -60.0   # frames this far below the recording's loud level (95th percentile) are silent


def silent_frames(y: np.ndarray, times_s: np.ndarray, hop_s: float, silence_db: float = SILENCE_DB) -> np.ndarray:
    """Per time in `times_s`, whether the recording (22050 Hz) is silent over the `hop_s` from there:
    no part plays where nothing sounds, whatever the activity head (which sees only a floor there) says."""
    n = max(1, int(round(hop_s * SR)))
    idx = np.clip((np.asarray(times_s) * SR).astype(int), 0, max(0, len(y) - 1))
    c = np.concatenate([[0.0], np.cumsum(np.asarray(y, np.float64) ** 2)])
    hi = np.minimum(idx + n, len(y))
    power = (c[hi] - c[idx]) / np.maximum(hi - idx, 1)
    db = 10 * np.log10(power + 1e-20)
    return db < np.percentile(db, 95) + silence_db
