"""Fit the melody lab's presets (musicdesk/melody/presets.py) and store them in the AR-VAE's weights file.

    python -m training.fit_presets [--label-share 0.1] [--weights models/melody-arvae.safetensors]

The training measures' fader coordinates (the AR-VAE latent dimensions tied to the attributes) and the
tune type of the measures of a random `label-share` of the labelled training tunes (the rest of the
labels are hidden, as if nobody had labelled them; unlabelled tunes stay unlabelled) go into the
semi-supervised EM, each unlabelled measure counting UNLABELLED_WEIGHTS times a labelled one; the weight
is chosen by the accuracy on the labelled validation measures (0: the labelled measures alone). Reported
on the labelled test measures (tunes never seen): how often the mixture's most likely type is the
tune's, for every weight, every training label, and always guessing the commonest type; beside them
the measure's meter alone (the type's distribution over measure lengths, from the same few labels)
and the mixture with the meter.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training.melody_data import TUNE_TYPES
from training.train_melody import DATA, ROOT

UNLABELLED_WEIGHTS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)   # chosen on the validation split


def fader_coordinates(lab, tokens: np.ndarray) -> np.ndarray:
    z = np.concatenate([lab.encode(tokens[i:i + 4096]) for i in range(0, len(tokens), 4096)])
    return z[:, [lab.dim(a) for a in lab.attributes]]


def fit(data: Path, weights: str | None, label_share: float, seed: int = 0) -> dict:
    from musicdesk.melody.lab import MelodyLab
    from musicdesk.melody.presets import fit_mixture

    lab = MelodyLab(weights=weights)
    d = np.load(data)
    tokens, split, tune, ttype = d["tokens"].astype(np.int64), d["split"], d["tune"], d["tune_type"].astype(int)
    tr, te = split == 0, (split == 2) & (ttype >= 0)
    x_tr, x_te = fader_coordinates(lab, tokens[tr]), fader_coordinates(lab, tokens[te])
    y_tr, y_te = ttype[tr], ttype[te]
    rng = np.random.default_rng(seed)
    labelled_tunes = np.unique(tune[tr][y_tr >= 0])
    keep = set(rng.choice(labelled_tunes, max(len(TUNE_TYPES), int(round(label_share * len(labelled_tunes)))),
                          replace=False).tolist())
    few = np.where(np.isin(tune[tr], list(keep)), y_tr, -1)
    out = {"label_share": label_share, "labelled_tunes_used": len(keep), "labelled_tunes": int(len(labelled_tunes)),
           "train_measures": int(tr.sum()), "labelled_train_measures_used": int((few >= 0).sum()),
           "test_measures": int(te.sum())}
    va = (split == 1) & (ttype >= 0)
    x_va, y_va = fader_coordinates(lab, tokens[va]), ttype[va]
    fits = {w: fit_mixture(x_tr, few, TUNE_TYPES, unlabelled_weight=w) for w in UNLABELLED_WEIGHTS}
    val_acc = {w: float(np.mean(m.classify(x_va) == y_va)) for w, m in fits.items()}
    best_w = max(UNLABELLED_WEIGHTS, key=lambda w: (val_acc[w], -w))
    full = fit_mixture(x_tr[y_tr >= 0], y_tr[y_tr >= 0], TUNE_TYPES, iters=0)
    commonest = np.bincount(y_tr[y_tr >= 0]).argmax()
    out["validation_accuracy_by_unlabelled_weight"] = {str(w): a for w, a in val_acc.items()}
    out["test_accuracy_by_unlabelled_weight"] = {str(w): float(np.mean(m.classify(x_te) == y_te)) for w, m in fits.items()}
    out["unlabelled_weight"] = best_w
    out["test_accuracy"] = {"shipped": float(np.mean(fits[best_w].classify(x_te) == y_te)),
                            "all_training_labels": float(np.mean(full.classify(x_te) == y_te)),
                            "commonest_type": float(np.mean(y_te == commonest))}
    # How much of the tune type the measure's length (the meter) tells alone, and with the faders: the
    # faders are meter-free by design (attributes per beat, or normalised by the measure's weights), and
    # the tune types differ mostly in meter (a jig is in 6/8), which the mixture cannot see.
    beats = d["measure_beats"]
    lengths = np.unique(beats)
    per_type = np.array([[np.sum((few == k) & (beats[tr] == b)) + 1.0 for b in lengths] for k in range(len(TUNE_TYPES))])
    log_meter = np.log(per_type / per_type.sum(axis=1, keepdims=True))[:, np.searchsorted(lengths, beats[te])].T
    out["test_accuracy"]["meter_alone"] = float(np.mean(log_meter.argmax(axis=1) == y_te))
    out["test_accuracy"]["shipped_with_meter"] = float(np.mean(
        (fits[best_w].log_likelihoods(x_te) + log_meter).argmax(axis=1) == y_te))
    semi = fits[best_w]
    out["mixture"] = semi.to_dict() | {"attributes": list(lab.attributes)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--weights", default=None, help="the AR-VAE weights file (default: the shipped one)")
    ap.add_argument("--label-share", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    res = fit(Path(args.data), args.weights, args.label_share, args.seed)
    from musicdesk.melody.weights import load, save, weights_path

    path = Path(args.weights) if args.weights else weights_path("arvae")
    model, info = load("arvae", path)
    info["presets"] = res["mixture"]
    info["presets_fit"] = {k: v for k, v in res.items() if k != "mixture"}
    save(model, path, "arvae", info)
    rp = ROOT / "training" / "results" / "melody-presets.json"
    rp.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "mixture"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
