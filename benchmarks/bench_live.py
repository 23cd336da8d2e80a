"""Live path, core part: cost of LivePitch.push per 33 ms block (what a 30 fps GUI timer hands it), the
cost of the Recorder's PortAudio callback and of its writer thread per block, and (with --accuracy)
LivePitch's accuracy on the Bach10 recordings next to the offline tracker's.

Run:  .venv/bin/python benchmarks/bench_live.py [--accuracy] [--no-write]
Writes benchmarks/results/live_core.md and .json. The GUI part (block arrival -> drawn, fps) is added
by the app's benchmark.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import datetime
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from musicdesk.capture import Recorder  # noqa: E402
from musicdesk.live_pitch import LivePitch  # noqa: E402
from musicdesk.synth import PerformedNote, render_notes  # noqa: E402
from make_results import write_section  # noqa: E402  (benchmarks/ is this script's folder)

BLOCK_S = 0.033
SRS = (44100, 48000)


def test_audio(sr: int, seconds: float = 30.0) -> np.ndarray:
    """A clarinet melody (random notes, D3-C6, 0.2-0.6 s each, short rests) rendered with FluidSynth."""
    rng = np.random.default_rng(0)
    notes, t = [], 0.2
    while t < seconds - 1.0:
        d = float(rng.uniform(0.2, 0.6))
        notes.append(PerformedNote(t, t + d, int(rng.integers(50, 84)), cents=float(rng.uniform(-30, 30))))
        t += d + float(rng.choice([0.0, 0.05, 0.3]))
    return render_notes(notes, program="clarinet", sr=sr, tail_s=0.5).samples


def stats_ms(times_s: list[float]) -> dict:
    a = np.asarray(times_s) * 1e3
    return {"n": int(len(a)), "median_ms": float(np.median(a)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max())}


def bench_push(x: np.ndarray, sr: int) -> dict:
    lp = LivePitch(sr)
    blk = int(round(BLOCK_S * sr))
    lp.push(x[:3 * blk])                                   # warm-up (FFT plans)
    times = []
    for i in range(3 * blk, len(x) - blk, blk):
        t0 = time.perf_counter()
        lp.push(x[i:i + blk])
        times.append(time.perf_counter() - t0)
    return stats_ms(times) | {"block_ms": 1e3 * blk / sr, "frames_per_block": BLOCK_S / lp.hop_s}


def bench_recorder(x: np.ndarray, sr: int, ext: str) -> dict:
    """Callback (ring + queue copy) per 10 ms block, then the writer's work per block (file write,
    level, clip count), both timed in this thread on the same blocks."""
    with tempfile.TemporaryDirectory() as d:
        rec = Recorder(os.path.join(d, f"t.{ext}"), sr=sr)
        blocks = [x[i:i + rec.block][:, None].copy() for i in range(0, len(x) - rec.block, rec.block)]
        for b in blocks[:50]:
            rec._callback(b, len(b), None, None)           # warm-up
        cb = []
        for b in blocks:
            t0 = time.perf_counter()
            rec._callback(b, len(b), None, None)
            cb.append(time.perf_counter() - t0)
        import soundfile as sf

        fmt = "FLAC" if ext == "flac" else "WAV"
        rec._file = sf.SoundFile(rec.path, "w", samplerate=sr, channels=1, format=fmt, subtype="PCM_24")
        wr = []
        for b in blocks:
            t0 = time.perf_counter()
            rec._take_block(b[:, 0])
            wr.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rec._file.flush()
        flush_ms = (time.perf_counter() - t0) * 1e3
        rec._file.close()
    return {"block_ms": 1e3 * rec.block / sr, "callback": stats_ms(cb), "writer": stats_ms(wr),
            "flush_ms": flush_ms,
            "writer_x_realtime": (rec.block / sr) / float(np.median(wr))}


def bench_accuracy() -> dict:
    """LivePitch (44.1 kHz as recorded) on Bach10, mir_eval melody metrics."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from bench_pitch import DATA, METRICS, PARTS, evaluate  # noqa: E402

    import soundfile as sf

    folders = sorted(glob.glob(os.path.join(DATA, "[0-9][0-9]-*")))
    rows, audio_s, wall = [], 0.0, 0.0
    for folder in folders:
        base = os.path.basename(folder)
        for part in PARTS:
            x, sr = sf.read(os.path.join(folder, f"{base}-{part}.flac"), dtype="float32", always_2d=True)
            x = x.mean(axis=1)
            ref = np.loadtxt(os.path.join(folder, f"{base}-{part}-f0.csv"), delimiter=",", skiprows=1)
            lp = LivePitch(sr)
            blk = int(round(BLOCK_S * sr))
            t0 = time.perf_counter()
            parts = [lp.push(x[i:i + blk]) for i in range(0, len(x), blk)]
            wall += time.perf_counter() - t0
            audio_s += len(x) / sr
            t = np.concatenate([p.times_s for p in parts])
            m = np.concatenate([p.midi for p in parts])
            f = np.where(np.isfinite(m), 440.0 * 2 ** ((m - 69) / 12), 0.0)
            rows.append({"file": f"{base}-{part}", "part": part,
                         "scores": evaluate(ref[:, 0], ref[:, 1], t, f, np.isfinite(m))})
    summary = {p: {k: float(np.mean([r["scores"][k] for r in rows if p == "all" or r["part"] == p]))
                   for k in METRICS} for p in list(PARTS) + ["all"]}
    offline = None
    pj = os.path.join(ROOT, "benchmarks", "results", "pitch.json")
    if os.path.exists(pj):
        with open(pj) as fh:
            offline = json.load(fh)["summary"].get("fastpyin", {}).get("all")
    return {"data": f"Bach10, {len(folders)} chorales x 4 parts, {audio_s:.1f} s",
            "speed_x_realtime": audio_s / wall, "summary": summary, "offline_fastpyin_all": offline,
            "per_file": rows}


