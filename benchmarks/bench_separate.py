"""Stems on the real Bach10 mixtures (issue 20): separation quality, minus-one mixes, alignment of the
mixture, speed.

Each of the five Bach10 mixtures (violin, clarinet, tenor saxophone, bassoon, recorded apart and summed) is
separated with its four-part MIDI score. Rows, side by side:

- mixture: the mixture itself as every stem's estimate (the input SDR);
- oracle IRM / oracle Wiener: the true parts' STFT magnitudes (2048 / 512) as a ratio mask and as a
  power (Wiener) mask on the mixture: upper bounds of mask-based separation at this resolution;
- NMF, dataset alignment: musicdesk.separate.nmf with the notes placed by the dataset's own beat
  alignment (NN-Name.txt, interpolated between hand-tapped beats);
- NMF, our alignment: the same with musicdesk.separate.align (what `musicdesk separate` does).

Metrics: mir_eval's bss_eval_sources (BSS Eval v3, whole track) and museval (v4, the SiSEC framewise
median over 1 s windows), per instrument and overall. Minus-one: SDR (v3) of each part's minus-one mix
against the sum of the other three real parts. Alignment: per-part onset error against GTNotes.csv (as in
bench_align), ours against synctoolbox (MrMsDTW between a FluidSynth rendering of all four parts and the
mixture).

Run: .venv/bin/python benchmarks/bench_separate.py [--quick]
Writes benchmarks/results/separate.md and separate.json. Evaluation only: nothing is tuned on this data.
"""
from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_align import GM, PARTS, ground_truth, metrics, pieces, render_part, synctoolbox_map  # noqa: E402
from make_results import write_section  # noqa: E402
from musicdesk.audio import Take, load_take  # noqa: E402
from musicdesk.feedback import onsets_s  # noqa: E402
from musicdesk.score import load_score  # noqa: E402
from musicdesk.separate.align import align_ensemble  # noqa: E402
from musicdesk.separate.core import separate  # noqa: E402
from musicdesk.separate.nmf import HOP, N_FFT, separate_nmf  # noqa: E402
from musicdesk.separate.predict import has_weights, separate_network  # noqa: E402

DATE = datetime.date.today().isoformat()
MACHINE = "2-core CPU, no GPU"
ROWS = ("mixture", "oracle IRM", "oracle Wiener", "NMF, dataset alignment", "NMF, our alignment",
        "network, dataset alignment", "network, our alignment", "network, no score")


def oracle(mix: np.ndarray, refs: np.ndarray, power: float) -> np.ndarray:
    import librosa

    X = librosa.stft(mix, n_fft=N_FFT, hop_length=HOP)
    S = np.stack([np.abs(librosa.stft(r, n_fft=N_FFT, hop_length=HOP)) ** power for r in refs])
    M = S / (S.sum(axis=0, keepdims=True) + 1e-12)
    return np.stack([librosa.istft(m * X, hop_length=HOP, n_fft=N_FFT, length=len(mix)) for m in M])


def dataset_notes(piece_dir: str, scores) -> list[list[tuple[float, float, int]]]:
    """Each part's notes placed by the dataset's beat alignment (NN-Name.txt: audio ms, score ms, pitch,
    channel), score time mapped to audio time by interpolation."""
    name = os.path.basename(piece_dir)
    rows = np.loadtxt(os.path.join(piece_dir, f"{name}.txt"))
    audio_s, score_s = rows[:, 0] / 1000.0, rows[:, 1] / 1000.0
    order = np.argsort(score_s)
    su, idx = np.unique(score_s[order], return_index=True)
    au = audio_s[order][idx]
    return [[(float(np.interp(n.onset_s, su, au)), float(np.interp(n.offset_s, su, au)), n.midi) for n in sc.notes]
            for sc in scores]


def bss_v3(refs: np.ndarray, est: np.ndarray) -> np.ndarray:
    import mir_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdr, *_ = mir_eval.separation.bss_eval_sources(refs, est, compute_permutation=False)
    return sdr


