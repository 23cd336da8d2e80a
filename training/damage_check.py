"""The synthetic twin of the Bach10 damage check, on validation melodies and instruments only: it is
what network designs are chosen on, so that the real recordings stay evaluation data.

    python -m training.damage_check make [--n 40] [--out training/cache/damage_val]
    python -m training.damage_check make-chorales [--n 60] [--out training/cache/damage_val_chorales]
    python -m training.damage_check eval --model siconvnet_delta [--weights FILE]
    python -m training.damage_check rubric [--n 200]

`make`: for n validation melodies (training.make_data's val split: unseen tunes, recorder and
piccolo) at a tempo slow enough that most notes last 0.35 s or more (like the chorales of the real
check; a take where fewer than half the notes can be moved is replaced by another), a clean student
(no graded errors; mild tempo swing and 10 ms jitter, like expressive playing) is rendered through
the simulated room; each kind of damage of training/damage.py is applied to that audio with the performed note boundaries, and musicdesk's analysis tracks the clean and every
damaged version. Stored per take: OUT/NNNNN.npz with score_midi, score_notes (MIDI, onset s,
duration s) and <version>_contour (clean, wrong,
detune, timing, cut), per FRAME_HOP_S frame, and <version>_rule (the report's rule-based ratings).

`make-chorales`: only the moved-note check, on chorale players whose moved notes fall on phrase edges
as often as in the Bach10 benchmark (`make_chorales`).

`rubric`: the same timing damage applied to the notes of simulated clean takes (no audio): how often it
lowers the rhythm grade of the rubric (training.student.labels), and of the first rubric, which graded
each onset against the whole-take tempo instead of the local pulse.

`eval`: how often a network rates the damaged version below the clean one, per kind, on the criterion
the damage touches (as benchmarks/bench_assess.py does on Bach10). For the shipped weights the figures
go to training/results/damage_check.json, which the model cards quote.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from training.damage import DAMAGES, MOVE_ROOM_S, damage, movable_notes, move_notes

ROOT = Path(__file__).resolve().parent.parent
# besides training/damage.py's kinds, the timing benchmark's own damage (benchmarks/bench_timing.py): four
# notes moved exactly 120 ms late, or early (training.damage.move_notes)
CHECKS = {**DAMAGES, "moved_late": "rhythmic_accuracy", "moved_early": "rhythmic_accuracy"}
VERSIONS = ("clean", *CHECKS)


def make_one(job, out: Path, max_swing: float = 0.08, pauses_per_min: float = 0.0, p_hold: float = 0.0) -> bool:
    """Render, damage and track one validation take; False if the analysis rejects it."""
    from musicdesk.analysis import AnalysisError, analyze
    from musicdesk.assess.features import contour_frames, score_frames
    from musicdesk.audio import Take
    from musicdesk.synth import render_notes
    from training.make_data import (INSTRUMENTS, MIN_SHORT_NOTE_S, MIN_SHORT_NOTE_S_BY_INSTRUMENT, TAKE_S,
                                    choose_tempo, note_onsets_s)
    from training.melodies import fit_to_duration
    from training.room import room
    from training.student import LABEL_KEYS, StudentParams, play

    rng = np.random.default_rng(job.seed)
    program, lo, hi = INSTRUMENTS[job.instrument]
    # slow enough that most notes can take the timing damage, as in the chorales of the real-recording check
    tempo = choose_tempo(job.melody, rng, max(MIN_SHORT_NOTE_S_BY_INSTRUMENT.get(job.instrument, MIN_SHORT_NOTE_S),
                                              MOVE_ROOM_S))
    mel = fit_to_duration(job.melody, tempo, *TAKE_S)
    params = StudentParams(jitter_sd_ms=10.0, tempo_swing=float(rng.uniform(0.0, max_swing)),
                           hesitations_per_min=pauses_per_min, p_phrase_hold=p_hold,
                           tempo_sections=int(rng.integers(1, 4)), tempo_factor=float(rng.uniform(0.9, 1.1)),
                           articulation=float(rng.uniform(0.8, 0.97)), velocity=int(rng.integers(70, 106)),
                           lead_s=float(rng.uniform(0.3, 1.5)))
    score, performed, _ = play(mel, tempo, (lo, hi), rng, params)
    take = render_notes(performed, program, soundfont=job.soundfont, tail_s=0.5)
    y = room(take.samples, take.sr, rng)
    notes = [(n.onset_s, n.offset_s) for n in sorted(performed, key=lambda n: n.onset_s)]
    if len(movable_notes(notes)) < 0.5 * len(notes):
        return False   # too few notes long enough to move 25% of them
    arrays = {"score_midi": score_frames([n.midi for n in score.notes], [n.onset_s for n in score.notes],
                                         [n.duration_s for n in score.notes]),
              "score_notes": np.array([[n.midi, n.onset_s, n.duration_s] for n in score.notes])}
    for v in VERSIONS:
        rng_v = np.random.default_rng([job.seed, VERSIONS.index(v)])
        if v.startswith("moved_"):
            yv = move_notes(y, take.sr, notes, rng_v, 1 if v == "moved_late" else -1)[0]
        else:
            yv = y if v == "clean" else damage(y, take.sr, notes, v, rng_v)
        if v != "clean" and np.array_equal(yv, y):
            return False   # no note of this take could take the damage (e.g. all too short to move)
        try:
            an = analyze(score, Take(yv, take.sr))
        except AnalysisError:
            return False
        arrays[f"{v}_contour"] = contour_frames(an.contour.times_s, an.contour.midi, len(yv) / take.sr)
        arrays[f"{v}_onsets"] = note_onsets_s(an.alignment)
        arrays[f"{v}_rule"] = np.array([float(an.report.ratings[k]) for k in LABEL_KEYS])
    meta = {"melody_id": job.melody.id, "instrument": job.instrument, "soundfont": os.path.basename(job.soundfont),
            "tempo_bpm": round(tempo, 2), "n_notes": len(notes)}
    np.savez(out / f"{job.k:05d}.npz", meta=np.array(json.dumps(meta)),
             **{k: np.asarray(a, dtype=np.float32) for k, a in arrays.items()})
    return True


def make(n: int, out: Path, seed: int = 0, max_swing: float = 0.08, pauses_per_min: float = 0.0,
         p_hold: float = 0.0, max_per_source: int = 400) -> None:
    from training.make_data import melody_pools, plan, soundfonts

    out.mkdir(parents=True, exist_ok=True)
    pools = melody_pools(max_per_source, seed)
    fonts = soundfonts()
    t0 = time.perf_counter()
    made = 0
    k = 0
    while made < n:
        job = plan(pools, "val", 10_000 + k, seed, fonts, out)   # other takes than the val split's own
        k += 1
        if (out / f"{job.k:05d}.npz").exists() or make_one(job, out, max_swing, pauses_per_min, p_hold):
            made += 1
        print(f"{made}/{n} takes, {time.perf_counter() - t0:.0f} s", flush=True)


def make_chorales(n: int, out: Path, seed: int = 2) -> None:
    """The moved-note check on chorale players (training/chorale_player.py: music21 chorales, none of
    Bach10's; fermatas held, ritardandi into them, breaths): each part played clean and with four notes
    moved 120 ms late, then early (the player's own timing, re-rendered), rendered with FluidSynth
    (violin, clarinet, saxophone, bassoon by voice) and analysed. Its moved notes fall on phrase edges
    as often as in the Bach10 benchmark, which the melody sets' do not (training/README.md, fifth round).
    Chorales chosen with `seed` (timing_design --audio uses 0, bench_timing's simulated set 1). Stored
    as `make` stores its takes: the clean and the two moved versions."""
    from musicdesk.analysis import AnalysisError, analyze
    from musicdesk.assess.features import contour_frames, score_frames
    from musicdesk.synth import render_notes
    from training.chorale_player import load_chorale_parts, perform, to_score
    from training.make_data import note_onsets_s
    from training.student import LABEL_KEYS

    out.mkdir(parents=True, exist_ok=True)
    programs = [40, 71, 66, 70]
    t0 = time.perf_counter()
    for k, part in enumerate(load_chorale_parts(n // 4 + 1, seed=seed)[:n]):
        f = out / f"{k:05d}.npz"
        if f.exists():
            continue
        score = to_score(part)
        arrays = {"score_midi": score_frames([x.midi for x in score.notes], [x.onset_s for x in score.notes],
                                             [x.duration_s for x in score.notes]),
                  "score_notes": np.array([[x.midi, x.onset_s, x.duration_s] for x in score.notes])}
        try:
            for v, kw in (("clean", {}), ("moved_late", dict(n_moved=4, move_sign=1)),
                          ("moved_early", dict(n_moved=4, move_sign=-1))):
                perf = perform(part, np.random.default_rng([seed, 31, k]), **kw)
                take = render_notes(list(perf.notes), program=programs[k % 4], tail_s=0.5)
                an = analyze(score, take)
                arrays[f"{v}_contour"] = contour_frames(an.contour.times_s, an.contour.midi, len(take.samples) / take.sr)
                arrays[f"{v}_onsets"] = note_onsets_s(an.alignment)
                arrays[f"{v}_rule"] = np.array([float(an.report.ratings[x]) for x in LABEL_KEYS])
        except AnalysisError:
            continue
        meta = {"chorale_part": part.name, "program": programs[k % 4], "tempo_bpm": part.tempo_bpm}
        np.savez(f, meta=np.array(json.dumps(meta)), **{key: np.asarray(a, dtype=np.float32) for key, a in arrays.items()})
        print(f"{k + 1}/{n} {part.name}, {time.perf_counter() - t0:.0f} s", flush=True)


def evaluate(model, data: Path, info: dict | str = "dtw") -> dict:
    """Per damage kind: pairs, how many `model` (a network from musicdesk.assess.models, in eval mode;
    None: the rule-based ratings of musicdesk's report) rates lower on the criterion the damage touches,
    the mean drop. `info`: its weights' info (how its note_timing, or each member's, was made in
    training), or just that way ("note_onsets")."""
    from musicdesk.assess.features import score_onset_frames
    from musicdesk.assess.models import CRITERIA
    from musicdesk.assess.predict import build_inputs, rate_inputs
    from musicdesk.assess.weights import member_infos

    info = {"note_onsets": info} if isinstance(info, str) else info
    aligner = any(m.get("note_onsets", "dtw") != "dtw" for m in member_infos(info))

    res = {k: {"pairs": 0, "lower": 0, "drops": []} for k in CHECKS}
    for f in sorted(data.glob("*.npz")):
        with np.load(f) as npz:
            z = {k: npz[k] for k in npz.files}
        versions = [v for v in VERSIONS if f"{v}_contour" in z]   # sets made before the moved kinds lack them
        if model is None:
            rated = {v: z[f"{v}_rule"] for v in versions}
        else:
            with_dm = "distmat" in model.uses
            onsets = score_onset_frames(z["score_notes"][:, 1]) if "score_notes" in z else None
            if aligner and any(f"{v}_onsets" not in z for v in versions):
                raise SystemExit(f"{f} has no aligner onsets: remake the check with `damage_check make`.")
            inputs = [build_inputs(info, z[f"{v}_contour"], z["score_midi"], onsets, with_dm,
                                   z.get(f"{v}_onsets"), z["score_notes"][:, 1]) for v in versions]
            rated = dict(zip(versions, rate_inputs(model, inputs)[0]))
        for kind, crit in CHECKS.items():
            if kind not in rated:
                continue
            c = CRITERIA.index(crit)
            drop = float(rated["clean"][c] - rated[kind][c])
            res[kind]["pairs"] += 1
            res[kind]["lower"] += drop > 0
            res[kind]["drops"].append(drop)
    return {k: {"pairs": r["pairs"], "rated_lower": r["lower"], "pct": 100.0 * r["lower"] / max(1, r["pairs"]),
                "mean_drop": float(np.mean(r["drops"])) if r["drops"] else 0.0} for k, r in res.items() if r["pairs"]}


def rubric_check(n: int = 200, seed: int = 1) -> dict:
    """Timing damage on simulated clean takes (validation melodies, mild tempo swing): how often it lowers
    the rubric's rhythm grade, against the local pulse (ours) and against the whole-take tempo (first
    rubric). A grade should fall when notes are misplaced; one that can rise is a poor label."""
    from training.make_data import TAKE_S
    from training.melodies import fit_to_duration, generated_etudes, load_melodies, split_of
    from training.student import StudentParams, onset_deviations, play, timing_grade
    from training.damage import pick_notes

    mels = [m for m in load_melodies(400, 0) + generated_etudes(400, 0) if split_of(m.id) == "val"]
    pick = np.random.default_rng(seed)
    lowered = {"local_pulse": 0, "whole_take": 0}
    damaged = 0
    for k in range(n):
        m = mels[int(pick.integers(len(mels)))]
        rng = np.random.default_rng([seed, k])
        tempo = float(rng.uniform(60.0, 120.0))
        p = StudentParams(jitter_sd_ms=10.0, tempo_swing=float(rng.uniform(0.0, 0.08)),
                          tempo_sections=int(rng.integers(1, 4)))
        score, _, log = play(fit_to_duration(m, tempo, *TAKE_S), tempo, (40, 90), rng, p)
        b = np.array([score.notes[x.index].onset_beats for x in log.notes])
        t = np.array([x.onset_s for x in log.notes])
        t2 = t.copy()
        for i in pick_notes(len(t), 0.25, rng):
            d = float(rng.uniform(0.15, 0.25)) * float(rng.choice([-1.0, 1.0]))
            if t[i] + d - t[i - 1] >= 0.1 and t[i + 1] - t[i] - d >= 0.1:
                t2[i] += d
        if np.array_equal(t, t2):
            continue
        damaged += 1

        def whole(tt):
            return np.mean(np.maximum(0.0, 1.0 - np.abs(onset_deviations(b, tt)[0]) / 250.0))

        def local(tt):
            _, loc, dr = onset_deviations(b, tt)
            return timing_grade(loc, dr)

        lowered["local_pulse"] += bool(local(t2) < local(t))
        lowered["whole_take"] += bool(whole(t2) < whole(t))
    return {"takes": damaged, "lowered": lowered}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.damage_check", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--n", type=int, default=40)
    m.add_argument("--out", default=str(ROOT / "training" / "cache" / "damage_val"))
    m.add_argument("--swing", type=float, default=0.08,
                   help="largest tempo swing of the clean player (0.2: as much rubato as the worst simulated student)")
    m.add_argument("--pauses", type=float, default=0.0,
                   help="pauses (0.3-1.2 s, like held fermatas and breaths) a minute in the clean player's takes")
    m.add_argument("--holds", type=float, default=0.0,
                   help="share of phrase ends held 0.2-1.2 s longer (fermatas and breaths, not graded), as in chorales")
    c = sub.add_parser("make-chorales", help="the moved-note check on chorale players (see make_chorales)")
    c.add_argument("--n", type=int, default=60)
    c.add_argument("--seed", type=int, default=2)
    c.add_argument("--out", default=str(ROOT / "training" / "cache" / "damage_val_chorales"))
    e = sub.add_parser("eval")
    e.add_argument("--model", required=True, help="a network name, or rule_based (the report's own ratings)")
    e.add_argument("--weights", default=None)
    e.add_argument("--data", default=str(ROOT / "training" / "cache" / "damage_val"))
    r = sub.add_parser("rubric")
    r.add_argument("--n", type=int, default=200)
    a = ap.parse_args(argv)
    if a.cmd == "make":
        make(a.n, Path(a.out), max_swing=a.swing, pauses_per_min=a.pauses, p_hold=a.holds)
    elif a.cmd == "make-chorales":
        make_chorales(a.n, Path(a.out), a.seed)
    elif a.cmd == "rubric":
        res = rubric_check(a.n)
        print(f"timing damage on {res['takes']} simulated clean takes lowers the rhythm grade: "
              f"against the local pulse {res['lowered']['local_pulse']}, "
              f"against the whole-take tempo {res['lowered']['whole_take']}")
    else:
        from musicdesk.assess.weights import load

        model, info = (None, {}) if a.model == "rule_based" else load(a.model, a.weights, aligner_onsets_ok=True)
        res = evaluate(model if model is None else model.eval(), Path(a.data), info)
        if a.weights is None:   # the shipped weights: kept for the model cards, per check (its folder)
            out = ROOT / "training" / "results" / "damage_check.json"
            table = json.loads(out.read_text()) if out.exists() else {}
            table.setdefault(Path(a.data).name, {})[a.model] = {k: {"criterion": CHECKS[k], **v} for k, v in res.items()}
            out.write_text(json.dumps(table, indent=1))
        for k, r in res.items():
            print(f"{k:11s} {CHECKS[k]:18s} {r['rated_lower']}/{r['pairs']} = {r['pct']:.0f}%  mean drop {r['mean_drop']:+.3f}")
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
