"""Join trained networks of one kind into one weights file whose ratings are their mean (per criterion,
over all members or the ones named), and measure it beside its members on the validation and test splits.

    python -m training.join_networks --model siconvnet_delta --members A.safetensors B.safetensors ... \\
        [--criterion-members note_accuracy=0 intonation=0] \\
        --out models/assess-siconvnet_delta.safetensors --results training/results/siconvnet_delta.json

Each member is a weights file of `training.train` (one seed each: `--seeds N --out FILE`); each keeps
its own inputs (its "note_onsets"), so members trained on the DTW path's note starts and on the
aligner's onsets can be joined. The app loads the file as musicdesk.assess.models.Ensemble (torch) or
numpy_net.NumpyEnsemble (CPU). Why: members that judge note timing from different onsets miss
different moved notes (training/README.md, "Seventh round"), and averaging them misses fewer.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    import torch

    from musicdesk.assess.models import CRITERIA
    from musicdesk.assess.predict import members_mean, rate_inputs
    from musicdesk.assess.weights import criterion_weights, load, save_ensemble
    from training.train import load_split, r2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="siconvnet_delta")
    ap.add_argument("--members", nargs="+", required=True, help="weights files of training.train, one network each")
    ap.add_argument("--data", default=str(ROOT / "training" / "cache" / "fba"))
    ap.add_argument("--limit", type=int, default=None, help="use at most this many takes per split (smoke runs)")
    ap.add_argument("--criterion-members", nargs="*", default=[], metavar="CRITERION=I,J",
                    help="the members (0-based, in --members order) whose mean rates a criterion (default: all)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args(argv)
    data = Path(args.data)
    members = [load(args.model, p) for p in args.members]
    crit_members = {}
    for item in args.criterion_members:
        crit, _, idx = item.partition("=")
        if crit not in CRITERIA or not idx:
            raise SystemExit(f"--criterion-members {item!r}: give CRITERION=I,J with a criterion of {', '.join(CRITERIA)}")
        crit_members[crit] = [int(i) for i in idx.split(",")]
    w = criterion_weights(len(members), CRITERIA, crit_members)
    used = {c: [i for i, row in enumerate(w) if row[k] > 0] for k, c in enumerate(CRITERIA)}
    splits: dict = {}
    preds = {"val": [], "test": []}
    first = {}   # per split, the first member's (its labels, the report's ratings and the take count)
    for model, info in members:
        mode = info.get("note_onsets", "dtw")
        for s in preds:
            if (s, mode) not in splits:
                splits[(s, mode)] = load_split(data, s, False, args.limit, mode)
            sp = splits[(s, mode)]
            first.setdefault(s, sp)
            preds[s].append(rate_inputs(model, sp.inputs)[0])
    labels = {s: sp.labels for s, sp in first.items()}
    per_member = []
    for i, (p, (_, info)) in enumerate(zip(args.members, members)):
        per_member.append({"weights": Path(p).name, "command": info.get("command", ""), "date": info.get("date", ""),
                           "note_onsets": info.get("note_onsets", "dtw"),
                           "val_r2": dict(zip(CRITERIA, map(float, r2(labels["val"], preds["val"][i])))),
                           "test_r2": dict(zip(CRITERIA, map(float, r2(labels["test"], preds["test"][i]))))})
    val = r2(labels["val"], members_mean(preds["val"], w))
    test = r2(labels["test"], members_mean(preds["test"], w))
    member_test = np.array([[m["test_r2"][c] for c in CRITERIA] for m in per_member])
    te = first["test"]
    command = "python -m training.join_networks " + " ".join(sys.argv[1:] if argv is None else argv)
    today = _dt.date.today().isoformat()
    save_ensemble(args.members, args.out, args.model,
                  {"criteria": list(CRITERIA), "ensemble": "mean", "date": today, "command": command,
                   "test_r2_shipped": dict(zip(CRITERIA, map(float, test)))}, crit_members)
    summary = {
        "model": args.model, "criteria": list(CRITERIA), "ensemble": "mean", "members": per_member,
        "criterion_members": used,
        "seeds": list(range(len(per_member))), "shipped_seed": "the mean of all members",
        "val_r2": dict(zip(CRITERIA, map(float, val))),
        "test_r2_shipped": dict(zip(CRITERIA, map(float, test))),
        "test_r2_mean": dict(zip(CRITERIA, map(float, member_test.mean(0)))),
        "test_r2_sd": dict(zip(CRITERIA, map(float, member_test.std(0)))),
        "rule_based_test_r2": dict(zip(CRITERIA, map(float, r2(te.labels, te.rule)))),
        "n_takes": {s: len(sp.inputs) for s, sp in first.items()} | {"train": len(list((data / "train").glob("*.npz")))},
        "command": command, "date": today, "torch": torch.__version__,
    }
    res = Path(args.results)
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps(summary, indent=1))
    for m in per_member:
        print(f"{m['weights']}: val R2 {np.round(list(m['val_r2'].values()), 3)}, test R2 {np.round(list(m['test_r2'].values()), 3)}")
    print(f"the join of {len(per_member)} ({', '.join(f'{c}: {ix}' for c, ix in used.items())}): val R2 {np.round(val, 3)} (mean {val.mean():.3f}), "
          f"test R2 {np.round(test, 3)} -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