def bss_v4(refs: np.ndarray, est: np.ndarray, sr: int) -> np.ndarray:
    import museval

    sdr, *_ = museval.evaluate(refs[:, :, None], est[:, :, None], win=sr, hop=sr)
    return np.nanmedian(sdr, axis=1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process's own address space, MiB (VmHWM). Not `ru_maxrss`: Linux
    carries the parent's peak into a child over fork and exec, so a child started by a big parent would
    report the parent's figure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_speed(dirs: list[str]) -> list[dict]:
    """`separate()` wall time per mixture and method (nmf, then the network on the same alignment), warm: a
    10 s excerpt of the first mixture goes through both methods first, untimed, so the figures do not
    depend on what ran before in this process."""
    name = os.path.basename(dirs[0])
    sc = [load_score(os.path.join(dirs[0], f"{name}.mid"), i) for i in range(4)]
    y = load_take(os.path.join(dirs[0], f"{name}.flac"))
    for meth in (["nmf", "network"] if has_weights() else ["nmf"]):
        separate(y.samples[: 10 * y.sr], y.sr, sc, method=meth)
    speed = []
    for d in dirs:
        name = os.path.basename(d)
        scores = [load_score(os.path.join(d, f"{name}.mid"), i) for i in range(4)]
        mix = load_take(os.path.join(d, f"{name}.flac"))
        t0 = time.perf_counter()
        stems = separate(mix.samples, mix.sr, scores, method="nmf")
        al = stems.timings_s["align_s"]
        speed.append({"audio_s": len(mix.samples) / mix.sr, "wall_s": time.perf_counter() - t0, "align_s": al,
                      "method": "nmf"})
        if has_weights():
            t0 = time.perf_counter()
            separate(mix.samples, mix.sr, scores, method="network", alignment=stems.alignment)
            speed.append({"audio_s": len(mix.samples) / mix.sr, "wall_s": time.perf_counter() - t0 + al,
                          "align_s": al, "method": "network"})
    return speed


def long_recording(method: str, minutes: float = 10.0) -> dict:
    """The five mixtures played one after the other (1 s apart) until `minutes` are filled, with their
    scores joined the same way: wall time, peak resident memory (this process) and onset accuracy."""
    import dataclasses

    ys, scores, gts = [], [[] for _ in PARTS], [[] for _ in PARTS]
    t = 0.0
    score_t = 0.0
    while t < 60 * minutes:
        for d in pieces():
            name = os.path.basename(d)
            mix = load_take(os.path.join(d, f"{name}.flac"))
            sc = [load_score(os.path.join(d, f"{name}.mid"), i) for i in range(4)]
            end = max(n.offset_s for x in sc for n in x.notes)
            for k, (x, p) in enumerate(zip(sc, PARTS)):
                scores[k] += [dataclasses.replace(n, onset_s=n.onset_s + score_t) for n in x.notes]
                gt, _ = ground_truth(d, p, x)
                gts[k].append(gt[:, 0] + t)
            ys += [mix.samples, np.zeros(mix.sr, np.float32)]
            t += len(mix.samples) / mix.sr + 1.0
            score_t += end + 1.0
            if t >= 60 * minutes:
                break
    y = np.concatenate(ys)
    del ys
    base = load_score(os.path.join(pieces()[0], os.path.basename(pieces()[0]) + ".mid"), 0)
    parts = [dataclasses.replace(base, part=p, notes=tuple(dataclasses.replace(n, index=i) for i, n in enumerate(ns)),
                                 duration_s=max(n.offset_s for n in ns)) for p, ns in zip(PARTS, scores)]
    t0 = time.perf_counter()
    stems = separate(y, 22050, parts, method=method)
    wall = time.perf_counter() - t0
    errs = []
    for k in range(4):
        gt = np.concatenate(gts[k])
        on = np.array([x.onset_s for x in stems.alignment.parts[k].notes])
        ok = ~np.isnan(gt)
        errs += (on[ok] - gt[ok]).tolist()
    return {"audio_s": len(y) / 22050, "wall_s": wall, "align_s": stems.timings_s["align_s"], "method": stems.method,
            "peak_rss_mb": peak_rss_mb(),
            "within_50ms_pct": float(np.mean(np.abs(errs) <= 0.05) * 100), "n_notes": len(errs)}


def measure_long() -> dict:
    """`long_recording` per method, each in a fresh process (so its peak memory is its own), dated."""
    import json
    import subprocess

    long = {}
    for meth in (["nmf", "network"] if has_weights() else ["nmf"]):
        r = subprocess.run([sys.executable, __file__, "--long", meth], capture_output=True, text=True, check=True)
        long[meth] = dict(json.loads(r.stdout.strip().splitlines()[-1]), date=DATE)
        print("10-minute recording", meth, long[meth], flush=True)
    return long


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="first piece only")
    ap.add_argument("--long", metavar="METHOD", help="only the 10-minute recording with this method (prints JSON)")
    ap.add_argument("--update-long", action="store_true", help="re-measure the 10-minute recording only")
    ap.add_argument("--update-speed", action="store_true",
                    help="re-measure the speed on the five mixtures only (on an otherwise idle machine)")
    a = ap.parse_args()
    if a.long:
        import json

        print(json.dumps(long_recording(a.long)))
        return
    if a.update_speed:  # keep the other figures of results/separate.json
        import json

        out = json.loads((Path(ROOT) / "benchmarks" / "results" / "separate.json").read_text())
        out["speed"] = measure_speed(pieces())
        out["speed_date"] = DATE
        write_section("separate", out, render_md(out))
        return
    if a.update_long:   # re-measure only the long recording, keep the other figures of results/separate.json
        import json

        out = json.loads((Path(ROOT) / "benchmarks" / "results" / "separate.json").read_text())
        out["long"].update(measure_long())
        write_section("separate", out, render_md(out))
        return
    dirs = pieces()[:1] if a.quick else pieces()
    rows = ROWS if has_weights() else ROWS[:5]
    res = {r: {"v3": [], "v4": []} for r in rows}
    minus = {"mixture": [], "NMF, our alignment": [], "oracle Wiener": []}
    if has_weights():
        minus["network, our alignment"] = []
    from_mix = {"solo": {"onset": [], "correct": []}, "stem": {"onset": [], "correct": []}}
    onset_err = {"ours": {p: [] for p in PARTS}, "synctoolbox": {p: [] for p in PARTS}}
    for d in dirs:
        name = os.path.basename(d)
        scores = [load_score(os.path.join(d, f"{name}.mid"), i) for i in range(4)]
        mix = load_take(os.path.join(d, f"{name}.flac"))
        refs = np.stack([load_take(os.path.join(d, f"{name}-{p}.flac")).samples for p in PARTS])
        n = min(len(mix.samples), refs.shape[1])
        y, refs = mix.samples[:n], refs[:, :n]
        stems = separate(y, mix.sr, scores, method="nmf")
        ds_notes = dataset_notes(d, scores)
        est = {"mixture": np.tile(y, (4, 1)), "oracle IRM": oracle(y, refs, 1.0), "oracle Wiener": oracle(y, refs, 2.0),
               "NMF, dataset alignment": separate_nmf(y, mix.sr, ds_notes),
               "NMF, our alignment": stems.stems}
        if has_weights():
            net = separate(y, mix.sr, scores, method="network", alignment=stems.alignment)
            est["network, our alignment"] = net.stems
            est["network, dataset alignment"] = separate_network(y, ds_notes)
            # without a score: the same network with empty prior channels (and no NMF masks: uniform)
            est["network, no score"] = separate_network(y, [[] for _ in scores])
        # a part from the mix (`analyze --ensemble`) beside the same part's solo recording
        from musicdesk.analysis import analyze

        for k, (sc, p) in enumerate(zip(scores, PARTS)):
            gt, _ = ground_truth(d, p, sc)
            ok = ~np.isnan(gt[:, 0])
            for kind, samples in (("solo", refs[k]), ("stem", stems.stems[k])):
                rep = analyze(sc, Take(samples.astype(np.float32), mix.sr)).report
                on = onsets_s(rep.notes)
                from_mix[kind]["onset"] += (on[ok] - gt[ok, 0]).tolist()
                from_mix[kind]["correct"] += [x.status == "correct" for x in rep.notes]
        line = [name]
        for r in rows:
            v3, v4 = bss_v3(refs, est[r]), bss_v4(refs, est[r], mix.sr)
            res[r]["v3"].append(v3.tolist())
            res[r]["v4"].append(v4.tolist())
            line.append(f"{r}: {np.mean(v3):.2f}")
        for r in minus:
            for k in range(4):
                others = refs.sum(axis=0) - refs[k]
                mo = y - est[r][k] if r != "mixture" else y
                minus[r].append(float(bss_v3(others[None], mo[None])[0]))
        # alignment of the mixture: ours (from the separation) and synctoolbox on a rendering of all parts
        ref = [render_part(sc, GM[p], mix.sr).samples for sc, p in zip(scores, PARTS)]
        m = max(len(r) for r in ref)
        ref_mix = Take(np.sum([np.pad(r, (0, m - len(r))) for r in ref], axis=0).astype(np.float32), mix.sr)
        for k, (sc, p) in enumerate(zip(scores, PARTS)):
            gt, _ = ground_truth(d, p, sc)
            ours = np.array([x.onset_s for x in stems.alignment.parts[k].notes])
            sync = np.array(synctoolbox_map(ref_mix, mix, [x.onset_s for x in sc.notes]), float)
            ok = ~np.isnan(gt[:, 0])
            onset_err["ours"][p] += (ours[ok] - gt[ok, 0]).tolist()
            onset_err["synctoolbox"][p] += (sync[ok] - gt[ok, 0]).tolist()
        print(" | ".join(line), flush=True)
    # 10-minute recording: the Bach10 mixtures end to end, scores concatenated in time
    peak_mb = peak_rss_mb()
    speed = measure_speed(dirs)   # after the evaluation, so the numba kernels and weights are loaded
    long = {} if a.quick else measure_long()
    out = {"date": DATE, "machine": MACHINE, "pieces": [os.path.basename(d) for d in dirs], "rows": res,
           "minus_one_v3": minus, "onset_error_s": onset_err, "from_mix": from_mix, "from_mix_method": "nmf",
           "long": long,
           "speed": speed,
           "peak_rss_mb": peak_mb}
    md = render_md(out)
    if not a.quick:
        write_section("separate", out, md)
    print(md)


