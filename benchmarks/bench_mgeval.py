"""MGEval-style evaluation of the melody lab's varied and inpainted measures (issue 17): are they still
like the tune and the style? Features and metrics in benchmarks/mgeval.py (Yang & Lerch 2020).

Every figure is the mean over --seeds draws (each its own reference, sets and gaps) of N measures each,
with the spread across draws beside it: with 300 measures a set's overlapped area moves by about 0.005
from draw to draw, as much as the differences between the closest sets.

Variation (reference: N real held-out folk measures, tunes never trained on; training/melody_data.py's
test split):
  - real held-out: another N held-out measures (how close real is to real: the ceiling);
  - varied: other held-out measures moved by the lab's slider (MelodyLab.vary, as the window does, in
    the tune's key) to the 10th, 50th and 90th percentile of the slider's range of note density and of
    pitch range, and the same without the key filter (--chromatic in the lab), for the out-of-key share;
  - nudged: the same measures, each with the slider moved from its own value by -25, -10, +10 and +25%
    of the slider's range (how a composer varies one bar), in the tune's key.
    A set moved to one value of an attribute is by design unlike a reference that spans them all: a
    shortfall there is, in part, the distance the slider asked for.
Inpainting (reference: the N real measures that were taken out, each from a held-out tune drawn at
random, never its first or its last): the lab's first candidate (inpaint_candidates), the LatentRNN's decoded mean, and
the baselines (the measure before the gap repeated, the latents around it interpolated); the ceiling
is another draw of such real measures. The baselines' fills are also scored against the variation
reference, for the varied sets' verdict.
Prior: measures decoded from z ~ N(0, I) (the model's own idea of a measure, with no tune), against
the variation reference.
Per set: overlapped area (OA, higher is closer) and KL divergence (lower is closer) per feature
family (pitch: pitch-class histogram and transitions, pitch count, range, interval histogram, mean
interval; rhythm: note count, note-length histogram, mean inter-onset interval), and the share of
out-of-key notes (against the tune's key and its own notes, musicdesk.melody.keys).

    .venv/bin/python -m training.melody_data folk        # the data, once (music21's corpus, offline)
    .venv/bin/python benchmarks/bench_mgeval.py [--n 300] [--seeds 5]  # writes benchmarks/results/mgeval.*
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from make_results import write_section  # noqa: E402
from mgeval import FAMILIES, evaluate_set, family_means, features_of_rows  # noqa: E402

from musicdesk.melody.attributes import attributes  # noqa: E402
from musicdesk.melody.keys import allowed_pitch_classes, out_of_key_counts  # noqa: E402
from musicdesk.melody.tokens import FIRST_PITCH, TICKS_PER_BEAT, decode  # noqa: E402
from training.train_melody import DATA  # noqa: E402

DATE = datetime.date.today().isoformat()


VARIED = (("note_density", (0.1, 0.5, 0.9)), ("pitch_range_semitones", (0.1, 0.5, 0.9)))
NUDGES = (-0.25, -0.1, 0.1, 0.25)    # a slider moved from each measure's own value, in shares of its range


def main() -> None:
    import torch

    from musicdesk.melody.inpaint import load_inpainter
    from musicdesk.melody.lab import MelodyLab

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=5, help="draws; every figure is their mean")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = np.load(args.data)
    data = {k: d[k] for k in ("tokens", "split", "tune", "measure_beats")}
    data["tokens"] = data["tokens"].astype(np.int64)
    lab, rnn = MelodyLab(), load_inpainter()[0]
    draws = []
    for seed in range(args.seeds):
        draws.append(one_draw(data, lab, rnn, args.n, seed))
        print(f"draw {seed + 1}/{args.seeds} done", flush=True)
    res = {"date": DATE, "n": args.n, "seeds": args.seeds, "tables": {}}
    for table in draws[0]:
        res["tables"][table] = {}
        for name in draws[0][table]:
            per = [dr[table][name] for dr in draws]
            entry = {}
            for fam in FAMILIES:
                for m in ("oa", "kl"):
                    v = [p["families"][fam][m] for p in per]
                    entry[f"{fam}_{m}"], entry[f"{fam}_{m}_sd"] = float(np.mean(v)), float(np.std(v))
            ook = [p["out_of_key_share"] for p in per]
            entry["out_of_key_share"] = None if ook[0] is None else float(np.mean(ook))
            res["tables"][table][name] = entry
    write_section("mgeval", res, markdown(res))
    print(markdown(res))


def one_draw(data: dict, lab, rnn, n: int, seed: int) -> dict:
    """One draw's two tables: {"variation" | "inpainting": {set name: {"families", "out_of_key_share"}}}."""
    from musicdesk.melody.inpaint import fill_latents, inpaint_candidates, interpolate
    from musicdesk.melody.tokens import encode

    tokens, split, tune, beats = data["tokens"], data["split"], data["tune"], data["measure_beats"]
    test = np.flatnonzero(split == 2)
    rng = np.random.default_rng(seed)
    order = rng.permutation(test)
    ref_idx, real_idx, vary_idx = order[:n], order[n:2 * n], order[2 * n:3 * n]
    allowed_of: dict[int, frozenset] = {}

    def allowed(t: int) -> frozenset:
        if t not in allowed_of:
            rows = np.flatnonzero(tune == t)
            allowed_of[t] = allowed_pitch_classes(decode(tokens[rows], float(beats[rows[0]])))
        return allowed_of[t]

    def ook(rows: np.ndarray, tunes: np.ndarray) -> float:
        notes = (rows >= FIRST_PITCH).sum()
        bad = sum(int(out_of_key_counts(r[None], allowed(int(t)))[0]) for r, t in zip(rows, tunes))
        return bad / max(1, notes)

    def score(ref: dict, rows, row_beats, tunes) -> dict:
        rows = np.asarray(rows)
        per = evaluate_set(ref, features_of_rows(rows, np.asarray(row_beats)))
        return {"families": family_means(per), "out_of_key_share": None if tunes is None else ook(rows, np.asarray(tunes))}

    out: dict[str, dict] = {"variation": {}, "inpainting": {}}
    ref = features_of_rows(tokens[ref_idx], beats[ref_idx])
    out["variation"]["real held-out (another sample)"] = score(ref, tokens[real_idx], beats[real_idx], tune[real_idx])
    # ---- varied by the slider, in the tune's key (the lab's default) and without the key filter
    for attr, qs in VARIED:
        lo, hi = lab.value_range(attr)
        for q in qs:
            value = lo + q * (hi - lo)
            label = f"{attr} at its {int(q * 100)}th percentile"
            for chromatic in (False, True):
                rows = np.empty((len(vary_idx), tokens.shape[1]), np.int64)
                for t in np.unique(tune[vary_idx]):
                    sel = np.flatnonzero(tune[vary_idx] == t)
                    for b in np.unique(beats[vary_idx[sel]]):
                        s2 = sel[beats[vary_idx[sel]] == b]
                        rows[s2] = lab.vary(tokens[vary_idx[s2]], float(b), {attr: value},
                                            None if chromatic else allowed(int(t)))
                name = "varied: " + label + (" (chromatic)" if chromatic else "")
                out["variation"][name] = score(ref, rows, beats[vary_idx], tune[vary_idx])
    # ---- nudged: each measure's slider moved from where it stands (how a composer varies one bar)
    for attr, _ in VARIED:
        lo, hi = lab.value_range(attr)
        for share in NUDGES:
            rows = np.stack([lab.vary(tokens[i][None], float(beats[i]),
                                      {attr: attributes(tokens[i], float(beats[i]))[attr] + share * (hi - lo)},
                                      allowed(int(tune[i])))[0] for i in vary_idx])
            out["variation"][f"nudged: {attr} {100 * share:+.0f}% of its range"] = score(
                ref, rows, beats[vary_idx], tune[vary_idx])
    # ---- inpainted: one measure of a held-out tune missing (never its first or its last)
    tunes = [t for t in np.unique(tune[test]) if np.sum(tune == t) >= 8]
    names = ("truth", "real: another draw of taken-out measures", "inpainted: the lab's first candidate",
             "inpainted: the LatentRNN's decoded mean", "baseline: the measure before repeated",
             "baseline: latents interpolated")
    fills: dict[str, list] = {k: [] for k in names}
    gap_beats: dict[str, list] = {k: [] for k in names}
    gap_tunes: dict[str, list] = {k: [] for k in names}

    def put(k: str, row, b: float, t: int) -> None:
        fills[k].append(row)
        gap_beats[k].append(b)
        gap_tunes[k].append(t)

    while len(fills["truth"]) < n:
        t = int(rng.choice(tunes))
        rows_idx = np.flatnonzero(tune == t)
        b = float(beats[rows_idx[0]])
        if np.any(beats[rows_idx] != b):
            continue
        s = int(rng.integers(1, len(rows_idx) - 1))
        mel = decode(tokens[rows_idx], b)
        put("truth", tokens[rows_idx[s]], b, t)
        put("inpainted: the lab's first candidate", encode(inpaint_candidates(mel, s, 1, 1, lab, rnn)[0].melody)[s], b, t)
        z = lab.encode(tokens[rows_idx])
        mu = fill_latents(rnn, z, s, 1, 1)[0]
        ticks = int(round(b * TICKS_PER_BEAT))
        put("inpainted: the LatentRNN's decoded mean", lab.decode(mu, ticks)[0], b, t)
        put("baseline: the measure before repeated", tokens[rows_idx[s - 1]], b, t)
        put("baseline: latents interpolated", lab.decode(interpolate(z, s, 1), ticks)[0], b, t)
    while len(fills["real: another draw of taken-out measures"]) < n:
        t = int(rng.choice(tunes))
        rows_idx = np.flatnonzero(tune == t)
        if len(set(beats[rows_idx].tolist())) == 1:
            put("real: another draw of taken-out measures", tokens[rows_idx[int(rng.integers(1, len(rows_idx) - 1))]],
                float(beats[rows_idx[0]]), t)
    truth = features_of_rows(np.stack(fills["truth"]), np.array(gap_beats["truth"]))
    for k in names[1:]:
        out["inpainting"][k] = score(truth, np.stack(fills[k]), gap_beats[k], gap_tunes[k])
        if k.startswith("baseline"):    # the same fills against the variation reference, for the varied sets
            out["variation"][k] = score(ref, np.stack(fills[k]), gap_beats[k], gap_tunes[k])
    # ---- the prior
    pz = rng.standard_normal((n, lab.latent_size)).astype(np.float32)
    pb = beats[rng.choice(test, n)]
    prior = np.concatenate([lab.decode(pz[pb == b], int(round(b * TICKS_PER_BEAT))) for b in np.unique(pb)])
    out["variation"]["prior: z ~ N(0, I) decoded"] = score(
        ref, prior, np.concatenate([pb[pb == b] for b in np.unique(pb)]), None)
    return out


