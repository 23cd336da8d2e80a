"""Design of the slider's choice (musicdesk.melody.lab `MelodyLab.choose`), on validation measures:
does holding the untouched attributes harder, or a cost for changing the rhythm when a pitch slider
moves, keep the family the slider was not asked to change closer to real measures (MGEval-style
overlapped area, benchmarks/mgeval.py), and at what cost to how far the slider reaches?

Each of N validation measures (tunes never trained on; training/melody_data.py's split 1) gets its
slider moved from its own value by -25, -10, +10 and +25% of the slider's range, for note density and
pitch range, in the tune's key, as the lab does. Per setting: pitch and rhythm OA against N other
validation measures, and the reach: the median and mean (clipped to -1..2) of the attribute's move over
the asked move (1: exactly there). Config "hold/keep": HOLD_WEIGHT, and the cost of the share of ticks
whose onsets change when the target is a pitch attribute (0: none, the lab as shipped is 0.1/0).

    .venv/bin/python -m training.vary_choice [--n 300] [--configs 0.1/0,0.1/1,0.5/0,0.5/1]   # ~2 min a config
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

PITCH_ATTRIBUTES = {"pitch_range_semitones", "contour_semitones", "interval_semitones"}
SHARES = (-0.25, -0.1, 0.1, 0.25)


def chooser(hold: float, keep: float):
    """A MelodyLab.choose with HOLD_WEIGHT `hold` and an onset-change cost `keep` for pitch targets."""
    import musicdesk.melody.lab as lab_mod
    from musicdesk.melody.attributes import ATTRIBUTES
    from musicdesk.melody.tokens import HOLD

    def choose(self, cands, targets):
        cost = lab_mod.CHANGE_WEIGHT * (cands.rows != cands.rows[:, :1]).mean(axis=2)
        if cands.out_of_key is not None:
            outside = cands.out_of_key > 0
            outside[:, 0] = False
            cost = cost + lab_mod.OUT_OF_KEY_COST * outside
        for i, a in enumerate(ATTRIBUTES):
            lo, hi = self.value_range(a)
            scale = max(hi - lo, 1e-6)
            if a in targets:
                cost = cost + np.abs(cands.attrs[..., i] - targets[a]) / scale
            else:
                cost = cost + hold * np.abs(cands.attrs[..., i] - cands.attrs[:, :1, i]) / scale
        if keep and all(a in PITCH_ATTRIBUTES for a in targets):
            onsets = cands.rows != HOLD
            cost = cost + keep * (onsets != onsets[:, :1]).mean(axis=2)
        return np.argmin(cost, axis=1)

    return choose


def main(argv=None) -> int:
    import torch
    from mgeval import evaluate_set, family_means, features_of_rows

    import musicdesk.melody.lab as lab_mod
    from musicdesk.melody.attributes import attributes
    from musicdesk.melody.keys import allowed_pitch_classes
    from musicdesk.melody.tokens import decode
    from training.train_melody import DATA

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--configs", default="0.1/0,0.1/1,0.5/0,0.5/1")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    d = np.load(DATA)
    tokens, split, tune, beats = d["tokens"].astype(np.int64), d["split"], d["tune"], d["measure_beats"]
    order = np.random.default_rng(0).permutation(np.flatnonzero(split == 1))
    n = args.n
    ref_idx, real_idx, vary_idx = order[:n], order[n:2 * n], order[2 * n:3 * n]
    lab = lab_mod.MelodyLab()
    ref = features_of_rows(tokens[ref_idx], beats[ref_idx])
    keys: dict[int, frozenset] = {}

    def allowed(t: int) -> frozenset:
        if t not in keys:
            rows = np.flatnonzero(tune == t)
            keys[t] = allowed_pitch_classes(decode(tokens[rows], float(beats[rows[0]])))
        return keys[t]

    fam = family_means(evaluate_set(ref, features_of_rows(tokens[real_idx], beats[real_idx])))
    print(f"real held-out measures: pitch OA {fam['pitch']['oa']:.3f}, rhythm OA {fam['rhythm']['oa']:.3f}")
    shipped = lab_mod.MelodyLab.choose
    try:
        for cfg in args.configs.split(","):
            hold, keep = (float(x) for x in cfg.split("/"))
            lab_mod.MelodyLab.choose = chooser(hold, keep)
            out = []
            for attr in ("note_density", "pitch_range_semitones"):
                lo, hi = lab.value_range(attr)
                for share in SHARES:
                    rows, reach = [], []
                    for i in vary_idx:
                        own = attributes(tokens[i], float(beats[i]))[attr]
                        target = own + share * (hi - lo)
                        r = lab.vary(tokens[i][None], float(beats[i]), {attr: target}, allowed(int(tune[i])))[0]
                        rows.append(r)
                        reach.append((attributes(r, float(beats[i]))[attr] - own) / (target - own))
                    f = family_means(evaluate_set(ref, features_of_rows(np.stack(rows), beats[vary_idx])))
                    out.append(f"{attr} {100 * share:+.0f}%: OA {f['pitch']['oa']:.3f}/{f['rhythm']['oa']:.3f} "
                               f"reach {np.median(reach):.2f}/{np.mean(np.clip(reach, -1, 2)):.2f}")
            print(f"hold {hold:g}, onset cost {keep:g}: " + " | ".join(out), flush=True)
    finally:
        lab_mod.MelodyLab.choose = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