def _no_score_line(s: dict) -> str:
    if "network, no score" not in s["rows"]:
        return ("Separation without a score: not in these figures (a run of the whole benchmark measures it: the "
                "network with empty prior channels); not shipped.")
    ns, mx = np.array(s["rows"]["network, no score"]["v3"]).mean(), np.array(s["rows"]["mixture"]["v3"]).mean()
    return (f"Separation without a score (the network with empty prior channels): {ns:.2f} dB against the "
            f"mixture's {mx:.2f} dB, {ns - mx:+.2f} dB -> **not shipped** (the network is shared by the parts and "
            "knows a part only by its score channels, so with none every part gets the same mask).")


def _mean(rows) -> float:
    return float(np.mean(rows)) if len(rows) else float("nan")


def render_md(s: dict) -> str:
    L = ["## Stems: score-informed separation of the Bach10 mixtures (issue 20)", "",
         f"Command: `.venv/bin/python benchmarks/bench_separate.py`  ",
         f"Machine: {s['machine']}; date {s['date']}; {len(s['pieces'])} mixtures (four real players recorded "
         "apart, summed). Evaluation only: the aligner and the NMF were set on FluidSynth renders of other "
         "chorales (training/mixalign_design.py, training/nmf_design.py).", "",
         "SDR in dB. v3: mir_eval `bss_eval_sources`, whole track; v4: museval, median over 1 s frames "
         "(SiSEC). Higher is better.", "",
         "| estimate | SDR v3 mean | violin | clarinet | saxphone | bassoon | SDR v4 mean | violin | clarinet | saxphone | bassoon |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r, v in s["rows"].items():
        a3, a4 = np.array(v["v3"]), np.array(v["v4"])
        L.append(f"| {r} | {a3.mean():.2f} | " + " | ".join(f"{x:.2f}" for x in a3.mean(axis=0)) +
                 f" | {np.nanmean(a4):.2f} | " + " | ".join(f"{x:.2f}" for x in np.nanmean(a4, axis=0)) + " |")
    L += ["", "Minus-one mixes (everything except one part) against the sum of the other three real parts, "
          "SDR v3 mean over parts and pieces: " + "; ".join(f"{k} {_mean(v):.2f} dB" for k, v in s["minus_one_v3"].items())
          + ".", ""]
    L += ["Alignment of the mixture (every part at once), onset error against GTNotes.csv:", "",
          "| method | part | notes | median (ms) | p90 (ms) | within 50 ms | within 100 ms | over 300 ms |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for meth, per in s["onset_error_s"].items():
        allp = [e for v in per.values() for e in v]
        for part, errs in [("all", allp)] + list(per.items()):
            m = metrics(errs)
            L.append(f"| {meth} | {part} | {len(errs)} | {m['median_ms']:.1f} | {m['p90_ms']:.1f} | "
                     f"{m['within_50ms_pct']:.1f}% | {m['within_100ms_pct']:.1f}% | {m['over_300ms']} |")
    fm = s.get("from_mix") or {}
    if fm:
        L += ["", f"A part from the mix (the part's stem, separated by the {s.get('from_mix_method', 'nmf')} method; "
              "`analyze --ensemble` uses the default method, NMF) beside the same part's solo recording, all 20 "
              "parts:", "",
              "| judged from | notes | onsets within 50 ms | within 100 ms | notes judged correct |", "| --- | --- | --- | --- | --- |"]
        for kind, label in (("solo", "the solo recording"), ("stem", "the stem separated from the mix")):
            m = metrics(fm[kind]["onset"])
            L.append(f"| {label} | {len(fm[kind]['correct'])} | {m['within_50ms_pct']:.1f}% | {m['within_100ms_pct']:.1f}% | "
                     f"{100 * np.mean(fm[kind]['correct']):.1f}% |")
    L += ["", f"Speed on this CPU (`separate()`: alignment plus separation, warm: kernels and weights loaded; measured "
          f"{s.get('speed_date', s['date'])} on an otherwise idle machine):", ""]
    for meth in sorted({x.get("method", "nmf") for x in s["speed"]}):
        sp = [x for x in s["speed"] if x.get("method", "nmf") == meth]
        a_s, w_s = sum(x["audio_s"] for x in sp), sum(x["wall_s"] for x in sp)
        L.append(f"- {meth}, the five mixtures: {a_s:.0f} s of audio in {w_s:.1f} s, **{a_s / w_s:.1f}x real time** "
                 f"(alignment {sum(x['align_s'] for x in sp):.1f} s).")
    for meth, r in (s.get("long") or {}).items():
        L.append(f"- {meth}, a {r['audio_s'] / 60:.1f}-minute recording (the five mixtures again and again, scores joined): "
                 f"{r['wall_s']:.1f} s, **{r['audio_s'] / r['wall_s']:.1f}x real time** (alignment {r['align_s']:.1f} s), "
                 f"peak resident memory **{r['peak_rss_mb']:.0f} MiB** (target under 1.5 GB), onsets within 50 ms "
                 f"{r['within_50ms_pct']:.1f}% of {r['n_notes']}.")
    L.append("")
    nmf = np.array(s["rows"]["NMF, our alignment"]["v3"])
    m_all = metrics([e for v in s["onset_error_s"]["ours"].values() for e in v])
    m_sync = metrics([e for v in s["onset_error_s"]["synctoolbox"].values() for e in v])
    if "network, our alignment" in s["rows"]:
        n = np.array(s["rows"]["network, our alignment"]["v3"])
        met = n.mean() >= 8 and n.mean(axis=0).min() >= 6 and n.mean() >= nmf.mean() + 2
        sep = (f"the network with our alignment {n.mean():.2f} dB mean SDR v3 (lowest instrument "
               f"{n.mean(axis=0).min():.2f} dB), NMF {nmf.mean():.2f} dB, so {n.mean() - nmf.mean():+.2f} dB -> "
               f"**{'MET' if met else 'NOT MET'}** (target: 8 dB, every instrument 6 dB, 2 dB above NMF)")
    else:
        sep = f"no network weights installed; NMF {nmf.mean():.2f} dB -> **NOT MET**"
    net_speed = [x for x in s["speed"] if x.get("method") == "network"]
    spd = (sum(x["audio_s"] for x in net_speed) / sum(x["wall_s"] for x in net_speed)) if net_speed else float("nan")
    L += [f"Targets (issue 20): {sep}. Mixture alignment 85% within 50 ms and ahead of synctoolbox: "
          f"ours {m_all['within_50ms_pct']:.1f}%, synctoolbox {m_sync['within_50ms_pct']:.1f}% -> "
          f"**{'MET' if m_all['within_50ms_pct'] >= 85 and m_all['within_50ms_pct'] > m_sync['within_50ms_pct'] else 'NOT MET'}**. "
          f"Separation at 5x real time with the network: {spd:.1f}x -> **{'MET' if spd >= 5 else 'NOT MET'}**. "
          + _no_score_line(s)]
    return "\n".join(L)


if __name__ == "__main__":
    main()