def _cell(e: dict, fam: str, m: str) -> str:
    return f"{e[f'{fam}_{m}']:.3f} ± {e[f'{fam}_{m}_sd']:.3f}"


def _table(entries: dict) -> list[str]:
    L = ["| set | pitch OA | pitch KL | rhythm OA | rhythm KL | out-of-key notes |", "| --- | --- | --- | --- | --- | --- |"]
    for name, e in entries.items():
        ook = "-" if e["out_of_key_share"] is None else f"{100 * e['out_of_key_share']:.1f}%"
        L.append(f"| {name} | {_cell(e, 'pitch', 'oa')} | {_cell(e, 'pitch', 'kl')} | {_cell(e, 'rhythm', 'oa')} | "
                 f"{_cell(e, 'rhythm', 'kl')} | {ook} |")
    return L


def verdicts(res: dict) -> list[str]:
    """The issue's test: inpainted and varied sets at least as close (mean OA) as the best baseline, per family."""
    L = []
    for table in ("inpainting", "variation"):
        tab = res["tables"][table]
        base = {fam: max(tab[b][f"{fam}_oa"] for b in tab if b.startswith("baseline")) for fam in FAMILIES}
        for name, e in tab.items():
            if name.startswith(("inpainted", "nudged")) or (name.startswith("varied") and "chromatic" not in name):
                v = [f"{fam} {e[f'{fam}_oa']:.3f} vs {base[fam]:.3f} "
                     f"({'at least as close' if e[f'{fam}_oa'] >= base[fam] - 1e-9 else 'NOT as close'})"
                     for fam in FAMILIES]
                L.append(f"- {name}: " + "; ".join(v))
    return L


