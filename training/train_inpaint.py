"""Train the melody lab's LatentRNN (musicdesk/melody/inpaint.py) over the frozen shipped AR-VAE.

    python -m training.train_inpaint [--epochs 40] [--vae models/melody-arvae.safetensors]

Data: windows of 8-16 consecutive measures of one folk tune (training/melody_data.py; splits by tune),
each measure its AR-VAE latent mean, the whole window moved by one random transposition (-5..+6
semitones, when every note stays in range) before encoding; 2-6 consecutive measures missing, with at
least one measure of context on each side. Loss per missing measure: the token cross-entropy of the
true measure decoded (teacher-forced) from the predicted latent mean, plus 0.1 x the Gaussian negative
log-likelihood of the true latent. Early stopping on the validation loss.

`evaluate` is the benchmark (benchmarks/bench_melody.py): fixed held-out windows of 16 measures, one
gap of 2-6 each; token accuracy of the decoded fill and the tokens' negative log-likelihood under the
decoder, for the LatentRNN and the two baselines (repeat the measure before the gap; interpolate the
latents on either side).
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from musicdesk.melody.inpaint import (FILL_RULE, FillRule, InpaintConfig, LatentRNN, WINDOW, fill_scores,
                                      gaussian_nll, interpolate, pick_fills, repeat_last)
from musicdesk.melody.tokens import TICKS_PER_BEAT
from training.train_melody import DATA, ROOT, parse_common

SHIFTS = 3          # transpositions encoded per measure (besides the original key)


def encode_all(vae, tokens: np.ndarray, batch: int = 2048) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([vae.encode(torch.from_numpy(tokens[i:i + batch]).long())[0].numpy()
                               for i in range(0, len(tokens), batch)])


def windows(tune: np.ndarray, split: np.ndarray, code: int, min_len: int = 8) -> list[tuple[int, int]]:
    """(first row, length) of every tune of the split with at least `min_len` measures."""
    out = []
    for t in np.unique(tune[split == code]):
        rows = np.flatnonzero(tune == t)
        if len(rows) >= min_len:
            out.append((int(rows[0]), len(rows)))
    return out


def sample_batch(tunes, z: np.ndarray, rng, batch: int):
    """Random windows (one length a batch, 8-16 measures) and gaps over latents z (N, L): (z (B, W, L),
    missing (B, W), rows (B, W) of the measures)."""
    w = int(rng.integers(8, WINDOW + 1))
    long_enough = [t for t in tunes if t[1] >= w]
    zs, miss, rows = [], [], []
    for _ in range(batch):
        first, n = long_enough[int(rng.integers(len(long_enough)))]
        a = first + int(rng.integers(0, n - w + 1))
        gap = int(rng.integers(2, min(6, w - 2) + 1))
        s = int(rng.integers(1, w - gap))
        r = np.arange(a, a + w)
        m = np.zeros(w, bool)
        m[s:s + gap] = True
        zs.append(z[r])
        miss.append(m)
        rows.append(r)
    return torch.from_numpy(np.stack(zs)).float(), torch.from_numpy(np.stack(miss)), np.stack(rows)


def batch_loss(rnn, vae, z, miss, rows, tokens_all, ticks_all):
    mu, logvar = rnn(z, miss)
    sel = miss.numpy()
    tgt_rows = rows[sel]
    tok = torch.from_numpy(tokens_all[tgt_rows]).long()
    logits = vae.decode(mu[miss], torch.from_numpy(ticks_all[tgt_rows]), tok, teacher_forcing=True)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok.reshape(-1), reduction="sum") / len(tok)
    nll = gaussian_nll(z[miss], mu[miss], logvar[miss]).mean()
    return ce + 0.1 * nll, ce.item(), nll.item()


def train(args) -> dict:
    from musicdesk.melody.weights import load

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    vae, vinfo = load("arvae", args.vae)
    for p in vae.parameters():
        p.requires_grad_(False)
    d = np.load(args.data)
    tokens, split, tune = d["tokens"].astype(np.int64), d["split"], d["tune"]
    ticks = np.round(d["measure_beats"] * TICKS_PER_BEAT).astype(np.int64)
    t0 = time.perf_counter()
    # latents of every measure in its own key and in SHIFTS random transpositions (one shift per tune)
    variants = [tokens]
    for _ in range(SHIFTS):
        shifted = tokens.copy()
        for t in np.unique(tune):
            r = np.flatnonzero(tune == t)
            shifted[r] = _shift_tune(tokens[r], rng)
        variants.append(shifted)
    z_all = np.stack([encode_all(vae, v) for v in variants])
    tok_all = np.stack(variants)
    print(f"encoded {z_all.shape[0]} x {z_all.shape[1]} measures ({time.perf_counter() - t0:.0f} s)", flush=True)
    tr, va = windows(tune, split, 0), windows(tune, split, 1)
    rnn = LatentRNN(InpaintConfig(latent=vae.config.latent, hidden=args.hidden, layers=args.layers))
    earlier: list[str] = []
    if args.init:   # go on from an earlier run's weights (same sizes)
        from musicdesk.melody.inpaint import load_inpainter

        init, init_info = load_inpainter(args.init)
        rnn.load_state_dict(init.state_dict())
        earlier = init_info.get("earlier_commands", []) + [init_info["command"]]
    opt = torch.optim.Adam(rnn.parameters(), lr=args.lr)
    vrng = np.random.default_rng(123)
    val_batches = [sample_batch(va, z_all[0], vrng, args.batch_size) for _ in range(8)]
    best, best_loss, bad, hist = None, np.inf, 0, []
    for epoch in range(args.epochs):
        rnn.train()
        tot = 0.0
        for _ in range(args.steps_per_epoch):
            v = int(rng.integers(len(z_all)))
            z, miss, rows = sample_batch(tr, z_all[v], rng, args.batch_size)
            loss, ce, nll = batch_loss(rnn, vae, z, miss, rows, tok_all[v], ticks)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rnn.parameters(), 5.0)
            opt.step()
            tot += loss.item() / args.steps_per_epoch
        rnn.eval()
        with torch.no_grad():
            vl = np.mean([batch_loss(rnn, vae, z, m, r, tokens, ticks)[0].item() for z, m, r in val_batches])
        hist.append({"epoch": epoch + 1, "train_loss": tot, "val_loss": float(vl), "seconds": round(time.perf_counter() - t0, 1)})
        print(f"epoch {epoch + 1}: train {tot:.2f} val {vl:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        if vl < best_loss - 1e-3:
            best, best_loss, bad = copy.deepcopy(rnn.state_dict()), float(vl), 0
        else:
            bad += 1
        if bad >= args.patience:
            break
    rnn.load_state_dict(best)
    return {"model": rnn.eval(), "history": hist, "vae": {"date": vinfo.get("date"), "command": vinfo.get("command")},
            "vae_model": vae, "earlier_commands": earlier, "train_s": round(time.perf_counter() - t0, 1)}


def _shift_tune(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A whole tune moved by one random shift that keeps all its notes in range."""
    from musicdesk.melody.tokens import transpose, transpositions

    shifts = [s for s in transpositions(rows.reshape(-1), 6) if s != 0] or [0]
    return transpose(rows, int(rng.choice(shifts)))


