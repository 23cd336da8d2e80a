"""The report's judgements on professional takes: timing through fermatas, breaths and rubato; injected
timing and tuning errors; takes of another piece or played several times.

1. Professional takes: each Bach10 part (real recordings, 5 chorales x 4 parts, evaluation only) against
   its MIDI track: the share of notes flagged early or late and the rhythm rating, of the report (its
   rule, `feedback.report_timing_errors_ms`), of the first reports' rule on the same onsets
   (`feedback.local_tempo_errors_ms`), and the network's rhythm rating (SIConvNet-Delta).
2. Injected errors, for the report's ratings and the network's, on the same recordings and on
   simulated professionals (training/chorale_player.py: music21 chorales, not Bach10's, rendered with
   FluidSynth): four notes moved exactly 120 ms late, then early (training.damage.move_notes); the
   whole take detuned by +35 and -35 cents (training.damage.detune_take). A moved pair counts when
   the damaged take is rated lower on rhythm; the report must also flag the moved notes. A detuned take
   must keep note accuracy within 0.05 of the clean take, and be rated lower on intonation.
3. Another piece, or several times through: the take of chorale 05 against chorale 03's score (every
   part), and each part of chorale 01 played five times in a row, must be warned; no dev take may be.

Run: .venv/bin/python benchmarks/bench_timing.py [--quick] [--synthetic N]
Writes benchmarks/results/timing.md and timing.json.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_align import ground_truth  # noqa: E402
from make_results import write_section  # noqa: E402

from musicdesk.analysis import analyze  # noqa: E402
from musicdesk.audio import Take, load_take  # noqa: E402
from musicdesk.feedback import local_tempo_errors_ms  # noqa: E402
from musicdesk.score import load_score  # noqa: E402
from training.damage import MOVED_NOTES, MOVED_S, detune_take, move_notes  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bach10"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/bach10")
PARTS = ["violin", "clarinet", "saxphone", "bassoon"]
GM = {"violin": 40, "clarinet": 71, "saxphone": 66, "bassoon": 70}
DETUNE_CENTS = 35.0
TOL_MS = 50.0
MODEL = "siconvnet_delta"
DATE = datetime.date.today().isoformat()
MACHINE = "2-core CPU, no GPU"


def _flagged(rep) -> float:
    return float(np.mean([r.timing in ("early", "late") for r in rep.notes]))


def _old_rule(score, rep) -> tuple[float, float]:
    """Flagged share and rhythm rating of the first reports' rule on the same onsets."""
    played = [r for r in rep.notes if r.onset_s is not None]
    e = local_tempo_errors_ms(np.array([score.notes[r.index].onset_beats for r in played]),
                              np.array([r.onset_s for r in played]), 8.0)
    e = e[np.isfinite(e)]
    return float(np.sum(np.abs(e) > TOL_MS) / len(rep.notes)), float(np.mean(np.clip(1 - np.abs(e) / 200, 0, 1)))


def _phrase_ends(score, rep) -> np.ndarray:
    """Per score note, whether the clean take holds or breathes after it (or the score writes a
    fermata): a moved note there, or right after, is a phrase end or entry played late or early, which
    is the player's choice. Counted apart in `found_inside`."""
    from musicdesk.feedback import timing_breaks

    played = [r.index for r in rep.notes if r.onset_s is not None]
    out = np.array([n.fermata for n in score.notes], dtype=bool)
    brk = timing_breaks(np.array([score.notes[i].onset_beats for i in played]),
                        np.array([rep.notes[i].onset_s for i in played]))
    out[np.array(played)[brk]] = True
    return out


def _ratings(score, take: Take, a4_hz: float | None = None, network: bool = True) -> dict:
    from musicdesk.feedback import Tolerances

    tol = Tolerances(reference_a4_hz=a4_hz) if a4_hz else Tolerances()
    an = analyze(score, take, assess_model=MODEL if network else None, tolerances=tol)
    rep = an.report
    return {"report": dict(rep.ratings), "network": dict(an.assessment.ratings) if an.assessment else None,
            "rep": rep}


