"""Assessment networks: held-out synthetic R², real recordings with known damage, and speed.

1. R² per model and criterion on the held-out synthetic test split (unseen melodies and instruments;
   training/make_data.py), for the shipped weights, with the mean and spread over the training seeds
   from training/results/NAME.json, beside the rule-based ratings of musicdesk's own report; and the
   synthetic twin of check 2 on validation melodies (training/damage_check.py), if its takes are made.
2. Bach10 (real professional recordings, 5 chorales x 4 parts, evaluation only): each part against
   the same recording damaged in a known way (training/damage.py), two random damages per kind:
   - wrong: 25% of the notes pitch-shifted by 1 or 2 semitones        -> note accuracy
   - detune: 40% of the notes pitch-shifted by 35-50 cents             -> intonation
   - timing: 25% of the notes moved 150-250 ms early or late (notes with room to move; the
     neighbouring audio stretched and squeezed, the total length kept) -> rhythmic accuracy
   - cut: 20% of the notes replaced by silence                          -> note accuracy
   A pair counts when the damaged take is rated lower on the criterion the damage touches.
3. Speed on this CPU: ratings of a 60 s take after loading (features: DTW and distance image, then the
   network, batched over chunks), the model's load time, and a fresh process importing torch.

Run: .venv/bin/python benchmarks/bench_assess.py [--quick] [--data training/cache/fba]
Writes benchmarks/results/assess.md and assess.json.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from make_results import write_section  # noqa: E402

from musicdesk.analysis import analyze  # noqa: E402
from musicdesk.assess.features import build_input, local_timing_s  # noqa: E402
from musicdesk.assess import DEFAULT_MODEL, DISPLAY_NAMES  # noqa: E402
from musicdesk.assess.models import CRITERIA, MODELS  # noqa: E402
from musicdesk.assess.predict import (Assessor, aligned_onsets_s, build_inputs, score_onsets_s,  # noqa: E402
                                      take_frames)
from musicdesk.assess.weights import member_infos  # noqa: E402
from musicdesk.audio import Take, load_take  # noqa: E402
from musicdesk.score import load_score  # noqa: E402
from training.damage import DAMAGES, damage  # noqa: E402

DATA = Path(os.path.dirname(ROOT)) / "shared" / "data" / "bach10"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/bach10")
PARTS = ["violin", "clarinet", "saxphone", "bassoon"]
DATE = datetime.date.today().isoformat()
MACHINE = "2-core CPU, no GPU"
# the synthetic twins of the Bach10 check (training/damage_check.py make ...): folder, what the clean player does
SYNTHETIC_CHECKS = {
    "standard": ("damage_val", "mild rubato (`make`)"),
    "holds": ("damage_val_holds", "mild rubato and every phrase end held 0.2-1.2 s, like a chorale's fermatas "
              "(`make --holds 1 --out training/cache/damage_val_holds`)"),
}


# --------------------------------------------------------------------------- evaluations

def _gt_notes(folder: Path, part: str) -> list[tuple[float, float]]:
    name = folder.name
    rows = []
    with open(folder / f"{name}-GTNotes.csv") as fh:
        for r in csv.DictReader(fh):
            if r["part"] == part:
                rows.append((float(r["onset_s"]), float(r["offset_s"])))
    return sorted(rows)


def synthetic_r2(assessors: dict, data: Path) -> dict:
    """R² of the shipped weights on the test split, and the seeds' figures from training/results."""
    sys.path.insert(0, str(ROOT))
    from training.train import load_split, r2

    out: dict = {}
    te = None
    for name, a in assessors.items():
        res_file = ROOT / "training" / "results" / f"{name}.json"
        res = json.loads(res_file.read_text()) if res_file.exists() else None
        row: dict = {}
        if (data / "test").is_dir():
            modes = [m.get("note_onsets", "dtw") for m in member_infos(a.info)]   # an ensemble: each member's
            splits = {m: load_split(data, "test", name == "distmatnet", note_onsets=m) for m in dict.fromkeys(modes)}
            te = splits[modes[0]]
            pred = a.rate_inputs(te.inputs if "members" not in a.info else
                                 [tuple(splits[m].inputs[k] for m in modes) for k in range(len(te.inputs))])
            row["shipped_test_r2"] = dict(zip(CRITERIA, map(float, r2(te.labels, pred))))
            row["n_test"] = len(te.inputs)
            out["rule_based"] = {"shipped_test_r2": dict(zip(CRITERIA, map(float, r2(te.labels, te.rule)))),
                                 "n_test": len(te.inputs)}
        if res:
            row["seeds"] = res["seeds"]
            row["test_r2_mean"] = res["test_r2_mean"]
            row["test_r2_sd"] = res["test_r2_sd"]
            row["n_takes"] = res["n_takes"]
        out[name] = row
    return out


