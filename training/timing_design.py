"""Choosing the report's timing rule on simulated professionals (training/chorale_player.py), never on
the evaluation recordings.

    python -m training.timing_design [--n 40] [--noise-ms 12] [--outliers 0.05]

Onset level, no audio: each chorale part is played by a simulated professional (rubato, ritardandi
into fermatas, holds and breaths), the onsets get measurement noise like an aligner's (Gaussian, plus
a share of outliers of 40-90 ms), and each rule turns them into per-note timing errors. For each rule:
the share of notes flagged (beyond 50 ms) and the rhythm rating of the clean takes; and with four notes
moved 120 ms (late, then early), the share of moved notes found and of takes rated lower than clean.
Fermatas are given to the rule as written (MusicXML) or not at all (MIDI). Writes
training/results/timing_design.json.

    python -m training.timing_design --audio [--n 160]

Audio level: each part (chorales chosen with seed 0; bench_timing measures on seed 1) is played clean
and with four notes moved 120 ms late, then early (the player's own timing, re-rendered), rendered
with FluidSynth (violin, clarinet, saxophone, bassoon by voice), and analysed: the rules then judge the
aligner's onsets, with its real scatter. Also reports moved notes found away from fermatas (not a
fermata note, not the note after one: a held or late phrase end is the player's choice). Writes
training/results/timing_design_audio.json; the onsets are cached in training/cache/.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from musicdesk.feedback import (FIT_BEYOND_MS, OFF_ANCHOR_MS, local_tempo_errors_ms, onsets_s, phrase_fit_errors_ms,
                                pulse_errors_ms, report_timing_errors_ms, timing_breaks)
from training.chorale_player import load_chorale_parts, perform

ROOT = Path(__file__).resolve().parent.parent
TOL_MS = 50.0


def rating(err_ms: np.ndarray) -> float:
    e = err_ms[np.isfinite(err_ms)]
    return float(np.mean(np.clip(1 - np.abs(e) / 200.0, 0, 1))) if len(e) else 0.0


def rules() -> dict:
    """The candidates: the first reports' rule, and the pulse on both sides with more or fewer notes per
    side, the two sides combined by the smaller or by their geometric mean, notes with one side only
    left out or judged beyond one tolerance, with the holds and breaths the rule finds (MIDI: no
    fermatas written), without them, and with the score's fermatas added (MusicXML)."""
    no_breaks = lambda b: np.zeros(len(b), dtype=bool)  # noqa: E731
    slack = {"one_sided_slack_ms": TOL_MS}
    return {
        "local curve (first reports)": lambda b, t, f: local_tempo_errors_ms(b, t, 8.0),
        "smaller side, holds not found": lambda b, t, f: pulse_errors_ms(b, t, 3, breaks=no_breaks(b)),
        "smaller side, k=2": lambda b, t, f: pulse_errors_ms(b, t, 2),
        "smaller side, k=3": lambda b, t, f: pulse_errors_ms(b, t, 3),
        "smaller side, k=4": lambda b, t, f: pulse_errors_ms(b, t, 4),
        "smaller side, k=3, one side beyond 50 ms (shipped before)": lambda b, t, f: pulse_errors_ms(b, t, 3, **slack),
        "smaller side, k=3, one side beyond 50 ms, + fermatas":
            lambda b, t, f: pulse_errors_ms(b, t, 3, breaks=f | timing_breaks(b, t), **slack),
        "smaller side, k=3, one side beyond 50 ms, tempo within the phrase (candidate)":
            lambda b, t, f: pulse_errors_ms(b, t, 3, tempo_within_phrase=True, **slack),
        "smaller side, k=3, one side beyond 50 ms, + fermatas, tempo within the phrase (candidate)":
            lambda b, t, f: pulse_errors_ms(b, t, 3, breaks=f | timing_breaks(b, t), tempo_within_phrase=True, **slack),
        "phrase fit, k=4": lambda b, t, f: phrase_fit_errors_ms(b, t, 4, **slack),
        "phrase fit, k=4, + fermatas":
            lambda b, t, f: phrase_fit_errors_ms(b, t, 4, breaks=f | timing_breaks(b, t), **slack),
        "geometric mean, k=3": lambda b, t, f: pulse_errors_ms(b, t, 3, combine="geometric"),
        "geometric mean, k=6": lambda b, t, f: pulse_errors_ms(b, t, 6, combine="geometric"),
        "geometric mean, k=3, one side beyond 50 ms": lambda b, t, f: pulse_errors_ms(b, t, 3, combine="geometric", **slack),
        **{f"the pulses, or the phrase fit beyond {x:.0f} ms{' (shipped before)' if x == FIT_BEYOND_MS else ''}":
           (lambda b, t, f, x=x: report_timing_errors_ms(b, t, timing_breaks(b, t), TOL_MS, x, off_anchor_ms=None))
           for x in (80.0, 90.0, 100.0, 110.0)},
        **{f"the pulses, or the fit beyond 100 ms; a note off by {x:.0f} ms no anchor{' (shipped)' if x == OFF_ANCHOR_MS else ''}":
           (lambda b, t, f, x=x: report_timing_errors_ms(b, t, timing_breaks(b, t), TOL_MS, off_anchor_ms=x))
           for x in (50.0, 75.0, 100.0)},
    }


