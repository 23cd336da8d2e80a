"""Choose the numbers of the inpainting fill rule (musicdesk/melody/inpaint.py FillRule, FILL_RULE) on
the validation windows, never the test ones.

    python -m training.inpaint_choice

For each rule of a grid (a bonus for every known measure against the decoded mean; the phrase prior for a
known measure 4 and 8 measures away, in nats), the token accuracy on the held-out validation windows
(16 measures, 2-6 missing) of the fill `choose_fills` makes with the shipped AR-VAE and LatentRNN.
Writes training/results/melody-inpaint-choice.json; the best rule is the one to set in FILL_RULE.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import sys
from pathlib import Path

from musicdesk.melody.inpaint import FillRule
from training.train_inpaint import evaluate
from training.train_melody import DATA, ROOT

COPY_BONUS = (-1000.0, -15.0, -5.0, 0.0, 5.0, 15.0, 30.0)
BONUS_4 = (0.0, 5.0, 10.0, 20.0, 30.0, 50.0)
BONUS_8 = (0.0, 5.0, 10.0, 20.0, 30.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(ROOT / "training" / "results" / "melody-inpaint-choice.json"))
    args = ap.parse_args(argv)
    from musicdesk.melody.inpaint import load_inpainter
    from musicdesk.melody.weights import load

    vae, _ = load("arvae")
    rnn, _ = load_inpainter()
    rules = tuple(FillRule(m, ((4, b4), (8, b8))) for m, b4, b8 in itertools.product(COPY_BONUS, BONUS_4, BONUS_8))
    res = evaluate(vae.eval(), rnn, Path(args.data), split_code=1, rules=rules)
    ranked = sorted(res["choice_by_rule"], key=lambda c: -c["token_accuracy"])
    out = {"split": "validation", "cases": res["cases"], "best": ranked[0], "by_rule": res["choice_by_rule"],
           "baselines": {k: res[k]["token_accuracy"] for k in ("latent_rnn", "repeat_last", "interpolate", "copy_4_before")},
           "command": "python -m training.inpaint_choice", "date": _dt.date.today().isoformat()}
    Path(args.out).write_text(json.dumps(out, indent=1))
    for c in ranked[:8]:
        print(f"{c['rule']}: token accuracy {c['token_accuracy']:.4f}, copied {100 * c['copied_share']:.0f}%")
    plain = [c for r, c in zip(rules, res["choice_by_rule"]) if all(b == 0 for _, b in r.phrase_bonus_nats)]
    for c in plain:
        print(f"no phrase prior, copy bonus {c['rule']['copy_bonus_nats']:g}: {c['token_accuracy']:.4f}")
    print("baselines: " + ", ".join(f"{k} {a:.4f}" for k, a in out["baselines"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
