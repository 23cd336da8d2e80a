"""End-to-end speed of `musicdesk analyze`: a 60 s take in a fresh process, start-up included (target:
under 2 s with the default network), `musicdesk --help` (target: under 0.5 s), and the batch form.

The takes are made here, offline: a folk tune from music21's corpus is repeated to 60 s (or 30 s) at its
tempo, played by the simulated player with injected mistakes, and rendered with FluidSynth. We time
(a) the whole command in a fresh process (start-up, imports, score, audio, analysis with the default
network, JSON; the kernels compiled ahead of time, musicdesk.compiled, built first when stale), median
of 5 runs, and where that time goes (the same steps timed one by one in a fresh process), beside the
same command with numba's cached kernels instead (MUSICDESK_AOT=off, the way it ran before); (b) `musicdesk --help` in a fresh process; (c) the batch form on 30 takes of
30 s (`analyze SCORE TAKE x30 --json-dir DIR`); (d) the pipeline in-process after warm-up, stage by
stage, for the default tracker (with and without the network) and, side by side, with librosa's pYIN as
the tracker (the classic choice). Results: benchmarks/results/analyze.{md,json}.

    .venv/bin/python benchmarks/bench_analyze.py
"""
from __future__ import annotations

import json
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
EXE = ROOT / ".venv" / "bin" / "musicdesk"
FRESH_RUNS = 5
BATCH_TAKES, BATCH_TAKE_S = 30, 30.0


def _reel_score(path: Path, quarters: float) -> None:
    """The Acacia Reel (ryansMammoth) repeated to `quarters` quarter notes at 100 bpm, as MusicXML."""
    import music21

    tune = music21.corpus.parse("ryansMammoth/AcaciaReel")
    part = tune.parts[0] if tune.parts else tune
    flat = part.flatten().notes.stream()
    s = music21.stream.Stream()
    s.append(music21.tempo.MetronomeMark(number=100))
    offset = 0.0
    while offset < quarters:
        for n in flat:
            if offset + n.offset + n.quarterLength > quarters:
                break
            c = n.__deepcopy__()
            s.insert(offset + n.offset, c)
        offset += flat.highestTime
    s.makeNotation(inPlace=True)
    s.write("musicxml", fp=str(path))


