"""Train the melody lab's MeasureVAE: AR-VAE (attribute-regularised) or a plain beta-VAE baseline.

    python -m training.train_melody --kind arvae   [--epochs 30] [--data training/cache/melody/folk.npz]
    python -m training.train_melody --kind betavae [--epochs 30]

Data: training/melody_data.py (folk measures; splits by tune). Loss: token cross-entropy + beta * KL
+ gamma * sum over attributes of AR-VAE's regularisation of latent dimension i for ATTRIBUTES[i]
(gamma 0 for the beta-VAE). Reference settings (Pati & Lerch 2020): beta 0.001, gamma 1, delta 10,
latent 32. Augmentation: each measure moved by a random transposition (-6..+6 semitones, within the
token range; the attributes do not change). Early stopping on the validation loss. The weights go to
models/melody-KIND.safetensors with the slider maps (training/results/melody-KIND.json keeps the
figures; the model card is made from it).
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from musicdesk.melody.attributes import ATTRIBUTES, attribute_matrix
from musicdesk.melody.model import MeasureVAE, VAEConfig, ar_loss, kl_divergence, linear_loss, reconstruction_loss
from musicdesk.melody.tokens import FIRST_PITCH, TICKS_PER_BEAT, VOCAB_SIZE

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "training" / "cache" / "melody" / "folk.npz"


def attribute_names(data: Path) -> tuple[str, ...]:
    """What the regularised dimensions stand for: the measure attributes, or dMelodies' 9 factors."""
    from training.melody_data import DMELODIES_FACTORS

    with np.load(data) as z:
        return DMELODIES_FACTORS if "factors" in z.files else ATTRIBUTES


