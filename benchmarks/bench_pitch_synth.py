"""Synthetic pitch-tracking set: the development set on which fastpyin's parameters were chosen.

Bach chorales from music21's corpus (none of the ten Bach10 chorales), each voice rendered with FluidSynth
(both installed soundfonts, several General MIDI instruments), with controlled perturbations: random tempo,
per-note detuning (+-30 cents), additive noise, synthetic reverb. Reference F0: the rendered notes
(pitch + detune between note-on and note-off; unvoiced elsewhere, so release tails count as unvoiced).

Run:  .venv/bin/python benchmarks/bench_pitch_synth.py [--trackers fastpyin,yin] [--n 12]
Writes benchmarks/results/pitch_synth.md and .json (unless --no-write).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import datetime
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from musicdesk.audio import Take  # noqa: E402
from musicdesk.pitch import track_pitch  # noqa: E402
from musicdesk.synth import PerformedNote, available_soundfonts, render_notes  # noqa: E402
from make_results import write_section  # noqa: E402  (benchmarks/ is this script's folder)

# The ten Bach10 chorales (BWV 255, 256, 273, 275, 296, 297, 327, 328, 363, 385) are evaluation-only.
BACH10_BWV = {"bwv255", "bwv256", "bwv273", "bwv275", "bwv296", "bwv297", "bwv327", "bwv328", "bwv363",
              "bwv385"}
CHORALES = ["bwv66.6", "bwv26.6", "bwv269", "bwv281", "bwv347", "bwv367", "bwv244.3", "bwv355",
            "bwv432", "bwv437", "bwv253", "bwv311"]
VOICE_PROGRAMS = [("violin", "flute", "oboe"), ("clarinet", "voice_oohs", "viola"),
                  ("tenor_sax", "cello", "trombone"), ("bassoon", "cello", "trombone")]
METRICS = ("Raw Pitch Accuracy", "Raw Chroma Accuracy", "Voicing Recall", "Voicing False Alarm",
           "Overall Accuracy")


def chorale_parts(name: str, bpm: float) -> list[list[tuple[float, float, int]]]:
    """(onset_s, offset_s, midi) per voice, ties merged."""
    from music21 import corpus

    assert name.split(".")[0] not in BACH10_BWV, "Bach10 chorales are for evaluation only"

    s = corpus.parse(f"bach/{name}").stripTies()
    out = []
    for p in s.parts[:4]:
        notes = []
        for n in p.flatten().notes:
            if not hasattr(n, "pitch"):
                continue
            on = float(n.offset) * 60.0 / bpm
            notes.append((on, on + float(n.quarterLength) * 60.0 / bpm, int(n.pitch.midi)))
        out.append(notes)
    return out


def make_case(rng: np.random.Generator, name: str, voice: int, sf2: str):
    bpm = float(rng.uniform(60, 110))
    notes = chorale_parts(name, bpm)[voice][:40]
    prog = VOICE_PROGRAMS[voice][int(rng.integers(len(VOICE_PROGRAMS[voice])))]
    legato = float(rng.uniform(0.8, 1.0))
    pn = [PerformedNote(on, on + (off - on) * legato, m, cents=float(rng.uniform(-30, 30)),
                        velocity=int(rng.integers(60, 110))) for on, off, m in notes]
    take = render_notes(pn, program=prog, soundfont=sf2, lead_s=0.5, tail_s=1.0)
    x = take.samples.astype(np.float64)
    if rng.random() < 0.5:   # synthetic room: exponentially decaying noise impulse response
        t60 = rng.uniform(0.3, 1.2)
        n_ir = int(t60 * take.sr)
        ir = rng.standard_normal(n_ir) * np.exp(-6.9 * np.arange(n_ir) / n_ir)
        ir[0] = 1.0 / rng.uniform(0.02, 0.1)
        x = np.convolve(x, ir)[: len(x)]
        x *= 0.5 / np.max(np.abs(x))
    snr_db = rng.uniform(20, 45)
    x += rng.standard_normal(len(x)) * np.sqrt(np.mean(x ** 2)) * 10 ** (-snr_db / 20)
    return Take(x.astype(np.float32), take.sr), pn, f"{name}/v{voice}/{prog}/{os.path.basename(sf2)}"


def reference(pn: list[PerformedNote], dur_s: float, lead_s: float = 0.5):
    t = np.arange(0, dur_s, 0.01)
    f = np.zeros(len(t))
    for n in pn:
        lo, hi = np.searchsorted(t, [n.onset_s + lead_s + 0.03, n.offset_s + lead_s])
        f[lo:hi] = 440.0 * 2 ** ((n.midi + n.cents / 100.0 - 69) / 12)
    return t, f


def main() -> None:
    import mir_eval

    ap = argparse.ArgumentParser()
    ap.add_argument("--trackers", default="fastpyin,yin,pyin")
    ap.add_argument("--n", type=int, default=12, help="number of cases")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    names = args.trackers.split(",")
    rng = np.random.default_rng(args.seed)
    fonts = available_soundfonts()
    res = {n: [] for n in names}
    wall = {n: 0.0 for n in names}
    audio_s = 0.0
    for i in range(args.n):
        take, pn, label = make_case(rng, CHORALES[i % len(CHORALES)], i % 4, fonts[i % len(fonts)])
        rt, rf = reference(pn, take.duration_s)
        audio_s += take.duration_s
        row = {}
        for n in names:
            track_pitch(Take(take.samples[:2000], take.sr), n)
            t0 = time.perf_counter()
            c = track_pitch(take, n)
            wall[n] += time.perf_counter() - t0
            est = np.where(c.voiced, c.f0_hz, -c.f0_hz)
            sc = mir_eval.melody.evaluate(rt, rf, c.times_s, est)
            res[n].append({k: float(sc[k]) for k in METRICS})
            row[n] = (round(sc["Raw Pitch Accuracy"], 3), round(sc["Voicing False Alarm"], 3),
                      round(sc["Overall Accuracy"], 3))
        print(label, row, flush=True)
    summary = {n: {k: float(np.mean([r[k] for r in res[n]])) for k in METRICS} for n in names}
    speed = {n: audio_s / wall[n] for n in names}
    print(json.dumps({"summary": summary, "speed": speed}, indent=1))
    if not args.no_write:
        data = {"command": " ".join(["benchmarks/bench_pitch_synth.py"] + sys.argv[1:]),
                "summary": summary, "speed": speed, "n": args.n, "seed": args.seed}
        lines = ["## Pitch tracking, synthetic development set", "",
                 f"Command: `.venv/bin/python {' '.join(['benchmarks/bench_pitch_synth.py'] + sys.argv[1:])}`  ",
                 f"Machine: 2-core CPU, no GPU; date: {datetime.date.today().isoformat()}  ",
                 f"{args.n} FluidSynth renders of music21 Bach chorale voices (not Bach10), reverb/noise/detune.",
                 "", "| tracker | RPA | RCA | VR | VFA | OA | x real time |", "| --- |" + " --- |" * 6]
        for n in names:
            lines.append(f"| {n} | " + " | ".join(f"{summary[n][k]:.3f}" for k in METRICS)
                         + f" | {speed[n]:.0f}x |")
        write_section("pitch_synth", data, "\n".join(lines))


if __name__ == "__main__":
    main()
