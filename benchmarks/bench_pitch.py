"""Pitch-tracking benchmark on the Bach10 part recordings (real violin, clarinet, tenor sax, bassoon).

For each of the 5 chorales x 4 parts: raw pitch accuracy (50 cents), raw chroma accuracy, voicing recall,
voicing false alarm and overall accuracy (mir_eval.melody, estimate resampled to the reference's 10 ms
times) of each tracker against the hand-corrected F0 (`NN-Name-<part>-f0.csv`), and the speed as x real
time (total audio seconds / total wall seconds, warm: every tracker runs once on a short clip first).

Trackers: ours ("fastpyin", "yin", "pyin" from musicdesk.pitch) and the anchors pesto (mir-1k_g7, 10 ms)
and torchcrepe "tiny" (16 kHz, hop 160 = 10 ms, Viterbi decoder, periodicity >= 0.21 voiced). Plus the
score-informed variant: fastpyin + refine_with_score, expected pitch from the dataset's beat-level
alignment (NN-Name.txt onsets; MIDI note ends mapped through the same onset-time map).

torchaudio: every torchaudio wheel here is a CUDA build that cannot be imported with CPU torch; pesto and
torchcrepe import it at module level but only use it to read files. This script (only this script) puts
an empty stand-in module into sys.modules before importing them and feeds them arrays.

Run:  .venv/bin/python benchmarks/bench_pitch.py [--trackers fastpyin,yin,...] [--limit N]
Writes benchmarks/results/pitch.md and benchmarks/results/pitch.json.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import sys
import time
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from musicdesk.audio import Take, load_take, resample  # noqa: E402
from musicdesk.pitch import PitchContour, refine_with_score, track_pitch  # noqa: E402
from make_results import write_section  # noqa: E402  (benchmarks/ is this script's folder)

DATA = os.path.join(ROOT, "..", "shared", "data", "bach10")
if not os.path.isdir(DATA):
    DATA = "/work/shared/data/bach10"
PARTS = ("violin", "clarinet", "saxphone", "bassoon")
FMIN_HZ, FMAX_HZ = 50.0, 2000.0
METRICS = ("Raw Pitch Accuracy", "Raw Chroma Accuracy", "Voicing Recall", "Voicing False Alarm",
           "Overall Accuracy")
SHORT = {"Raw Pitch Accuracy": "RPA", "Raw Chroma Accuracy": "RCA", "Voicing Recall": "VR",
         "Voicing False Alarm": "VFA", "Overall Accuracy": "OA"}
SCORE_INFORMED = "fastpyin+score"


def _stub_torchaudio() -> None:
    """pesto/torchcrepe import torchaudio only to read files; the installed wheel cannot load here."""
    try:
        import torchaudio  # noqa: F401
    except Exception:
        for k in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
            del sys.modules[k]
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")


def run_pesto(take: Take) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pesto
    import torch

    x = torch.from_numpy(np.asarray(take.samples, dtype=np.float32))
    ts_ms, f0, conf, _ = pesto.predict(x, take.sr, step_size=10.0)
    f0 = f0.numpy().astype(np.float64)
    return ts_ms.numpy() / 1000.0, f0, conf.numpy() >= 0.5


def run_crepe(take: Take) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import torch
    import torchcrepe

    x = resample(np.asarray(take.samples, dtype=np.float32), take.sr, 16000)
    f0, per = torchcrepe.predict(torch.from_numpy(x)[None], 16000, hop_length=160, fmin=FMIN_HZ,
                                 fmax=FMAX_HZ, model="tiny", batch_size=512, device="cpu",
                                 return_periodicity=True)
    f0 = f0[0].numpy().astype(np.float64)
    per = per[0].numpy()
    return np.arange(len(f0)) * 0.01, f0, per >= 0.21


def run_ours(name: str):
    def fn(take: Take) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = track_pitch(take, name, fmin_hz=FMIN_HZ, fmax_hz=FMAX_HZ)
        return c.times_s, c.f0_hz, c.voiced
    return fn


def expected_from_alignment(folder: str, part_index: int, times_s: np.ndarray) -> np.ndarray:
    """Per-frame expected MIDI pitch of one part from the dataset's hand-tapped alignment (NaN = none).

    Onsets: NN-Name.txt (audio_onset_ms, midi_onset_ms, pitch, channel); note ends: the MIDI file's,
    mapped to audio time through the same (midi -> audio) onset map, linearly interpolated.
    """
    import pretty_midi

    name = os.path.basename(folder)
    rows = []
    with open(os.path.join(folder, name + ".txt")) as fh:
        for line in fh:
            p = line.split()
            if len(p) >= 4:
                rows.append([float(v) for v in p[:4]])
    a = np.array(rows)
    audio_ms, midi_ms = a[:, 0], a[:, 1]
    order = np.argsort(midi_ms)
    mk, ak = np.unique(midi_ms[order], return_index=True)
    ak = audio_ms[order][ak]

    def to_audio(t_s: float) -> float:
        return float(np.interp(t_s * 1000.0, mk, ak,
                               left=ak[0] + (t_s * 1000.0 - mk[0]),
                               right=ak[-1] + (t_s * 1000.0 - mk[-1]))) / 1000.0

    pm = pretty_midi.PrettyMIDI(os.path.join(folder, name + ".mid"))
    inst = [i for i in pm.instruments if not i.is_drum][part_index]
    out = np.full(len(times_s), np.nan)
    for n in inst.notes:
        lo, hi = np.searchsorted(times_s, [to_audio(n.start), to_audio(n.end)])
        out[lo:hi] = n.pitch
    return out


def evaluate(ref_t, ref_f, est_t, est_f, est_v) -> dict:
    import mir_eval

    est_f = np.where(np.isfinite(est_f), est_f, 0.0)
    # mir_eval convention: a negative frequency is an unvoiced frame with a pitch guess (raw pitch
    # accuracy then does not depend on the tracker's voicing decision).
    est = np.where(est_v, np.abs(est_f), -np.abs(est_f))
    est_t = np.asarray(est_t, dtype=np.float64)
    if len(est_t) and est_t[0] > 0:
        est_t = np.concatenate([[0.0], est_t])
        est = np.concatenate([[0.0], est])
    scores = mir_eval.melody.evaluate(ref_t, ref_f, est_t, est)
    return {k: float(scores[k]) for k in METRICS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trackers", default="fastpyin,yin,pyin,pesto,crepe-tiny")
    ap.add_argument("--limit", type=int, default=0, help="only the first N chorales (quick runs)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    names = args.trackers.split(",")
    if any(n in ("pesto", "crepe-tiny") for n in names):
        _stub_torchaudio()
    import torch

    runners = {"fastpyin": run_ours("fastpyin"), "yin": run_ours("yin"), "pyin": run_ours("pyin"),
               "pesto": run_pesto, "crepe-tiny": run_crepe}
    folders = sorted(glob.glob(os.path.join(DATA, "[0-9][0-9]-*")))
    if args.limit:
        folders = folders[:args.limit]

    # warm-up (numba compile / cache load, model load) on 3 s of the first recording; time it
    first = load_take(os.path.join(folders[0], os.path.basename(folders[0]) + "-violin.flac"))
    clip = Take(first.samples[: 3 * first.sr], first.sr)
    first_call_s = {}
    for n in names:
        t = time.perf_counter()
        runners[n](clip)
        first_call_s[n] = time.perf_counter() - t

    per_file: list[dict] = []
    wall = {n: 0.0 for n in names}
    refine_wall = 0.0
    audio_s = 0.0
    for folder in folders:
        base = os.path.basename(folder)
        for pi, part in enumerate(PARTS):
            take = load_take(os.path.join(folder, f"{base}-{part}.flac"))
            ref = np.loadtxt(os.path.join(folder, f"{base}-{part}-f0.csv"), delimiter=",", skiprows=1)
            audio_s += take.duration_s
            row = {"file": f"{base}-{part}", "part": part, "duration_s": take.duration_s, "scores": {}}
            for n in names:
                t = time.perf_counter()
                est_t, est_f, est_v = runners[n](take)
                wall[n] += time.perf_counter() - t
                row["scores"][n] = evaluate(ref[:, 0], ref[:, 1], est_t, est_f, est_v)
                if n == "fastpyin":
                    c = track_pitch(take, "fastpyin", fmin_hz=FMIN_HZ, fmax_hz=FMAX_HZ)
                    exp = expected_from_alignment(folder, pi, c.times_s)
                    t = time.perf_counter()
                    r = refine_with_score(c, exp)
                    refine_wall += time.perf_counter() - t
                    row["scores"][SCORE_INFORMED] = evaluate(ref[:, 0], ref[:, 1], r.times_s, r.f0_hz,
                                                             r.voiced)
            per_file.append(row)
            print(row["file"], {k: round(v["Raw Pitch Accuracy"], 3) for k, v in row["scores"].items()},
                  flush=True)

    methods = list(per_file[0]["scores"].keys())
    summary: dict = {}
    for m in methods:
        summary[m] = {}
        for part in list(PARTS) + ["all"]:
            rows = [r for r in per_file if part == "all" or r["part"] == part]
            summary[m][part] = {k: float(np.mean([r["scores"][m][k] for r in rows])) for k in METRICS}
    speed = {n: audio_s / wall[n] for n in names}
    if "fastpyin" in names:
        speed[SCORE_INFORMED] = audio_s / (wall["fastpyin"] + refine_wall)
    result = {
        "benchmark": "pitch", "date": datetime.date.today().isoformat(), "machine": "2-core CPU, no GPU",
        "command": ".venv/bin/python benchmarks/bench_pitch.py" + (
            f" --trackers {args.trackers}" if args.trackers != ap.get_default("trackers") else "")
        + (f" --limit {args.limit}" if args.limit else ""),
        "data": f"Bach10, {len(folders)} chorales x 4 parts, {audio_s:.1f} s of audio",
        "torch_threads": torch.get_num_threads(), "fmin_hz": FMIN_HZ, "fmax_hz": FMAX_HZ,
        "speed_x_realtime": speed, "first_call_s_on_3s_clip": first_call_s,
        "summary": summary, "per_file": per_file,
    }
    print(json.dumps({"speed": speed, "all": {m: summary[m]["all"] for m in methods}}, indent=1))
    if not args.no_write:
        write_section("pitch", result, render_md(result, methods))


LABELS = {
    "fastpyin": "fastpyin (ours: probabilistic YIN, Viterbi over candidates)",
    "yin": "yin (librosa.yin + energy gate)",
    "pyin": "pyin (librosa.pyin, same fmin/fmax, hop 10 ms)",
    "pesto": "pesto (mir-1k_g7, 10 ms, confidence >= 0.5 voiced)",
    "crepe-tiny": "torchcrepe tiny (16 kHz, hop 10 ms, Viterbi, periodicity >= 0.21 voiced)",
    SCORE_INFORMED: "fastpyin + refine_with_score: score-informed (expected pitch from the dataset's "
                    "beat-level alignment)",
}


def render_md(res: dict, methods: list[str]) -> str:
    s = res["summary"]
    lines = ["## Pitch tracking (Bach10 parts)", "",
             f"Command: `{res['command']}`  ", f"Machine: {res['machine']}; torch threads: "
             f"{res['torch_threads']}; date: {res['date']}  ",
             f"Data: {res['data']} (real recordings; Duan, Pardo & Zhang 2010). Reference: the hand-corrected "
             "F0 (10 ms). Metrics: mir_eval.melody, estimate resampled to the reference times; raw pitch/"
             "chroma accuracy use the tracker's pitch guess in frames it calls unvoiced where it has one. "
             f"Search range {res['fmin_hz']:.0f}-{res['fmax_hz']:.0f} Hz. Speed: total audio seconds / "
             "wall seconds, warm (after a first call on a 3 s clip), both cores available.", "",
             "| tracker | RPA | RCA | VR | VFA | OA | x real time |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods:
        a = s[m]["all"]
        sp = res["speed_x_realtime"].get(m)
        sp_txt = f"{sp:.0f}x" if sp else "n/a"
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(f"{a[k]:.3f}" for k in METRICS) + f" | {sp_txt} |")
    lines += ["", "Raw pitch accuracy per instrument:", "",
              "| tracker | " + " | ".join(PARTS) + " |", "| --- |" + " --- |" * len(PARTS)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{s[m][p]['Raw Pitch Accuracy']:.3f}" for p in PARTS) + " |")
    lines += ["", "Overall accuracy per instrument:", "",
              "| tracker | " + " | ".join(PARTS) + " |", "| --- |" + " --- |" * len(PARTS)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{s[m][p]['Overall Accuracy']:.3f}" for p in PARTS) + " |")
    fc = res["first_call_s_on_3s_clip"]
    lines += ["", "First call in a fresh process (3 s clip; numba cache load / model load): "
              + ", ".join(f"{k} {v:.2f} s" for k, v in fc.items()) + ".", "",
              "pesto and torchcrepe import torchaudio at module level, and every torchaudio wheel on the "
              "package index is a CUDA build that fails to import with CPU torch; the benchmark (only) "
              "inserts an empty stand-in `torchaudio` module and passes them arrays (pesto at 22050 Hz; "
              "torchcrepe after soxr resampling to 16 kHz, included in its time).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
