"""Write models/separate_iass.md, the separation network's model card, from its weights' training history
and benchmarks/results/separate.json.

    .venv/bin/python -m training.separate_card
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "models" / "separate_iass.safetensors"
CARD = ROOT / "models" / "separate_iass.md"
BENCH = ROOT / "benchmarks" / "results" / "separate.json"
PARTS = ("violin", "clarinet", "saxphone", "bassoon")


def main() -> int:
    import torch
    from safetensors import safe_open

    with safe_open(str(WEIGHTS), framework="pt") as fh:
        meta = fh.metadata() or {}
        n_params = sum(int(np.prod(fh.get_slice(k).get_shape())) for k in fh.keys())
    ck = WEIGHTS.with_suffix("").with_suffix(".ckpt.pt")
    hist = torch.load(str(ck), weights_only=False)["meta"]["history"] if ck.is_file() else []
    data = sorted((ROOT / "training" / "cache" / "separate").glob("*.npz"))
    n_train = sum(1 for f in data if f.name.startswith("train"))
    n_val = sum(1 for f in data if f.name.startswith("val"))
    L = ["# Score-informed separation network (IASS-style residual U-Net)", "",
         f"Weights: `models/separate_iass.safetensors` ({n_params:,} parameters; config {meta.get('config')}, "
         f"step {meta.get('step')}). Trained with torch {torch.__version__} on a 2-core CPU (no GPU was lent).", "",
         "## What it does", "",
         "For each part of a score it predicts a mask over the mixture's STFT (2048 / 512 at 22050 Hz) and the "
         "part's activity over time, from the mixture's log magnitude, the part's own score prior, the "
         "strongest prior of the other parts (harmonic combs of the aligned notes with soft onset and offset "
         "edges) and the part's mask from the score-informed NMF baseline on the same notes "
         "(musicdesk/separate/model.py). The mask logits are the network's output plus the log of the NMF "
         "mask, and the output layer starts at zero, so the network learns corrections to the NMF. The masks "
         "are a softmax over the parts, so the stems sum to the mixture; norbert's Wiener filter is optional and "
         "off (it lowered SDR by 0.3-0.4 dB on the design set; musicdesk/separate/predict.py). Any "
         "number of parts; one network shared by all.", "",
         "Why the NMF channel: a first run with the three score channels alone (the IASS design as specified) "
         "reached 6.3 dB mean SDR v3 on two rendered validation chorales after 1,000 steps (24 minutes), "
         "where the NMF gives 9.5 dB (training/logs/train_separate-prior-only.log, `python -m "
         "training.separate_eval --n 2`); on this CPU there was no time to train it ten times longer.", "",
         "## Status", "",
         "**Just below the NMF baseline it refines on the real players, so not the default** (`musicdesk separate "
         "--method network` uses it; `auto` is the NMF). On a rendered validation take (`python -m "
         "training.separate_eval --n 1`): the NMF 9.57 dB SDR v3, this network 9.95 dB (+0.38 dB). On the five "
         "Bach10 mixtures (below): 7.04 dB against the NMF's 7.20 dB; minus-one mixes 12.15 against 12.16 dB. "
         "The previous weights (step 1,000 of a run on excerpt-wise NMF inputs with a loss relative to the "
         "mixture) measured 7.81 dB on that validation take and 5.84 dB on Bach10 (training/README.md has all "
         "the runs).", "",
         "## Data", "",
         f"`python -m training.separate_data --takes 200 --excerpts 6 --seconds 4`: {n_train} training takes and "
         f"{n_val} validation takes (six 4 s excerpts each). music21's Bach chorales with four parts, minus all ten "
         "of Bach10 (left out by BWV number and by the melody of every part, training/chorale_player.py); every "
         "tenth chorale is a validation piece (split by piece). Simulated ensembles (training/ensemble.py: a "
         "shared pulse with tempo drift, ritardandi, fermata holds and breaths; each player's onset scatter, "
         "tuning and dynamics), instruments from a pool per voice (strings, woodwinds, brass, saxophones, voice; "
         "a quarter of the takes the violin-clarinet-saxophone-bassoon line-up), the installed General MIDI "
         "soundfonts (FluidR3_GM, TimGM6mb), vibrato by the modulation wheel, a synthetic room per take with each "
         "player at their own distance, a tilt EQ, stem gains -9 to 0 dB. The score given to the network is "
         "jittered (onsets +-30 ms per note and +-20 ms per part, offsets +-60 ms, 2% of notes dropped). No "
         "evaluation recording is used.", "",
         "## Command", "",
         "```", "python -m training.separate_data --takes 200 --excerpts 6 --seconds 4",
         "python -m training.separate_data --whole-nmf",
         "python -m training.train_separate --minutes 35", "```", "",
         "35 minutes on the 2-core CPU, 1,506 steps (the cosine schedule over the 35 minutes); the shipped "
         "weights are the end of the run (2026-12-06).", "",
         "Each excerpt's score is jittered once (seeded) and its NMF input computed once on the whole take with "
         "that score, as `separate()` computes it on a recording (`--whole-nmf`, cached). Random crops of 96 "
         "frames x 512 bins, batch 4 excerpts x 4 parts, Adam (lr 2e-3, cosine to 5%), L1 on magnitudes "
         "relative to each part's own mean magnitude (so quiet parts count; an L1 on square-root magnitudes, "
         "tried first, did not follow SDR: training/logs/train_separate-sqrt-loss.log) plus 0.1 x the activity "
         "head's cross-entropy; `--init` resumes from a checkpoint (the optimiser state is in "
         "`separate_iass.ckpt.pt`, not shipped). Log: training/logs/train_separate-v3.log.", "",
         "## Training history (validation: fixed 4 s crops of the validation pieces, full band)", "",
         "| step | minutes | train loss | validation loss |", "| --- | --- | --- | --- |"]
    rows = hist[:: max(1, len(hist) // 12)]
    for h in rows + [x for x in hist[-1:] if not rows or x is not rows[-1]]:
        tr = f"{h['train_sep']:.4f}" if "train_sep" in h else "-"
        L.append(f"| {h['step']} | {h['minutes']:.0f} | {tr} | {h['val_sep']:.4f} |")
    if BENCH.is_file():
        b = json.loads(BENCH.read_text())
        L += ["", f"## Metrics on the real Bach10 mixtures (benchmarks/bench_separate.py, {b['date']}; evaluation only)", "",
              "SDR in dB, BSS Eval v3 (mir_eval, whole track) and v4 (museval, median of 1 s frames):", "",
              "| estimate | v3 mean | " + " | ".join(PARTS) + " | v4 mean |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for r, v in b["rows"].items():
            a3, a4 = np.array(v["v3"]), np.array(v["v4"])
            L.append(f"| {r} | {a3.mean():.2f} | " + " | ".join(f"{x:.2f}" for x in a3.mean(axis=0)) + f" | {np.nanmean(a4):.2f} |")
        L += ["", "Minus-one mixes (SDR v3 against the sum of the other real parts): "
              + "; ".join(f"{k} {np.mean(v):.2f} dB" for k, v in b["minus_one_v3"].items()) + "."]
        sp = [x for x in b["speed"] if x.get("method") == "network"]
        if sp:
            L.append(f"Speed: {sum(x['audio_s'] for x in sp) / sum(x['wall_s'] for x in sp):.1f}x real time on the 2-core "
                     "CPU, alignment included.")
    L += ["", f"Card written {datetime.date.today().isoformat()} by `python -m training.separate_card`."]
    CARD.write_text("\n".join(L) + "\n")
    print(f"wrote {CARD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
