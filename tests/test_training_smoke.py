"""A few-step training of every assessment network on a tiny generated data set (the full training is
not part of CI): data generation, feature caching, the optimiser loop, evaluation, and weights that the
app can load."""
from __future__ import annotations

import json

import numpy as np
import pytest

from musicdesk.assess.models import CRITERIA, MODELS


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from training import make_data

    out = tmp_path_factory.mktemp("fba")
    assert make_data.main(["--out", str(out), "--n-train", "6", "--n-val", "3", "--n-test", "3",
                           "--jobs", "1", "--seed", "5"]) in (0, None)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_few_step_training_makes_loadable_weights(name, tiny_data, tmp_path):
    from musicdesk.assess.predict import Assessor
    from training import train

    w, r = tmp_path / f"{name}.safetensors", tmp_path / f"{name}.json"
    assert train.main(["--data", str(tiny_data), "--model", name, "--seeds", "0", "--epochs", "2",
                       "--max-steps", "3", "--batch-size", "3", "--out", str(w), "--results", str(r)]) == 0
    res = json.loads(r.read_text())
    assert res["model"] == name and res["runs"][0]["steps"] >= 2
    for c in CRITERIA:
        assert np.isfinite(res["test_r2_mean"][c])
    assert all(np.isfinite(h["train_mse"]) for h in res["runs"][0]["history"])
    a = Assessor(name, "cpu", weights=str(w))
    from training.train import load_split

    te = load_split(tiny_data, "test", name == "distmatnet")
    out = a.rate_inputs(te.inputs)
    assert out.shape == (len(te.inputs), len(CRITERIA)) and np.all((out >= 0) & (out <= 1))



def test_networks_trained_two_ways_join_into_one_weights_file_the_app_loads(tiny_data, tmp_path):
    """training/join_networks.py: a member on the DTW path's note starts and one on the aligner's onsets
    (the rhythm term too), rhythm from both and note accuracy from the first; the joined file rates as
    its members' weighted mean, and its results file has what the model card reads."""
    from musicdesk.assess.predict import Assessor, NumpyAssessor
    from training import join_networks, train

    members = []
    for i, extra in enumerate(([], ["--note-onsets", "aligner_pulses", "--timing-term"])):
        w = tmp_path / f"m{i}.safetensors"
        assert train.main(["--data", str(tiny_data), "--model", "siconvnet_delta", "--seeds", str(i), "--epochs", "1",
                           "--max-steps", "2", "--batch-size", "3", "--out", str(w),
                           "--results", str(tmp_path / f"m{i}.json"), *extra]) == 0
        members.append(str(w))
    out, res = tmp_path / "joined.safetensors", tmp_path / "joined.json"
    assert join_networks.main(["--data", str(tiny_data), "--members", *members, "--criterion-members",
                               "note_accuracy=0", "--out", str(out), "--results", str(res)]) == 0
    r = json.loads(res.read_text())
    assert r["criterion_members"] == {"note_accuracy": [0], "rhythmic_accuracy": [0, 1], "intonation": [0, 1]}
    assert [m["note_onsets"] for m in r["members"]] == ["dtw", "aligner_pulses"]
    assert all(np.isfinite(r["test_r2_shipped"][c]) for c in CRITERIA)
    rng = np.random.default_rng(0)
    perf = 60 + rng.integers(0, 5, 600).astype(np.float32)
    score = perf.copy()
    got = Assessor("siconvnet_delta", "cpu", weights=str(out)).rate(perf, score)
    alone = [Assessor("siconvnet_delta", "cpu", weights=m).rate(perf, score).ratings for m in members]
    assert got.ratings["note_accuracy"] == pytest.approx(alone[0]["note_accuracy"], abs=1e-6)
    for c in ("rhythmic_accuracy", "intonation"):
        assert got.ratings[c] == pytest.approx((alone[0][c] + alone[1][c]) / 2, abs=1e-6)
    n = NumpyAssessor("siconvnet_delta", weights=str(out)).rate(perf, score)
    assert max(abs(n.ratings[c] - got.ratings[c]) for c in CRITERIA) < 1e-5
    with pytest.raises(SystemExit, match="CRITERION"):
        join_networks.main(["--data", str(tiny_data), "--members", *members, "--criterion-members", "tone=0",
                            "--out", str(out), "--results", str(res)])

