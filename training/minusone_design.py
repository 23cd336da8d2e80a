"""Design set of minus-one practice without headphones (musicdesk/separate/minusone.py): simulated
chorales rendered with FluidSynth (training/ensemble.py, Bach10's chorales left out), never the
evaluation recordings.

One part is the student: its rendered stem through a close microphone (a room with a strong direct
path). The other parts are the accompaniment the app plays: through a speaker and a room (RT60
0.2-0.7 s, direct-to-reverberant -3 to 8 dB), arriving after a round trip of 20-150 ms, at a level
relative to the student (`--level-db`). The student's take is analysed against its part (musicdesk
analysis, as in the window) from: the student alone; the microphone raw; the microphone cleaned.

    .venv/bin/python -m training.minusone_design [--n 8] [--level-db -6] [--set taps=6 suppress=1]

Prints notes judged correct and onsets within 50 ms of the performed onset, per condition.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.signal import fftconvolve

from training.chorale_player import to_score
from training.ensemble import chorales, perform_ensemble, render_ensemble
from training.room import impulse_response

SR = 44100


def scene(parts, rng: np.random.Generator, level_db: float):
    """(student stem at the mic, accompaniment as played, accompaniment at the mic, round trip s, k,
    performed onsets of part k)."""
    take = perform_ensemble(parts, rng)
    _mix, stems = render_ensemble(take, SR)
    k = int(rng.integers(len(parts)))
    student = fftconvolve(stems[k], impulse_response(SR, rng, rt60_s=float(rng.uniform(0.2, 0.5)),
                                                     drr_db=float(rng.uniform(10, 15))))[:stems.shape[1]]
    played = stems.sum(axis=0) - stems[k]
    delay_s = float(rng.uniform(0.02, 0.15))
    ir = impulse_response(SR, rng, rt60_s=float(rng.uniform(0.2, 0.7)), drr_db=float(rng.uniform(-3, 8)))
    ir = np.concatenate([np.zeros(int(delay_s * SR)), ir])
    echo = fftconvolve(played, ir)[:len(played)]
    rs, re = np.sqrt(np.mean(student ** 2)), np.sqrt(np.mean(echo ** 2))
    echo *= rs / max(re, 1e-12) * 10 ** (level_db / 20)
    onsets = np.array([n.onset_s for n in take.notes[k]])
    return student.astype(np.float32), played.astype(np.float32), echo.astype(np.float32), delay_s, k, onsets


def judge(score, samples: np.ndarray, onsets: np.ndarray) -> tuple[float, float]:
    from musicdesk.analysis import analyze
    from musicdesk.feedback import onsets_s
    from musicdesk.audio import Take

    rep = analyze(score, Take(samples.astype(np.float32), SR)).report
    ok = [x.status == "correct" for x in rep.notes]
    on = onsets_s(rep.notes)
    within = np.abs(on - onsets) <= 0.05
    return 100 * float(np.mean(ok)), 100 * float(np.mean(within))


def main() -> None:
    from musicdesk.separate import minusone

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--level-db", type=float, default=-6.0)
    ap.add_argument("--set", nargs="*", default=[], help="taps=N suppress=0|1")
    args = ap.parse_args()
    opts = dict(s.split("=") for s in args.set)
    taps = int(opts.get("taps", minusone.TAPS))
    suppress = bool(int(opts.get("suppress", 0)))
    rng = np.random.default_rng(args.seed)
    res: dict[str, list] = {"alone": [], "raw": [], "cleaned": []}
    red, dly = [], []
    t0 = time.time()
    for parts in chorales(args.n, seed=args.seed)[:args.n]:
        student, played, echo, delay_s, k, onsets = scene(parts, rng, args.level_db)
        score = to_score(parts[k])
        mic = student + echo
        c = minusone.remove_accompaniment(mic, SR, played, expected_delay_s=delay_s + rng.uniform(-0.02, 0.02),
                                          taps=taps, suppress=suppress)
        red.append(c.echo_reduction_db)
        dly.append(1000 * (c.delay_s - delay_s))
        for name, y in (("alone", student), ("raw", mic), ("cleaned", c.samples)):
            res[name].append(judge(score, y, onsets))
        print(parts[0].name.split("/")[0], k, {n: v[-1] for n, v in res.items()},
              f"delay error {dly[-1]:+.1f} ms, reduction {red[-1]:.1f} dB", flush=True)
    summary = {n: {"correct_pct": float(np.mean([a for a, _ in v])), "onsets_50ms_pct": float(np.mean([b for _, b in v]))}
               for n, v in res.items()}
    print(json.dumps({"level_db": args.level_db, "taps": taps, "suppress": suppress, "n": len(red),
                      "summary": summary, "delay_error_ms_median_abs": float(np.median(np.abs(dly))),
                      "reduction_db_mean": float(np.mean(red)), "seconds": time.time() - t0}, indent=1))


if __name__ == "__main__":
    main()
