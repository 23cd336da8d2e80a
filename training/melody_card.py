"""Write the melody lab's model cards (models/melody-*.md) from training/results/melody-*.json and the
benchmark's figures (benchmarks/results/melody.json).

    python -m training.melody_card
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from musicdesk.melody.attributes import ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
DATA_TEXT = ("Measures of music21's folk corpora (Essen, Ryan's Mammoth, O'Neill's 1850), built by "
             "`python -m training.melody_data folk`: tunes in meters of at most 4 quarter beats whose notes all "
             "fall on the 24-tick grid, each measure 24 tokens (musicdesk/melody/tokens.py); splits by tune "
             "80/10/10. No other data.")


def _load(name: str) -> dict:
    f = ROOT / "training" / "results" / f"melody-{name}.json"
    return json.loads(f.read_text()) if f.exists() else {}


SIGN_ONLY = "arvae-signloss"     # the AR-VAE trained with AR-VAE's loss alone (the shipped one's first stage)


def _vae_command(kind: str, s: dict) -> str:
    """The train_melody command of a run with settings `s`, for the weights `kind` (SIGN_ONLY: an arvae run
    written to its own files)."""
    parts = ["--kind", "arvae" if kind == SIGN_ONLY else kind]
    if s.get("init"):
        parts += ["--init", "models/melody-arvae.safetensors"]
    parts += [f"--{k} {s[k]}" for k in ("epochs", "patience", "hidden", "layers")]
    if s.get("rho"):
        parts.append(f"--rho {s['rho']:g}")
    if s.get("max_minutes"):
        parts.append(f"--max-minutes {s['max_minutes']:g}")
    if kind == SIGN_ONLY:
        parts += [f"--out models/melody-{SIGN_ONLY}.safetensors", f"--results training/results/melody-{SIGN_ONLY}.json"]
    return "python -m training.train_melody " + " ".join(parts)


def vae_card(kind: str) -> str:
    res, bench = _load(kind), _bench()
    title = {"arvae": "AR-VAE (attribute-regularised MeasureVAE)", "betavae": "beta-VAE (MeasureVAE, no regularisation)",
             SIGN_ONLY: "AR-VAE trained with AR-VAE's loss alone (the ablation of the linear term)"}[kind]
    c, s = res["config"], res["settings"]
    L = [f"# {title}", "", f"Weights: `models/melody-{kind}.safetensors` (safetensors; slider maps in its header). "
         f"Trained {res['date']} with torch {res['torch']} on a 2-core CPU in {res['train_s'] / 60:.0f} min "
         f"({res['epochs_run']} epochs, {res['steps']} steps)"
         + (" on from the first stage's weights (below)." if s.get("init") else "."), "", "## What it does", ""]
    if kind == "arvae":
        L.append("Encodes one measure into 32 latent dimensions and decodes it back; dimensions 0-5 are tied to "
                 + ", ".join(ATTRIBUTES) + " by AR-VAE's regularisation (Pati & Lerch 2020) plus a linear term, so "
                 "the melody lab's sliders move one dimension each. AR-VAE's sign loss (gamma "
                 f"{s['gamma']:g}, delta {s['delta']:g}) orders the codes along each dimension by the attribute; the "
                 f"linear term (weight {s.get('rho', 0):g}: 1 - r² between the dimension's means and the attribute in "
                 "each batch, musicdesk/melody/model.py `linear_loss`) makes the spacing follow the attribute's values "
                 "rather than their ranks, which the sign loss alone leaves free. The slider maps (attribute value <-> "
                 "latent value, monotone, from the training measures) are stored with the weights. The presets (a "
                 "semi-supervised Gaussian mixture of tune types over those dimensions, `python -m training.fit_presets`) "
                 "are stored there too.")
    elif kind == SIGN_ONLY:
        L.append("The first stage of the shipped AR-VAE (`models/melody-arvae.safetensors`), kept as it was trained: "
                 "AR-VAE's loss alone, without the linear term. It is the ablation of benchmarks/bench_melody.py's "
                 "interpretability table and the `--init` of the shipped model's second command. The melody lab does "
                 "not use it.")
    else:
        L.append("The same MeasureVAE trained without attribute regularisation (gamma 0): the baseline of the "
                 "reconstruction and interpretability figures. The melody lab does not use it.")
    L += ["", f"Architecture: MeasureVAE (Pati, Lerch & Hadjeres 2019), token embedding {c['embedding']}, bidirectional "
          f"GRU encoder ({c['layers']} layers, {c['hidden']} units), latent {c['latent']}, hierarchical decoder (a beat "
          f"GRU over 4 beats, a tick GRU over each beat's 6 ticks, {c['layers']} layers, {c['hidden']} units).", "",
          "## Data", "", DATA_TEXT + f" Measures: {res['n']['train']} train, {res['n']['val']} validation, "
          f"{res['n']['test']} test.", "", "## Command", "", "```",
          *([_vae_command("arvae", _load(SIGN_ONLY)["settings"])] if s.get("init") and _load(SIGN_ONLY) else []),
          _vae_command(kind, s), "```", ""]
    if s.get("init"):
        L += ["The first command is AR-VAE's loss alone (kept as models/melody-arvae-signloss.safetensors); the second "
              "goes on from its weights with the linear term (Adam restarted). Logs: training/logs/melody-arvae.log "
              "and melody-arvae-2.log.", ""]
    L += [f"Settings: Adam lr {s['lr']}, batch {s['batch_size']}, beta {s['beta']}, gamma "
          f"{s['gamma'] if kind != 'betavae' else 0}, delta {s['delta']}, linear term {s.get('rho', 0) if kind != 'betavae' else 0:g}, "
          f"teacher forcing in {s['teacher_forcing']:.0%} of batches, random transposition of each measure (-6..+6 "
          "semitones within the token range), early stopping on the validation loss.", "",
          "## Metrics (held-out test measures; benchmarks/bench_melody.py)", ""]
    r = bench.get("reconstruction", {}).get(kind)
    if r:
        L.append(f"Reconstruction: token accuracy {r['token_accuracy']:.4f}, measure accuracy {r['measure_accuracy']:.4f} "
                 f"({r['measures']} measures).")
    it = bench.get("interpretability", {}).get(kind)
    other = bench.get("interpretability", {}).get(SIGN_ONLY) if kind == "arvae" else None
    if it:
        if other:
            L += ["", "| attribute | best dimension | linear R² | monotone R² | AR-VAE's loss alone: linear R² | monotone R² |",
                  "| --- | --- | --- | --- | --- | --- |"]
            L += [f"| {a} | {v['best_dim']} | {v['linear_r2']:.3f} | {v['monotone_r2']:.3f} | "
                  f"{other[a]['linear_r2']:.3f} | {other[a]['monotone_r2']:.3f} |" for a, v in it.items()]
        else:
            L += ["", "| attribute | best dimension | linear R² | monotone R² |", "| --- | --- | --- | --- |"]
            L += [f"| {a} | {v['best_dim']} | {v['linear_r2']:.3f} | {v['monotone_r2']:.3f} |" for a, v in it.items()]
        L.append(f"\nMean linear R²: {sum(v['linear_r2'] for v in it.values()) / len(it):.3f}"
                 + (f" (AR-VAE's loss alone: {sum(v['linear_r2'] for v in other.values()) / len(other):.3f})." if other else "."))
    sl = bench.get("slider", {}) if kind == "arvae" else {}
    if sl.get("attributes"):
        L += ["", f"Slider control ({sl['measures']} held-out measures x {sl['positions']} slider positions; Spearman "
              "between slider position and the decoded measure's attribute; share of measures whose attribute never "
              "falls as the slider rises):", "",
              "| attribute | only its dimension moved: Spearman | monotone | the lab's slider: Spearman | monotone |",
              "| --- | --- | --- | --- | --- |"]
        for a, v in sl["attributes"].items():
            d = sl["dimension_only"][a]
            L.append(f"| {a} | {d['spearman_pooled']:.3f} | {100 * d['monotone_share']:.0f}% | "
                     f"{v['spearman_pooled']:.3f} | {100 * v['monotone_share']:.0f}% |")
        L += ["", "The lab's slider decodes ~70 codes around the measure's (the attribute's dimension across its range, "
              "noise on the others) and keeps the one nearest the slider's value that changes the other attributes "
              "and the notes least (musicdesk/melody/lab.py, `candidates` and `choose`): moving the dimension alone "
              "leaves many measures as they were, because the decoder also reads the other dimensions."]
    pr = _load("presets") if kind == "arvae" else {}
    if pr:
        L += ["", f"Presets (tune type from the faders, a Gaussian mixture fitted with {pr['labelled_tunes_used']} of "
              f"{pr['labelled_tunes']} labelled training tunes; training/README.md): test accuracy "
              f"{pr['test_accuracy']['shipped']:.3f} on {pr['test_measures']} labelled test measures (every training label: "
              f"{pr['test_accuracy']['all_training_labels']:.3f}; always the commonest type: "
              f"{pr['test_accuracy']['commonest_type']:.3f}"
              + (f"; the meter alone: {pr['test_accuracy']['meter_alone']:.3f}; the mixture with the meter: "
                 f"{pr['test_accuracy']['shipped_with_meter']:.3f}" if "meter_alone" in pr["test_accuracy"] else "")
              + "). The faders are meter-free and the tune types differ mostly in meter, so the presets are a "
              "type's typical faders (what a preset button sets), not a good tune-type classifier."]
    if kind == "arvae":
        L += _mgeval_lines("variation", "varied", "nudged")
    low = [a for a, v in (it or {}).items() if v["linear_r2"] <= 0.96] if kind != "betavae" else []
    L += ["", "## Limits", "", "- Folk tunes only: other styles (jazz, classical themes) are outside what it has seen.",
          "- Meters up to 4 quarter beats a measure; notes on the grid of sixteenths and eighth-note triplets.",
          *([f"- Interpretability (linear R²) at or below 0.96 for: {', '.join(low)}."] if low else []), ""]
    return "\n".join(L)


def _inpaint_runs_text(runs: int) -> str:
    logs = ["training/logs/melody-inpaint.log"] + [f"melody-inpaint-{k}.log" for k in range(2, runs + 1)]
    text = ("Each command after the first goes on from the one before's weights (Adam restarted); the history of the "
            f"runs: {', '.join(logs[:-1])} and {logs[-1]}.")
    if runs >= 3:
        text += (" The last run is over the shipped AR-VAE (AR-VAE's loss plus the linear term), the earlier ones over its "
                 "first stage (AR-VAE's loss alone, models/melody-arvae-signloss.safetensors): the LatentRNN works on "
                 "the latents of the AR-VAE it is shipped with.")
    return text + "\n"


def inpaint_card() -> str:
    res = _load("inpaint")
    t, s = res["test"], res["settings"]
    L = ["# LatentRNN (inpainting in the AR-VAE's latent space)", "",
         f"Weights: `models/melody-inpaint.safetensors`. Trained {res['date']} with torch {res['torch']} on a 2-core CPU "
         f"in {res['train_s'] / 60:.0f} min over the frozen AR-VAE of `models/melody-arvae.safetensors` "
         f"(trained {res['vae'].get('date')}).", "", "## What it does", "",
         "Given the latents of up to 16 measures around a gap of missing measures, gives a Gaussian over each missing "
         "measure's latent (musicdesk/melody/inpaint.py). The lab's candidates: first its best guess (the "
         "prediction's choice among its decoded mean and the tune's known measures, below), then the mean decoded by "
         "the AR-VAE, then draws from the Gaussian.", "", "## Data", "", DATA_TEXT + " Windows of 8-16 measures of one tune, 2-6 "
         "missing with context on both sides, each window in its own key or one of three random transpositions.", "",
         "## Command", "", "```", *[c.replace("--init /tmp/inpaint-v2.safetensors", "--init models/melody-inpaint.safetensors")
                                    for c in res.get("earlier_commands", [])],
         "python -m training.train_inpaint " + ("--init models/melody-inpaint.safetensors " if s.get("init") else "")
         + " ".join(f"--{k.replace('_', '-')} {s[k]}" for k in ("epochs", "steps_per_epoch", "hidden", "layers", "patience")),
         "```", "", *([_inpaint_runs_text(len(res.get("earlier_commands", [])) + 1)] if s.get("init") else []),
         f"## Metrics ({t['cases']} held-out 16-measure windows of test tunes, 2-6 missing)", "",
         "| method | token accuracy | NLL (nats per missing measure) |", "| --- | --- | --- |"]
    t = _bench().get("inpaint", t)      # the benchmark's figures, with the lab's chosen fill, when run
    L += [f"| {k} | {t[k]['token_accuracy']:.4f} | {t[k]['nll_per_measure']:.2f} |" for k in ("latent_rnn", "repeat_last", "interpolate")]
    ch = t.get("latent_rnn_choice")
    if ch:
        L += [f"| copy the measure 4 before (else 4 after; the strongest simple rule found) | {t['copy_4_before']['token_accuracy']:.4f} | — |",
              f"| the lab's first candidate (`choose_fills`) | {ch['token_accuracy']:.4f} | — |",
              "", "`latent_rnn` decodes the predicted mean. The lab's first candidate is, per missing measure, the best of "
              "the decoded mean and the window's known measures of the same length by the decoder's log-likelihood given "
              "the predicted latent plus a phrase prior (" + ", ".join(f"{b:g} nats for a measure {d} away"
                                                                      for d, b in ch["rule"]["phrase_bonus_nats"])
              + (f", and {ch['rule']['copy_bonus_nats']:g} nats for any known measure" if ch["rule"]["copy_bonus_nats"] else "")
              + f"); it copied {100 * ch['copied_share']:.0f}% of the measures. The rule was chosen on validation windows "
              "(`python -m training.inpaint_choice`). A copied measure has no latent of the LatentRNN's, hence no NLL."]
    gap = t["latent_rnn"]["token_accuracy"] - t["repeat_last"]["token_accuracy"]
    where = (f"below repeating the measure before the gap ({gap:+.4f})" if gap < 0 else
             f"only level with repeating the measure before the gap ({gap:+.4f})")
    L += _mgeval_lines("inpainting", "inpainted")
    L += ["", "## Limits", "", "- Trained on folk tunes; tied to the AR-VAE it was trained over (retrain it after "
          "retraining the AR-VAE).", "- The decoded mean alone is far more likely under the decoder than either baseline "
          f"(NLL), but its token accuracy is {where}: most ticks are holds, and a real "
          "neighbouring measure shares its rhythm (training/README.md, \"Inpainting runs\"). The lab's first candidate "
          "therefore lets the LatentRNN's prediction (with a phrase prior) choose between its decoded mean and the "
          "tune's own measures, and it is nearly always one of the tune's measures; "
          "a composer who wants new material takes the next candidates (the decoded mean, then draws).", ""]
    return "\n".join(L)


def dm_card(kind: str) -> str:
    """The dMelodies benchmark models: only the disentanglement figures; the lab does not use them."""
    res, bench = _load(kind), _bench().get("dmelodies", {}).get(kind, {})
    c, s = res["config"], res["settings"]
    L = [f"# {'AR-VAE' if kind == 'dm-arvae' else 'beta-VAE'} on dMelodies (benchmark model)", "",
         f"Weights: `models/melody-{kind}.safetensors`. Trained {res['date']} with torch {res['torch']} on a 2-core CPU in "
         f"{res['train_s'] / 60:.0f} min ({res['epochs_run']} epochs, {res['steps']} steps). The melody lab does not use "
         "it: it exists for the disentanglement figures of benchmarks/bench_melody.py.", "", "## Data", "",
         "dMelodies (Pati, Gururani & Lerch 2020), regenerated by `python -m training.melody_data dmelodies`: "
         "1,354,752 two-bar melodies, every combination of 9 factors (tonic, octave, scale, rhythm of bar 1 and of bar 2, "
         "four arpeggio directions), split 70/20/10 at random; "
         f"{res['n']['train']} training melodies drawn (--limit), {res['n']['val']} validation, {res['n']['test']} test. "
         + ("Each of the 9 factors is regularised on latent dimensions 0-8 (AR-VAE's loss)." if kind == "dm-arvae"
            else "No regularisation (gamma 0)."), "",
         "## Command", "", "```", *res.get("earlier_commands", []),
         f"python -m training.train_melody --kind {kind} --data training/cache/melody/dmelodies.npz "
         + " ".join(f"--{k.replace('_', '-')} {s[k]}" for k in ("limit", "hidden", "layers", "lr", "epochs", "patience",
                                                                 "val_size", "max_minutes", "threads") if s.get(k) is not None)
         + (f" --init models/melody-{kind}.safetensors" if s.get("init") else ""), "```", "",
         ("The second command goes on from the first one's weights (Adam restarted). " if res.get("earlier_commands") else "")
         + f"Log: training/logs/melody-{kind}.log"
         + (" (a first try, 4 epochs on 30,000 melodies at 128 units, did not learn to decode: melody-dm-arvae-first-try.log)."
            if kind == "dm-arvae" else "."), "",
         f"Architecture: the folk MeasureVAE over two bars (8 beats x 6 ticks), latent {c['latent']}, {c['hidden']} units.", "",
         "## Metrics (held-out melodies)", ""]
    if bench:
        L.append(f"Reconstruction: token accuracy {bench['reconstruction']['token_accuracy']:.4f} (all 48 ticks right: "
                 f"{bench['reconstruction']['measure_accuracy']:.4f}); MIG {bench['mig']['mig']:.3f} ({bench['melodies']} "
                 "melodies). Slider: the factor's dimension moved over 9 values, Spearman with the factor read back "
                 "from the decoded melody (share of decodes readable as that factor); see benchmarks/bench_melody.py.")
        sl = bench.get("slider", {})
        L += ["", "| factor | best dimension | linear R² | slider dimension | slider Spearman |", "| --- | --- | --- | --- | --- |"]
        L += [f"| {f} | {v['best_dim']} | {v['linear_r2']:.3f} | "
              + (f"{sl[f]['dim']} | {sl[f]['spearman_pooled']:.3f} ({100 * sl[f]['valid_share']:.0f}%) |" if f in sl else "- | - |")
              for f, v in bench["interpretability"].items()]
    L += ["", "## Limits", "", "- Synthetic arpeggio melodies only; a disentanglement benchmark, not a composing model.", ""]
    return "\n".join(L)


def _bench() -> dict:
    f = ROOT / "benchmarks" / "results" / "melody.json"
    return json.loads(f.read_text()) if f.exists() else {}


def _mgeval_lines(table: str, *prefixes: str) -> list[str]:
    """The MGEval-style figures of benchmarks/bench_mgeval.py (its `table`: "variation" or "inpainting")
    for the sets whose names start with `prefixes`, and the real and baseline rows beside them (empty
    when the benchmark has not been run)."""
    f = ROOT / "benchmarks" / "results" / "mgeval.json"
    if not f.exists():
        return []
    res = json.loads(f.read_text())
    if "tables" not in res:
        return []
    sets = res["tables"][table]
    rows = [(n, r) for n, r in sets.items() if n.startswith(prefixes + ("real", "baseline"))]
    reference = (f"the {res['n']} real measures taken out of held-out tunes" if table == "inpainting"
                 else f"{res['n']} real held-out measures")
    L = ["", "## MGEval-style evaluation", "",
         f"`.venv/bin/python benchmarks/bench_mgeval.py --n {res['n']} --seeds {res['seeds']}` ({res['date']}): overlapped "
         f"area (OA, higher is closer) of {reference}: their intra-set distances against their distances to each set, "
         f"per feature family, the mean of {res['seeds']} draws ± the spread across them (benchmarks/RESULTS.md, "
         "\"Melody lab: MGEval-style evaluation\"), and the share of notes outside the tune's key.", "",
         "| set | pitch OA | rhythm OA | out-of-key notes |", "| --- | --- | --- | --- |"]
    for n, r in rows:
        ook = "-" if r["out_of_key_share"] is None else f"{100 * r['out_of_key_share']:.1f}%"
        L.append(f"| {n} | {r['pitch_oa']:.3f} ± {r['pitch_oa_sd']:.3f} | {r['rhythm_oa']:.3f} ± {r['rhythm_oa_sd']:.3f} "
                 f"| {ook} |")
    base = {fam: max(r[f"{fam}_oa"] for n, r in sets.items() if n.startswith("baseline")) for fam in ("pitch", "rhythm")}
    short = [f"{n} ({', '.join(fam for fam in base if r[f'{fam}_oa'] < base[fam])})" for n, r in rows
             if n.startswith(("varied", "nudged", "inpainted")) and "chromatic" not in n
             and any(r[f"{fam}_oa"] < base[fam] for fam in base)]
    met = [n for n, r in rows if n.startswith(("varied", "nudged", "inpainted")) and "chromatic" not in n
           and all(r[f"{fam}_oa"] >= base[fam] for fam in base)]
    L += ["", f"Target (issue 17): at least as close as the best baseline (pitch {base['pitch']:.3f}, rhythm "
          f"{base['rhythm']:.3f}, per family)."
          + (f" Met by: {'; '.join(met)}." if met else "")
          + (f" Not met by: {'; '.join(short)}." if short else "")
          + " Repeating the measure before the gap copies a real measure of the same tune, so it scores as real "
          "measures do among themselves."]
    return L


def main(argv=None) -> int:
    for kind in ("arvae", SIGN_ONLY, "betavae"):
        if _load(kind):
            (ROOT / "models" / f"melody-{kind}.md").write_text(vae_card(kind))
            print(f"wrote models/melody-{kind}.md")
    for kind in ("dm-arvae", "dm-betavae"):
        if _load(kind):
            (ROOT / "models" / f"melody-{kind}.md").write_text(dm_card(kind))
            print(f"wrote models/melody-{kind}.md")
    if _load("inpaint"):
        (ROOT / "models" / "melody-inpaint.md").write_text(inpaint_card())
        print("wrote models/melody-inpaint.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
