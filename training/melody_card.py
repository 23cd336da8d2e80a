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


def vae_card(kind: str) -> str:
    res, bench = _load(kind), _bench()
    title = {"arvae": "AR-VAE (attribute-regularised MeasureVAE)", "betavae": "beta-VAE (MeasureVAE, no regularisation)"}[kind]
    c, s = res["config"], res["settings"]
    L = [f"# {title}", "", f"Weights: `models/melody-{kind}.safetensors` (safetensors; slider maps in its header). "
         f"Trained {res['date']} with torch {res['torch']} on a 2-core CPU in {res['train_s'] / 60:.0f} min "
         f"({res['epochs_run']} epochs, {res['steps']} steps).", "", "## What it does", ""]
    if kind == "arvae":
        L.append("Encodes one measure into 32 latent dimensions and decodes it back; dimensions 0-5 are tied to "
                 + ", ".join(ATTRIBUTES) + " by AR-VAE's regularisation (Pati & Lerch 2020), so the melody lab's "
                 "sliders move one dimension each. The slider maps (attribute value <-> latent value, monotone, from "
                 "the training measures) are stored with the weights. The presets (a semi-supervised Gaussian mixture "
                 "of tune types over those dimensions, `python -m training.fit_presets`) are stored there too.")
    else:
        L.append("The same MeasureVAE trained without attribute regularisation (gamma 0): the baseline of the "
                 "reconstruction and interpretability figures. The melody lab does not use it.")
    L += ["", f"Architecture: MeasureVAE (Pati, Lerch & Hadjeres 2019), token embedding {c['embedding']}, bidirectional "
          f"GRU encoder ({c['layers']} layers, {c['hidden']} units), latent {c['latent']}, hierarchical decoder (a beat "
          f"GRU over 4 beats, a tick GRU over each beat's 6 ticks, {c['layers']} layers, {c['hidden']} units).", "",
          "## Data", "", DATA_TEXT + f" Measures: {res['n']['train']} train, {res['n']['val']} validation, "
          f"{res['n']['test']} test.", "", "## Command", "", "```", "python -m training.train_melody " +
          " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (("kind", kind), ("epochs", s["epochs"]),
                                                                  ("patience", s["patience"]), ("hidden", s["hidden"]),
                                                                  ("layers", s["layers"]))), "```", "",
          f"Settings: Adam lr {s['lr']}, batch {s['batch_size']}, beta {s['beta']}, gamma "
          f"{s['gamma'] if kind == 'arvae' else 0}, delta {s['delta']}, teacher forcing in {s['teacher_forcing']:.0%} of "
          "batches, random transposition of each measure (-6..+6 semitones within the token range), early stopping "
          "on the validation loss.", "", "## Metrics (held-out test measures; benchmarks/bench_melody.py)", ""]
    r = bench.get("reconstruction", {}).get(kind)
    if r:
        L.append(f"Reconstruction: token accuracy {r['token_accuracy']:.4f}, measure accuracy {r['measure_accuracy']:.4f} "
                 f"({r['measures']} measures).")
    it = bench.get("interpretability", {}).get(kind)
    if it:
        L += ["", "| attribute | best dimension | linear R² | monotone R² |", "| --- | --- | --- | --- |"]
        L += [f"| {a} | {v['best_dim']} | {v['linear_r2']:.3f} | {v['monotone_r2']:.3f} |" for a, v in it.items()]
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
              f"{pr['test_accuracy']['commonest_type']:.3f})."]
    L += ["", "## Limits", "", "- Folk tunes only: other styles (jazz, classical themes) are outside what it has seen.",
          "- Meters up to 4 quarter beats a measure; notes on the grid of sixteenths and eighth-note triplets.",
          *(["- Interpretability is below the 0.96 the AR-VAE paper reports (mean above); syncopation is the weakest."]
            if kind == "arvae" else []), ""]
    return "\n".join(L)


def inpaint_card() -> str:
    res = _load("inpaint")
    t, s = res["test"], res["settings"]
    L = ["# LatentRNN (inpainting in the AR-VAE's latent space)", "",
         f"Weights: `models/melody-inpaint.safetensors`. Trained {res['date']} with torch {res['torch']} on a 2-core CPU "
         f"in {res['train_s'] / 60:.0f} min over the frozen AR-VAE of `models/melody-arvae.safetensors` "
         f"(trained {res['vae'].get('date')}).", "", "## What it does", "",
         "Given the latents of up to 16 measures around a gap of missing measures, gives a Gaussian over each missing "
         "measure's latent; its mean decoded by the AR-VAE is the first candidate, draws from it the others "
         "(musicdesk/melody/inpaint.py).", "", "## Data", "", DATA_TEXT + " Windows of 8-16 measures of one tune, 2-6 "
         "missing with context on both sides, each window in its own key or one of three random transpositions.", "",
         "## Command", "", "```", *[c.replace("--init /tmp/inpaint-v2.safetensors", "--init models/melody-inpaint.safetensors")
                                    for c in res.get("earlier_commands", [])],
         "python -m training.train_inpaint " + ("--init models/melody-inpaint.safetensors " if s.get("init") else "")
         + " ".join(f"--{k.replace('_', '-')} {s[k]}" for k in ("epochs", "steps_per_epoch", "hidden", "layers", "patience")),
         "```", "", *(["The second command goes on from the first one's weights (Adam restarted); the history of both "
                       "runs: training/logs/melody-inpaint.log and melody-inpaint-2.log.", ""] if s.get("init") else []),
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
              + f"); it copied {100 * ch['copied_share']:.0f}% of the measures. The rule was chosen on validation windows "
              "(`python -m training.inpaint_choice`). A copied measure has no latent of the LatentRNN's, hence no NLL."]
    L += ["", "## Limits", "", "- Trained on folk tunes; tied to the AR-VAE it was trained over (retrain it after "
          "retraining the AR-VAE).", "- The decoded mean alone is far more likely under the decoder than either baseline "
          "(NLL), but its token accuracy is below repeating the measure before the gap: most ticks are holds, and a real "
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


def main(argv=None) -> int:
    for kind in ("arvae", "betavae"):
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
