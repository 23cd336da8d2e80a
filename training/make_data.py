"""Make the training data of the assessment networks: simulated student takes with known labels.

    python -m training.make_data --out training/cache/fba --n-train 1600 --n-val 200 --n-test 300 --jobs 2
    python -m training.make_data --out training/cache/fba_quick --quick
    python -m training.make_data --out training/cache/fba_holds --holds-share 0.5   # players who hold phrase ends

Per take: a melody (folk tune or etude of the split), an instrument and a soundfont of the split, a
tempo; the simulated student plays it (training.student), FluidSynth renders it, a simulated room and
microphone colour it (training.room), musicdesk's analysis tracks and aligns it. With `--holds-share S`,
that share of the takes (drawn per take) is played by a student who holds phrase ends as fermatas
(`StudentParams.p_phrase_hold` uniform in HOLD_P; holds are not graded), as the Bach10 players do.
Written per take: OUT/<split>/NNNNN.npz with

- contour_midi  float32 (T,): the analysis pitch contour per FRAME_HOP_S frame (MIDI, 0 = unvoiced)
- score_midi    float32 (S,): the score the student was asked to play, per frame at its nominal tempo
- score_notes   float32 (N, 3): its notes (MIDI, onset s, duration s at the nominal tempo), for the
                note-level inputs (`score_onset_frames`) and to remake score_midi
- labels        float32 [3]: the rubric (training.student.labels): note_accuracy, rhythmic_accuracy, intonation
- rule_ratings  float32 [3]: musicdesk's rule-based ratings of the take, same order
- meta          str: JSON (melody, source, split, instrument, soundfont, tempo, student params, counts)

plus OUT/<split>/index.jsonl (one line per take) and OUT/summary.json (label statistics).
Everything is deterministic given --seed: take k of a split is seeded from (seed, split, k).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from training.melodies import Melody, fit_to_duration, generated_etudes, load_melodies, split_of
from training.student import LABEL_KEYS, labels, play, sample_params

SPLITS = ("train", "val", "test")
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}

# name: (General MIDI program 0-127, comfortable sounding range MIDI lo, hi)
INSTRUMENTS: dict[str, tuple[int, int, int]] = {
    # Ranges are the instruments' comfortable ranges, narrowed where a soundfont's samples do not track
    # (FluidR3's cello below MIDI 41, horn below 50) and kept under 2 kHz (the pitch tracker's ceiling).
    "flute": (73, 60, 93), "clarinet": (71, 52, 88), "alto_sax": (65, 49, 79), "trumpet": (56, 55, 82),
    "violin": (40, 55, 91), "cello": (42, 41, 74), "bassoon": (70, 38, 67), "trombone": (57, 41, 72),
    "soprano_sax": (64, 56, 86), "french_horn": (60, 50, 77),
    "recorder": (74, 72, 93), "piccolo": (72, 74, 93),
    "oboe": (68, 58, 91), "viola": (41, 48, 84), "tenor_sax": (66, 44, 75),
}
SPLIT_INSTRUMENTS: dict[str, tuple[str, ...]] = {
    "train": ("flute", "clarinet", "alto_sax", "trumpet", "violin", "cello", "bassoon", "trombone",
              "soprano_sax", "french_horn"),
    "val": ("recorder", "piccolo"),
    "test": ("oboe", "viola", "tenor_sax"),
}
SOUNDFONTS = ("FluidR3_GM.sf2", "TimGM6mb.sf2")
TEMPO_RANGE_BPM = (60.0, 150.0)
MIN_SHORT_NOTE_S = 0.14     # the tempo is capped so the melody's shortest common note lasts this long (s)
# ... longer for FluidR3's cello and viola, whose slow bowed attacks leave shorter notes unpitched
MIN_SHORT_NOTE_S_BY_INSTRUMENT = {"cello": 0.25, "viola": 0.25}
TAKE_S = (25.0, 70.0)       # performed length of a take at its nominal tempo (s)
MAX_ATTEMPTS = 3            # a take the analysis rejects (silent) is redrawn this many times


def soundfonts() -> list[str]:
    """Paths of the soundfonts used (both when installed)."""
    from musicdesk.synth import available_soundfonts

    fonts = available_soundfonts()
    chosen = [p for p in fonts if os.path.basename(p) in SOUNDFONTS]
    if not chosen:
        chosen = fonts[:1]
    if not chosen:
        raise SystemExit("No General MIDI soundfont is installed (e.g. apt-get install fluid-soundfont-gm).")
    return chosen


def choose_tempo(melody: Melody, rng: np.random.Generator, min_note_s: float = MIN_SHORT_NOTE_S) -> float:
    """A tempo in TEMPO_RANGE_BPM (quarters a minute), capped so that the melody's 10th-percentile note
    lasts at least `min_note_s` seconds."""
    q10 = float(np.percentile(melody.duration_beats, 10))
    lo, hi = TEMPO_RANGE_BPM
    hi = float(np.clip(60.0 * q10 / min_note_s, lo, hi))
    return float(rng.uniform(lo, hi))


def note_onsets_s(alignment) -> np.ndarray:
    """Each score note's onset as the aligner placed it (s; NaN where not found), float32: what the app
    gives the networks (musicdesk.assess.predict.aligned_onsets_s), as stored."""
    from musicdesk.assess.predict import aligned_onsets_s

    return aligned_onsets_s(alignment).astype(np.float32)


HOLD_P = (0.3, 1.0)   # with --holds-share: the chance that each phrase end of such a take is held


def make_take(melody: Melody, split: str, seed: int, instrument: str, soundfont: str,
              holds_share: float = 0.0) -> dict | None:
    """One take: returns the arrays to store (see the module docstring) and 'meta' (a dict), or None
    if the analysis finds the take silent. `holds_share`: the chance that the player holds phrase ends
    (drawn after everything else, so 0 leaves every take as it was)."""
    from musicdesk.analysis import AnalysisError, analyze
    from musicdesk.assess.features import contour_frames, score_frames
    from musicdesk.audio import Take
    from musicdesk.synth import render_notes
    from training.room import room

    rng = np.random.default_rng(seed)
    program, lo, hi = INSTRUMENTS[instrument]
    tempo = choose_tempo(melody, rng, MIN_SHORT_NOTE_S_BY_INSTRUMENT.get(instrument, MIN_SHORT_NOTE_S))
    mel = fit_to_duration(melody, tempo, *TAKE_S)
    params = sample_params(rng)
    if holds_share > 0 and rng.random() < holds_share:
        params = replace(params, p_phrase_hold=float(rng.uniform(*HOLD_P)))
    score, performed, log = play(mel, tempo, (lo, hi), rng, params)
    take = render_notes(performed, program, soundfont=soundfont, tail_s=float(rng.uniform(0.3, 1.0)))
    samples = room(take.samples, take.sr, rng)
    try:
        analysis = analyze(score, Take(samples, take.sr))
    except AnalysisError:
        return None
    contour = contour_frames(analysis.contour.times_s, analysis.contour.midi, take.duration_s)
    score_midi = score_frames([n.midi for n in score.notes], [n.onset_s for n in score.notes],
                              [n.duration_s for n in score.notes])
    lab = labels(log)
    rule = analysis.report.ratings
    meta = {
        "melody_id": melody.id, "source": melody.source, "split": split, "instrument": instrument,
        "program": program, "soundfont": os.path.basename(soundfont), "tempo_bpm": round(tempo, 3),
        "transpose": score.notes[0].midi - mel.midi[0], "seed": int(seed),
        "duration_s": round(take.duration_s, 3), "n_score_notes": len(score.notes),
        "params": params.to_dict(), "counts": log.counts(),
    }
    return {
        "contour_midi": contour.astype(np.float32),
        "score_midi": score_midi.astype(np.float32),
        "score_notes": np.array([[n.midi, n.onset_s, n.duration_s] for n in score.notes], dtype=np.float32),
        "labels": np.array([lab[k] for k in LABEL_KEYS], dtype=np.float32),
        "rule_ratings": np.array([float(rule[k]) for k in LABEL_KEYS], dtype=np.float32),
        # each score note's onset as musicdesk's aligner places it (s; NaN: not found)
        "note_onsets_s": note_onsets_s(analysis.alignment),
        "meta": meta,
    }


# ----------------------------------------------------------------------------------------------------
# the data set


@dataclass(frozen=True)
class Job:
    """Take k of a split: what to play and where to write it."""

    split: str
    k: int
    melody: Melody
    instrument: str
    soundfont: str
    seed: int
    path: str
    holds_share: float = 0.0


def melody_pools(max_per_source: int, seed: int, progress=None) -> dict[str, dict[str, list[Melody]]]:
    """The folk tunes (at most `max_per_source` per corpus) and generated etudes, by split, then source."""
    melodies = load_melodies(max_per_source, seed, progress=progress) + generated_etudes(max_per_source, seed)
    pools: dict[str, dict[str, list[Melody]]] = {s: {} for s in SPLITS}
    for m in melodies:
        pools[split_of(m.id)].setdefault(m.source, []).append(m)
    return pools


def plan(pools: dict[str, dict[str, list[Melody]]], split: str, k: int, seed: int, fonts: list[str],
         out: Path, holds_share: float = 0.0) -> Job:
    """Draw take k of `split`: a source (uniformly), a melody of that source, an instrument of the split,
    a soundfont, and the take's own seed; all from (seed, split, k)."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], k])
    by_source = pools[split]
    sources = sorted(s for s, ms in by_source.items() if ms)
    source = sources[int(rng.integers(len(sources)))]
    melody = by_source[source][int(rng.integers(len(by_source[source])))]
    instrument = SPLIT_INSTRUMENTS[split][int(rng.integers(len(SPLIT_INSTRUMENTS[split])))]
    font = fonts[int(rng.integers(len(fonts)))]
    return Job(split, k, melody, instrument, font, int(rng.integers(2 ** 62)), str(out / split / f"{k:05d}.npz"),
               holds_share)