def noisy(t: np.ndarray, rng: np.random.Generator, noise_ms: float, outliers: float) -> np.ndarray:
    e = rng.normal(0, noise_ms / 1000.0, len(t))
    out = rng.random(len(t)) < outliers
    e[out] = rng.uniform(0.04, 0.09, out.sum()) * rng.choice([-1, 1], out.sum())
    return t + e


def run(n: int, noise_ms: float, outliers: float, jitter_ms: float = 15.0) -> dict:
    parts = load_chorale_parts(n)
    res: dict = {name: {"flagged": [], "rating": [], "found": [], "lower": [], "lower_end": []} for name in rules()}
    for k, part in enumerate(parts):
        b = np.array([x[0] for x in part.notes])
        ferm = np.array([x[3] for x in part.notes], dtype=bool)
        rng = np.random.default_rng([7, k])
        clean = perform(part, rng, jitter_ms=jitter_ms)
        t_clean = noisy(np.array([p.onset_s for p in clean.notes]), rng, noise_ms, outliers)
        damaged = []
        for sign in (1, -1):
            d = perform(part, np.random.default_rng([7, k]), n_moved=4, move_sign=sign, jitter_ms=jitter_ms)
            t = np.array([p.onset_s for p in d.notes])
            # the same measurement noise as the clean take, plus the move
            t = t_clean + (t - np.array([p.onset_s for p in clean.notes]))
            damaged.append((d.moved, t))
        # two phrase-end (fermata) notes moved 120 ms: late into the hold, or early out of a ritardando
        ends_moved = []
        for sign in (1, -1):
            ends = [i for i in range(1, len(b) - 1) if ferm[i]]
            np.random.default_rng([8, k, sign + 1]).shuffle(ends)
            t = t_clean.copy()
            t[sorted(ends[:2])] += sign * 0.12
            ends_moved.append(t)
        for name, rule in rules().items():
            e = rule(b, t_clean, ferm)
            r0 = rating(e)
            res[name]["flagged"].append(float(np.mean(np.abs(np.nan_to_num(e)) > TOL_MS)))
            res[name]["rating"].append(r0)
            for moved, t in damaged:
                ed = rule(b, t, ferm)
                res[name]["found"].extend(bool(abs(np.nan_to_num(ed[i])) > TOL_MS) for i in moved)
                res[name]["lower"].append(rating(ed) < r0)
            for t in ends_moved:
                res[name]["lower_end"].append(rating(rule(b, t, ferm)) < r0)
    out = {}
    for name, r in res.items():
        out[name] = {"flagged_share": float(np.mean(r["flagged"])), "rhythm_mean": float(np.mean(r["rating"])),
                     "rhythm_min": float(np.min(r["rating"])), "moved_found": float(np.mean(r["found"])),
                     "pairs_lower": float(np.mean(r["lower"])),
                     "pairs_lower_phrase_end_moves": float(np.mean(r["lower_end"])), "takes": len(r["rating"])}
    return out


def audio_rules() -> dict:
    """The candidates judged on measured onsets: the first reports' rule, the two pulses (the rule of
    the previous reports), one line through both sides within the phrase with k notes a side, and the
    report's rule now (the pulses, or the line beyond 100 ms)."""
    slack = {"one_sided_slack_ms": TOL_MS}
    out = {"local curve (first reports)": lambda b, t: local_tempo_errors_ms(b, t, 8.0),
           "two pulses, k=3 (shipped first)": lambda b, t: pulse_errors_ms(b, t, 3, **slack),
           f"two pulses, or the fit beyond {FIT_BEYOND_MS:.0f} ms (shipped before)":
               lambda b, t: report_timing_errors_ms(b, t, timing_breaks(b, t), TOL_MS, off_anchor_ms=None)}
    for x in (50.0, 75.0, 100.0):
        out[f"and a note off by {x:.0f} ms no anchor{' (shipped)' if x == OFF_ANCHOR_MS else ''}"] = (
            lambda b, t, x=x: report_timing_errors_ms(b, t, timing_breaks(b, t), TOL_MS, off_anchor_ms=x))
    for k in (3, 4, 6):
        out[f"phrase fit, k={k}"] = lambda b, t, k=k: phrase_fit_errors_ms(b, t, k, **slack)
    return out