def markdown(res: dict) -> str:
    t, n = res["tables"], res["n"]
    L = ["## Melody lab: MGEval-style evaluation (issue 17)", "",
         f"Command: `.venv/bin/python benchmarks/bench_mgeval.py --n {n} --seeds {res['seeds']}` ({res['date']}, "
         f"2-core CPU, no GPU). Every figure is the mean over {res['seeds']} draws of {n} measures per set, ± the "
         "spread (sd) across draws. Per feature family: the overlapped area (OA, higher is closer) and the KL "
         "divergence (lower is closer) of the reference's intra-set distances against the reference-to-set "
         "distances; features and metrics in benchmarks/mgeval.py (after Yang & Lerch 2020). Out-of-key: the share "
         "of notes outside the tune's key and its own notes.", "",
         f"**Inpainting.** One measure of a held-out tune taken out (never its first or last) and filled. Reference: "
         f"the {n} measures that were taken out.", ""]
    L += _table(t["inpainting"])
    L += ["", f"**Variation.** Reference: {n} real held-out measures (the test split: tunes never trained on). The "
          "varied measures are other held-out measures, all moved by the lab's slider to one value (in the tune's key, "
          "and chromatic); the nudged ones are the same measures, each with its slider moved from its own value by "
          "a share of the slider's range (in the tune's key).", ""]
    L += _table(t["variation"])
    L += ["", "Against the best baseline (repeating the measure before, or interpolating the latents) in the same "
          "table, against the same reference, mean OA per family; the target: at least as close. A set moved to one "
          "value of an attribute is by design unlike real measures, which span them all, and a nudged set differs "
          "from them by the nudge in the family the slider belongs to (note density: rhythm; pitch range: pitch); "
          "the other family is the one that says whether the rest of the measure still sounds like the style:", ""]
    L += verdicts(res)
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
