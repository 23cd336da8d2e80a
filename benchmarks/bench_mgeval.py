"""MGEval-style evaluation of the melody lab's varied and inpainted measures (issue 17): are they still
like the tune and the style? Features and metrics in benchmarks/mgeval.py (Yang & Lerch 2020).

Reference: N real held-out folk measures (tunes never trained on; training/melody_data.py's test split).
Sets compared with it, N measures each:
  - real held-out: another N held-out measures (how close real is to real: the ceiling);
  - varied: other held-out measures moved by the lab's slider (MelodyLab.vary, as the window does, in
    the tune's key) to the 10th, 50th and 90th percentile of note density and of pitch range; and the
    same with --chromatic behaviour (no key filter), for the out-of-key share;
  - inpainted: one measure of a held-out tune missing, filled by the lab's first candidate
    (inpaint_candidates), by the LatentRNN's decoded mean, and by the baselines: the measure before the
    gap repeated, and the latents around the gap interpolated;
  - prior: measures decoded from z ~ N(0, I) (the model's own idea of a measure, with no tune).
Per set: overlapped area (OA, higher is closer) and KL divergence (lower is closer) per feature
family (pitch: pitch-class histogram and transitions, pitch count, range, interval histogram, mean
interval; rhythm: note count, note-length histogram, mean inter-onset interval), and the share of
out-of-key notes (against the tune's key and its own notes, musicdesk.melody.keys).

    .venv/bin/python -m training.melody_data folk        # the data, once (music21's corpus, offline)
    .venv/bin/python benchmarks/bench_mgeval.py [--n 300]  # writes benchmarks/results/mgeval.*
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

from musicdesk.melody.keys import allowed_pitch_classes, out_of_key_counts  # noqa: E402
from musicdesk.melody.tokens import FIRST_PITCH, TICKS_PER_BEAT, decode  # noqa: E402
from training.train_melody import DATA  # noqa: E402

DATE = datetime.date.today().isoformat()


def main() -> None:
    import torch

    from musicdesk.melody.inpaint import fill_latents, inpaint_candidates, interpolate, load_inpainter
    from musicdesk.melody.lab import MelodyLab

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = np.load(args.data)
    tokens, split, tune, beats = d["tokens"].astype(np.int64), d["split"], d["tune"], d["measure_beats"]
    test = np.flatnonzero(split == 2)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(test)
    n = args.n
    ref_idx, real_idx, vary_idx = order[:n], order[n:2 * n], order[2 * n:3 * n]
    lab = MelodyLab()
    rnn = load_inpainter()[0]
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

    sets: dict[str, dict] = {}

    def add(name: str, rows: np.ndarray, row_beats: np.ndarray, tunes: np.ndarray | None) -> None:
        sets[name] = {"rows": np.asarray(rows), "beats": np.asarray(row_beats), "tunes": tunes}

    add("real held-out (another sample)", tokens[real_idx], beats[real_idx], tune[real_idx])
    # ---- varied by the slider, in the tune's key (the lab's default) and without the key filter
    for attr in ("note_density", "pitch_range_semitones"):
        lo, hi = lab.value_range(attr)
        for q in (0.1, 0.5, 0.9):
            target = {attr: lo + q * (hi - lo)}
            for chromatic in (False, True):
                out = np.empty((len(vary_idx), tokens.shape[1]), np.int64)
                for t in np.unique(tune[vary_idx]):
                    sel = np.flatnonzero(tune[vary_idx] == t)
                    for b in np.unique(beats[vary_idx[sel]]):
                        s2 = sel[beats[vary_idx[sel]] == b]
                        out[s2] = lab.vary(tokens[vary_idx[s2]], float(b), target,
                                           None if chromatic else allowed(int(t)))
                add(f"varied: {attr} at its {int(q * 100)}th percentile" + (" (chromatic)" if chromatic else ""),
                    out, beats[vary_idx], tune[vary_idx])
    # ---- inpainted: one measure of a held-out tune missing
    tunes = [t for t in np.unique(tune[test]) if np.sum(tune == t) >= 8]
    fills = {"inpainted: the lab's first candidate": [], "inpainted: the LatentRNN's decoded mean": [],
             "baseline: the measure before repeated": [], "baseline: latents interpolated": []}
    gap_beats, gap_tunes = [], []
    while len(gap_beats) < n:
        t = int(rng.choice(tunes))
        rows_idx = np.flatnonzero(tune == t)
        b = float(beats[rows_idx[0]])
        if np.any(beats[rows_idx] != b):
            continue
        s = int(rng.integers(1, len(rows_idx) - 1))
        mel = decode(tokens[rows_idx], b)
        first = inpaint_candidates(mel, s, 1, 1, lab, rnn)[0].melody
        from musicdesk.melody.tokens import encode

        fills["inpainted: the lab's first candidate"].append(encode(first)[s])
        z = lab.encode(tokens[rows_idx])
        mu = fill_latents(rnn, z, s, 1, 1)[0]
        ticks = int(round(b * TICKS_PER_BEAT))
        fills["inpainted: the LatentRNN's decoded mean"].append(lab.decode(mu, ticks)[0])
        fills["baseline: the measure before repeated"].append(tokens[rows_idx[s - 1]])
        fills["baseline: latents interpolated"].append(lab.decode(interpolate(z, s, 1), ticks)[0])
        gap_beats.append(b)
        gap_tunes.append(t)
    for name, rows in fills.items():
        add(name, np.stack(rows), np.array(gap_beats), np.array(gap_tunes))
    # ---- the prior
    pz = rng.standard_normal((n, lab.latent_size)).astype(np.float32)
    pb = beats[rng.choice(test, n)]
    prior = np.concatenate([lab.decode(pz[pb == b], int(round(b * TICKS_PER_BEAT))) for b in np.unique(pb)])
    add("prior: z ~ N(0, I) decoded", prior, np.concatenate([pb[pb == b] for b in np.unique(pb)]), None)

    ref = features_of_rows(tokens[ref_idx], beats[ref_idx])
    res = {"date": DATE, "n": n, "seed": args.seed, "sets": {}}
    for name, st in sets.items():
        per = evaluate_set(ref, features_of_rows(st["rows"], st["beats"]))
        res["sets"][name] = {"per_feature": per, "families": family_means(per),
                             "out_of_key_share": None if st["tunes"] is None else ook(st["rows"], st["tunes"])}
        fam = res["sets"][name]["families"]
        print(f"{name}: pitch OA {fam['pitch']['oa']:.3f} KL {fam['pitch']['kl']:.3f}; rhythm OA "
              f"{fam['rhythm']['oa']:.3f} KL {fam['rhythm']['kl']:.3f}", flush=True)
    write_section("mgeval", res, markdown(res))
    print(markdown(res))


def markdown(res: dict) -> str:
    s = res["sets"]
    L = ["## Melody lab: MGEval-style evaluation (issue 17)", "",
         f"Command: `.venv/bin/python benchmarks/bench_mgeval.py --n {res['n']}` ({res['date']}, 2-core CPU, no GPU). "
         f"Reference: {res['n']} real held-out folk measures (the test split: tunes never trained on). Each set has "
         f"{res['n']} measures. Per feature family: the overlapped area (OA, higher is closer) and the KL divergence "
         "(lower is closer) of the reference's intra-set distances against the reference-to-set distances; "
         "features and metrics in benchmarks/mgeval.py (after Yang & Lerch 2020). Out-of-key: the share of notes "
         "outside the tune's key and its own notes.", "",
         "| set | pitch OA | pitch KL | rhythm OA | rhythm KL | out-of-key notes |", "| --- | --- | --- | --- | --- | --- |"]
    for name, r in s.items():
        f = r["families"]
        ook = "-" if r["out_of_key_share"] is None else f"{100 * r['out_of_key_share']:.1f}%"
        L.append(f"| {name} | {f['pitch']['oa']:.3f} | {f['pitch']['kl']:.3f} | {f['rhythm']['oa']:.3f} | "
                 f"{f['rhythm']['kl']:.3f} | {ook} |")
    # the test: varied and inpainted at least as close (OA) as the best baseline, per family
    base = {fam: max(s[b]["families"][fam]["oa"] for b in s if b.startswith("baseline")) for fam in FAMILIES}
    L += ["", "Against the best baseline (repeating the measure before, or interpolating the latents), OA per "
          "family; the target: at least as close:", ""]
    for name in s:
        if name.startswith("inpainted") or (name.startswith("varied") and "chromatic" not in name):
            verdict = [f"{fam} {s[name]['families'][fam]['oa']:.3f} vs {base[fam]:.3f} "
                       f"({'at least as close' if s[name]['families'][fam]['oa'] >= base[fam] - 1e-9 else 'NOT as close'})"
                       for fam in FAMILIES]
            L.append(f"- {name}: " + "; ".join(verdict))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
