"""Choose the inpainting fill rule's margin (musicdesk/melody/inpaint.py COPY_MARGIN_NATS) on the
validation windows, never the test ones.

    python -m training.inpaint_choice

For each margin, the token accuracy on held-out validation windows (16 measures, 2-6 missing) of the
fill `choose_fills` makes with the shipped AR-VAE and LatentRNN: the decoded predicted mean, or the
window's known measure that the decoder finds most likely given that mean when it is at most `margin`
nats less likely. Writes training/results/melody-inpaint-choice.json; the smallest margin within
0.001 of the best accuracy is the one to set in COPY_MARGIN_NATS.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

import numpy as np

from training.train_inpaint import evaluate
from training.train_melody import DATA, ROOT

MARGINS = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0, float("inf"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(ROOT / "training" / "results" / "melody-inpaint-choice.json"))
    args = ap.parse_args(argv)
    from musicdesk.melody.inpaint import load_inpainter
    from musicdesk.melody.weights import load

    vae, _ = load("arvae")
    rnn, _ = load_inpainter()
    res = evaluate(vae.eval(), rnn, Path(args.data), split_code=1, margins=MARGINS)
    accs = {m: v["token_accuracy"] for m, v in res["choice_by_margin"].items()}
    best = max(accs.values())
    chosen = min((float(m) for m, a in accs.items() if a >= best - 1e-3))
    out = {"split": "validation", "cases": res["cases"], "by_margin": res["choice_by_margin"], "chosen_margin_nats": chosen,
           "baselines": {k: res[k]["token_accuracy"] for k in ("latent_rnn", "repeat_last", "interpolate")},
           "command": "python -m training.inpaint_choice", "date": _dt.date.today().isoformat()}
    Path(args.out).write_text(json.dumps(out, indent=1))
    for m, v in res["choice_by_margin"].items():
        print(f"margin {m:>5} nats: token accuracy {v['token_accuracy']:.4f}, copied {100 * v['copied_share']:.0f}%")
    print(f"baselines: " + ", ".join(f"{k} {a:.4f}" for k, a in out["baselines"].items()) + f"; chosen margin {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
