"""The separation network against the NMF baseline on rendered validation chorales (pieces never trained
on; training/separate_data.py's validation split), full takes through `separate()` with our alignment.
BSS Eval v3 (mir_eval). What design choices are made on; never the evaluation recordings.

    .venv/bin/python -m training.separate_eval [--n 4] [--weights W.safetensors]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from musicdesk.separate.core import separate
from training.chorale_player import to_score
from training.separate_data import VAL_EVERY, chorales, render_take


def main() -> int:
    import mir_eval

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--weights", help="these network weights instead of models/separate_iass.safetensors")
    a = ap.parse_args()
    if a.weights:
        from pathlib import Path

        import musicdesk.separate.predict as predict

        predict.weights_path = lambda: Path(a.weights)
    pieces = chorales(150, 0)[::VAL_EVERY][:a.n]
    out: dict[str, list] = {"nmf": [], "network": [], "mixture": []}
    times: dict[str, float] = {"nmf": 0.0, "network": 0.0}
    for i, parts in enumerate(pieces):
        rng = np.random.default_rng([77, i])
        mix, stems, _ = render_take(parts, rng)
        scores = [to_score(p) for p in parts]
        res = {}
        for meth in ("nmf", "network"):
            t0 = time.perf_counter()
            res[meth] = separate(mix, 22050, scores, method=meth, alignment=res["nmf"].alignment if meth == "network" else None)
            times[meth] += time.perf_counter() - t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            keep = np.flatnonzero(np.abs(stems).max(axis=1) > 1e-4)
            for meth, est in (("nmf", res["nmf"].stems), ("network", res["network"].stems), ("mixture", np.tile(mix, (4, 1)))):
                sdr, *_ = mir_eval.separation.bss_eval_sources(stems[keep], est[keep], compute_permutation=False)
                out[meth].append(sdr.tolist())
        print(parts[0].name, {k: round(float(np.mean(v[-1])), 2) for k, v in out.items()}, flush=True)
    summary = {k: float(np.mean([np.mean(x) for x in v])) for k, v in out.items()}
    print(json.dumps({"mean_sdr_v3": summary, "seconds": times}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
