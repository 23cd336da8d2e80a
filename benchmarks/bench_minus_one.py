"""Minus-one practice without headphones, on the real Bach10 players: how well one part is judged when
the other three, played by the app through a speaker, reach the microphone too.

For each piece and part: the student is the part's real solo recording; the accompaniment the app plays
is the sum of the other three real solo recordings; it reaches the microphone through a simulated
speaker and room (training/room.impulse_response: RT60 0.3-0.7 s, direct-to-reverberant 0-8 dB), after
a round trip of 20-150 ms (the app is told the round trip within +-20 ms, as a calibration would), at
`--level-db` against the student (-6 dB: a speaker across the room, the microphone near the player;
0 dB: as loud as the player). The part is then judged against its score (musicdesk analysis, as in the
window) from:

- the student alone (the recording as it is);
- the microphone raw (nothing removed);
- the microphone cleaned by musicdesk.separate.minusone (echo cancellation against what was played);
- the alternative: the part's stem separated from the microphone by the score-informed NMF
  (musicdesk.separate, `auto`), which knows the score but not what was played.

Scored as bench_align scores Bach10: notes judged correct, and onsets within 50 ms of GTNotes.csv.

    .venv/bin/python benchmarks/bench_minus_one.py [--levels -6,0] [--quick] [--no-write]

Writes benchmarks/results/minus_one.md and .json.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench_align import PARTS, ground_truth, pieces  # noqa: E402
from make_results import write_section  # noqa: E402

CONDITIONS = ("alone", "raw", "cleaned", "NMF stem")


def scene(solo: np.ndarray, others: np.ndarray, sr: int, rng: np.random.Generator, level_db: float):
    """(microphone, true round trip s): `others` through a speaker and room into the microphone."""
    from scipy.signal import fftconvolve

    from training.room import impulse_response

    delay_s = float(rng.uniform(0.02, 0.15))
    ir = impulse_response(sr, rng, rt60_s=float(rng.uniform(0.3, 0.7)), drr_db=float(rng.uniform(0.0, 8.0)))
    ir = np.concatenate([np.zeros(int(round(delay_s * sr))), ir])
    echo = fftconvolve(others, ir)[:len(others)]
    echo *= np.sqrt(np.mean(solo ** 2) / max(np.mean(echo ** 2), 1e-20)) * 10 ** (level_db / 20)
    mic = solo + echo
    peak = float(np.abs(mic).max())
    return (mic / peak * 0.9 if peak > 0.9 else mic).astype(np.float32), delay_s


def judge(score, samples: np.ndarray, sr: int, gt: np.ndarray) -> tuple[list[bool], list[float]]:
    from musicdesk.analysis import analyze
    from musicdesk.feedback import onsets_s
    from musicdesk.audio import Take

    ok = ~np.isnan(gt[:, 0])
    if samples is None:                                     # refused: no note judged, no onset found
        return [False] * len(score.notes), [float("nan")] * int(ok.sum())
    rep = analyze(score, Take(np.asarray(samples, np.float32), sr)).report
    on = onsets_s(rep.notes)
    return [x.status == "correct" for x in rep.notes], (on[ok] - gt[ok, 0]).tolist()


def main() -> None:
    from musicdesk.audio import load_take
    from musicdesk.score import load_score
    from musicdesk.separate import minusone
    from musicdesk.separate.core import SeparationError, separate

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="-6,0")
    ap.add_argument("--quick", action="store_true", help="the first piece only")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    levels = [float(v) for v in args.levels.split(",")]
    dirs = pieces()[:1] if args.quick else pieces()
    out: dict = {"date": datetime.date.today().isoformat(), "levels": {}, "pieces": [os.path.basename(d) for d in dirs]}
    clean_s, audio_s = 0.0, 0.0
    for level in levels:
        res = {c: {"correct": [], "onset_err_s": []} for c in CONDITIONS}
        per_part = {p: {c: [] for c in CONDITIONS} for p in PARTS}
        delays, reductions, refused = [], [], []
        rng = np.random.default_rng(21)
        for d in dirs:
            name = os.path.basename(d)
            scores = [load_score(os.path.join(d, f"{name}.mid"), i) for i in range(4)]
            solos = [load_take(os.path.join(d, f"{name}-{p}.flac")) for p in PARTS]
            sr = solos[0].sr
            n = min(len(s.samples) for s in solos)
            refs = np.stack([s.samples[:n] for s in solos]).astype(np.float64)
            for k, p in enumerate(PARTS):
                gt, _ = ground_truth(d, p, scores[k])
                others = refs.sum(axis=0) - refs[k]
                mic, delay_s = scene(refs[k], others, sr, rng, level)
                told_s = delay_s + float(rng.uniform(-0.02, 0.02))
                t0 = time.perf_counter()
                c = minusone.remove_accompaniment(mic, sr, others.astype(np.float32), expected_delay_s=told_s)
                clean_s += time.perf_counter() - t0
                audio_s += n / sr
                delays.append(1000 * (c.delay_s - delay_s))
                reductions.append(c.echo_reduction_db)
                try:
                    stem = separate(mic, sr, scores, method="auto").stems[k]
                except SeparationError as exc:                 # the NMF's wrong-piece check refused it
                    stem = None
                    refused.append(f"{name} {p}: {str(exc).split(':')[0]}")
                for cond, y in (("alone", refs[k]), ("raw", mic), ("cleaned", c.samples), ("NMF stem", stem)):
                    ok, err = judge(scores[k], y, sr, gt)
                    res[cond]["correct"] += ok
                    res[cond]["onset_err_s"] += err
                    per_part[p][cond].append(100 * float(np.mean(ok)))
                print(name, p, level, {cond: round(per_part[p][cond][-1], 1) for cond in CONDITIONS},
                      f"delay error {delays[-1]:+.2f} ms", flush=True)
        summary = {}
        for cond in CONDITIONS:
            e = np.abs(np.array(res[cond]["onset_err_s"], float))
            summary[cond] = {"correct_pct": 100 * float(np.mean(res[cond]["correct"])),
                             "onsets_50ms_pct": 100 * float(np.mean(e <= 0.05)),
                             "notes": len(res[cond]["correct"])}
        out["levels"][str(level)] = {"summary": summary,
                                     "per_part_correct_pct": {p: {c: float(np.mean(v)) for c, v in per_part[p].items()}
                                                              for p in PARTS},
                                     "delay_error_ms_max_abs": float(np.max(np.abs(delays))),
                                     "echo_reduction_db_mean": float(np.mean(reductions)),
                                     "nmf_refused": refused}
    out["cleaning_x_real_time"] = audio_s / max(clean_s, 1e-9)
    md = render(out)
    print(md)
    if not args.no_write:
        write_section("minus_one", out, md)


def render(out: dict) -> str:
    lines = ["## Minus-one without headphones: one Bach10 player judged with the other three in the microphone (issue 21)",
             "",
             f"`.venv/bin/python benchmarks/bench_minus_one.py` · {out['date']} · 2-core CPU, no GPU · "
             f"{len(out['pieces'])} pieces x 4 parts; the accompaniment (the other three real solo recordings) "
             "through a simulated speaker and room (RT60 0.3-0.7 s), 20-150 ms round trip (told to the app "
             "within +-20 ms)",
             "",
             "| accompaniment level at the microphone | judged from | notes judged correct | onsets within 50 ms |",
             "| --- | --- | ---: | ---: |"]
    for level, v in out["levels"].items():
        for cond in CONDITIONS:
            s = v["summary"][cond]
            what = {"alone": "the player alone (no accompaniment)", "raw": "the microphone, nothing removed",
                    "cleaned": "**cleaned (musicdesk.separate.minusone)**",
                    "NMF stem": "alternative: the part separated from the microphone (score-informed NMF)"}[cond]
            lines.append(f"| {float(level):+.0f} dB | {what} | {s['correct_pct']:.1f}% | {s['onsets_50ms_pct']:.1f}% |")
    lines += ["", "Per part, notes judged correct (alone / raw / cleaned / NMF stem):", ""]
    for level, v in out["levels"].items():
        parts = "; ".join(f"{p} {x['alone']:.0f} / {x['raw']:.0f} / {x['cleaned']:.0f} / {x['NMF stem']:.0f}%"
                          for p, x in v["per_part_correct_pct"].items())
        ref = (f" The NMF refused {len(v['nmf_refused'])} of the takes (its check that the recording follows "
               f"the score), counted as no note judged: {'; '.join(v['nmf_refused'])}." if v.get("nmf_refused") else "")
        lines.append(f"- {float(level):+.0f} dB: {parts}. Delay found within {v['delay_error_ms_max_abs']:.2f} ms "
                     f"of the true one; echo reduced by about {v['echo_reduction_db_mean']:.1f} dB (estimate).{ref}")
    lines += ["", f"Cleaning runs at {out['cleaning_x_real_time']:.0f}x real time on this CPU (after the take, in a worker)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
