"""Design set of the mixture aligner (musicdesk/separate/align.py): simulated ensembles rendered with
FluidSynth (training/ensemble.py), scored as bench_align scores Bach10. Never the evaluation recordings.

    .venv/bin/python -m training.mixalign_design [--n 8] [--skip 0] [--room] [--set key=value ...]

MixAlignParams were chosen on pieces 0-7, dry and with --room (the mean of the two), and checked on
pieces 8-15 (`--n 16 --skip 8`). With --room each stem goes through its own simulated room, which
reproduces what the dry renders do not: onsets placed late (signed median +10 ms against 0 dry), as on
the real recordings.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from musicdesk.separate.align import MixAlignParams, align_ensemble, mix_features
from training.chorale_player import to_score
from training.ensemble import BACH10_PROGRAMS, chorales, perform_ensemble, render_ensemble

CACHE = Path(__file__).resolve().parent / "cache" / "ensembles"


F0_TRUTH = True


def f0_onsets(stem: np.ndarray, notes, hold_s: float = 0.04) -> np.ndarray:
    """Onsets as Bach10's ground truth defines them (from the part's F0 annotation): where the isolated
    part's pitch (musicdesk's tracker) first holds the note's pitch (within 0.5 semitone, `hold_s`),
    searched from 50 ms before the note-on up to its next note; the note-on where it never does."""
    from musicdesk.audio import Take
    from musicdesk.pitch import track_pitch

    c = track_pitch(Take(stem.astype(np.float32), 22050, ""))
    m = c.midi
    k = max(1, int(round(hold_s / c.hop_s)))
    out = []
    for j, n in enumerate(notes):
        end = notes[j + 1].onset_s if j + 1 < len(notes) else n.offset_s
        a = int(np.searchsorted(c.times_s, n.onset_s - 0.05))
        b = int(np.searchsorted(c.times_s, end))
        ok = np.abs(m[a:b] - n.midi) < 0.5
        run = np.convolve(ok.astype(int), np.ones(k, int), "valid") == k if len(ok) >= k else np.zeros(0, bool)
        hit = np.flatnonzero(run)
        out.append(float(c.times_s[a + hit[0]]) if len(hit) else float(n.onset_s))
    return np.array(out)


def design_set(n: int, seed: int = 7, soundfont: str | None = None, room: bool = False):
    """[(scores, truth onsets per part, mixture samples)], cached as npz. `room`: each stem through its own
    simulated room and microphone (training/room.py), as each Bach10 player was recorded apart. The truth
    is taken from the dry stem: a pitch tracker on the reverberant one lags by tens of ms (the previous
    note's tail), while the direct sound, which a listener hears as the onset, is not delayed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for k, parts in enumerate(chorales(max(n, 10), 1)[:n]):
        f = CACHE / f"design-{seed}-{k}{'-room' if room else ''}.npz"
        rng = np.random.default_rng([seed, k])
        lead = float(rng.uniform(0.5, 3.0))
        take = perform_ensemble(parts, rng, lead_s=lead, programs=BACH10_PROGRAMS if k % 2 == 0 else None)
        if f.is_file() and "f0_onsets_0" in np.load(f):
            z = np.load(f)
            mix = z["mix"]
            f0_truth = [z[f"f0_onsets_{j}"] for j in range(4)]
        else:
            mix, stems = render_ensemble(take, 22050, soundfont, gains_db=rng.uniform(-6, 0, 4))
            f0_truth = [f0_onsets(s, notes) for s, notes in zip(stems, take.notes)]
            if room:   # the truth stays that of the dry stem: the room delays nothing of the direct sound
                from training.room import rooms_per_stem

                mix = rooms_per_stem(stems, 22050, np.random.default_rng([seed, k, 1])).sum(axis=0)
            np.savez_compressed(f, mix=mix, **{f"f0_onsets_{j}": t for j, t in enumerate(f0_truth)})
        scores = [to_score(p) for p in parts]
        truth = [np.array([x.onset_s for x in notes]) for notes in take.notes]
        out.append((scores, f0_truth if F0_TRUTH else truth, mix))
    return out


def evaluate(data, p: MixAlignParams) -> dict:
    errs = []
    t0 = time.perf_counter()
    for scores, truth, mix in data:
        a = align_ensemble(scores, mix, 22050, p)
        for al, tr in zip(a.parts, truth):
            on = np.array([x.onset_s for x in al.notes])
            errs.append(on - tr)
    e = np.concatenate(errs)
    return {"n": int(len(e)), "within50": float(np.mean(np.abs(e) <= 0.05)),
            "within100": float(np.mean(np.abs(e) <= 0.1)), "median_ms": float(np.median(np.abs(e)) * 1000),
            "signed_ms": float(np.median(e) * 1000), "over300": int(np.sum(np.abs(e) > 0.3)),
            "per_part_within50": [float(np.mean(np.abs(np.concatenate(errs[k::4])) <= 0.05)) for k in range(4)],
            "s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--room", action="store_true", help="stems through simulated rooms (training/room.py)")
    ap.add_argument("--skip", type=int, default=0, help="evaluate pieces skip..n-1 only (held-out check)")
    a = ap.parse_args()
    kw = {}
    for s in a.set:
        k, v = s.split("=")
        kw[k] = float(v)
    p = dataclasses.replace(MixAlignParams(), **kw)
    print(json.dumps(evaluate(design_set(a.n, room=a.room)[a.skip:], p)))


if __name__ == "__main__":
    main()