def run_job(job: Job) -> dict | None:
    """Make and write one take (or reuse one already written); returns its index row, None on failure."""
    if os.path.exists(job.path):
        with np.load(job.path, allow_pickle=False) as z:
            return _row(job, json.loads(str(z["meta"])), z["labels"], z["rule_ratings"])
    for attempt in range(MAX_ATTEMPTS):
        t0 = time.perf_counter()
        res = make_take(job.melody, job.split, job.seed + attempt, job.instrument, job.soundfont,
                        job.holds_share)
        if res is None:
            continue
        res["meta"]["make_s"] = round(time.perf_counter() - t0, 3)
        tmp = job.path + ".tmp.npz"
        np.savez(tmp, contour_midi=res["contour_midi"], score_midi=res["score_midi"],
                 score_notes=res["score_notes"], labels=res["labels"],
                 rule_ratings=res["rule_ratings"], note_onsets_s=res["note_onsets_s"],
                 meta=np.array(json.dumps(res["meta"])))
        os.replace(tmp, job.path)
        return _row(job, res["meta"], res["labels"], res["rule_ratings"])
    return None


def _row(job: Job, meta: dict, lab: np.ndarray, rule: np.ndarray) -> dict:
    return {"file": os.path.basename(job.path), **meta,
            "labels": {k: round(float(v), 5) for k, v in zip(LABEL_KEYS, lab)},
            "rule_ratings": {k: round(float(v), 5) for k, v in zip(LABEL_KEYS, rule)}}


