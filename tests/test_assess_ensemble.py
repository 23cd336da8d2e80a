"""Several networks in one weights file (musicdesk.assess.weights.save_ensemble, training/join_networks.py):
their ratings averaged, each member fed the input it was trained on, alike in torch, in numpy and in
the child process that loads the network beside the command."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from musicdesk.analysis import analyze
from musicdesk.assess import numpy_net
from musicdesk.assess.features import build_input
from musicdesk.assess.models import Ensemble, build
from musicdesk.assess.predict import (Assessor, NumpyAssessor, aligned_onsets_s, build_inputs, input_options,
                                      rate_inputs, score_onsets_s, take_frames)
from musicdesk.assess.weights import ModelError, load, member_infos, save, save_ensemble
from musicdesk.audio import load_take
from musicdesk.resources import example_take_path
from musicdesk.score import example_score_path, load_score

NAME = "siconvnet_delta"


@pytest.fixture(scope="module")
def take():
    """(frames, the aligner's note onsets, the score's onsets) of the bundled example take."""
    score = load_score(example_score_path())
    an = analyze(score, load_take(example_take_path()))
    return take_frames(score, an.contour), aligned_onsets_s(an.alignment), score_onsets_s(score)


def _member(path, seed: int, aligner: bool):
    """A SIConvNet-Delta with random weights, saved as training.train saves one: on the DTW path's note
    starts, or on the aligner's onsets by the pulse rule with the rhythm term."""
    torch.manual_seed(seed)
    model = build(NAME, **({"timing_term": True} if aligner else {})).eval()
    for m in model.modules():   # batch-norm statistics away from their defaults, so members differ there too
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    info = {"criteria": ["note_accuracy", "rhythmic_accuracy", "intonation"], "command": f"member {seed}",
            "delta_features": list(model.features), "delta_separate": list(model.separate)}
    if aligner:
        info |= {"note_onsets": "aligner_pulses", "delta_timing_term": True}
    save(model, path, NAME, info)
    return path


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    d = tmp_path_factory.mktemp("ens")
    members = [_member(d / "a.safetensors", 0, False), _member(d / "b.safetensors", 1, True),
               _member(d / "c.safetensors", 2, True)]
    out = d / f"assess-{NAME}.safetensors"
    save_ensemble(members, out, NAME, {"criteria": ["note_accuracy", "rhythmic_accuracy", "intonation"]})
    return members, out


def test_the_ensemble_rates_the_mean_of_its_members_each_on_its_own_input(take, joined):
    frames, onsets, score_on = take
    members, out = joined
    model, info = load(NAME, out)
    assert isinstance(model, Ensemble) and len(model.members) == 3
    alone = []
    for p in members:
        m, minfo = load(NAME, p)
        inp = build_input(*frames, with_distmat=False, **input_options(minfo, onsets, score_on))
        alone.append(rate_inputs(m, [inp]))
    got = Assessor(NAME, "cpu", weights=str(out)).rate(*frames, note_onsets_s=onsets, score_onsets_s=score_on)
    want = np.mean([r for r, _ in alone], axis=0)[0]
    assert np.allclose(list(got.ratings.values()), want, atol=1e-6)
    assert got.embedding.shape == (sum(e.shape[1] for _, e in alone),)   # the members' features, joined
    # the two members on the aligner's onsets share one input; the DTW one has its own
    inputs = build_inputs(info, *frames, False, onsets, score_on)
    assert len(inputs) == 3 and inputs[1] is inputs[2] and inputs[0] is not inputs[1]
    assert not np.array_equal(inputs[0].note_timing_s, inputs[1].note_timing_s)


def test_the_members_inputs_share_one_dtw_of_the_take(take, joined, monkeypatch):
    """Rating a take with an ensemble aligns it to the score once, and the shared path gives each member
    the input it would get on its own."""
    from musicdesk.assess import features as fe

    frames, onsets, score_on = take
    _, out = joined
    _, info = load(NAME, out)
    calls = []
    real = fe.align_path
    monkeypatch.setattr(fe, "align_path", lambda *a: calls.append(1) or real(*a))
    inputs = build_inputs(info, *frames, False, onsets, score_on)
    assert len(calls) == 1
    for inp, minfo in zip(inputs[:2], member_infos(info)[:2]):
        alone = build_input(*frames, with_distmat=False, **input_options(minfo, onsets, score_on))
        for f in ("contour_midi", "aligned_score_midi", "timing_s", "note_timing_s"):
            assert np.array_equal(getattr(inp, f), getattr(alone, f)), f


def test_the_numpy_ensemble_rates_as_the_torch_one(take, joined, monkeypatch):
    frames, onsets, score_on = take
    _, out = joined
    t = Assessor(NAME, "cpu", weights=str(out)).rate(*frames, note_onsets_s=onsets, score_onsets_s=score_on)
    n = NumpyAssessor(NAME, weights=str(out)).rate(*frames, note_onsets_s=onsets, score_onsets_s=score_on)
    assert isinstance(numpy_net.load(NAME, out)[0], numpy_net.NumpyEnsemble)
    assert max(abs(t.ratings[k] - n.ratings[k]) for k in t.ratings) < 1e-5
    assert np.abs(t.embedding - n.embedding).max() < 1e-4


def test_the_network_process_rates_an_ensemble_as_this_process_would(take, joined, monkeypatch):
    """The child that loads torch beside the command says how its members take their inputs; the parent
    builds each one."""
    from musicdesk.assess.preload import NetworkProcess

    frames, onsets, score_on = take
    _, out = joined
    monkeypatch.setenv("MUSICDESK_MODELS_DIR", str(out.parent))
    p = NetworkProcess(NAME, "cpu")
    try:
        got = p.rate(*frames, note_onsets_s=onsets, score_onsets_s=score_on)
        assert p._proc is not None and p._local is None      # rated by the child, not by a fallback
        want = Assessor(NAME, "cpu").rate(*frames, note_onsets_s=onsets, score_onsets_s=score_on)
        assert got.ratings == want.ratings
    finally:
        p.close()


def test_a_damaged_list_of_members_says_what_to_do(tmp_path, joined):
    from safetensors import safe_open
    from safetensors.torch import save_file

    _, out = joined
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    for members in ("not a list", [], [1, 2]):
        bad = tmp_path / "bad.safetensors"
        save_file(tensors, str(bad), metadata={**meta, "info": json.dumps({**json.loads(meta["info"]), "members": members})})
        for loader in (lambda p: load(NAME, p), lambda p: numpy_net.load(NAME, p)):
            with pytest.raises(ModelError, match="damaged"):
                loader(bad)
    with pytest.raises(ModelError, match="already an ensemble"):
        save_ensemble([out], tmp_path / "twice.safetensors", NAME, {})