def _judge(score, take: Take, notes: list[tuple[float, float]], index_of: list[int], seed: str) -> dict:
    """Clean, moved (late, early) and detuned (+, -) versions of one take: every figure of part 2."""
    clean = _ratings(score, take)
    row = {"n_notes": len(score.notes), "clean_flagged": _flagged(clean["rep"]),
           "clean": {k: clean[k] for k in ("report", "network")}, "warnings": list(clean["rep"].warnings)}
    row["old_flagged"], row["old_rhythm"] = _old_rule(score, clean["rep"])
    ends = _phrase_ends(score, clean["rep"])
    for sign, name in ((1, "late"), (-1, "early")):
        rng = np.random.default_rng(zlib.crc32(f"{seed}/{name}".encode()))
        y, moved = move_notes(take.samples, take.sr, notes, rng, sign)
        d = _ratings(score, Take(y, take.sr))
        found = [d["rep"].notes[index_of[i]].timing == name for i in moved]
        inside = [f for f, i in zip(found, moved) if not ends[index_of[i]] and not ends[index_of[i - 1]]]
        row[f"moved_{name}"] = {"n_moved": len(moved), "found": int(sum(found)), "flagged": _flagged(d["rep"]),
                                "n_inside": len(inside), "found_inside": int(sum(inside)),
                                "report": d["report"]["rhythmic_accuracy"],
                                "network": d["network"]["rhythmic_accuracy"] if d["network"] else None}
    # the player's own A: the reference a teacher tuned with the player (or ensemble) would set
    own_a4 = 440.0 * 2 ** (clean["rep"].summary["tuning_offset_cents"] / 1200.0)
    row["own_a4_hz"] = own_a4
    row["clean_own_a4_intonation"] = _ratings(score, take, own_a4, network=False)["report"]["intonation"]
    for cents in (DETUNE_CENTS, -DETUNE_CENTS):
        y = Take(detune_take(take.samples, take.sr, cents), take.sr)
        d = _ratings(score, y)
        row[f"detune_{cents:+.0f}"] = {k: {c: d[k][c] for c in ("note_accuracy", "intonation")} if d[k] else None
                                       for k in ("report", "network")}
        row[f"detune_{cents:+.0f}"]["tuning_offset_cents"] = d["rep"].summary.get("tuning_offset_cents")
        row[f"detune_{cents:+.0f}"]["own_a4_intonation"] = _ratings(score, y, own_a4, network=False)["report"]["intonation"]
    return row


def bach10(quick: bool) -> list[dict]:
    rows = []
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir())[: 1 if quick else None]:
        score_path = folder / f"{folder.name}.mid"
        for pi, part in enumerate(PARTS):
            score = load_score(score_path, part=pi)
            take = load_take(folder / f"{folder.name}-{part}.flac")
            gt, _ = ground_truth(str(folder), part, score)
            index_of = [i for i in range(len(score.notes)) if np.isfinite(gt[i, 0])]
            notes = [(float(gt[i, 0]), float(gt[i, 1])) for i in index_of]
            t = time.perf_counter()
            row = _judge(score, take, notes, index_of, f"{folder.name}/{part}")
            row.update(take=f"{folder.name[:2]} {part}", part=part)
            rows.append(row)
            print(f"  {row['take']}: flagged {row['clean_flagged']:.2f}, rhythm {row['clean']['report']['rhythmic_accuracy']:.2f}"
                  f" ({time.perf_counter() - t:.0f} s)", flush=True)
    return rows


