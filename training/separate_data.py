"""Training data of the separation network (issue 20): four-part chorales played by simulated ensembles,
rendered with FluidSynth, as short excerpts with each part's stem and its notes.

- Scores: music21's Bach chorales minus all ten of Bach10 (by BWV number and by melody:
  training/chorale_player.load_chorale_parts), split into train and validation by piece.
- Players: training/ensemble.py (a shared pulse with tempo drift, ritardandi, fermata holds and breaths;
  each player's onset scatter, tuning and dynamics).
- Instruments: a pool per voice (strings, woodwinds, brass, saxophones, voice; training/ensemble.POOLS),
  sometimes the violin-clarinet-saxophone-bassoon line-up; every installed General MIDI soundfont;
  vibrato through the modulation wheel at a random depth per player.
- Room and microphone: one room per take (a synthetic impulse response, training/room.py), each player at
  their own distance (direct-to-reverberant ratio), a tilt EQ, stem gains from -9 to 0 dB; the mixture is
  the exact sum of the stems plus faint noise.

Each excerpt keeps the notes as played (rows of excerpt, onset_s, offset_s, midi, part); the training loop jitters them,
so the network learns to use a score that a real alignment gets only roughly right.

    .venv/bin/python -m training.separate_data [--takes 200] [--excerpts 6] [--seconds 4]
Writes training/cache/separate/{train,val}-NNNN.npz (git-ignored); deterministic given --seed.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from musicdesk.synth import available_soundfonts, render_notes
from training.ensemble import BACH10_PROGRAMS, chorales, perform_ensemble

SR = 22050
OUT = Path(__file__).resolve().parent / "cache" / "separate"
VAL_EVERY = 10          # every 10th chorale is a validation piece


def _room_stems(stems: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import butter, fftconvolve, sosfilt

    from training.room import impulse_response

    rt60 = float(rng.uniform(0.15, 0.9))
    tilt_db = float(rng.uniform(-6.0, 6.0))
    out = np.empty_like(stems)
    for k, s in enumerate(stems):
        ir = impulse_response(SR, rng, rt60_s=rt60, drr_db=float(rng.uniform(0.0, 15.0)))
        y = fftconvolve(s.astype(np.float64), ir)[:len(s)]
        low = sosfilt(butter(1, 1000.0, "lowpass", fs=SR, output="sos"), y)
        out[k] = low * 10.0 ** (-tilt_db / 40.0) + (y - low) * 10.0 ** (tilt_db / 40.0)
    return out


def render_take(parts, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(mixture (n,), stems (4, n), notes per part as (k, 3) arrays onset_s, offset_s, midi)."""
    programs = BACH10_PROGRAMS if rng.random() < 0.25 else None
    take = perform_ensemble(parts, rng, lead_s=float(rng.uniform(0.2, 1.0)), programs=programs)
    fonts = available_soundfonts()
    sf2 = fonts[int(rng.integers(len(fonts)))]
    raw = [render_notes(notes, prog, sr=SR, soundfont=sf2, modulation=int(rng.choice([0, 0, 20, 40, 70]))).samples
           for notes, prog in zip(take.notes, take.programs)]
    n = max(len(r) for r in raw)
    stems = np.stack([np.pad(r, (0, n - len(r))) for r in raw]).astype(np.float64)
    stems *= 10 ** (rng.uniform(-9, 0, (len(stems), 1)) / 20)
    if rng.random() < 0.8:
        stems = _room_stems(stems, rng)
    mix = stems.sum(axis=0)
    g = rng.uniform(0.3, 0.9) / (np.abs(mix).max() + 1e-9)
    stems *= g
    mix = stems.sum(axis=0) + rng.standard_normal(n) * 10 ** (rng.uniform(-75, -55) / 20)
    notes = [np.array([(x.onset_s, x.offset_s, x.midi) for x in part], float) for part in take.notes]
    return mix.astype(np.float32), stems.astype(np.float32), notes


def excerpts(mix, stems, notes, rng, n: int, seconds: float):
    """n random excerpts (mostly where the ensemble plays), notes shifted to each excerpt's time."""
    L = int(seconds * SR)
    start_min = int(max(0.0, min(x[0, 0] for x in notes) - 0.5) * SR)
    hi = max(start_min + 1, len(mix) - L)
    for _ in range(n):
        a = int(rng.integers(start_min, hi))
        t0, t1 = a / SR, (a + L) / SR
        kept = []
        for k, x in enumerate(notes):
            sel = (x[:, 1] > t0) & (x[:, 0] < t1)
            y = x[sel].copy()
            y[:, :2] -= t0
            kept.append(np.column_stack([y, np.full(len(y), k)]))
        yield (np.clip(mix[a:a + L], -1, 1), np.clip(stems[:, a:a + L], -1, 1), np.concatenate(kept), a)


