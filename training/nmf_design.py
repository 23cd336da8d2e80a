"""Design set of the score-informed NMF baseline (musicdesk/separate/nmf.py): rendered ensembles
(training/ensemble.py), each part separated with its aligned notes (musicdesk.separate.align), scored with
BSS Eval v3 (mir_eval) against the rendered stems. Never the evaluation recordings.

    .venv/bin/python -m training.nmf_design [--n 3] [--set key=value ...]
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from musicdesk.separate.align import align_ensemble
from musicdesk.separate.nmf import NMFParams, separate_nmf
from training.chorale_player import to_score
from training.ensemble import BACH10_PROGRAMS, chorales, perform_ensemble, render_ensemble


def main() -> None:
    import mir_eval

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--room", action="store_true",
                    help="each stem through its own simulated room (training/room.py); the reverberant stems are the references")
    a = ap.parse_args()
    p = dataclasses.replace(NMFParams(), **{s.split("=")[0]: float(s.split("=")[1]) for s in a.set})
    p = dataclasses.replace(p, n_harmonics=int(p.n_harmonics), iterations=int(p.iterations))
    sdr_all, mix_all = [], []
    for k, parts in enumerate(chorales(10, 1)[3:3 + a.n]):   # not the aligner's first design chorales
        rng = np.random.default_rng([11, k])
        take = perform_ensemble(parts, rng, lead_s=1.0, programs=BACH10_PROGRAMS if k % 2 == 0 else None)
        mix, stems = render_ensemble(take, 22050, gains_db=rng.uniform(-6, 0, 4))
        if a.room:
            from training.room import rooms_per_stem

            stems = rooms_per_stem(stems, 22050, np.random.default_rng([11, k, 1]))
            mix = stems.sum(axis=0)
        n = int(a.seconds * 22050)
        al = align_ensemble([to_score(q) for q in parts], mix, 22050)
        notes = [[(x.onset_s, x.offset_s, q.notes[i][2]) for i, x in enumerate(pa.notes)]
                 for pa, q in zip(al.parts, parts)]
        est = separate_nmf(mix[:n], 22050, notes, p)
        ref = stems[:, :n]
        sdr, *_ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
        sdr0, *_ = mir_eval.separation.bss_eval_sources(ref, np.tile(mix[:n], (4, 1)), compute_permutation=False)
        sdr_all.append(sdr)
        mix_all.append(sdr0)
        print(take.name, take.programs, np.round(sdr, 2), "mixture", np.round(sdr0, 2), flush=True)
    print(json.dumps({"sdr_mean": float(np.mean(sdr_all)), "mixture_sdr_mean": float(np.mean(mix_all))}))


if __name__ == "__main__":
    main()