def timing_spread(perf: np.ndarray, score: np.ndarray, onsets: np.ndarray | None) -> tuple[float, float, float]:
    """Mean |timing deviation|, mean |local timing| and mean |note onset error| (s) of a take's network
    input: how much the timing inputs move is what a network can see of misplaced notes."""
    inp = build_input(perf, score, onsets, with_distmat=False)
    return (float(np.mean(np.abs(inp.timing_s))), float(np.mean(np.abs(local_timing_s(inp.timing_s)))),
            float(np.mean(np.abs(inp.note_timing_s))))


def _spread_summary(clean: list, damaged: list) -> dict:
    c, d = np.mean(clean, axis=0), np.mean(damaged, axis=0)
    return {"pairs": len(clean), "clean_timing_s": float(c[0]), "damaged_timing_s": float(d[0]),
            "clean_local_timing_s": float(c[1]), "damaged_local_timing_s": float(d[1]),
            "clean_note_timing_s": float(c[2]), "damaged_note_timing_s": float(d[2])}


def synthetic_damage(assessors: dict, data: Path) -> dict:
    """The synthetic twin of the Bach10 check on validation melodies (training/damage_check.py), if its
    takes have been made (`python -m training.damage_check make`)."""
    from musicdesk.assess.features import score_onset_frames
    from training.damage_check import evaluate

    if not any(data.glob("*.npz")):
        return {}
    out = {name: evaluate(a.model, data, a.info) for name, a in assessors.items()}
    out["rule_based"] = evaluate(None, data)
    spread = {"clean": [], "timing": []}
    for f in sorted(data.glob("*.npz")):
        with np.load(f) as z:
            for v in spread:
                spread[v].append(timing_spread(z[f"{v}_contour"], z["score_midi"],
                                               score_onset_frames(z["score_notes"][:, 1])))
    return {"summary": out, "timing_inputs": _spread_summary(spread["clean"], spread["timing"])}


def bach10_pairs(assessors: dict, quick: bool) -> dict:
    folders = sorted(p for p in DATA.iterdir() if p.is_dir())
    if quick:
        folders = folders[:1]
    seeds = (0,) if quick else (0, 1)
    results = {name: {k: [] for k in DAMAGES} for name in list(assessors) + ["rule_based"]}
    spread: dict[str, list] = {"clean": [], "timing": []}
    for folder in folders:
        score_path = folder / f"{folder.name}.mid"
        for pi, part in enumerate(PARTS):
            take = load_take(folder / f"{folder.name}-{part}.flac")
            score = load_score(score_path, part=pi)
            notes = _gt_notes(folder, part)

            def ratings(t: Take) -> dict:
                an = analyze(score, t)
                perf, sc, onsets = take_frames(score, an.contour)
                out = {"rule_based": dict(an.report.ratings), "_spread": timing_spread(perf, sc, onsets)}
                for name, a in assessors.items():
                    inp = build_inputs(a.info, perf, sc, onsets, "distmat" in a.model.uses,
                                       aligned_onsets_s(an.alignment), score_onsets_s(score))
                    out[name] = dict(zip(a.criteria, map(float, a.rate_inputs([inp])[0])))
                return out

            clean = ratings(take)
            for kind, crit in DAMAGES.items():
                for s in seeds:
                    rng = np.random.default_rng(zlib.crc32(f"{folder.name}/{part}/{kind}/{s}".encode()))
                    bad = ratings(Take(damage(take.samples, take.sr, notes, kind, rng), take.sr))
                    if kind == "timing":
                        spread["clean"].append(clean["_spread"])
                        spread["timing"].append(bad["_spread"])
                    for name in results:
                        results[name][kind].append({"take": f"{folder.name}/{part}", "seed": s,
                                                    "clean": clean[name][crit], "damaged": bad[name][crit]})
            print(f"  {folder.name} {part}: clean {json.dumps({k: round(clean[k]['note_accuracy'], 2) for k in results})}",
                  flush=True)
    summary = {}
    for name, kinds in results.items():
        summary[name] = {}
        for kind, pairs in kinds.items():
            lower = sum(p["damaged"] < p["clean"] for p in pairs)
            summary[name][kind] = {"criterion": DAMAGES[kind], "pairs": len(pairs), "rated_lower": lower,
                                   "pct": 100.0 * lower / max(1, len(pairs)),
                                   "mean_drop": float(np.mean([p["clean"] - p["damaged"] for p in pairs]))}
    return {"summary": summary, "pairs": results, "timing_inputs": _spread_summary(spread["clean"], spread["timing"])}