def test_damage_check_makes_takes_with_held_phrase_ends_and_rates_the_pairs(tmp_path):
    """The synthetic twin of the Bach10 check, end to end on one take: clean players who hold their
    phrase ends, each kind of damage, and the shipped default network's verdict per pair."""
    from musicdesk.assess import DEFAULT_MODEL
    from musicdesk.assess.weights import load
    from training import damage_check

    damage_check.make(1, tmp_path, p_hold=1.0, max_per_source=20)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert {"score_midi", "score_notes", *(f"{v}_contour" for v in damage_check.VERSIONS),
                *(f"{v}_onsets" for v in damage_check.VERSIONS)} <= set(z.files)
        assert not np.array_equal(z["clean_contour"], z["timing_contour"])
        # bench_timing's four notes moved 120 ms: the aligner's onsets of the moved take move with them
        moved = z["moved_late_onsets"] - z["clean_onsets"]
        assert np.sum(np.abs(moved - 0.12) < 0.04) >= 3
    model, info = load(DEFAULT_MODEL)
    res = damage_check.evaluate(model.eval(), tmp_path, info)
    assert set(res) == set(damage_check.CHECKS) and {"moved_late", "moved_early"} <= set(res)
    assert all(r["pairs"] == 1 and r["rated_lower"] in (0, 1) for r in res.values())
    assert res["wrong"]["rated_lower"] == 1     # 25% of the notes a tone off: rated lower on note accuracy


def test_the_chorale_check_makes_clean_and_moved_takes_and_rates_the_pairs(tmp_path):
    """The moved-note check on chorale players, end to end on one part: the clean take and the two with
    four notes moved 120 ms, whose aligner onsets move with them, and a verdict per moved pair only."""
    from musicdesk.assess import DEFAULT_MODEL
    from musicdesk.assess.weights import load
    from training import damage_check

    damage_check.make_chorales(2, tmp_path)   # a violin part, then a clarinet part
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 2
    with np.load(files[1]) as z:   # (the violin render's re-attacks swell: its onsets move less exactly)
        for v in ("clean", "moved_late", "moved_early"):
            assert {f"{v}_contour", f"{v}_onsets", f"{v}_rule"} <= set(z.files)
        for v, sign in (("moved_late", 1), ("moved_early", -1)):
            moved = z[f"{v}_onsets"] - z["clean_onsets"]
            assert np.sum(np.abs(moved - sign * 0.12) < 0.04) >= 3
    model, info = load(DEFAULT_MODEL)
    res = damage_check.evaluate(model.eval(), tmp_path, info)
    assert set(res) == {"moved_late", "moved_early"} and all(r["pairs"] == 2 for r in res.values())


def test_every_shipped_weights_file_has_a_model_card():
    """models/NAME.safetensors ships with models/NAME.md saying its data, command and metrics, and the
    card is linked from models/README.md."""
    import re
    from pathlib import Path

    models = Path(__file__).resolve().parents[1] / "models"
    index = (models / "README.md").read_text()
    weights = sorted(models.glob("*.safetensors"))
    assert weights
    for w in weights:
        card = w.with_suffix(".md")
        assert card.is_file(), f"{w.name} has no model card"
        heads = re.findall(r"^## (.+)$", card.read_text(), flags=re.M)
        assert any("data" in h.lower() for h in heads) and "Command" in heads and any(h.startswith("Metrics") for h in heads), (card.name, heads)
        assert f"({card.name})" in index, f"{card.name} is not linked from models/README.md"


def test_separation_network_smoke_training(tmp_path):
    """A few steps of training/train_separate.py on two rendered chorale takes; the weights load and
    separate a recording into stems that sum to it."""
    from musicdesk.separate.predict import separate_network
    from training import train_separate

    out = tmp_path / "sep"
    assert train_separate.main(["--smoke", "--out", str(out)]) == 0
    w = out.with_suffix(".safetensors")
    assert w.is_file() and out.with_suffix(".ckpt.pt").is_file()
    y = (0.1 * np.sin(2 * np.pi * 220 * np.arange(3 * 22050) / 22050)).astype(np.float32)
    stems = separate_network(y, [[(0.2, 2.5, 57)], [(0.5, 2.8, 45)]], device="cpu", weights=w)
    assert stems.shape == (2, len(y)) and np.isfinite(stems).all()
    assert np.allclose(stems.sum(axis=0), y, atol=1e-4)