def make_inputs() -> tuple[str, str, float]:
    """A ~60 s score (MusicXML) and a rendered take of it; returns paths and the take's duration."""
    from musicdesk.audio import save_take
    from musicdesk.score import load_score
    from musicdesk.simulate import Errors, perform
    from musicdesk.synth import render_notes

    CACHE.mkdir(parents=True, exist_ok=True)
    score_path = CACHE / "bench60.musicxml"
    take_path = CACHE / "bench60.flac"
    if not score_path.exists():
        _reel_score(score_path, 100.0)  # 100 quarter notes at 100 bpm = 60 s
    score = load_score(score_path)
    if not take_path.exists():
        n = len(score.notes)
        errs = Errors(wrong_midi={n // 5: score.notes[n // 5].midi + 2}, detune_cents={n // 3: -40},
                      shift_ms={n // 2: 150}, missed=frozenset({2 * n // 3}))
        notes, _ = perform(score.notes, errs, lead_s=1.0)
        save_take(render_notes(notes, "clarinet"), take_path)
    import soundfile as sf

    return str(score_path), str(take_path), sf.info(str(take_path)).duration


def make_batch_inputs(n: int = BATCH_TAKES, seconds: float = BATCH_TAKE_S) -> tuple[str, list[str]]:
    """A `seconds` s score and `n` different takes of it (instrument, tempo and mistakes vary per take)."""
    import numpy as np

    from musicdesk.audio import save_take
    from musicdesk.score import load_score
    from musicdesk.simulate import Errors, perform
    from musicdesk.synth import render_notes

    folder = CACHE / f"batch{n}x{seconds:.0f}"
    folder.mkdir(parents=True, exist_ok=True)
    score_path = folder / "score.musicxml"
    if not score_path.exists():
        _reel_score(score_path, seconds * 100 / 60)
    score = load_score(score_path)
    takes = []
    for i in range(n):
        path = folder / f"take{i + 1:02d}.flac"
        if not path.exists():
            rng = np.random.default_rng(i)
            m = len(score.notes)
            idx = rng.choice(np.arange(2, m - 2), size=6, replace=False).tolist()
            errs = Errors(wrong_midi={idx[0]: score.notes[idx[0]].midi + int(rng.choice([-2, -1, 1, 2]))},
                          detune_cents={idx[1]: float(rng.choice([-40, 40]))}, shift_ms={idx[2]: 150.0},
                          missed=frozenset({idx[3]}))
            notes, _ = perform(score.notes, errs, tempo_factor=float(rng.uniform(0.95, 1.05)),
                               lead_s=float(rng.uniform(0.3, 1.5)))
            instrument = ("clarinet", "flute", "violin", "oboe", "alto_sax", "trumpet")[i % 6]
            save_take(render_notes(notes, instrument), path)
        takes.append(str(path))
    return str(score_path), takes


def _wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def time_cli(score: str, take: str, runs: int = FRESH_RUNS, extra: tuple[str, ...] = (),
             score_cache: bool = True, env_extra: dict | None = None) -> list[float]:
    """Wall times of `musicdesk analyze SCORE TAKE --json ... --quiet` in fresh processes (the first run,
    which may fill numba's cache and the parsed-score cache, is not counted). score_cache False: every
    run reads the score as a piece never seen before (music21 imported and parsing)."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [str(EXE), "analyze", score, take, "--json", os.path.join(d, "r.json"), "--quiet", *extra]
        env = dict(os.environ, MUSICDESK_SCORE_CACHE=os.path.join(d, "scores") if score_cache else "off",
                   **(env_extra or {}))
        return [_wall(cmd, env) for _ in range(runs + 1)][1:]


def time_help(runs: int = FRESH_RUNS) -> dict:
    """Wall times of `musicdesk --help` and `musicdesk analyze --help` in fresh processes."""
    return {"help": [_wall([str(EXE), "--help"]) for _ in range(runs)],
            "analyze_help": [_wall([str(EXE), "analyze", "--help"]) for _ in range(runs)],
            "python": [_wall([sys.executable, "-c", "pass"]) for _ in range(runs)]}


def time_batch(score: str, takes: list[str], runs: int = 3) -> dict:
    """Total wall time of one `musicdesk analyze SCORE TAKE... --json-dir DIR --quiet` over all takes."""
    walls = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(runs):
            walls.append(_wall([str(EXE), "analyze", score, *takes, "--json-dir", d, "--quiet"]))
        n_json = len(list(Path(d).glob("*.json")))
    return {"walls_s": walls, "median_s": statistics.median(walls), "n_takes": len(takes), "n_json": n_json}


# The command's steps, timed one by one in a fresh process: where its wall time goes.
_TRACE = r"""
import json, os, sys, time
t0 = time.perf_counter()
laps = []
def lap(name, _t=[t0]):
    t = time.perf_counter(); laps.append((name, t - _t[0])); _t[0] = t
from musicdesk.compiled import use_ahead_of_time; use_ahead_of_time()
import numpy; lap("import numpy")
from musicdesk.assess.predict import start_loading; start_loading(sys.argv[3]); lap("start the network (no GPU: nothing to start)")
from musicdesk.score_process import PendingScore; ps = PendingScore(sys.argv[1]); lap("the score: from its cached parse, or a child starts reading it")
from musicdesk.audio import load_take; take = load_take(sys.argv[2]); lap("read the take (soundfile)")
from musicdesk.pitch import track_pitch; c = track_pitch(take); lap("pitch (first call; its 3 kernels compiled ahead of time)")
score = ps.result(); lap("wait for the score")
from musicdesk.align import align; al = align(score, c, take); lap("align (first call)")
from musicdesk.analysis import expected_midi_per_frame
from musicdesk.feedback import build_report
from musicdesk.pitch import refine_with_score
c = refine_with_score(c, expected_midi_per_frame(score, al, c.times_s)); rep = build_report(score, c, al); lap("report")
from musicdesk.assess.predict import assess; a = assess(score, c, sys.argv[3]); lap("network ratings (load its weights, rate)")
mods = sorted(m for m in ("torch", "librosa", "scipy.signal", "scipy.stats", "scipy.linalg", "music21", "numba")
              if m in sys.modules)
print(json.dumps({"laps": laps, "total": time.perf_counter() - t0, "modules": mods}))
sys.stdout.flush(); os._exit(0)
"""


def fresh_breakdown(score: str, take: str, runs: int = 3, score_cache: bool = True) -> dict:
    """Median seconds of each step of the command in fresh processes (see _TRACE)."""
    from musicdesk.assess import DEFAULT_MODEL

    outs = []
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, MUSICDESK_SCORE_CACHE=os.path.join(d, "scores") if score_cache else "off")
        for k in range(runs + int(score_cache)):   # with the cache, a first run fills it
            r = subprocess.run([sys.executable, "-c", _TRACE, score, take, DEFAULT_MODEL], check=True,
                               capture_output=True, text=True, cwd=ROOT, env=env)
            if score_cache and k == 0:
                continue
            outs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    names = [n for n, _ in outs[0]["laps"]]
    return {"steps_s": {n: statistics.median(o["laps"][i][1] for o in outs) for i, n in enumerate(names)},
            "total_s": statistics.median(o["total"] for o in outs), "modules_loaded": outs[0]["modules"]}


def time_inprocess(score_path: str, take_path: str, tracker: str, runs: int = 3, assess_model: str | None = None
                   ) -> dict:
    from musicdesk.analysis import analyze
    from musicdesk.audio import load_take
    from musicdesk.score import load_score

    t = time.perf_counter()
    score = load_score(score_path)
    t_score = time.perf_counter() - t
    t = time.perf_counter()
    take = load_take(take_path)
    t_audio = time.perf_counter() - t
    analyze(score, take, tracker=tracker, assess_model=assess_model)  # warm-up (JIT, caches, network)
    totals, stages = [], []
    for _ in range(runs):
        t = time.perf_counter()
        a = analyze(score, take, tracker=tracker, assess_model=assess_model)
        totals.append(time.perf_counter() - t)
        stages.append(a.timings_s)
    s = a.report.summary
    return {"tracker": tracker, "network": assess_model, "load_score_s": t_score, "load_audio_s": t_audio,
            "analyze_median_s": statistics.median(totals),
            "stages_s": {k: statistics.median(st[k] for st in stages) for k in stages[0]},
            "n_correct": s["n_correct"], "n_notes": s["n_notes"], "n_wrong": s["n_wrong_pitch"],
            "n_missed": s["n_missed"]}


def main() -> None:
    import platform

    from musicdesk.assess import DEFAULT_MODEL, DISPLAY_NAMES

    from musicdesk import compiled

    if compiled.built_path() is None:  # the kernels' sources changed since packaging/setup.sh built them
        subprocess.run([sys.executable, "-m", "musicdesk.compiled", "build"], check=True, cwd=ROOT)
    aot = compiled.built_path()[0].name
    load = os.getloadavg()[0]          # other work on the machine shows in every wall time below
    score, take, dur = make_inputs()
    bscore, btakes = make_batch_inputs()
    cli = time_cli(score, take)
    cli_none = time_cli(score, take, runs=3, extra=("--assess", "none"))
    cli_new_piece = time_cli(score, take, runs=3, score_cache=False)
    # the way it ran before: numba's cached kernels (numba imported, its start-up on the first kernel)
    jit_env = {"MUSICDESK_AOT": "off"}
    cli_jit = time_cli(score, take, runs=3, env_extra=jit_env)
    cli_jit_new_piece = time_cli(score, take, runs=3, score_cache=False, env_extra=jit_env)
    # the alternative: torch's network in a child process, as on a machine with a GPU (asked for the
    # GPU, torch falls back to the CPU here), and the score read before the take, in this process
    torch_env = {"MUSICDESK_DEVICE": "cuda", "MUSICDESK_SCORE_CHILD": "off"}
    cli_torch = time_cli(score, take, runs=3, env_extra=torch_env)
    cli_torch_new_piece = time_cli(score, take, runs=3, score_cache=False, env_extra=torch_env)
    helps = time_help()
    breakdown = fresh_breakdown(score, take)
    breakdown_new_piece = fresh_breakdown(score, take, score_cache=False)
    batch = time_batch(bscore, btakes)
    tracker = os.environ.get("BENCH_TRACKER") or _default_tracker()
    ours = time_inprocess(score, take, tracker=tracker)
    ours_net = time_inprocess(score, take, tracker=tracker, assess_model=DEFAULT_MODEL)
    pyin = time_inprocess(score, take, tracker="pyin", runs=1)
    net = DISPLAY_NAMES[DEFAULT_MODEL]
    res = {"date": str(date.today()), "machine": f"{os.cpu_count()}-core CPU, no GPU ({platform.processor() or platform.machine()})",
           "load_average_1min": load, "take_s": dur, "network": net, "cli_wall_s": cli, "cli_wall_median_s": statistics.median(cli),
           "cli_no_network_wall_s": cli_none, "cli_no_network_wall_median_s": statistics.median(cli_none),
           "cli_new_piece_wall_s": cli_new_piece, "cli_new_piece_wall_median_s": statistics.median(cli_new_piece),
           "help_wall_s": helps["help"], "help_wall_median_s": statistics.median(helps["help"]),
           "analyze_help_wall_median_s": statistics.median(helps["analyze_help"]),
           "python_startup_median_s": statistics.median(helps["python"]),
           "fresh_breakdown": breakdown, "fresh_breakdown_new_piece": breakdown_new_piece, "aot_module": aot,
           "cli_numba_wall_s": cli_jit, "cli_numba_wall_median_s": statistics.median(cli_jit),
           "cli_numba_new_piece_wall_s": cli_jit_new_piece,
           "cli_numba_new_piece_wall_median_s": statistics.median(cli_jit_new_piece),
           "cli_torch_child_wall_s": cli_torch, "cli_torch_child_wall_median_s": statistics.median(cli_torch),
           "cli_torch_child_new_piece_wall_s": cli_torch_new_piece,
           "cli_torch_child_new_piece_wall_median_s": statistics.median(cli_torch_new_piece),
           "batch": {**batch, "take_s": BATCH_TAKE_S, "per_take_s": batch["median_s"] / batch["n_takes"]},
           "inprocess": [ours, pyin, ours_net]}
    b = res["batch"]
    lines = ["## End to end: `musicdesk analyze` on a 60 s take, start-up included; `--help`; the batch form", "",
             f"Command: `.venv/bin/python benchmarks/bench_analyze.py` ({res['date']}, {res['machine']}; load average "
             f"{load:.2f} when it started: other processes on the machine lengthen every wall time).",
             f"Take: {dur:.1f} s, a ryansMammoth reel (Acacia Reel) repeated to 60 s, rendered (FluidSynth clarinet) with 4 injected "
             f"mistakes. Targets: the whole command in a fresh process under 2 s with the default network ({net}); "
             "`musicdesk --help` under 0.5 s.", "",
             f"- Whole command in a fresh process (Python start-up, imports, score parse, audio read, analysis, {net} "
             f"ratings, JSON): median **{res['cli_wall_median_s']:.2f} s** over {len(cli)} runs "
             f"({', '.join(f'{x:.2f}' for x in cli)}), the score read before (its parse cached); with `--assess none` "
             f"{res['cli_no_network_wall_median_s']:.2f} s. A piece never read before (the cache off, music21 imported "
             f"and parsing each run): median **{res['cli_new_piece_wall_median_s']:.2f} s** "
             f"({', '.join(f'{x:.2f}' for x in cli_new_piece)}).",
             f"- Side by side, with numba's cached kernels instead of those compiled ahead of time (`MUSICDESK_AOT=off`, "
             f"the way the command ran before; numba imported, and its start-up on the first kernel): median "
             f"{res['cli_numba_wall_median_s']:.2f} s ({', '.join(f'{x:.2f}' for x in cli_jit)}) with the score read "
             f"before, {res['cli_numba_new_piece_wall_median_s']:.2f} s "
             f"({', '.join(f'{x:.2f}' for x in cli_jit_new_piece)}) for a piece never read before. The kernels "
             f"compiled ahead of time: `musicdesk/_aot/{aot}` (`python -m musicdesk.compiled build`).",
             f"- `musicdesk --help` in a fresh process: median **{res['help_wall_median_s']:.3f} s** "
             f"(`musicdesk analyze --help` {res['analyze_help_wall_median_s']:.3f} s; a bare `python -c pass` "
             f"{res['python_startup_median_s']:.3f} s).",
             f"- Batch form, {b['n_takes']} takes of {b['take_s']:.0f} s in one command (`musicdesk analyze SCORE TAKE x{b['n_takes']} "
             f"--json-dir DIR --quiet`, {b['n_json']} JSONs, with {net}): median **{b['median_s']:.1f} s** in all "
             f"({', '.join(f'{x:.1f}' for x in b['walls_s'])}), {b['per_take_s']:.2f} s per take.",
             f"- Side by side, the network and the score the way they ran until the morning of 2026-12-07 (torch's "
             f"network loading in a child process on the other core, the score read in this process before the take; "
             f"`MUSICDESK_DEVICE=cuda MUSICDESK_SCORE_CHILD=off`, torch falling back to the CPU; the kernels compiled "
             f"ahead of time, as above): median "
             f"{res['cli_torch_child_wall_median_s']:.2f} s ({', '.join(f'{x:.2f}' for x in cli_torch)}) with the "
             f"score read before, {res['cli_torch_child_new_piece_wall_median_s']:.2f} s "
             f"({', '.join(f'{x:.2f}' for x in cli_torch_new_piece)}) for a piece never read before.",
             "", "Where the fresh command's time goes (its steps timed one by one in a fresh process, median of 3; "
             f"total {breakdown['total_s']:.2f} s with the score read before, {breakdown_new_piece['total_s']:.2f} s "
             "for a piece never read before, whose score a child process reads meanwhile; with no GPU, the network "
             "is its numpy forward pass, musicdesk.assess.numpy_net, and torch is never imported):", "",
             "| step | s (read before) | s (never read) |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v:.3f} | {breakdown_new_piece['steps_s'].get(k, float('nan')):.3f} |"
              for k, v in breakdown["steps_s"].items()]
    lines += ["", "Of the slow imports, the command's own process had loaded: "
              + (", ".join(breakdown["modules_loaded"]) or "none") + "."]
    lines += ["", "After start-up, in-process (warm):", "",
              "| tracker | network | analysis after start-up (s) | pitch | align | report | network | load score (s) | load audio (s) | notes correct |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in (ours, ours_net, pyin):
        st = r["stages_s"]
        lines.append(f"| {r['tracker']} | {DISPLAY_NAMES.get(r['network'], 'none')} | **{r['analyze_median_s']:.3f}** | "
                     f"{st.get('pitch', 0):.3f} | {st.get('align', 0):.3f} | {st.get('report', 0):.3f} | "
                     f"{st.get('assess', 0):.3f} | {r['load_score_s']:.3f} | {r['load_audio_s']:.3f} | "
                     f"{r['n_correct']}/{r['n_notes']} |")
    write_section("analyze", res, "\n".join(lines))
    print("\n".join(lines))


def _default_tracker() -> str:
    from musicdesk.pitch import DEFAULT_TRACKER

    return DEFAULT_TRACKER


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