def render_md(r: dict) -> str:
    lines = ["## Live path, core (LivePitch and Recorder)", "",
             f"Command: `{r['command']}`  ",
             f"Machine: {r['machine']}; date {r['date']}; load average when started: {r['loadavg']}.  ",
             "Audio: 30 s clarinet melody rendered with FluidSynth; blocks fed in this thread, timed with "
             "perf_counter after a warm-up.", "",
             "| what | sr (Hz) | block (ms) | median (ms) | p99 (ms) | max (ms) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for sr, p in r["push"].items():
        lines.append(f"| LivePitch.push ({p['frames_per_block']:.1f} frames per block) | {sr} | "
                     f"{p['block_ms']:.1f} | {p['median_ms']:.3f} | {p['p99_ms']:.3f} | {p['max_ms']:.3f} |")
    for ext, q in r["recorder"].items():
        lines.append(f"| Recorder PortAudio callback (ring + queue) | 44100 | {q['block_ms']:.1f} | "
                     f"{q['callback']['median_ms']:.4f} | {q['callback']['p99_ms']:.4f} | "
                     f"{q['callback']['max_ms']:.4f} |")
        lines.append(f"| Recorder writer per block ({ext.upper()} write, level, clips) | 44100 | "
                     f"{q['block_ms']:.1f} | {q['writer']['median_ms']:.4f} | {q['writer']['p99_ms']:.4f} | "
                     f"{q['writer']['max_ms']:.4f} |")
    lines += ["", "Targets: LivePitch.push well under 5 ms per 33 ms block -> **"
              + ("MET" if all(p["p99_ms"] < 5 for p in r["push"].values()) else "NOT MET")
              + "** (p99). Flush once a second: "
              + ", ".join(f"{e.upper()} {q['flush_ms']:.2f} ms" for e, q in r["recorder"].items()) + "."]
    acc = r.get("accuracy")
    if acc:
        lines += ["", f"Accuracy of the live trace ({acc['data']}; reference: the hand-corrected F0; "
                  "mir_eval melody metrics; LivePitch gives no pitch in frames it calls unvoiced, so its "
                  "raw pitch accuracy counts those as misses):", "",
                  "| tracker | RPA | RCA | VR | VFA | OA | x real time |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        keys = ("Raw Pitch Accuracy", "Raw Chroma Accuracy", "Voicing Recall", "Voicing False Alarm",
                "Overall Accuracy")
        s = acc["summary"]["all"]
        lines.append("| LivePitch (YIN, threshold 0.15, -55 dBFS gate, 33 ms blocks) | "
                     + " | ".join(f"{s[k]:.3f}" for k in keys) + f" | {acc['speed_x_realtime']:.0f}x |")
        if acc.get("offline_fastpyin_all"):
            o = acc["offline_fastpyin_all"]
            lines.append("| fastpyin offline (from results/pitch.json, for comparison) | "
                         + " | ".join(f"{o[k]:.3f}" for k in keys) + " | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accuracy", action="store_true", help="also LivePitch on Bach10 (about 30 s)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    loadavg = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    res: dict = {"benchmark": "live_core", "date": datetime.date.today().isoformat(), "machine": "2-core CPU, no GPU",
                 "command": ".venv/bin/python benchmarks/bench_live.py"
                 + (" --accuracy" if args.accuracy else ""),
                 "loadavg": " ".join(loadavg), "push": {}, "recorder": {}}
    for sr in SRS:
        res["push"][str(sr)] = bench_push(test_audio(sr), sr)
    x = test_audio(44100)
    for ext in ("wav", "flac"):
        res["recorder"][ext] = bench_recorder(x, 44100, ext)
    if args.accuracy:
        res["accuracy"] = bench_accuracy()
    md = render_md(res)
    print(md)
    if not args.no_write:
        write_section("live_core", res, md)


if __name__ == "__main__":
    main()
