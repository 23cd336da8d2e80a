"""Train an assessment network on the generated takes (see training/make_data.py).

    python -m training.train --data training/cache/fba --model siconvnet --seeds 0 1 2 [--epochs 300]

Reference settings (biboamy/FBA-Fall19): SGD, lr 0.05, momentum 0.9, weight decay 1e-4, lr divided by
(2 * (epoch // 70) + 1), batch 32, random chunks of 2000 frames, mean-squared error. Early stopping on
the validation loss. Every seed is evaluated on the held-out test split (unseen melodies and
instruments); the seed with the best validation R² is shipped to models/assess-NAME.safetensors and all
figures go to training/results/NAME.json (the model card is made from it by training/model_card.py).
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from musicdesk.assess.features import (DELTA_FEATURE_NAMES, MIDI_SCALE, AssessInput, build_input, delta_channels,
                                       distance_image, score_onset_frames)
from musicdesk.assess.models import CRITERIA, MIN_FRAMES, build, run
from musicdesk.assess import weights as W
from musicdesk.assess.predict import input_options

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "training" / "results"


@dataclass
class Split:
    """One split of the generated data, model inputs ready."""

    inputs: list[AssessInput]
    labels: np.ndarray        # (N, 3) in CRITERIA order
    rule: np.ndarray          # (N, 3) the rule-based ratings of musicdesk's report
    meta: list[dict]


def _cache_file(data: Path, split: str, note_onsets: str = "dtw") -> Path:
    return data / f"{split}.features{'' if note_onsets == 'dtw' else '-' + note_onsets}.npz"


def load_split(data: Path, split: str, with_distmat: bool, limit: int | None = None, note_onsets: str = "dtw") -> Split:
    """Read OUT/<split>/*.npz, align scores (cached in OUT/<split>.features.npz). `note_onsets`: where
    note_timing takes each note's onset: the DTW path's note starts ("dtw"), or musicdesk's aligner's
    ("aligner": the takes' note_onsets_s, which training.make_data stores; a design option: the app
    feeds the DTW path's, and musicdesk.assess.weights.load refuses weights trained so)."""
    files = sorted((data / split).glob("*.npz"))
    if limit:
        files = files[:limit]
    if not files:
        raise SystemExit(f"No takes in {data / split}; run `python -m training.make_data` first.")
    cache = _cache_file(data, split, note_onsets)
    names = [f.name for f in files]
    c = None
    if cache.exists():
        c = np.load(cache)
        if list(c["names"]) != names:
            c = None
        if c is not None and "note_timing" not in c.files:
            c = None
    if c is None:
        contours, aligned, scores, labels, rule, timing, note_timing = [], [], [], [], [], [], []
        for f in files:
            z = np.load(f)
            onsets = score_onset_frames(z["score_notes"][:, 1]) if "score_notes" in z.files else None
            if note_onsets != "dtw" and "note_onsets_s" not in z.files:
                raise SystemExit(f"{f} has no aligner onsets: remake the data with `python -m training.make_data`.")
            inp = build_input(z["contour_midi"], z["score_midi"], onsets, with_distmat=False,
                              **input_options({"note_onsets": note_onsets},
                                              z["note_onsets_s"] if note_onsets != "dtw" else None,
                                              z["score_notes"][:, 1] if "score_notes" in z.files else None))
            contours.append(inp.contour_midi)
            aligned.append(inp.aligned_score_midi)
            timing.append(inp.timing_s)
            note_timing.append(inp.note_timing_s)
            scores.append(z["score_midi"].astype(np.float32))
            labels.append(z["labels"])
            rule.append(z["rule_ratings"])
        off = np.cumsum([0] + [len(x) for x in contours])
        soff = np.cumsum([0] + [len(x) for x in scores])
        np.savez(cache, names=np.array(names), contour=np.concatenate(contours), aligned=np.concatenate(aligned),
                 off=off, score=np.concatenate(scores), soff=soff, labels=np.stack(labels), rule=np.stack(rule),
                 timing=np.concatenate(timing), note_timing=np.concatenate(note_timing))
        c = np.load(cache)
    c = {k: c[k] for k in c.files}   # an NpzFile decompresses on every access: read each array once
    off, soff = c["off"], c["soff"]
    dm = None
    if with_distmat:
        dcache = data / f"{split}.distmat.npy"
        if dcache.exists() and np.load(dcache, mmap_mode="r").shape[0] == len(files):
            dm = np.load(dcache)
        else:
            dm = np.stack([np.round(255 * distance_image(c["contour"][off[i]:off[i + 1]],
                                                          c["score"][soff[i]:soff[i + 1]])).astype(np.uint8)
                           for i in range(len(files))])
            np.save(dcache, dm)
    inputs = [AssessInput(c["contour"][off[i]:off[i + 1]], c["aligned"][off[i]:off[i + 1]],
                          None if dm is None else dm[i].astype(np.float32) / 255.0, c["timing"][off[i]:off[i + 1]],
                          c["note_timing"][off[i]:off[i + 1]])
              for i in range(len(files))]
    meta = []
    for f in files:
        z = np.load(f)
        meta.append(json.loads(str(z["meta"])))
    return Split(inputs, c["labels"].astype(np.float32), c["rule"].astype(np.float32), meta)


def r2(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column (1 - SS_res / SS_tot)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    ss_res = ((y - p) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - ss_res / np.maximum(ss_tot, 1e-12)


def make_batch(items: list[AssessInput], uses, chunk: int, rng: np.random.Generator, augment: bool,
               features=None) -> dict[str, torch.Tensor]:
    """Random chunks of equal length (the shortest take's, at most `chunk`), transposed together by a
    random -5..+5 semitones when `augment` (the labels do not depend on the key)."""
    out: dict[str, torch.Tensor] = {}
    if "contour" in uses or "delta" in uses:
        L = max(MIN_FRAMES, min(chunk, min(len(x.contour_midi) for x in items)))
        cs, ss, ds = [], [], []
        for x in items:
            c, s, t = x.contour_midi, x.aligned_score_midi, x.timing_s
            nt = x.note_timing_s if x.note_timing_s is not None else np.zeros_like(t)
            if len(c) < L:
                c, s, t, nt = (np.pad(v, (0, L - len(v))) for v in (c, s, t, nt))
            a = int(rng.integers(0, len(c) - L + 1))
            c, s, t, nt = c[a:a + L].copy(), s[a:a + L].copy(), t[a:a + L], nt[a:a + L]
            if augment:
                k = float(rng.integers(-5, 6))
                c[c > 0] += k
                s[s > 0] += k
            cs.append(c * MIDI_SCALE)
            ss.append(s * MIDI_SCALE)
            ds.append(delta_channels(AssessInput(c, s, None, t, nt), features))
        out["contour"] = torch.from_numpy(np.stack(cs)[:, None].astype(np.float32))
        out["score"] = torch.from_numpy(np.stack(ss)[:, None].astype(np.float32))
        out["delta"] = torch.from_numpy(np.stack(ds))
    if "distmat" in uses:
        out["distmat"] = torch.from_numpy(np.stack([x.distmat for x in items])[:, None].astype(np.float32))
    return out


def predict(model: torch.nn.Module, split: Split) -> np.ndarray:
    """Whole-take ratings as the app computes them (windows averaged, clipped to [0, 1])."""
    from musicdesk.assess.predict import rate_inputs

    model.eval()
    return rate_inputs(model, split.inputs)[0]


def train_one(name: str, train: Split, val: Split, *, seed: int, epochs: int, patience: int, lr: float,
              batch_size: int, chunk: int, max_steps: int | None = None, optimizer: str = "sgd", log=print,
              model_options: dict | None = None) -> tuple[torch.nn.Module, dict]:
    """Train with the reference's optimiser; returns the best-on-validation model and its history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build(name, **(model_options or {}))
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    y_tr = torch.from_numpy(train.labels)
    best, best_loss, bad, steps = copy.deepcopy(model.state_dict()), float("inf"), 0, 0
    hist = []
    t0 = time.perf_counter()
    for e in range(epochs):
        for g in opt.param_groups:
            g["lr"] = lr / ((e // 70) * 2 + 1)
        model.train()
        order = rng.permutation(len(train.inputs))
        tot = 0.0
        n_b = max(1, len(order) // batch_size)
        for b in range(n_b):
            idx = order[b * batch_size:(b + 1) * batch_size]
            if len(idx) < 2:   # BatchNorm needs more than one example
                continue
            batch = make_batch([train.inputs[i] for i in idx], model.uses, chunk, rng, augment=True,
                               features=getattr(model, "features", None))
            loss = F.mse_loss(run(model, batch), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
            steps += 1
            if max_steps and steps >= max_steps:
                break
        vp = predict(model, val)
        vloss = float(np.mean((vp - val.labels) ** 2))
        hist.append({"epoch": e + 1, "train_mse": tot / n_b, "val_mse": vloss,
                     "val_r2": [round(float(v), 4) for v in r2(val.labels, vp)]})
        if vloss < best_loss - 1e-5:
            best, best_loss, bad = copy.deepcopy(model.state_dict()), vloss, 0
        else:
            bad += 1
        if (e + 1) % 10 == 0 or e == 0:
            log(f"  {name} seed {seed} epoch {e + 1}: train mse {tot / n_b:.4f}, val mse {vloss:.4f}, "
                f"val R2 {hist[-1]['val_r2']} ({time.perf_counter() - t0:.0f} s)")
        if bad >= patience or (max_steps and steps >= max_steps):
            break
    model.load_state_dict(best)
    model.eval()
    return model, {"history": hist, "best_val_mse": best_loss, "epochs_run": len(hist), "steps": steps,
                   "train_s": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "training" / "cache" / "fba"))
    ap.add_argument("--model", required=True, choices=["pcconvnet", "siconvnet", "jointembednet", "distmatnet", "siconvnet_delta"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--patience", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    ap.add_argument("--limit", type=int, default=None, help="use at most this many takes per split")
    ap.add_argument("--out", default=None, help="weights file (default models/assess-NAME.safetensors)")
    ap.add_argument("--results", default=None, help="results JSON (default training/results/NAME.json)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--features", nargs="+", default=None, choices=list(DELTA_FEATURE_NAMES),
                    help="siconvnet_delta's input channels (default: musicdesk.assess.features.DELTA_FEATURES)")
    ap.add_argument("--separate", nargs="+", default=None, choices=list(DELTA_FEATURE_NAMES),
                    help="siconvnet_delta's input channels that get an encoder of their own "
                         "(default: musicdesk.assess.features.DELTA_SEPARATE)")
    ap.add_argument("--note-onsets", choices=["dtw", "aligner", "aligner_pulses"], default="dtw",
                    help="note_timing from the DTW path's note starts, from musicdesk's aligner's onsets "
                         "(judged against the grids of their neighbours), or from the aligner's onsets judged "
                         "by the report's pulse rule (aligner_pulses; the app can feed both dtw and aligner_pulses)")
    ap.add_argument("--timing-term", action="store_true",
                    help="siconvnet_delta: the rhythm output falls with note_timing's share through a weight that "
                         "cannot turn positive (musicdesk.assess.models.note_timing_share)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    dm = args.model == "distmatnet"
    t = time.perf_counter()
    tr, va, te = (load_split(data, s, dm, args.limit, args.note_onsets) for s in ("train", "val", "test"))
    print(f"data: {len(tr.inputs)} train, {len(va.inputs)} val, {len(te.inputs)} test takes "
          f"({time.perf_counter() - t:.0f} s to load)", flush=True)
    runs = []
    best_model, best_score = None, -np.inf
    for seed in args.seeds:
        model, info = train_one(args.model, tr, va, seed=seed, epochs=args.epochs, patience=args.patience,
                                lr=args.lr, batch_size=args.batch_size, chunk=args.chunk,
                                max_steps=args.max_steps, optimizer=args.optimizer, log=lambda m: print(m, flush=True),
                                model_options={k: v for k, v in (("features", args.features),
                                                                  ("separate", args.separate)) if v is not None}
                                | ({"timing_term": True} if args.timing_term else {}))
        vr2, tr2 = r2(va.labels, predict(model, va)), r2(te.labels, predict(model, te))
        runs.append({"seed": seed, "val_r2": dict(zip(CRITERIA, map(float, vr2))),
                     "test_r2": dict(zip(CRITERIA, map(float, tr2))),
                     **{k: v for k, v in info.items() if k != "history"}, "history": info["history"]})
        print(f"seed {seed}: val R2 {np.round(vr2, 3)}, test R2 {np.round(tr2, 3)}, {info['epochs_run']} epochs, "
              f"{info['train_s']} s", flush=True)
        if vr2.mean() > best_score:
            best_model, best_score, best_seed = model, float(vr2.mean()), seed
    test_r2 = np.array([[r["test_r2"][c] for c in CRITERIA] for r in runs])
    summary = {
        "model": args.model, "criteria": list(CRITERIA), "seeds": args.seeds, "shipped_seed": best_seed,
        "test_r2_mean": dict(zip(CRITERIA, map(float, test_r2.mean(0)))),
        "test_r2_sd": dict(zip(CRITERIA, map(float, test_r2.std(0)))),
        "test_r2_shipped": next(r["test_r2"] for r in runs if r["seed"] == best_seed),
        "rule_based_test_r2": dict(zip(CRITERIA, map(float, r2(te.labels, te.rule)))),
        "n_takes": {"train": len(tr.inputs), "val": len(va.inputs), "test": len(te.inputs)},
        "settings": {k: getattr(args, k) for k in ("epochs", "patience", "optimizer", "lr", "batch_size", "chunk", "max_steps",
                                                    "limit", "features", "separate", "note_onsets", "timing_term")},
        "command": "python -m training.train " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": _dt.date.today().isoformat(), "torch": torch.__version__, "runs": runs,
    }
    out = Path(args.out) if args.out else W.weights_path(args.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    W.save(best_model, out, args.model, {k: summary[k] for k in
                                          ("criteria", "shipped_seed", "test_r2_shipped", "date", "command")}
           | {"chunk_frames": args.chunk, "frame_hop_s": 5 * 128 / 22050.0}
           | ({"note_onsets": args.note_onsets} if args.note_onsets != "dtw" else {})
           | ({"delta_features": list(best_model.features), "delta_separate": list(best_model.separate)}
              if hasattr(best_model, "features") else {})
           | ({"delta_timing_term": True} if getattr(best_model, "timing_term", False) else {}))
    res = Path(args.results) if args.results else RESULTS_DIR / f"{args.model}.json"
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps(summary, indent=1))
    print(f"test R2 over {len(args.seeds)} seeds: mean {np.round(test_r2.mean(0), 3)}, sd {np.round(test_r2.std(0), 3)}; "
          f"shipped seed {best_seed} -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