def speed(names: list[str]) -> dict:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_analyze import make_inputs

    score_path, take_path, dur = make_inputs()
    score = load_score(score_path)
    an = analyze(score, load_take(take_path))
    frames = (*take_frames(score, an.contour), aligned_onsets_s(an.alignment), score_onsets_s(score))
    from musicdesk.assess.numpy_net import NUMPY_MODELS
    from musicdesk.assess.predict import NumpyAssessor

    out = {"take_s": round(dur, 1), "date": DATE}
    for name in names:
        for backend in ("torch", "numpy") if name in NUMPY_MODELS else ("torch",):
            t = time.perf_counter()
            a = Assessor(name, "cpu") if backend == "torch" else NumpyAssessor(name)
            load_s = time.perf_counter() - t
            first = a.rate(*frames)  # first call: numba kernels from cache, torch warm-up
            times = []
            for _ in range(20):
                t = time.perf_counter()
                a.rate(*frames)
                times.append(time.perf_counter() - t)
            out[name if backend == "torch" else f"{name}/numpy"] = {
                "load_s": round(load_s, 4), "rate_median_s": round(float(np.median(times)), 4),
                "rate_max_s": round(float(np.max(times)), 4), "ratings": first.ratings}
    out["cold_import_and_load_s"] = _cold_load_s(
        "import torch; from musicdesk.assess import DEFAULT_MODEL; "
        "from musicdesk.assess.predict import Assessor; a=Assessor(DEFAULT_MODEL,'cpu')")
    out["cold_numpy_load_s"] = _cold_load_s(
        "from musicdesk.assess import DEFAULT_MODEL; "
        "from musicdesk.assess.predict import NumpyAssessor; a=NumpyAssessor(DEFAULT_MODEL)")
    return out


def _cold_load_s(statements: str, runs: int = 3) -> float:
    """Median wall time (s) of `statements` in a fresh interpreter: imports and loading included."""
    code = f"import time; t=time.perf_counter(); {statements}; print(time.perf_counter()-t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                  check=True).stdout) for _ in range(runs)]
    return round(float(np.median(times)), 3)


def _damage_table(summary: dict) -> list[str]:
    """Markdown rows: per model, per damage kind, the share of pairs rated lower (and the mean drop)."""
    kinds = list(DAMAGES)
    rows = ["| model | " + " | ".join(f"{k} ({DAMAGES[k]})" for k in kinds) + " |",
            "| --- | " + " | ".join("---" for _ in kinds) + " |"]
    for name, r in summary.items():
        label = DISPLAY_NAMES.get(name, "rule-based report ratings")
        rows.append(f"| {label} | " + " | ".join(
            f"{r[k]['pct']:.0f}% ({r[k]['rated_lower']}/{r[k]['pairs']}, drop {r[k]['mean_drop']:+.3f})"
            for k in kinds) + " |")
    return rows + [""]


