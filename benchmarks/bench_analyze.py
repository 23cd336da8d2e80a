"""End-to-end speed of `musicdesk analyze` on a 60 s take (target: under 2 s after start-up).

The take is made here, offline: a folk tune from music21's corpus is repeated to 60 s at its tempo,
played by the simulated player with a few injected mistakes, and rendered with FluidSynth (clarinet).
We time (a) the whole command in a fresh process (start-up and imports included, and numba's cache
warm), (b) the pipeline in-process after warm-up, stage by stage, for the default tracker and, side by
side, with librosa's pYIN as the tracker (the classic choice). Results: benchmarks/results/analyze.{md,json}.

    .venv/bin/python benchmarks/bench_analyze.py
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from make_results import write_section  # noqa: E402  (benchmarks/ is this script's folder)

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"


def make_inputs() -> tuple[str, str, float]:
    """A ~60 s score (MusicXML) and a rendered take of it; returns paths and the take's duration."""
    import music21

    from musicdesk.audio import save_take
    from musicdesk.score import load_score
    from musicdesk.simulate import Errors, perform
    from musicdesk.synth import render_notes

    CACHE.mkdir(parents=True, exist_ok=True)
    score_path = CACHE / "bench60.musicxml"
    take_path = CACHE / "bench60.flac"
    if not score_path.exists():
        tune = music21.corpus.parse("ryansMammoth/AcaciaReel")
        part = tune.parts[0] if tune.parts else tune
        flat = part.flatten().notes.stream()
        s = music21.stream.Stream()
        s.append(music21.tempo.MetronomeMark(number=100))
        offset = 0.0
        while offset < 100.0:  # 100 quarter notes at 100 bpm = 60 s
            for n in flat:
                if offset + n.offset + n.quarterLength > 100.0:
                    break
                c = n.__deepcopy__()
                s.insert(offset + n.offset, c)
            offset += flat.highestTime
        s.makeNotation(inPlace=True)
        s.write("musicxml", fp=str(score_path))
    score = load_score(score_path)
    if not take_path.exists():
        n = len(score.notes)
        errs = Errors(wrong_midi={n // 5: score.notes[n // 5].midi + 2}, detune_cents={n // 3: -40},
                      shift_ms={n // 2: 150}, missed=frozenset({2 * n // 3}))
        notes, _ = perform(score.notes, errs, lead_s=1.0)
        save_take(render_notes(notes, "clarinet"), take_path)
    import soundfile as sf

    return str(score_path), str(take_path), sf.info(str(take_path)).duration


def time_cli(score: str, take: str, runs: int = 3) -> list[float]:
    exe = ROOT / ".venv" / "bin" / "musicdesk"
    times = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(runs + 1):  # the first run fills numba's cache; not counted
            t = time.perf_counter()
            subprocess.run([str(exe), "analyze", score, take, "--json", os.path.join(d, "r.json"), "--quiet"],
                           check=True)
            times.append(time.perf_counter() - t)
    return times[1:]


def time_inprocess(score_path: str, take_path: str, tracker: str, runs: int = 3) -> dict:
    from musicdesk.analysis import analyze
    from musicdesk.audio import load_take
    from musicdesk.score import load_score

    t = time.perf_counter()
    score = load_score(score_path)
    t_score = time.perf_counter() - t
    t = time.perf_counter()
    take = load_take(take_path)
    t_audio = time.perf_counter() - t
    analyze(score, take, tracker=tracker)  # warm-up (JIT, caches)
    totals, stages = [], []
    for _ in range(runs):
        t = time.perf_counter()
        a = analyze(score, take, tracker=tracker)
        totals.append(time.perf_counter() - t)
        stages.append(a.timings_s)
    s = a.report.summary
    return {"tracker": tracker, "load_score_s": t_score, "load_audio_s": t_audio,
            "analyze_median_s": statistics.median(totals),
            "stages_s": {k: statistics.median(st[k] for st in stages) for k in stages[0]},
            "n_correct": s["n_correct"], "n_notes": s["n_notes"], "n_wrong": s["n_wrong_pitch"],
            "n_missed": s["n_missed"]}


def main() -> None:
    import platform

    score, take, dur = make_inputs()
    cli = time_cli(score, take)
    ours = time_inprocess(score, take, tracker=os.environ.get("BENCH_TRACKER") or _default_tracker())
    pyin = time_inprocess(score, take, tracker="pyin", runs=1)
    res = {"date": str(date.today()), "machine": f"{os.cpu_count()}-core CPU, no GPU ({platform.processor() or platform.machine()})",
           "take_s": dur, "cli_wall_s": cli, "cli_wall_median_s": statistics.median(cli),
           "inprocess": [ours, pyin]}
    lines = ["## End to end: `musicdesk analyze` on a 60 s take", "",
             f"Command: `.venv/bin/python benchmarks/bench_analyze.py` ({res['date']}, {res['machine']}).",
             f"Take: {dur:.1f} s, a ryansMammoth reel (Acacia Reel) repeated to 60 s, rendered (FluidSynth clarinet) with 4 injected "
             "mistakes. Target: under 2 s after start-up.", "",
             f"- Whole command in a fresh process (Python start-up, imports, score parse, audio read, analysis, "
             f"JSON): median **{res['cli_wall_median_s']:.2f} s** over {len(cli)} runs ({', '.join(f'{x:.2f}' for x in cli)}).",
             "", "| tracker | analysis after start-up (s) | pitch | align | report | load score (s) | load audio (s) | notes correct |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in (ours, pyin):
        st = r["stages_s"]
        lines.append(f"| {r['tracker']} | **{r['analyze_median_s']:.3f}** | {st.get('pitch', 0):.3f} | "
                     f"{st.get('align', 0):.3f} | {st.get('report', 0):.3f} | {r['load_score_s']:.3f} | "
                     f"{r['load_audio_s']:.3f} | {r['n_correct']}/{r['n_notes']} |")
    write_section("analyze", res, "\n".join(lines))
    print("\n".join(lines))


def _default_tracker() -> str:
    from musicdesk.pitch import DEFAULT_TRACKER

    return DEFAULT_TRACKER


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