def synthetic(n: int) -> list[dict]:
    from musicdesk.synth import render_notes
    from training.chorale_player import load_chorale_parts, perform, to_score

    parts = load_chorale_parts(max(10, n // 4 + 1), seed=1)
    rows = []
    for k, part in enumerate(parts[:n]):
        inst = PARTS[k % 4]
        rng = np.random.default_rng([11, k])
        perf = perform(part, rng)
        take = render_notes(list(perf.notes), program=GM[inst], tail_s=0.5)
        score = to_score(part, with_fermatas=False)   # as a MIDI score: no fermatas written
        notes = [(p.onset_s, p.offset_s) for p in perf.notes]
        row = _judge(score, take, notes, list(range(len(notes))), f"synthetic/{part.name}")
        row.update(take=part.name, part=inst)
        rows.append(row)
        print(f"  {part.name} ({inst}): flagged {row['clean_flagged']:.2f}, rhythm "
              f"{row['clean']['report']['rhythmic_accuracy']:.2f}", flush=True)
    return rows


def other_piece(quick: bool) -> dict:
    """The take of chorale 05 against 03's score, and chorale 01 five times through, part by part."""
    dirs = {p.name[:2]: p for p in DATA.iterdir() if p.is_dir()}
    out: dict = {"other_piece": [], "five_times": []}
    for pi, part in enumerate(PARTS[: 1 if quick else None]):
        score = load_score(dirs["03"] / f"{dirs['03'].name}.mid", part=pi)
        rep = analyze(score, load_take(dirs["05"] / f"{dirs['05'].name}-{part}.flac")).report
        out["other_piece"].append({"part": part, "warnings": list(rep.warnings), "n_correct": rep.summary["n_correct"],
                                   "n_notes": rep.summary["n_notes"]})
        score = load_score(dirs["01"] / f"{dirs['01'].name}.mid", part=pi)
        tk = load_take(dirs["01"] / f"{dirs['01'].name}-{part}.flac")
        rep = analyze(score, Take(np.concatenate([tk.samples] * 5), tk.sr)).report
        out["five_times"].append({"part": part, "warnings": list(rep.warnings), "n_passes": rep.summary["n_passes"],
                                  "played_tempo_bpm": rep.summary["played_tempo_bpm"]})
    return out


def summarise(rows: list[dict]) -> dict:
    s: dict = {"takes": len(rows)}
    s["flagged_mean"] = float(np.mean([r["clean_flagged"] for r in rows]))
    s["flagged_max"] = float(np.max([r["clean_flagged"] for r in rows]))
    s["rhythm_mean"] = float(np.mean([r["clean"]["report"]["rhythmic_accuracy"] for r in rows]))
    s["rhythm_min"] = float(np.min([r["clean"]["report"]["rhythmic_accuracy"] for r in rows]))
    s["old_flagged_mean"] = float(np.mean([r["old_flagged"] for r in rows]))
    s["old_rhythm_mean"] = float(np.mean([r["old_rhythm"] for r in rows]))
    s["network_rhythm_mean"] = float(np.mean([r["clean"]["network"]["rhythmic_accuracy"] for r in rows]))
    for who in ("report", "network"):
        pairs = [(r["clean"][who]["rhythmic_accuracy"], r[f"moved_{k}"][who]) for r in rows for k in ("late", "early")]
        s[f"moved_lower_{who}"] = float(np.mean([d < c for c, d in pairs]))
        s["moved_pairs"] = len(pairs)
        det = [(r["clean"][who], r[f"detune_{c}"][who]) for r in rows for c in ("+35", "-35")]
        s[f"detune_acc_drop_max_{who}"] = float(np.max([c["note_accuracy"] - d["note_accuracy"] for c, d in det]))
        s[f"detune_acc_within_{who}"] = float(np.mean([abs(c["note_accuracy"] - d["note_accuracy"]) <= 0.05 for c, d in det]))
        s[f"detune_inton_lower_{who}"] = float(np.mean([d["intonation"] < c["intonation"] for c, d in det]))
    s["detune_inton_lower_own_a4"] = float(np.mean([r[f"detune_{c}"]["own_a4_intonation"] < r["clean_own_a4_intonation"]
                                                    for r in rows for c in ("+35", "-35")]))
    found = sum(r[f"moved_{k}"]["found"] for r in rows for k in ("late", "early"))
    moved = sum(r[f"moved_{k}"]["n_moved"] for r in rows for k in ("late", "early"))
    s["moved_found"] = found / max(1, moved)
    s["moved_notes"] = moved
    s["moved_found_inside"] = (sum(r[f"moved_{k}"].get("found_inside", 0) for r in rows for k in ("late", "early"))
                               / max(1, sum(r[f"moved_{k}"].get("n_inside", 0) for r in rows for k in ("late", "early"))))
    s["moved_inside"] = sum(r[f"moved_{k}"].get("n_inside", 0) for r in rows for k in ("late", "early"))
    s["pairs_found_and_lower"] = float(np.mean([
        r[f"moved_{k}"]["report"] < r["clean"]["report"]["rhythmic_accuracy"]
        and r[f"moved_{k}"]["found"] >= r[f"moved_{k}"]["n_moved"] / 2 for r in rows for k in ("late", "early")]))
    s["pairs_more_flagged_and_lower"] = float(np.mean([
        r[f"moved_{k}"]["report"] < r["clean"]["report"]["rhythmic_accuracy"]
        and r[f"moved_{k}"]["flagged"] > r["clean_flagged"] for r in rows for k in ("late", "early")]))
    s["warned_takes"] = sum(bool(r["warnings"]) for r in rows)
    return s


def markdown(res: dict, cmd: str) -> str:
    L = ["## Timing, tuning and the right piece: the report on professional takes\n",
         f"Command: `{cmd}`  \nMachine: {MACHINE}; date {DATE}. Bach10 real recordings (evaluation only); "
         "the timing rule was chosen on simulated professionals (training/timing_design.py, "
         "training/results/timing_design.json), never on these.\n"]
    b, sy = res.get("bach10_summary"), res.get("synthetic_summary")
    L.append("| takes | notes flagged early/late (mean, max) | report rhythm (mean, min) | first reports' rule: flagged, rhythm | network rhythm (mean) |")
    L.append("| --- | --- | --- | --- | --- |")
    for label, s in (("Bach10, 20 parts", b), ("simulated professionals", sy)):
        if s:
            L.append(f"| {label} ({s['takes']}) | {100 * s['flagged_mean']:.1f}%, {100 * s['flagged_max']:.1f}% | "
                     f"{s['rhythm_mean']:.3f}, {s['rhythm_min']:.3f} | {100 * s['old_flagged_mean']:.1f}%, "
                     f"{s['old_rhythm_mean']:.3f} | {s['network_rhythm_mean']:.3f} |")
    L.append("\nTarget on Bach10: at most 10% flagged and rhythm at least 0.85.\n")
    L.append(f"Injected errors ({MOVED_NOTES} notes moved {1000 * MOVED_S:.0f} ms late, then early; the whole take "
             f"detuned by +-{DETUNE_CENTS:.0f} cents):\n")
    L.append("| takes | moved: report rated lower | network rated lower | moved notes flagged (report) | moved notes flagged inside phrases (not a phrase end or the entry after one) | "
             "pairs rated lower with at least half the moved notes flagged | pairs rated lower with more notes flagged | detuned: note accuracy within 0.05 (report / network) "
             "| largest accuracy drop (report) | intonation rated lower (report / network) |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, s in (("Bach10", b), ("simulated", sy)):
        if s:
            L.append(f"| {label} ({s['moved_pairs']} pairs) | {100 * s['moved_lower_report']:.0f}% | "
                     f"{100 * s['moved_lower_network']:.0f}% | {100 * s['moved_found']:.1f}% of {s['moved_notes']} | "
                     f"{100 * s['moved_found_inside']:.1f}% of {s['moved_inside']} | "
                     f"{100 * s['pairs_found_and_lower']:.0f}% | {100 * s['pairs_more_flagged_and_lower']:.0f}% | "
                     f"{100 * s['detune_acc_within_report']:.0f}% / "
                     f"{100 * s['detune_acc_within_network']:.0f}% | {s['detune_acc_drop_max_report']:+.3f} | "
                     f"{100 * s['detune_inton_lower_report']:.0f}% / {100 * s['detune_inton_lower_network']:.0f}% |")
    L.append("\nTargets: moved notes found and the pair rated lower in 95% of pairs, by both; detuned takes keep note "
             "accuracy within 0.05 while intonation drops.\n")
    for label, s in (("Bach10", b), ("simulated", sy)):
        if s:
            L.append(f"- {label}: intonation rated lower by the report with the reference set to the clean take's own A "
                     f"(as a teacher tuned with the player would set it): {100 * s['detune_inton_lower_own_a4']:.0f}%.")
    L.append("")
    rows = res.get("bach10") or []
    if rows:
        L.append("Per take (Bach10): flagged share and rhythm (report; first reports' rule; network), moved notes "
                 "flagged (late, early), tuning offset found in the +35 / -35 cents takes:\n")
        L.append("| take | flagged | rhythm | first rule: flagged, rhythm | network rhythm | moved found | offsets found (cents) |")
        L.append("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            L.append(f"| {r['take']} | {100 * r['clean_flagged']:.0f}% | {r['clean']['report']['rhythmic_accuracy']:.2f} | "
                     f"{100 * r['old_flagged']:.0f}%, {r['old_rhythm']:.2f} | {r['clean']['network']['rhythmic_accuracy']:.2f} | "
                     f"{r['moved_late']['found']}/{r['moved_late']['n_moved']}, {r['moved_early']['found']}/{r['moved_early']['n_moved']} | "
                     f"{r['detune_+35']['tuning_offset_cents']:+.0f} / {r['detune_-35']['tuning_offset_cents']:+.0f} |")
        L.append("")
    op = res.get("other")
    if op:
        warned = sum(bool(x["warnings"]) for x in op["other_piece"])
        five = sum(bool(x["warnings"]) and x["n_passes"] >= 2 for x in op["five_times"])
        L.append(f"Another piece: chorale 05's takes against chorale 03's score warned in {warned} of "
                 f"{len(op['other_piece'])} parts (right notes: "
                 + ", ".join(f"{x['n_correct']}/{x['n_notes']}" for x in op["other_piece"]) + "). "
                 f"Chorale 01 played five times in a row: warned, with the passes counted, in {five} of "
                 f"{len(op['five_times'])} parts (passes found: " + ", ".join(str(x["n_passes"]) for x in op["five_times"])
                 + f"). Dev takes warned: {b['warned_takes'] if b else '-'} of {b['takes'] if b else '-'}.\n")
        if op["other_piece"]:
            L.append(f"The warnings read: \"{op['other_piece'][0]['warnings'][0] if op['other_piece'][0]['warnings'] else '-'}\" "
                     f"and \"{op['five_times'][0]['warnings'][0] if op['five_times'][0]['warnings'] else '-'}\"\n")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--synthetic", type=int, default=20, help="simulated professional takes (0: none)")
    args = ap.parse_args()
    res: dict = {"date": DATE, "machine": MACHINE}
    print("Bach10 ...", flush=True)
    res["bach10"] = bach10(args.quick)
    res["bach10_summary"] = summarise(res["bach10"])
    if args.synthetic:
        print("simulated professionals ...", flush=True)
        res["synthetic"] = synthetic(args.synthetic if not args.quick else 2)
        res["synthetic_summary"] = summarise(res["synthetic"])
    print("another piece, five times through ...", flush=True)
    res["other"] = other_piece(args.quick)
    cmd = "python benchmarks/bench_timing.py" + (" --quick" if args.quick else "")
    write_section("timing", res, markdown(res, cmd))
    print(markdown(res, cmd))


if __name__ == "__main__":
    main()