def whole_take_nmf(split: str, jitter_seed: int, chorale_count: int = 150, seed: int = 0,
                   n_excerpts: int = 6, seconds: float = 4.0, out_dir: Path = OUT) -> Path:
    """The NMF baseline's masks for every excerpt of `split`, computed as at inference: on the whole take
    (re-rendered from its seed), with the take's notes jittered once (training/train_separate.jitter), then
    cut at each excerpt's frames. Writes nmf-whole-{split}.npz (masks (excerpts, parts, 1024, frames) uint8
    x 255; rows excerpt, onset_s, offset_s, midi, part of the jittered notes on each excerpt's time line), in
    the order training/train_separate.load_split reads the excerpts."""
    import glob

    import librosa

    from musicdesk.separate.model import HOP, N_BINS, N_FFT
    from musicdesk.separate.nmf import part_masks
    from musicdesk.separate.predict import notes_between
    from training.train_separate import jitter

    pieces = chorales(chorale_count, 0)
    masks, rows = [], []
    t_start = time.time()
    files = sorted(glob.glob(str(out_dir / f"{split}-*.npz")))
    for n_file, f in enumerate(files):
        i = int(Path(f).stem.split("-")[1])
        z = np.load(f)
        for attempt in range(3):   # FluidSynth's render is not always bit-exact under load: check, retry
            rng = np.random.default_rng([seed, i])
            mix, stems, notes = render_take(pieces[i % len(pieces)], rng)
            ex = list(excerpts(mix, stems, notes, rng, n_excerpts, seconds))
            err = float(np.abs(np.stack([e[1] for e in ex]).astype(np.float16).astype(np.float32)
                               - z["stems"].astype(np.float32)).max())
            if err <= 1e-3:
                break
            print(f"{f}: the re-rendered take differs from the stored one (max {err:.4f}), attempt {attempt + 1}",
                  flush=True)
        else:   # still close (a few thousandths at most so far): its NMF is still that take's
            print(f"{f}: using the closest re-render (max {err:.4f})", flush=True)
        rows_take = np.concatenate([np.column_stack([x, np.full(len(x), k)]) for k, x in enumerate(notes)])
        given = jitter(rows_take, np.random.default_rng([jitter_seed, i]), len(notes))
        M = part_masks(np.abs(librosa.stft(mix, n_fft=N_FFT, hop_length=HOP)), SR, given)[:, :N_BINS]
        for e in ex:
            a, L = e[3], len(e[0])
            at = a / HOP + np.arange(1 + L // HOP)          # the excerpt's frames on the take's frame grid
            lo = np.clip(np.floor(at).astype(int), 0, M.shape[2] - 1)
            hi = np.clip(lo + 1, 0, M.shape[2] - 1)
            w = (at - np.floor(at))[None, None, :]
            cut = M[:, :, lo] * (1 - w) + M[:, :, hi] * w
            j = len(masks)
            masks.append(np.round(cut * 255).astype(np.uint8))
            rows += [(j, on, off, m, k) for k, part in enumerate(notes_between(given, a / SR, (a + L) / SR))
                     for on, off, m in part]
        if n_file % 10 == 0:
            print(f"{split}: {n_file + 1}/{len(files)} takes, {time.time() - t_start:.0f} s", flush=True)
    out = out_dir / f"nmf-whole-{split}.npz"
    np.savez(out, masks=np.stack(masks), rows=np.array(rows, float))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=200)
    ap.add_argument("--excerpts", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--chorales", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--whole-nmf", action="store_true",
                    help="write the NMF inputs computed on whole takes (nmf-whole-{train,val}.npz) and stop")
    a = ap.parse_args()
    if a.whole_nmf:
        for split, js in (("val", 2), ("train", 1)):
            if (OUT / f"nmf-whole-{split}.npz").is_file():
                continue
            print(whole_take_nmf(split, js, a.chorales, a.seed, a.excerpts, a.seconds), flush=True)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    pieces = chorales(a.chorales, 0)
    print(f"{len(pieces)} chorales ({len(pieces[::VAL_EVERY])} for validation)", flush=True)
    t0 = time.time()
    for i in range(a.takes):
        k = i % len(pieces)
        split = "val" if k % VAL_EVERY == 0 else "train"
        f = OUT / f"{split}-{i:04d}.npz"
        if f.is_file():
            continue
        rng = np.random.default_rng([a.seed, i])
        mix, stems, notes = render_take(pieces[k], rng)
        ex = list(excerpts(mix, stems, notes, rng, a.excerpts, a.seconds))
        np.savez(f, mix=np.stack([e[0] for e in ex]).astype(np.float16),
                 stems=np.stack([e[1] for e in ex]).astype(np.float16),
                 notes=np.concatenate([np.column_stack([np.full(len(e[2]), j), e[2]]) for j, e in enumerate(ex)]),
                 piece=pieces[k][0].name)
        if i % 10 == 0:
            print(f"{i + 1}/{a.takes} takes, {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