@torch.no_grad()
def evaluate(vae, rnn, data: Path = DATA, split_code: int = 2, seed: int = 7,
             rules: tuple[FillRule, ...] = (FILL_RULE,)) -> dict:
    """Held-out fills: per method, token accuracy (argmax decode of the fill against the true measures)
    and NLL (nats per missing measure of the true tokens under the decoder given the fill's latent).
    `latent_rnn_choice` is the fill the lab offers first (`choose_fills` with rules[0]); it copies
    known measures, which have no latent of the LatentRNN's, so it has no NLL of its own (the
    LatentRNN's prediction is `latent_rnn`'s). `choice_by_rule`: its token accuracy for each rule.
    `copy_4_before`: the strongest simple rule we found, copying the measure 4 before (else 4 after,
    else the one before the gap)."""
    d = np.load(data)
    tokens, split, tune = d["tokens"].astype(np.int64), d["split"], d["tune"]
    ticks = np.round(d["measure_beats"] * TICKS_PER_BEAT).astype(np.int64)
    rng = np.random.default_rng(seed)
    z = encode_all(vae, tokens)
    res = {k: {"right": 0, "ticks": 0, "nll": [], "gap_measures": 0} for k in ("latent_rnn", "repeat_last", "interpolate")}
    choice = {m: {"right": 0, "copied": 0} for m in rules}
    copy4 = 0
    cases = 0
    for first, n in windows(tune, split, split_code, WINDOW):
        a = first + int(rng.integers(0, n - WINDOW + 1))
        gap = int(rng.integers(2, 7))
        s = int(rng.integers(1, WINDOW - gap))
        zw, r = z[a:a + WINDOW], np.arange(a, a + WINDOW)
        miss = np.zeros(WINDOW, bool)
        miss[s:s + gap] = True
        mu, _ = rnn(torch.from_numpy(zw)[None].float(), torch.from_numpy(miss)[None])
        fills = {"latent_rnn": mu[0, s:s + gap].numpy(), "repeat_last": repeat_last(zw, s, gap),
                 "interpolate": interpolate(zw, s, gap)}
        tgt = torch.from_numpy(tokens[r[s:s + gap]])
        tk_ = torch.from_numpy(ticks[r[s:s + gap]])
        for k, f in fills.items():
            zf = torch.from_numpy(np.asarray(f)).float()
            pred = vae.decode(zf, tk_).argmax(-1)
            logits = vae.decode(zf, tk_, tgt, teacher_forcing=True)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="sum") / gap
            res[k]["right"] += int((pred == tgt).sum())
            res[k]["ticks"] += tgt.numel()
            res[k]["nll"].append(float(nll))
            res[k]["gap_measures"] += gap
        known = np.flatnonzero(~miss)
        decoded, scores = fill_scores(vae, fills["latent_rnn"], ticks[r[s:s + gap]], np.arange(s, s + gap),
                                      tokens[r[known]], known)
        for j in range(s, s + gap):
            src = next((k for k in (j - 4, j + 4) if 0 <= k < WINDOW and not miss[k]), s - 1)
            copy4 += int((tokens[r[src]] == tokens[r[j]]).sum())
        for m in rules:
            rows, src = pick_fills(decoded, scores, tokens[r[known]], m)
            choice[m]["right"] += int((rows == tgt.numpy()).sum())
            choice[m]["copied"] += sum(i >= 0 for i in src)
        cases += 1
    out = {"cases": cases, **{k: {"token_accuracy": v["right"] / max(1, v["ticks"]),
                                  "nll_per_measure": float(np.mean(v["nll"])) if v["nll"] else float("nan"),
                                  "missing_measures": v["gap_measures"]} for k, v in res.items()}}
    total, gaps = max(1, res["latent_rnn"]["ticks"]), max(1, res["latent_rnn"]["gap_measures"])
    out["latent_rnn_choice"] = {"token_accuracy": choice[rules[0]]["right"] / total, "rule": asdict(rules[0]),
                                "copied_share": choice[rules[0]]["copied"] / gaps,
                                "missing_measures": res["latent_rnn"]["gap_measures"]}
    out["copy_4_before"] = {"token_accuracy": copy4 / total}
    out["choice_by_rule"] = [{"rule": asdict(m), "token_accuracy": c["right"] / total, "copied_share": c["copied"] / gaps}
                             for m, c in choice.items()]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--vae", default=None, help="the AR-VAE weights (default: the shipped ones)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--steps-per-epoch", type=int, default=200)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--init", default=None, help="start from these LatentRNN weights (an earlier run's), e.g. to "
                    "train on for more epochs")
    args = parse_common(ap, argv)
    res = train(args)
    from musicdesk.melody.inpaint import INPAINT_NAME
    from musicdesk.melody.weights import save, weights_path

    out = Path(args.out) if args.out else weights_path(INPAINT_NAME)
    save(res["model"], out, INPAINT_NAME, {"config": res["model"].config.to_dict(), "vae": res["vae"],
                                           "date": _dt.date.today().isoformat(),
                                           "command": "python -m training.train_inpaint " + " ".join(sys.argv[1:] if argv is None else argv),
                                           "earlier_commands": res["earlier_commands"]})
    test = evaluate(res["vae_model"], res["model"], Path(args.data))
    summary = {"history": res["history"], "test": test, "earlier_commands": res["earlier_commands"],
               "settings": vars(args), "train_s": res["train_s"],
               "vae": res["vae"], "torch": torch.__version__, "date": _dt.date.today().isoformat()}
    rp = Path(args.results) if args.results else ROOT / "training" / "results" / "melody-inpaint.json"
    rp.write_text(json.dumps(summary, indent=1))
    print(json.dumps(test, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
