"""Write the model card models/assess-NAME.md from the training results (training/results/NAME.json)
and, when present, the benchmark's figures (benchmarks/results/assess.json).

    python -m training.model_card [NAME ...]

It also rewrites the summary table of models/README.md (between its marker comments).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from musicdesk.assess import DISPLAY_NAMES
from musicdesk.assess.models import CRITERIA, MODELS, build
from musicdesk.assess.weights import weights_path

ROOT = Path(__file__).resolve().parents[1]

ARCH = {
    "pcconvnet": "4 x (Conv1d kernel 7, stride 3; 4/8/16/16 channels; BatchNorm; ReLU) on the pitch contour "
                 "alone, mean over time, linear 16 -> 3, sigmoid.",
    "siconvnet": "The PCConvNet trunk on the 2-channel stack (pitch contour, DTW-aligned score), mean over "
                 "time, linear 16 -> 3, sigmoid.",
    "siconvnet_delta": "Ours, after SIConvNet: the PCConvNet trunk on 4 channels, the pitch deviation from the "
                       "DTW-aligned score in semitones (clipped to +-3, 0 where either is silent), the aligned "
                       "score (MIDI / 128), the DTW path's timing deviation from the take's own steady tempo "
                       "(s, clipped to +-1) and the voicing mismatch (+1 where the score expects a note and the "
                       "take is silent, -1 where the take sounds in a rest); a second trunk of the same shape on "
                       "the note onset timing (each score note's onset against the grids of its neighbours on "
                       "both sides, s, clipped to +-0.5; holds and pauses leave no trace in it); each trunk "
                       "mean-pooled, the two 16-d embeddings joined, linear 32 -> 3, sigmoid. Why it exists: "
                       "trained on our data, the reference networks' MIDI / 128 stack learns note accuracy only in "
                       "part and neither rhythm nor intonation (models/README.md; a wrong note moves the input by 0.008 "
                       "per semitone, 20 cents by 0.0016, while pitch varies by 0.3 between takes and every gap "
                       "between notes jumps by 0.5), and their score is warped onto the performance, which "
                       "hides rushing and dragging. The channels and the second trunk were chosen on the "
                       "synthetic damage checks of the validation melodies (training/README.md).",
    "jointembednet": "Two PCConvNet trunks (contour; aligned score) giving 16-d embeddings; per criterion a "
                     "linear 16 -> 16 projection of each and their cosine similarity (clipped to [0, 1]).",
    "distmatnet": "The contour-vs-score distance matrix resized to 600 x 600; Conv2d 3x3 stride 3, three "
                  "pre-activation residual blocks (4 channels) with dropout and max-pooling, Conv2d 3x3 "
                  "stride 3, linear 196 -> 128 -> 3, sigmoid.",
}


def card(name: str) -> str:
    res = json.loads((ROOT / "training" / "results" / f"{name}.json").read_text())
    bench_file = ROOT / "benchmarks" / "results" / "assess.json"
    bench = json.loads(bench_file.read_text()) if bench_file.exists() else {}
    members = res.get("members")
    n_params = sum(p.numel() for p in build(name).parameters()) * (len(members) if members else 1)
    L = [f"# {DISPLAY_NAMES[name]} (musicdesk assessment network)", ""]
    L.append(f"Weights: `{weights_path(name).relative_to(ROOT)}` (safetensors; {n_params} parameters"
             + (f", {len(members)} networks whose ratings are averaged" if members else "") + "). "
             + (f"Joined {res['date']}" if members else f"Trained {res['date']}") + f" with torch {res['torch']} on a 2-core CPU.")
    L += ["", "## What it does", "",
          "Rates a take of a monophonic part against its score on three criteria, each in [0, 1]: "
          + ", ".join(CRITERIA) + ". Musicality and tone are not rated: the simulation cannot label them "
          "honestly; a teacher's calibration (`musicdesk calibrate`) learns those from their own grades.", "",
          f"Architecture{'' if name == 'siconvnet_delta' else ' (after biboamy/FBA-Fall19)'}: {ARCH[name]} Input: musicdesk's pitch contour resampled to "
          "29.0 ms frames (MIDI / 128, 0 = unvoiced) and the score as frame-wise MIDI aligned to it by DTW "
          "with the octave-tolerant distance (musicdesk/assess/features.py). Takes longer than 2000 frames "
          "(58 s) are rated in half-overlapping 2000-frame windows, averaged.", "",
          "## Training data", "",
          f"Generated offline by `python -m training.make_data` (see training/README.md): folk tunes from "
          f"music21's corpora (Essen, Ryan's Mammoth, O'Neill's 1850) and generated scale/arpeggio etudes, "
          f"played by a simulated student with controlled errors, rendered with FluidSynth (FluidR3_GM and "
          f"TimGM6mb), through a simulated room and microphone. Labels from the rubric in training/README.md. "
          f"Takes: {res['n_takes']['train']} train, {res['n_takes']['val']} validation, "
          f"{res['n_takes']['test']} test; the splits share no melody and no instrument. No real recording "
          f"was used for training or tuning.", "",
          *(_ensemble_note(res) if members else []),
          *(_ensemble_commands(res) if members else _train_command(res)),
          "## Metrics", "",
          f"R² on the held-out test split ({res['n_takes']['test']} takes: unseen melodies and instruments).", "",
          "| | " + " | ".join(CRITERIA) + " |", "| --- | " + " | ".join("---" for _ in CRITERIA) + " |",
          "| shipped weights | " + " | ".join(f"{res['test_r2_shipped'][c]:.3f}" for c in CRITERIA) + " |",
          *([f"| member {i}, alone | " + " | ".join(f"{m['test_r2'][c]:.3f}" for c in CRITERIA) + " |"
             for i, m in enumerate(members)] if members else []),
          f"| mean ± sd over {len(res['seeds'])} {'members' if members else 'seeds'} | " + " | ".join(
              f"{res['test_r2_mean'][c]:.3f} ± {res['test_r2_sd'][c]:.3f}" for c in CRITERIA) + " |",
          "| rule-based ratings of musicdesk's report (no learning) | " + " | ".join(
              f"{res['rule_based_test_r2'][c]:.3f}" for c in CRITERIA) + " |", ""]
    b = bench.get("bach10", {}).get("summary", {}).get(name)
    if b:
        L += [f"Bach10 (real recordings, evaluation only; benchmarks/bench_assess.py, {bench['date']}): the "
              "damaged recording rated lower than the clean one on the criterion the damage touches:", "",
              "| damage | criterion | rated lower |", "| --- | --- | --- |"]
        L += [f"| {k} | {v['criterion']} | {v['pct']:.0f}% ({v['rated_lower']}/{v['pairs']}) |" for k, v in b.items()]
        L.append("")
    dc_file = ROOT / "training" / "results" / "damage_check.json"
    checks = json.loads(dc_file.read_text()) if dc_file.exists() else {}
    for folder, (what, opts, takes) in DAMAGE_CHECKS.items():
        dc = checks.get(folder, {}).get(name)
        if not dc:
            continue
        n_takes = max(v["pairs"] for v in dc.values())
        L += [f"Synthetic damage check, {what} (`python -m training.damage_check eval --model {name}{opts}`; "
              f"{n_takes} {takes}, each damaged as in the Bach10 checks (bench_assess; "
              "moved_late and moved_early: bench_timing's four notes moved 120 ms); what network designs are "
              "chosen on): the damaged take rated lower:", "", "| damage | criterion | rated lower |",
              "| --- | --- | --- |"]
        L += [f"| {k} | {v['criterion']} | {v['pct']:.0f}% ({v['rated_lower']}/{v['pairs']}) |" for k, v in dc.items()]
        L.append("")
    sp = bench.get("speed", {}).get(name)
    if sp:
        L += [f"Speed on a 2-core CPU: {sp['rate_median_s'] * 1000:.0f} ms for the ratings of a "
              f"{bench['speed']['take_s']} s take after loading (features and network); loading "
              f"{sp['load_s'] * 1000:.0f} ms.", ""]
    L += ["## Limits", "",
          "- Trained on synthetic students and synthesised instruments only. Real players make other "
          "mistakes, and real instruments and rooms sound different: check the Bach10 figures above and "
          "calibrate to a teacher's grades before trusting the numbers for grading.",
          "- The ratings follow the rubric's definitions (fraction of right notes; onsets against the "
          "local pulse and the steadiness of that pulse; cents off), not any examining board's.", ""]
    return "\n".join(L)


def _train_command(res: dict) -> list[str]:
    return ["## Command", "", "```", res["command"], "```", "",
            "Settings: " + ", ".join(f"{k} {v}" for k, v in res["settings"].items() if v is not None)
            + (". Adam (weight decay 1e-4)" if res["settings"].get("optimizer") == "adam"
               else ". SGD (momentum 0.9, weight decay 1e-4) as the reference")
            + ", lr divided by 2*(epoch//70)+1, MSE loss, random "
              "chunks, transposition augmentation (-5..+5 semitones), early stopping on the validation MSE. "
              f"The seed with the best validation R² is shipped (seed {res['shipped_seed']}).", ""]


def _ensemble_note(res: dict) -> list[str]:
    """What the joined networks are and which of them rate each criterion."""
    kinds = {"dtw": "note_timing from the DTW path's note starts, judged against the grids of their neighbours",
             "aligner_pulses": "note_timing from musicdesk's aligner's onsets, judged by the report's pulse rule, "
                               "and the rhythm term (the rhythm output falls with note_timing's share through a "
                               "weight that cannot turn positive)"}
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(res["members"]):
        groups.setdefault(m["note_onsets"], []).append(i)
    L = [f"The shipped weights join {len(res['members'])} such networks (training/join_networks.py), each fed "
         "its own input: " + "; ".join(f"member{'s' if len(ix) > 1 else ''} {', '.join(map(str, ix))}: "
                                      f"{kinds.get(k, k)}" for k, ix in groups.items()) + ". Each criterion is the mean of "
         "the members named: " + "; ".join(f"{c}: members {', '.join(map(str, ms))}"
                                          for c, ms in res["criterion_members"].items())
         + ". Why: the members on the aligner's onsets find moved notes the first misses, and their note accuracy "
           "moves more with a detuned take (training/README.md, \"Seventh round\").", ""]
    return L


def _ensemble_commands(res: dict) -> list[str]:
    """The Command section of weights joined by training/join_networks.py: each member's own training
    command, then the join."""
    L = ["## Command", "", "Each member was trained by its own command (Adam, weight decay 1e-4, lr divided by "
         "2*(epoch//70)+1, MSE loss, random chunks, transposition augmentation (-5..+5 semitones), early "
         "stopping on the validation MSE; one seed each, `--out` its own file; the paths are where that run kept "
         "them), then the members were joined; each criterion's rating is the mean of the members named above:", "",
         "| member | trained | note_timing from | command | val R² (mean) |", "| --- | --- | --- | --- | --- |"]
    for i, m in enumerate(res["members"]):
        L.append(f"| {i} | {m['date']} | {m['note_onsets']} | `{m['command']}` | {np.mean(list(m['val_r2'].values())):.3f} |")
    L += ["", "```", res["command"], "```", "",
          f"The joined weights: val R² {np.mean(list(res['val_r2'].values())):.3f} ("
          + ", ".join(f"{c} {v:.3f}" for c, v in res["val_r2"].items()) + ").", ""]
    return L


TABLE_START, TABLE_END = "<!-- assess-table -->", "<!-- /assess-table -->"
# the synthetic damage checks (training/damage_check.py): folder -> (what the clean player does, eval options)
DAMAGE_CHECKS = {
    "damage_val": ("clean players with mild rubato", "", "clean takes of validation melodies"),
    "damage_val_holds": ("clean players who hold every phrase end 0.2-1.2 s (like a chorale's fermatas)",
                         " --data training/cache/damage_val_holds", "clean takes of validation melodies"),
    "damage_val_chorales": ("chorale players (fermatas held, ritardandi into them; the moved notes only)",
                            " --data training/cache/damage_val_chorales",
                            "parts of music21 chorales (none of Bach10's), played clean"),
}
ORDER = ["siconvnet_delta", "siconvnet", "jointembednet", "distmatnet", "pcconvnet"]
ROLE = {"siconvnet_delta": "default, ours", "pcconvnet": "reference, no score"}


def summary_table() -> str:
    """The models/README.md table: test R² (mean ± sd over seeds) and the Bach10 and synthetic damage
    checks per network, beside the report's rule-based ratings."""
    bench_file = ROOT / "benchmarks" / "results" / "assess.json"
    bench = json.loads(bench_file.read_text()) if bench_file.exists() else {}
    b10 = bench.get("bach10", {}).get("summary", {})
    syn = bench.get("synthetic_damage", {})
    dmg = syn.get("standard", {}).get("summary", {})
    held = syn.get("holds", {}).get("summary", {})
    kinds = ["wrong", "detune", "timing", "cut"]

    def pcts(d: dict | None) -> str:
        return " / ".join(f"{d[k]['pct']:.0f}%" for k in kinds) if d else "-"

    rows = ["| network | note acc. R² | rhythm R² | intonation R² | seeds (test R²: mean ± sd over them) | Bach10: wrong / detuned / moved / cut notes "
            "| synthetic twin: the same | synthetic twin, phrase ends held |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    rule = None
    for name in ORDER:
        f = ROOT / "training" / "results" / f"{name}.json"
        if not f.exists():
            continue
        res = json.loads(f.read_text())
        rule = res["rule_based_test_r2"]
        if "members" in res:   # joined networks: the shipped mean's own figures
            cells = [f"{res['test_r2_shipped'][c]:.3f}" for c in CRITERIA]
            seeds = f"{len(res['members'])} joined"
        else:
            cells = [f"{res['test_r2_mean'][c]:.3f} ± {res['test_r2_sd'][c]:.3f}" for c in CRITERIA]
            seeds = str(len(res["seeds"]))
        rows.append(f"| [{DISPLAY_NAMES[name]}](assess-{name}.md) ({ROLE.get(name, 'reference')}) | " + " | ".join(cells)
                    + f" | {seeds} | {pcts(b10.get(name))} | {pcts(dmg.get(name))} | {pcts(held.get(name))} |")
    if rule:
        rows.append("| rule-based ratings of the report (no learning) | " + " | ".join(f"{rule[c]:.3f}" for c in CRITERIA)
                    + f" | - | {pcts(b10.get('rule_based'))} | {pcts(dmg.get('rule_based'))} | {pcts(held.get('rule_based'))} |")
    when = f" (benchmarks/bench_assess.py, {bench['date']})" if bench.get("date") else ""
    return "\n".join(rows) + f"\n\nDamage checks{when}: share of pairs where the damaged take is rated lower; target >= 95%."


def write_summary(readme: Path = ROOT / "models" / "README.md") -> None:
    """Replace the text between the table markers of models/README.md."""
    text = readme.read_text()
    a, b = text.find(TABLE_START), text.find(TABLE_END)
    if a < 0 or b < a:
        raise SystemExit(f"{readme} lacks the markers {TABLE_START} ... {TABLE_END}")
    readme.write_text(text[:a + len(TABLE_START)] + "\n" + summary_table() + "\n" + text[b:])
    print(f"wrote the table in {readme}")


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [n for n in MODELS
                                                               if (ROOT / "training" / "results" / f"{n}.json").exists()]
    for n in names:
        out = ROOT / "models" / f"assess-{n}.md"
        out.write_text(card(n))
        print(f"wrote {out}")
    write_summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