def load(data: Path, limit: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per split: tokens, measure ticks and attributes (computed once, cached beside the data). For the
    dMelodies set (two bars a row) the attributes are its 9 factors."""
    z = np.load(data)
    if "factors" in z.files:
        tokens, split = z["tokens"].astype(np.int64), z["split"]
        out = {}
        for name, code in (("train", 0), ("val", 1), ("test", 2)):
            idx = np.flatnonzero(split == code)
            if limit:   # a random subset, in random order: the rows run through the factor grid in order,
                idx = np.random.default_rng(code).permutation(idx)[:limit]   # so any first rows are one tonic
            out[name] = {"tokens": tokens[idx], "ticks": np.full(len(idx), tokens.shape[1], np.int64),
                         "attributes": z["factors"][idx].astype(np.float32)}
        return out
    tokens, beats, split = z["tokens"].astype(np.int64), z["measure_beats"], z["split"]
    cache = data.with_suffix(".attributes.npy")
    if cache.exists() and np.load(cache, mmap_mode="r").shape[0] == len(tokens):
        attrs = np.load(cache)
    else:
        attrs = np.zeros((len(tokens), len(ATTRIBUTES)))
        for b in np.unique(beats):
            sel = beats == b
            attrs[sel] = attribute_matrix(tokens[sel], float(b))
        np.save(cache, attrs)
    out = {}
    for name, code in (("train", 0), ("val", 1), ("test", 2)):
        idx = np.flatnonzero(split == code)
        if limit:
            idx = idx[:limit]
        out[name] = {"tokens": tokens[idx], "ticks": np.round(beats[idx] * TICKS_PER_BEAT).astype(np.int64),
                     "attributes": attrs[idx].astype(np.float32)}
    return out


def random_transpose(tokens: np.ndarray, rng: np.random.Generator, max_shift: int = 6) -> np.ndarray:
    """Each row moved by a random shift that keeps its notes in the token range."""
    p = tokens >= FIRST_PITCH
    big = np.where(p, tokens, VOCAB_SIZE)
    small = np.where(p, tokens, -1)
    lo = np.maximum(-max_shift, FIRST_PITCH - big.min(axis=1))
    hi = np.minimum(max_shift, VOCAB_SIZE - 1 - small.max(axis=1))
    hi = np.where(p.any(axis=1), hi, 0)
    lo = np.where(p.any(axis=1), lo, 0)
    shift = lo + np.floor(rng.random(len(tokens)) * (hi - lo + 1)).astype(np.int64)
    return np.where(p, tokens + shift[:, None], tokens)


def losses(model: MeasureVAE, tok: torch.Tensor, ticks: torch.Tensor, attrs: torch.Tensor, beta: float,
           gamma: float, delta: float, teacher_forcing: bool, rho: float = 0.0) -> tuple[torch.Tensor, dict]:
    logits, z, mu, logvar = model(tok, ticks, teacher_forcing=teacher_forcing)
    rec = reconstruction_loss(logits, tok)
    kl = kl_divergence(mu, logvar)
    reg = sum(ar_loss(z[:, i], attrs[:, i], delta) for i in range(attrs.shape[1])) if gamma else torch.zeros(())
    lin = sum(linear_loss(mu[:, i], attrs[:, i]) for i in range(attrs.shape[1])) if rho else torch.zeros(())
    return (rec + beta * kl + gamma * reg + rho * lin,
            {"rec": rec.item(), "kl": kl.item(), "ar": float(reg.detach()), "linear": float(lin.detach())})


@torch.no_grad()
def encode_all(model: MeasureVAE, split: dict, batch: int = 1024) -> np.ndarray:
    model.eval()
    return np.concatenate([model.encode(torch.from_numpy(split["tokens"][i:i + batch]))[0].numpy()
                           for i in range(0, len(split["tokens"]), batch)])


@torch.no_grad()
def token_accuracy(model: MeasureVAE, split: dict, batch: int = 1024) -> float:
    """Share of ticks reconstructed exactly from the latent mean, argmax decoding (no teacher)."""
    model.eval()
    right = total = 0
    for i in range(0, len(split["tokens"]), batch):
        tok = torch.from_numpy(split["tokens"][i:i + batch])
        ticks = torch.from_numpy(split["ticks"][i:i + batch])
        mu, _ = model.encode(tok)
        pred = model.decode(mu, ticks).argmax(-1)
        right += int((pred == tok).sum())
        total += tok.numel()
    return right / max(1, total)


def interpretability(z: np.ndarray, attrs: np.ndarray, names: tuple[str, ...] = ATTRIBUTES) -> dict[str, dict]:
    """AR-VAE's interpretability: per attribute, the R² of the attribute regressed (linear) on the single
    latent dimension that predicts it best, and which dimension that is."""
    out = {}
    for i, a in enumerate(names):
        y = attrs[:, i]
        best = (-np.inf, -1)
        if np.std(y) == 0:
            out[a] = {"dim": -1, "r2": float("nan")}
            continue
        for d in range(z.shape[1]):
            r = np.corrcoef(z[:, d], y)[0, 1]
            if np.isfinite(r) and r * r > best[0]:
                best = (r * r, d)
        out[a] = {"dim": int(best[1]), "r2": float(best[0])}
    return out


def slider_maps(z: np.ndarray, attrs: np.ndarray, names: tuple[str, ...] = ATTRIBUTES, bins: int = 64) -> dict[str, dict]:
    """Per attribute: (z values, attribute values) knots of a monotone map along its latent dimension,
    from the training codes: z's quantiles and the mean attribute of the codes between them, made
    monotone (cumulative maximum) so that a slider in attribute units has one z for each value."""
    maps = {}
    for i, a in enumerate(names):
        zi, y = z[:, i], attrs[:, i]
        qs = np.quantile(zi, np.linspace(0.005, 0.995, bins + 1))
        mid, val = [], []
        for lo, hi in zip(qs[:-1], qs[1:]):
            sel = (zi >= lo) & (zi <= hi)
            if sel.any():
                mid.append(float(zi[sel].mean()))
                val.append(float(y[sel].mean()))
        val = np.maximum.accumulate(np.array(val))
        maps[a] = {"z": mid, "value": val.tolist()}
    return maps


def train(args) -> dict:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = load(Path(args.data), args.limit)
    names = attribute_names(Path(args.data))
    tr, va = data["train"], data["val"]
    cfg = VAEConfig(latent=args.latent, hidden=args.hidden, layers=args.layers, embedding=args.embedding,
                    n_beats=int(tr["tokens"].shape[1] // TICKS_PER_BEAT))
    model = MeasureVAE(cfg)
    earlier: list[str] = []
    if args.init:   # go on from an earlier run's weights (same sizes)
        from musicdesk.melody.weights import load as load_weights

        init, init_info = load_weights(args.kind, args.init)
        model.load_state_dict(init.state_dict())
        earlier = init_info.get("earlier_commands", []) + [init_info["command"]]
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gamma = args.gamma if args.kind.endswith("arvae") else 0.0
    rho = args.rho if args.kind.endswith("arvae") else 0.0
    n = len(tr["tokens"])
    va_sub = {k: v[:args.val_size] for k, v in va.items()}
    best, best_loss, bad, hist, steps = None, np.inf, 0, [], 0
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(n)
        tot: dict[str, float] = {}
        nb = n // args.batch_size
        for b in range(nb):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            # transposing a dMelodies melody would change its tonic and octave factors: not those
            tok = torch.from_numpy(random_transpose(tr["tokens"][idx], rng) if names == ATTRIBUTES else tr["tokens"][idx])
            loss, parts = losses(model, tok, torch.from_numpy(tr["ticks"][idx]), torch.from_numpy(tr["attributes"][idx]),
                                 args.beta, gamma, args.delta, teacher_forcing=rng.random() < args.teacher_forcing, rho=rho)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            for k, v in parts.items():
                tot[k] = tot.get(k, 0.0) + v / nb
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
        model.eval()
        with torch.no_grad():
            vl, vparts = losses(model, torch.from_numpy(va_sub["tokens"]), torch.from_numpy(va_sub["ticks"]),
                                torch.from_numpy(va_sub["attributes"]), args.beta, gamma, args.delta, False, rho)
        acc = token_accuracy(model, va_sub)
        interp = interpretability(encode_all(model, va_sub), va_sub["attributes"], names)
        hist.append({"epoch": epoch + 1, "train": tot, "val": vparts, "val_loss": float(vl), "val_token_accuracy": acc,
                     "val_interpretability": {a: round(v["r2"], 4) for a, v in interp.items()},
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"epoch {epoch + 1}: train rec {tot.get('rec', 0):.2f} kl {tot.get('kl', 0):.1f} ar {tot.get('ar', 0):.3f} "
              f"linear {tot.get('linear', 0):.3f}; "
              f"val loss {float(vl):.2f} token acc {acc:.4f} interp "
              + " ".join(f"{a[:8]} {v['r2']:.2f}" for a, v in interp.items()) + f" ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        if float(vl) < best_loss - 1e-4:
            best, best_loss, bad = copy.deepcopy(model.state_dict()), float(vl), 0
        else:
            bad += 1
        if bad >= args.patience or (args.max_steps and steps >= args.max_steps):
            break
        if args.max_minutes and time.perf_counter() - t0 > 60 * args.max_minutes:
            print(f"stopped after {args.max_minutes} min (--max-minutes)", flush=True)
            break
    model.load_state_dict(best)
    model.eval()
    z_tr = encode_all(model, {"tokens": tr["tokens"][:args.map_size]})
    maps = slider_maps(z_tr, tr["attributes"][:args.map_size], names)
    return {"model": model, "config": cfg.to_dict(), "history": hist, "maps": maps, "names": names, "epochs_run": len(hist),
            "earlier_commands": earlier,
            "steps": steps, "train_s": round(time.perf_counter() - t0, 1), "n": {k: len(v["tokens"]) for k, v in data.items()}}


def parse_common(ap: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """Add the options every melody training script has (--seed, --threads, --out, --results), parse,
    and set torch's threads."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="weights file (default: models/melody-NAME.safetensors)")
    ap.add_argument("--results", default=None, help="results JSON (default: training/results/melody-NAME.json)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", required=True, help="arvae or betavae (folk measures); dm-arvae or dm-betavae "
                    "for the dMelodies benchmark models (with --data training/cache/melody/dmelodies.npz)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta", type=float, default=0.001)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=10.0)
    ap.add_argument("--rho", type=float, default=0.0, help="weight of the linear term (1 - r² between each "
                    "regularised dimension and its attribute; musicdesk.melody.model.linear_loss); 0: AR-VAE's loss alone")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embedding", type=int, default=16)
    ap.add_argument("--teacher-forcing", type=float, default=0.5, help="share of batches fed the true tokens")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this time")
    ap.add_argument("--init", default=None, help="start from these weights (an earlier run's, same sizes), e.g. to "
                    "train on for more epochs")
    ap.add_argument("--val-size", type=int, default=4000)
    ap.add_argument("--map-size", type=int, default=50000)
    args = parse_common(ap, argv)
    res = train(args)
    from musicdesk.melody.weights import save, weights_path

    out = Path(args.out) if args.out else weights_path(args.kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(res["model"], out, args.kind, {"config": res["config"], "attributes": list(res["names"]),
                                          "slider_maps": res["maps"], "date": _dt.date.today().isoformat(),
                                          "command": "python -m training.train_melody " + " ".join(sys.argv[1:] if argv is None else argv),
                                          "earlier_commands": res["earlier_commands"]})
    summary = {k: v for k, v in res.items() if k not in ("model", "names")} | {"settings": vars(args), "torch": torch.__version__,
                                                                   "date": _dt.date.today().isoformat()}
    rp = Path(args.results) if args.results else ROOT / "training" / "results" / f"melody-{args.kind}.json"
    rp.parent.mkdir(parents=True, exist_ok=True)
    rp.write_text(json.dumps(summary, indent=1))
    print(f"saved {out}; results {rp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
