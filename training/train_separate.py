"""Train the separation network (musicdesk/separate/model.py) on training/separate_data.py's excerpts.

Each excerpt's score as the network gets it: its notes after jitter (onsets +-30 ms per note plus +-20 ms
per part, offsets +-60 ms, 2% of notes dropped: a real alignment is only roughly right), drawn once per
excerpt, and the NMF baseline's masks on that score (computed once, cached). Each step: a batch of
excerpts (the mixture is the exact sum of their stems), a random crop of 96 frames x 512 bins of the STFT
(2048 / 512), every part's prior and NMF mask on the same crop. Loss: L1 between the masked mixture and each
stem on magnitudes (relative to the mixture's mean magnitude), plus 0.1 x binary cross-entropy of the activity head against where each
stem sounds (its frame level within 40 dB of its loudest). Validation: the same loss on fixed crops of the
validation pieces (never trained on). Checkpoints every --every steps; --init resumes.

    .venv/bin/python -m training.train_separate [--minutes 60] [--steps N] [--init CKPT] [--out models/separate_iass]
    .venv/bin/python -m training.train_separate --smoke      # a few steps on two rendered takes (CI)
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from musicdesk.separate.model import HOP, N_BINS, N_FFT, ModelConfig, build_network, prior_channels

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training" / "cache" / "separate"
CROP_T, CROP_F = 96, 512


def load_split(split: str, data_dir: Path = DATA):
    """(stems per excerpt (parts, samples) float16, note rows per excerpt (onset_s, offset_s, midi, part))."""
    stems, notes = [], []
    for f in sorted(glob.glob(str(data_dir / f"{split}-*.npz"))):
        z = np.load(f)
        for j in range(len(z["stems"])):
            stems.append(z["stems"][j])
            notes.append(z["notes"][z["notes"][:, 0] == j][:, 1:])
    return stems, notes


def jitter(rows: np.ndarray, rng: np.random.Generator, n_parts: int) -> list[list[tuple[float, float, int]]]:
    out: list[list[tuple[float, float, int]]] = [[] for _ in range(n_parts)]
    shift = rng.normal(0, 0.02, n_parts)
    for on, off, m, k in rows:
        if rng.random() < 0.02:
            continue
        k = int(k)
        a = on + shift[k] + rng.normal(0, 0.03)
        b = max(a + 0.03, off + shift[k] + rng.normal(0, 0.06))
        out[k].append((a, b, int(m)))
    return out


def nmf_inputs(stems_list, notes_list, seed: int, cache: Path | None = None):
    """Per excerpt: its score as given to the network (the notes jittered once, seeded by the excerpt's
    index, so the NMF channel and the prior channels see the same score) and the NMF baseline's masks
    on that score, (parts, N_BINS, frames) uint8 (x 255). Cached in `cache` when given."""
    from musicdesk.separate.nmf import part_masks

    if cache is not None and cache.is_file():
        z = np.load(cache)
        if len(z["masks"]) == len(stems_list):
            rows = z["rows"]
            return [[[(a, b, int(m)) for _, a, b, m, k in rows[(rows[:, 0] == i) & (rows[:, 4] == p)]]
                     for p in range(stems_list[i].shape[0])] for i in range(len(stems_list))], list(z["masks"])
    import librosa

    given, masks, rows = [], [], []
    for i, (st, nt) in enumerate(zip(stems_list, notes_list)):
        P = st.shape[0]
        g = jitter(nt, np.random.default_rng([seed, i]), P)
        X = librosa.stft(st.astype(np.float32).sum(0), n_fft=N_FFT, hop_length=HOP)
        M = part_masks(np.abs(X), 22050, g)[:, :N_BINS]
        given.append(g)
        masks.append(np.round(M * 255).astype(np.uint8))
        rows += [(i, a, b, m, p) for p, part in enumerate(g) for a, b, m in part]
    if cache is not None:
        np.savez(cache, masks=np.stack(masks), rows=np.array(rows, float))
    return given, masks


def make_batch(stems_list, given_list, masks_list, idx, rng, cfg: ModelConfig, train: bool = True):
    import torch

    P = stems_list[idx[0]].shape[0]
    win = torch.hann_window(N_FFT)
    mixes, targets, priors, acts, nmfs, mags = [], [], [], [], [], []
    f0 = int(rng.choice([0, 128, 256, 384, 512])) if train else 0
    fw = CROP_F if train else N_BINS
    for i in idx:
        s = torch.from_numpy(stems_list[i].astype(np.float32))
        S = torch.stft(s, N_FFT, HOP, window=win, return_complex=True)[:, :N_BINS]   # (P, F, T)
        T = S.shape[-1]
        t0 = int(rng.integers(0, max(1, T - CROP_T))) if train else 0
        tw = CROP_T if train else (T // 16) * 16
        S = S[:, :, t0:t0 + tw]
        X = S.sum(0)
        mag = X.abs()
        ref = torch.quantile(mag.flatten()[::7], 0.99) + 1e-8
        mixes.append(torch.log1p(10 * mag / ref)[f0:f0 + fw])
        mags.append(mag[f0:f0 + fw])
        targets.append(S.abs()[:, f0:f0 + fw])
        dt = t0 * HOP / 22050
        pr = np.stack([prior_channels([(a - dt, b - dt, m) for a, b, m in part], tw, cfg)[f0:f0 + fw]
                       for part in given_list[i]])
        priors.append(torch.from_numpy(pr))
        nmfs.append(torch.from_numpy(masks_list[i][:, f0:f0 + fw, t0:t0 + tw].astype(np.float32) / 255.0))
        level = 10 * torch.log10((S.abs() ** 2).sum(1) + 1e-10)                      # (P, T)
        acts.append(((level > level.amax(1, keepdim=True) - 40) & (level > -60)).float())
    mix = torch.stack(mixes)
    return mix, torch.stack(priors), torch.stack(targets), torch.stack(acts), torch.stack(nmfs), torch.stack(mags)


def loss_fn(net, batch, part_loss: bool = True):
    import torch

    mix_in, priors, target, act_t, nmf, mix_mag = batch
    masks, act = net(mix_in, priors, nmf)
    # the mixture magnitude from the log input is not exact; use the sum of the targets (exact mixture)
    # L1 on magnitudes, relative to the mixture's mean magnitude: weighted by energy as SDR is. An L1 on
    # square-root magnitudes, tried first, did not follow SDR: the NMF-started network had a validation loss
    # of 0.078 after 200 steps (training/logs/train_separate-sqrt-loss.log), above the score-only network's
    # 0.056 after 1,000 (train_separate-prior-only.log), whose SDR is 3 dB below the NMF's
    mix_mag = mix_mag[:, None]
    est = masks * mix_mag
    if part_loss:
        # each part's error relative to that part's own mean magnitude (floored at a tenth of the
        # mixture's), so a quiet part counts as much as a loud one, as in a per-part SDR: with the
        # mixture's scale alone, the NMF-started network lowered that loss (0.112 -> 0.102 on whole-take
        # NMF inputs) while its SDR fell from 9.6 to 7.8 dB on a validation take
        scale = target.mean(dim=(2, 3), keepdim=True) + 0.1 * mix_mag.mean(dim=(1, 2, 3), keepdim=True) + 1e-6
    else:
        scale = mix_mag.mean(dim=(1, 2, 3), keepdim=True) + 1e-6
    sep = ((est - target).abs() / scale).mean()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(act, act_t)
    return sep + 0.1 * bce, float(sep.detach()), float(bce.detach())


def save(net, opt, step: int, out: Path, cfg: ModelConfig, meta: dict) -> None:
    import torch
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out.with_suffix(".safetensors")),
              metadata={"config": json.dumps(cfg.__dict__), "step": str(step)})
    torch.save({"opt": opt.state_dict(), "step": step, "meta": meta}, str(out.with_suffix(".ckpt.pt")))


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--steps", type=int, default=10 ** 9)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--init", help="resume from this checkpoint (the .safetensors; its .ckpt.pt beside it)")
    ap.add_argument("--out", default=str(ROOT / "models" / "separate_iass"))
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--smoke", action="store_true", help="render two takes and train a few steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nmf-input", choices=("whole", "excerpt"), default="whole",
                    help="the NMF channel computed on whole takes, as at inference (training/separate_data.py "
                         "--whole-nmf), or on each 4 s excerpt alone (the first runs; 3 dB worse masks)")
    ap.add_argument("--loss", choices=("part", "mix"), default="part",
                    help="L1 relative to each part's own mean magnitude, or to the mixture's (the first runs)")
    a = ap.parse_args(argv)
    part_loss = a.loss == "part"
    out_given = "--out" in (argv or [])
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    cfg = ModelConfig(channels=(8, 16, 32, 64, 96), nmf_input=True)
    data_dir = Path(a.data)
    if a.smoke:
        import tempfile

        from training import separate_data

        data_dir = Path(tempfile.mkdtemp(prefix="sep-smoke-"))
        pieces = separate_data.chorales(10, 1)[:2]
        for i, parts in enumerate(pieces):
            r = np.random.default_rng([9, i])
            mix, stems, notes = separate_data.render_take(parts, r)
            ex = list(separate_data.excerpts(mix, stems, notes, r, 2, 2.5))
            np.savez(data_dir / f"{'train' if i == 0 else 'val'}-{i:04d}.npz",
                     mix=np.stack([e[0] for e in ex]).astype(np.float16), stems=np.stack([e[1] for e in ex]).astype(np.float16),
                     notes=np.concatenate([np.column_stack([np.full(len(e[2]), j), e[2]]) for j, e in enumerate(ex)]))
        a.steps, a.every, a.batch = 3, 2, 2
        if not out_given:
            a.out = str(data_dir / "smoke")
    tr_s, tr_n = load_split("train", data_dir)
    va_s, va_n = load_split("val", data_dir)
    print(f"{len(tr_s)} training excerpts, {len(va_s)} validation", flush=True)
    caches = {"whole": ("nmf-whole-train.npz", "nmf-whole-val.npz"), "excerpt": ("nmf-train.npz", "nmf-val.npz")}
    tr_c, va_c = (None, None) if a.smoke else (data_dir / c for c in caches[a.nmf_input])
    if a.nmf_input == "whole" and not a.smoke and not (tr_c.is_file() and va_c.is_file()):
        raise SystemExit(f"{tr_c} missing: run `python -m training.separate_data --whole-nmf` first")
    tr_g, tr_m = nmf_inputs(tr_s, tr_n, 1, tr_c)
    va_g, va_m = nmf_inputs(va_s, va_n, 2, va_c)
    print("NMF inputs ready", flush=True)
    net = build_network(cfg)
    opt = torch.optim.Adam(net.parameters(), a.lr)
    step = 0
    out = Path(a.out)
    history: list[dict] = []
    if a.init:
        from safetensors.torch import load_file

        net.load_state_dict(load_file(a.init))
        ck = Path(a.init).with_suffix("").with_suffix(".ckpt.pt")
        if ck.is_file():
            st = torch.load(str(ck), weights_only=False)
            opt.load_state_dict(st["opt"])
            step = int(st["step"])
            history = st["meta"].get("history", [])
        print(f"resumed at step {step}", flush=True)
    vrng = np.random.default_rng(123)
    val_idx = [list(range(i, min(i + 2, len(va_s)))) for i in range(0, min(len(va_s), 24), 2)]
    t_end = time.time() + 60 * a.minutes
    total = step + a.steps if a.steps < 10 ** 9 else None
    t0 = time.time()
    run_loss = []

    def validate() -> float:
        net.eval()
        with torch.no_grad():
            return float(np.mean([loss_fn(net, make_batch(va_s, va_g, va_m, vi, vrng, cfg, train=False), part_loss)[1]
                                  for vi in val_idx]))

    if step == 0:   # the untrained network: the NMF's masks
        history.append({"step": 0, "val_sep": validate(), "minutes": 0.0})
        print(json.dumps(history[-1]), flush=True)
    while step < (total or 10 ** 12) and time.time() < t_end:
        net.train()
        lr = a.lr * (0.5 * (1 + math.cos(math.pi * min(1.0, (time.time() - t0) / (60 * a.minutes))))) if not total else a.lr
        for g in opt.param_groups:
            g["lr"] = max(lr, a.lr * 0.05)
        idx = list(rng.integers(0, len(tr_s), a.batch))
        loss, sep, bce = loss_fn(net, make_batch(tr_s, tr_g, tr_m, idx, rng, cfg), part_loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        run_loss.append(sep)
        if step % a.every == 0 or step == total:
            rec = {"step": step, "train_sep": float(np.mean(run_loss)), "val_sep": validate(),
                   "minutes": (time.time() - t0) / 60}
            history.append(rec)
            run_loss = []
            print(json.dumps(rec), flush=True)
            save(net, opt, step, out, cfg, {"history": history})
    save(net, opt, step, out, cfg, {"history": history})
    print(f"saved {out.with_suffix('.safetensors')} at step {step}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
