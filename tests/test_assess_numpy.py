"""The contour-encoder networks' numpy forward pass (musicdesk.assess.numpy_net): the same ratings as
the torch network from the same weights, chosen on machines with no GPU, and no torch imported for it."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from musicdesk.analysis import analyze
from musicdesk.assess import numpy_net
from musicdesk.assess.numpy_net import NUMPY_MODELS, runs_here
from musicdesk.assess.predict import Assessor, NumpyAssessor, assessor, take_frames
from musicdesk.assess.weights import ModelError
from musicdesk.audio import load_take
from musicdesk.resources import example_take_path
from musicdesk.score import example_score_path, load_score


@pytest.fixture(scope="module")
def frames():
    score = load_score(example_score_path())
    return take_frames(score, analyze(score, load_take(example_take_path())).contour)


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_the_numpy_forward_pass_rates_as_the_torch_network(frames, name):
    t, n = Assessor(name, "cpu").rate(*frames), NumpyAssessor(name).rate(*frames)
    assert t.ratings.keys() == n.ratings.keys()
    for k in t.ratings:
        assert abs(t.ratings[k] - n.ratings[k]) < 1e-5, (k, t.ratings[k], n.ratings[k])
    assert np.abs(t.embedding - n.embedding).max() < 1e-4
    assert n.model == t.model and n.device == "cpu"


def test_short_and_long_takes_rate_as_the_torch_network(frames):
    """Under the encoder's shortest input (padded), and over one window (rated in overlapping windows)."""
    perf, sc, on = frames
    short = (perf[:120], sc[:120], on[on < 120])
    reps = int(np.ceil(2600 / len(perf)))
    long = (np.tile(perf, reps), np.tile(sc, reps), np.concatenate([on + k * len(sc) for k in range(reps)]))
    for f in (short, long):
        t, n = Assessor("siconvnet_delta", "cpu").rate(*f), NumpyAssessor("siconvnet_delta").rate(*f)
        assert max(abs(t.ratings[k] - n.ratings[k]) for k in t.ratings) < 1e-5


def test_which_networks_and_devices_it_runs(monkeypatch):
    monkeypatch.delenv("MUSICDESK_DEVICE", raising=False)
    monkeypatch.setattr(numpy_net, "gpu_present", lambda: False)
    assert runs_here("siconvnet_delta") and runs_here("siconvnet_delta", "auto") and runs_here("pcconvnet", "cpu")
    assert not runs_here("siconvnet_delta", "cuda") and not runs_here("siconvnet_delta", "mps")
    assert not runs_here("distmatnet") and not runs_here("jointembednet", "cpu")
    monkeypatch.setenv("MUSICDESK_DEVICE", "cuda")
    assert not runs_here("siconvnet_delta")
    monkeypatch.delenv("MUSICDESK_DEVICE")
    monkeypatch.setattr(numpy_net, "gpu_present", lambda: True)   # a GPU: torch rates, on it
    assert not runs_here("siconvnet_delta") and runs_here("siconvnet_delta", "cpu")


def test_assessor_on_a_machine_without_a_gpu_is_the_numpy_one(monkeypatch, frames):
    monkeypatch.setattr(numpy_net, "gpu_present", lambda: False)
    monkeypatch.delenv("MUSICDESK_DEVICE", raising=False)
    a = assessor("siconvnet_delta")
    assert isinstance(a, NumpyAssessor)
    assert not isinstance(assessor("distmatnet", "cpu"), NumpyAssessor)


def test_missing_damaged_or_foreign_weights_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="No weights"):
        numpy_net.load("siconvnet_delta", tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="damaged"):
        numpy_net.load("siconvnet_delta", bad)
    from musicdesk.assess.weights import weights_path

    with pytest.raises(ModelError, match="holds the model"):
        numpy_net.load("siconvnet_delta", weights_path("pcconvnet"))


def test_a_cpu_analysis_with_the_network_never_imports_torch(tmp_path):
    code = ("import sys\n"
            "from musicdesk.analysis import analyze\n"
            "from musicdesk.audio import load_take\n"
            "from musicdesk.resources import example_take_path\n"
            "from musicdesk.score import example_score_path, load_score\n"
            "a = analyze(load_score(example_score_path()), load_take(example_take_path()), assess_model='siconvnet_delta', device='cpu')\n"
            "print(a.assessment.device, sorted(a.assessment.ratings), 'torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data")))
    assert res.stdout.strip().splitlines()[-1] == "cpu ['intonation', 'note_accuracy', 'rhythmic_accuracy'] False", \
        (res.stdout, res.stderr)