def markdown(res: dict, cmd: str) -> str:
    L = [f"## Assessment networks\n", f"`{cmd}` — {DATE}, {MACHINE}."
         + (f" The parts it skipped are kept as measured on {res['date']}.\n" if "--keep" in cmd else "\n")]
    syn = res.get("synthetic", {})
    if syn:
        L.append("### R² on the held-out synthetic test split (unseen melodies and instruments)\n")
        L.append("Labels: the documented rubric of training/README.md. Shipped weights; then mean ± sd over "
                 "the training seeds.\n")
        L.append("| model | " + " | ".join(CRITERIA) + " | seeds (mean ± sd) |")
        L.append("| --- | " + " | ".join("---" for _ in CRITERIA) + " | --- |")
        for name, row in syn.items():
            if "shipped_test_r2" not in row:
                continue
            cells = [f"{row['shipped_test_r2'][c]:.3f}" for c in CRITERIA]
            seeds = ("; ".join(f"{row['test_r2_mean'][c]:.3f} ± {row['test_r2_sd'][c]:.3f}" for c in CRITERIA)
                     + f" ({len(row['seeds'])} seeds)") if "seeds" in row else "-"
            label = DISPLAY_NAMES.get(name, "rule-based report ratings (no learning)")
            L.append(f"| {label} | " + " | ".join(cells) + f" | {seeds} |")
        n = next((r.get("n_test") for r in syn.values() if r.get("n_test")), None)
        L.append(f"\n{n} test takes.\n")
    sds, b = res.get("synthetic_damage") or {}, res.get("bach10")
    parts = [(sd, f"Synthetic damage check, {variant} (validation melodies; what network designs are chosen on)",
              "The same damage as below, on 40 clean simulated takes of validation melodies "
              f"(training/damage_check.py), one damage per kind; the clean player: {SYNTHETIC_CHECKS[variant][1]}.")
             for variant, sd in sds.items()]
    for part, title, intro in (
            *parts,
            (b, "Bach10: clean recording rated above the same recording damaged",
             "Percentage of pairs (5 chorales x 4 parts x 2 random damages) where the damaged take is rated "
             "lower on the criterion the damage touches; target >= 95%.")):
        if part:
            L += [f"### {title}\n", f"{intro}\n"] + _damage_table(part["summary"])
    if b and "timing_inputs" in b:
        L.append("What SIConvNet-Delta's timing inputs see of the timing damage (mean absolute value over the "
                 "pairs; timing: the deviation from the take's steady tempo; local: minus its 2 s moving average; "
                 "note onset: each note against the grids of its neighbours on both sides):\n")
        L.append("| takes | timing, clean -> damaged (s) | local timing (s) | note onset timing (s) |")
        L.append("| --- | --- | --- | --- |")
        rows = [("Bach10", b["timing_inputs"])] + [(f"synthetic, {v}", sd["timing_inputs"]) for v, sd in sds.items()]
        for label, t in rows:
            L.append(f"| {label} ({t['pairs']} pairs) | {t['clean_timing_s']:.3f} -> {t['damaged_timing_s']:.3f} "
                     f"| {t['clean_local_timing_s']:.3f} -> {t['damaged_local_timing_s']:.3f} "
                     f"| {t['clean_note_timing_s']:.3f} -> {t['damaged_note_timing_s']:.3f} |")
        L.append("")
    sp = res.get("speed")
    if sp:
        L.append(f"### Speed ({sp['take_s']} s take, CPU; measured {sp.get('date', res['date'])})\n")
        L.append("| model | forward pass | load (s) | ratings after loading, median of 20 (s) | max (s) | largest rating difference from torch's |")
        L.append("| --- | --- | --- | --- | --- | --- |")
        for name in MODELS:
            for key, label in ((name, "torch"), (f"{name}/numpy", "numpy (musicdesk.assess.numpy_net)")):
                if key in sp:
                    r = sp[key]
                    diff = (max(abs(r["ratings"][k] - sp[name]["ratings"][k]) for k in r["ratings"])
                            if key != name and "ratings" in r and "ratings" in sp.get(name, {}) else None)
                    L.append(f"| {DISPLAY_NAMES[name]} | {label} | {r['load_s']:.3f} | {r['rate_median_s']:.3f} | "
                             f"{r['rate_max_s']:.3f} | {'-' if diff is None else f'{diff:.1e}'} |")
        L.append(f"\nA fresh process importing torch and loading {DISPLAY_NAMES[DEFAULT_MODEL]}: "
                 f"{sp['cold_import_and_load_s']:.2f} s (median of 3)"
                 + (f"; loading its numpy forward pass instead (no torch): {sp['cold_numpy_load_s']:.3f} s"
                    if "cold_numpy_load_s" in sp else "")
                 + ". Target: ratings of a 60 s take under 0.2 s after loading.\n")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default=str(ROOT / "training" / "cache" / "fba"))
    ap.add_argument("--skip", nargs="*", default=[], choices=["synthetic", "bach10", "speed"])
    ap.add_argument("--keep", action="store_true",
                    help="keep the skipped parts' figures from the last run (benchmarks/results/assess.json)")
    args = ap.parse_args()
    names = [n for n in MODELS]
    assessors = {n: Assessor(n, "cpu") for n in names}
    res: dict = {"date": DATE, "machine": MACHINE}
    last = ROOT / "benchmarks" / "results" / "assess.json"
    if args.keep and last.is_file():   # the skipped parts as last measured (their date stays the run's)
        res = {**json.loads(last.read_text()), "machine": MACHINE}
    if "synthetic" not in args.skip:
        res["synthetic"] = synthetic_r2(assessors, Path(args.data))
    if "synthetic" not in args.skip:
        checks = {v: synthetic_damage(assessors, ROOT / "training" / "cache" / folder)
                  for v, (folder, _) in SYNTHETIC_CHECKS.items()}
        res["synthetic_damage"] = {v: r for v, r in checks.items() if r}
    if "bach10" not in args.skip:
        res["bach10"] = bach10_pairs(assessors, args.quick)
    if "speed" not in args.skip:
        res["speed"] = speed(names)
    cmd = "python benchmarks/bench_assess.py" + (" --quick" if args.quick else "")
    if args.skip and args.keep:
        cmd += f" --skip {' '.join(args.skip)} --keep"
    write_section("assess", res, markdown(res, cmd))
    print(markdown(res, cmd))


if __name__ == "__main__":
    main()