def summarise(rows: list[dict]) -> dict:
    """Label statistics: mean, sd, share at 1.0 per label, correlations between labels, and each label's
    correlation with the rule-based rating of the same name."""
    if not rows:
        return {"n": 0}
    lab = np.array([[r["labels"][k] for k in LABEL_KEYS] for r in rows])
    rule = np.array([[r["rule_ratings"][k] for k in LABEL_KEYS] for r in rows])

    def corr(a: np.ndarray, b: np.ndarray) -> float | None:
        if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
            return None
        return round(float(np.corrcoef(a, b)[0, 1]), 3)

    return {
        "n": len(rows),
        "labels": {k: {"mean": round(float(lab[:, i].mean()), 3), "sd": round(float(lab[:, i].std()), 3),
                       "share_1.0": round(float(np.mean(lab[:, i] >= 0.9999)), 3),
                       "corr_with_rule_rating": corr(lab[:, i], rule[:, i])}
                   for i, k in enumerate(LABEL_KEYS)},
        "label_correlation": {a: {b: corr(lab[:, i], lab[:, j]) for j, b in enumerate(LABEL_KEYS)}
                              for i, a in enumerate(LABEL_KEYS)},
        "instruments": _count(r["instrument"] for r in rows),
        "sources": _count(r["source"] for r in rows),
        "soundfonts": _count(r["soundfont"] for r in rows),
        "mean_duration_s": round(float(np.mean([r["duration_s"] for r in rows])), 2),
    }


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _print_summary(name: str, s: dict) -> None:
    print(f"{name}: {s['n']} takes")
    if not s["n"]:
        return
    for k, v in s["labels"].items():
        print(f"  {k:18s} mean {v['mean']:.3f} sd {v['sd']:.3f} at 1.0 {v['share_1.0']:.0%}"
              f"  corr with rule rating {v['corr_with_rule_rating']}")
    print("  label correlation:")
    for a, row in s["label_correlation"].items():
        print(f"    {a:18s} " + " ".join(f"{(c if c is not None else float('nan')):6.2f}" for c in row.values()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.make_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="training/cache/fba", help="output folder")
    ap.add_argument("--n-train", type=int, default=1600)
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (each runs its own FluidSynth)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-per-source", type=int, default=400, help="folk tunes per corpus (and etudes)")
    ap.add_argument("--holds-share", type=float, default=0.0,
                    help="share of the takes whose player holds phrase ends (fermatas; not graded)")
    ap.add_argument("--quick", action="store_true", help="tiny sets (8/3/3 takes, 20 tunes per corpus)")
    a = ap.parse_args(argv)
    if a.quick:
        a.n_train, a.n_val, a.n_test, a.max_per_source = 8, 3, 3, 20
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    out = Path(a.out)
    t_start = time.perf_counter()

    pools = melody_pools(a.max_per_source, a.seed, progress=lambda m: print(m, flush=True))
    print(f"{sum(len(v) for p in pools.values() for v in p.values())} melodies in {time.perf_counter() - t_start:.1f} s: "
          + ", ".join(f"{s} {sum(len(v) for v in pools[s].values())}" for s in SPLITS), flush=True)

    fonts = soundfonts()
    counts = {"train": a.n_train, "val": a.n_val, "test": a.n_test}
    jobs = [plan(pools, s, k, a.seed, fonts, out, a.holds_share) for s in SPLITS for k in range(counts[s])]
    for s in SPLITS:
        (out / s).mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    failed = 0
    t0 = time.perf_counter()

    def report(i: int, row: dict | None, job: Job) -> None:
        nonlocal failed
        if row is None:
            failed += 1
        else:
            rows[job.split].append(row)
        if (i + 1) % 10 == 0 or i + 1 == len(jobs):
            el = time.perf_counter() - t0
            eta = el / (i + 1) * (len(jobs) - i - 1)
            print(f"{i + 1}/{len(jobs)} takes, {el:.0f} s, about {eta:.0f} s left, {failed} failed", flush=True)

    if a.jobs <= 1:
        for i, job in enumerate(jobs):
            report(i, run_job(job), job)
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(a.jobs) as pool:
            for i, (job, row) in enumerate(zip(jobs, pool.imap(run_job, jobs, chunksize=1))):
                report(i, row, job)

    summary: dict = {"seed": a.seed, "holds_share": a.holds_share, "seconds": round(time.perf_counter() - t_start, 1),
                     "failed": failed, "instruments": SPLIT_INSTRUMENTS, "soundfonts": [os.path.basename(f) for f in fonts]}
    for s in SPLITS:
        with open(out / s / "index.jsonl", "w") as f:
            for row in rows[s]:
                f.write(json.dumps(row) + "\n")
        summary[s] = summarise(rows[s])
    summary["all"] = summarise([r for s in SPLITS for r in rows[s]])
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for s in (*SPLITS, "all"):
        _print_summary(s, summary[s])
    print(f"done in {summary['seconds']:.0f} s; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