def measured_onsets(n: int) -> list[dict]:
    """Per part: beats, fermatas and the aligned onsets of the clean take and of the moved takes."""
    import pickle

    from musicdesk.analysis import analyze
    from musicdesk.synth import render_notes
    from training.chorale_player import to_score

    cache = ROOT / "training" / "cache" / f"timing_design_audio_{n}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    programs = [40, 71, 66, 70]
    rows = []
    for k, part in enumerate(load_chorale_parts(n // 4 + 1, seed=0)[:n]):
        score = to_score(part, with_fermatas=False)
        row = {"b": np.array([x.onset_beats for x in score.notes]), "name": part.name,
               "ferm": np.array([x[3] for x in part.notes], dtype=bool)}
        for tag, kw in (("clean", {}), ("late", dict(n_moved=4, move_sign=1)), ("early", dict(n_moved=4, move_sign=-1))):
            perf = perform(part, np.random.default_rng([21, k]), **kw)
            rep = analyze(score, render_notes(list(perf.notes), program=programs[k % 4], tail_s=0.5)).report
            row[tag] = {"t": onsets_s(rep.notes),
                        "moved": list(perf.moved)}
        rows.append(row)
        print(f"  {k + 1}/{n} {part.name}", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def run_audio(n: int) -> dict:
    rows = measured_onsets(n)

    def judge(rule, b, t):
        ok = np.isfinite(t)
        e = np.full(len(t), np.nan)
        e[ok] = rule(b[ok], t[ok])
        return e

    out = {}
    for name, rule in audio_rules().items():
        flagged, found, inner, lower, pairs = [], [], [], [], []
        for r in rows:
            e0 = judge(rule, r["b"], r["clean"]["t"])
            r0 = rating(e0)
            flagged.append(float(np.mean(np.abs(np.nan_to_num(e0)) > TOL_MS)))
            for tag, sign in (("late", 1), ("early", -1)):
                e = judge(rule, r["b"], r[tag]["t"])
                fd = [bool(np.nan_to_num(e[i]) * sign > TOL_MS) for i in r[tag]["moved"]]
                found += fd
                inner += [f for f, i in zip(fd, r[tag]["moved"]) if not r["ferm"][i] and not r["ferm"][i - 1]]
                lower.append(rating(e) < r0)
                pairs.append(lower[-1] and np.mean(fd) >= 0.5)
        out[name] = {"flagged_share": float(np.mean(flagged)), "flagged_max": float(np.max(flagged)),
                     "moved_found": float(np.mean(found)), "moved_found_inside_phrases": float(np.mean(inner)),
                     "pairs_lower": float(np.mean(lower)), "pairs_lower_half_found": float(np.mean(pairs)),
                     "takes": len(rows)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="chorales (4 parts each)")
    ap.add_argument("--noise-ms", type=float, default=12.0)
    ap.add_argument("--outliers", type=float, default=0.05)
    ap.add_argument("--jitter-ms", type=float, default=15.0, help="the player's onset scatter (sd)")
    ap.add_argument("--audio", action="store_true", help="judge the aligner's onsets of rendered takes")
    args = ap.parse_args(argv)
    if args.audio:
        n = args.n if args.n != 40 else 160
        res = run_audio(n)
        print(f"{'rule':<40} {'flagged':>8} {'max':>5} {'found':>6} {'inside':>7} {'lower':>6} {'pairs':>6}")
        for name, r in res.items():
            print(f"{name:<40} {r['flagged_share']:>8.3f} {r['flagged_max']:>5.2f} {r['moved_found']:>6.3f} "
                  f"{r['moved_found_inside_phrases']:>7.3f} {r['pairs_lower']:>6.3f} {r['pairs_lower_half_found']:>6.3f}")
        (ROOT / "training" / "results" / "timing_design_audio.json").write_text(
            json.dumps({"args": {"n_parts": n}, "rules": res}, indent=1))
        return 0
    out = run(args.n, args.noise_ms, args.outliers, args.jitter_ms)
    print(f"{'rule':<54} {'flagged':>8} {'rhythm':>7} {'min':>6} {'found':>6} {'lower':>6}")
    for name, r in out.items():
        print(f"{name:<54} {r['flagged_share']:>8.3f} {r['rhythm_mean']:>7.3f} {r['rhythm_min']:>6.3f} "
              f"{r['moved_found']:>6.3f} {r['pairs_lower']:>6.3f}")
    suffix = "" if (args.noise_ms, args.outliers, args.jitter_ms) == (12.0, 0.05, 15.0) else "-noisier"
    path = ROOT / "training" / "results" / f"timing_design{suffix}.json"
    path.write_text(json.dumps({"args": vars(args), "rules": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
