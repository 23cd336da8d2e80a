"""The melody lab's models and their data: MeasureVAE shapes and masks, the AR-VAE loss, the data sets
(folk measures, dMelodies) and a few-step smoke training that the lab can load."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from musicdesk.melody import tokens as tk
from musicdesk.melody.attributes import ATTRIBUTES, attribute_matrix
from musicdesk.melody.model import MeasureVAE, VAEConfig, ar_loss, kl_divergence, linear_loss
from training import melody_data as md


def test_vae_shapes_masks_and_determinism():
    torch.manual_seed(0)
    m = MeasureVAE(VAEConfig(hidden=32, latent=8)).eval()
    tok = torch.randint(tk.FIRST_PITCH, tk.VOCAB_SIZE, (3, 24))
    tok[:, 18:] = tk.PAD
    ticks = torch.tensor([18, 18, 24])
    with torch.no_grad():
        lg, z, mu, logvar = m(tok, ticks)
        again = m(tok, ticks)[0]
    assert lg.shape == (3, 24, tk.VOCAB_SIZE) and z.shape == mu.shape == (3, 8)
    assert torch.equal(lg, again) and torch.equal(z, mu)           # eval: the mean, argmax decoding
    pred = lg.argmax(-1)
    assert bool((pred[:2, 18:] == tk.PAD).all()) and bool((pred[:2, :18] != tk.PAD).all())
    assert bool((pred[2] != tk.PAD).all())                          # a 4/4 measure has no PAD
    assert not bool(((pred == tk.START) | (pred == tk.END)).any())
    assert float(kl_divergence(torch.zeros(2, 8), torch.zeros(2, 8))) == 0.0
    two_bars = MeasureVAE(VAEConfig(hidden=16, latent=4, n_beats=8)).eval()
    with torch.no_grad():
        assert two_bars.decode(torch.zeros(2, 4)).shape == (2, 48, tk.VOCAB_SIZE)


def test_ar_loss_rewards_a_dimension_ordered_like_the_attribute():
    a = torch.tensor([0.1, 0.5, 0.2, 0.9])
    assert float(ar_loss(a * 10, a)) < 0.3
    assert float(ar_loss(-a * 10, a)) == pytest.approx(1.5)     # every pair of distinct values wrong
    assert float(ar_loss(a * 10, a)) < float(ar_loss(torch.zeros(4), a))


def test_linear_loss_wants_the_dimension_linear_in_the_attribute():
    a = torch.tensor([0.0, 1.0, 2.0, 3.0, 10.0])
    assert float(linear_loss(3 * a - 1, a)) == pytest.approx(0.0, abs=1e-6)      # any scale and offset
    assert float(linear_loss(-a, a)) == pytest.approx(0.0, abs=1e-6)             # either direction
    ranks = torch.arange(5.0)            # ordered like the attribute but spaced by rank: the sign loss is content
    assert float(ar_loss(ranks * 10, a)) == pytest.approx(float(ar_loss(a * 10, a)), abs=0.05)
    assert 0.1 < float(linear_loss(ranks, a)) < 0.3                             # the linear term is not
    assert float(linear_loss(torch.tensor([1.0, -1.0, 1.0, -1.0]), torch.tensor([0.0, 0.0, 1.0, 1.0]))) == pytest.approx(1.0)
    assert float(linear_loss(torch.randn(4), torch.ones(4))) == 0.0            # nothing to fit in this batch
    z = torch.zeros(5, requires_grad=True)
    linear_loss(z + 0.01 * torch.randn(5), a).backward()
    assert torch.isfinite(z.grad).all()


def test_random_transpose_keeps_notes_in_range_and_attributes_equal():
    from training.train_melody import random_transpose

    rows = np.stack([np.r_[tk.pitch_token(40), [tk.HOLD] * 5, tk.pitch_token(99), [tk.HOLD] * 17],
                     np.r_[tk.pitch_token(60), [tk.HOLD] * 11, tk.REST, [tk.HOLD] * 5, [tk.PAD] * 6],
                     np.r_[tk.REST, [tk.HOLD] * 23]])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        t = random_transpose(rows, rng)
        assert t.min() >= 0 and t.max() < tk.VOCAB_SIZE
        assert np.array_equal(t[2], rows[2]) and np.array_equal(t[:, 1:] == tk.HOLD, rows[:, 1:] == tk.HOLD)
        assert np.allclose(attribute_matrix(t[1:2], 3.0), attribute_matrix(rows[1:2], 3.0))
        seen.add(int(t[1, 0] - rows[1, 0]))
    assert seen == set(range(-6, 7))
    # the first row holds MIDI 40 and 99: it can go 4 down and 1 up
    assert {int(random_transpose(rows, rng)[0, 6] - rows[0, 6]) for _ in range(200)} == set(range(-4, 2))


def test_dmelodies_factors_and_tokens():
    f = md.all_dmelodies_factors()
    assert f.shape == (1_354_752, 9)
    pick = f[np.random.default_rng(0).choice(len(f), 300, replace=False)]
    fast = md.dmelodies_tokens(pick)
    assert np.array_equal(fast, np.stack([tk.encode(md.dmelody(x)).reshape(-1) for x in pick]))
    m = md.dmelody([0, 1, 0, 0, 27, 0, 1, 0, 0])      # C major from C4, I up, IV down, V up, I up
    assert [n.midi for n in m.notes] == [60, 64, 67, 72, 69, 65, 67, 71, 74, 60, 64, 67]
    assert len(m.notes) == 12 and all(n.duration_beats == 0.5 for n in m.notes)
    assert [n.onset_beats for n in m.notes][6:] == [5.0, 5.5, 6.0, 6.5, 7.0, 7.5]   # bar 2: the last rhythm
    # the factors read back from the tokens: exactly, and -1 where a row is no dMelodies melody
    assert np.array_equal(md.dmelodies_factors_of(fast), pick)
    bent = fast[:2].astype(np.int64).copy()
    first = np.flatnonzero(bent[0] >= tk.FIRST_PITCH)[0]
    bent[0, first] += 13                                   # a note no scale of that melody has
    bent[1, 1] = bent[1, 0] if bent[1, 0] >= tk.FIRST_PITCH else tk.FIRST_PITCH + 20   # an onset off the eighths
    got = md.dmelodies_factors_of(bent)
    assert list(got[0, [0, 1, 2]]) == [-1, -1, -1] and list(got[0, 3:5]) == list(pick[0, 3:5])
    assert got[1, 3] == -1 and got[1, 4] == pick[1, 4]


def test_tune_types_come_from_the_rhythm_field():
    assert md.tune_type("X:1\nT:The Wind\nR:Reel\nK:D\n") == 0
    assert md.tune_type("X:1\nR: double jig\nK:G\n") == 1
    assert md.tune_type("X:1\nR:hornpipe\n") == 2
    assert md.tune_type("X:1\nR:slip jig\n") == -1 and md.tune_type("X:1\nT:Air\n") == -1


@pytest.fixture(scope="module")
def tiny_folk(tmp_path_factory):
    out = tmp_path_factory.mktemp("melody") / "folk.npz"
    assert md.main(["folk", "--max-per-source", "15", "--out", str(out)]) == 0
    return out


def test_folk_measures_split_by_tune(tiny_folk):
    z = np.load(tiny_folk)
    assert z["tokens"].shape[1] == 24 and len(z["tokens"]) > 100
    for t in np.unique(z["tune"]):
        assert len(np.unique(z["split"][z["tune"] == t])) == 1      # a tune is in one split only
    assert set(np.unique(z["measure_beats"])) <= {1.5, 2.0, 3.0, 4.0}
    ticks = np.round(z["measure_beats"] * 6).astype(int)
    for row, n in zip(z["tokens"], ticks):
        assert np.all(row[n:] == tk.PAD) and np.all(row[:n] != tk.PAD)


def test_few_step_training_makes_weights_the_lab_loads(tiny_folk, tmp_path):
    from musicdesk.melody.lab import MelodyLab
    from training import train_melody

    w, r = tmp_path / "arvae.safetensors", tmp_path / "arvae.json"
    assert train_melody.main(["--kind", "arvae", "--data", str(tiny_folk), "--epochs", "2", "--max-steps", "3",
                              "--batch-size", "16", "--hidden", "32", "--latent", "8", "--out", str(w),
                              "--results", str(r), "--val-size", "64", "--map-size", "200", "--rho", "1"]) == 0
    res = json.loads(r.read_text())
    assert res["steps"] >= 2 and np.isfinite(res["history"][-1]["val_loss"])
    assert 0 < res["history"][-1]["train"]["linear"] <= len(ATTRIBUTES)     # the linear term was in the loss
    lab = MelodyLab("arvae", weights=str(w))
    assert lab.latent_size == 8 and lab.attributes == ATTRIBUTES
    row = np.r_[tk.pitch_token(60), [tk.HOLD] * 23]
    out = lab.vary(row[None], 4.0, {"note_density": 2.0})
    assert out.shape == (1, 24) and np.all(out != tk.PAD)
    lo, hi = lab.value_range("note_density")
    assert lo <= hi
    # --init goes on from those weights: the second run starts where the first ended and records its command
    w2 = tmp_path / "arvae2.safetensors"
    assert train_melody.main(["--kind", "arvae", "--data", str(tiny_folk), "--epochs", "1", "--max-steps", "1",
                              "--batch-size", "16", "--hidden", "32", "--latent", "8", "--out", str(w2), "--lr", "0",
                              "--results", str(tmp_path / "a2.json"), "--val-size", "64", "--map-size", "200",
                              "--init", str(w)]) == 0
    again = MelodyLab("arvae", weights=str(w2))
    assert again.info["earlier_commands"] == [lab.info["command"]]
    assert all(torch.equal(a, b) for a, b in zip(lab.model.state_dict().values(), again.model.state_dict().values()))


def test_few_step_inpainter_training_and_candidates(tiny_folk, tmp_path):
    from melody_tunes import plain_tune

    from musicdesk.melody.inpaint import inpaint_melody, load_inpainter
    from musicdesk.melody.lab import MelodyLab
    from training import train_inpaint, train_melody

    vae = tmp_path / "arvae.safetensors"
    assert train_melody.main(["--kind", "arvae", "--data", str(tiny_folk), "--epochs", "1", "--max-steps", "2",
                              "--batch-size", "16", "--hidden", "32", "--latent", "8", "--out", str(vae),
                              "--results", str(tmp_path / "a.json"), "--val-size", "32", "--map-size", "100"]) == 0
    w, r = tmp_path / "inpaint.safetensors", tmp_path / "inpaint.json"
    assert train_inpaint.main(["--data", str(tiny_folk), "--vae", str(vae), "--epochs", "1", "--steps-per-epoch", "2",
                               "--batch-size", "4", "--hidden", "16", "--out", str(w), "--results", str(r)]) == 0
    res = json.loads(r.read_text())
    assert set(res["test"]) >= {"latent_rnn", "repeat_last", "interpolate", "cases"}
    # a second run goes on from the first one's weights and records the command that made them
    w2, r2 = tmp_path / "inpaint2.safetensors", tmp_path / "inpaint2.json"
    assert train_inpaint.main(["--data", str(tiny_folk), "--vae", str(vae), "--epochs", "1", "--steps-per-epoch", "1",
                               "--batch-size", "4", "--hidden", "16", "--init", str(w), "--out", str(w2),
                               "--results", str(r2)]) == 0
    first = load_inpainter(w)[1]["command"]
    assert load_inpainter(w2)[1]["earlier_commands"] == [first] == json.loads(r2.read_text())["earlier_commands"]
    rnn, info = load_inpainter(w)
    assert rnn.config.latent == 8 and info["vae"]["command"]
    mel = plain_tune()
    cands = inpaint_melody(mel, 3, 2, candidates=3, lab=MelodyLab("arvae", weights=str(vae)), rnn=rnn)
    assert 1 <= len(cands) <= 3
    for c in cands:
        assert c.n_measures == 8
        assert [c.notes_in(m) for m in (0, 1, 2, 5, 6, 7)] == [mel.notes_in(m) for m in (0, 1, 2, 5, 6, 7)]
    assert len({tuple(c.notes) for c in cands}) == len(cands)      # the candidates differ
    with pytest.raises(ValueError, match="before the gap"):
        inpaint_melody(mel, 0, 2, lab=MelodyLab("arvae", weights=str(vae)), rnn=rnn)
