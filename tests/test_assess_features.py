"""Assessment inputs and networks: the octave-tolerant distance, DTW, shapes, determinism, devices,
safe weight files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musicdesk.assess import features as fe
from musicdesk.assess.models import CRITERIA, MIN_FRAMES, MODELS, build, run
from musicdesk.assess import predict, weights


def test_octave_tolerant_distance_formula():
    a = np.array([60.0, 60.0, 60.0, 60.0, 0.0, 0.0])
    b = np.array([60.0, 62.0, 72.0, 79.0, 0.0, 60.0])
    d = np.diag(fe.octave_tolerant_distance(a, b))
    # same; 2 semitones; an octave (pitch class equal, +1); 19 semitones = fifth away in pitch class (5) + 1
    assert d[:4].tolist() == [0.0, 2.0, 1.0, 6.0]
    assert d[4] == 0.0 and d[5] == fe.REST_DISTANCE
    assert fe.octave_tolerant_distance(np.array([61.0]), np.array([60.0]))[0, 0] == pytest.approx(1.0)
    assert fe.octave_tolerant_distance(np.array([66.0]), np.array([60.0]))[0, 0] == pytest.approx(6.0)


def test_contour_and_score_frames_rates():
    sc = fe.score_frames([60, 62], [1.0, 1.5], [0.5, 0.5])
    assert len(sc) == int(np.ceil(1.0 / fe.FRAME_HOP_S))
    assert sc[0] == 60 and sc[-1] == 62
    t = np.arange(0, 2.0, 0.01)
    m = np.where(t < 1.0, np.nan, 64.0)
    c = fe.contour_frames(t, m, 2.0)
    assert len(c) == int(np.ceil(2.0 / fe.FRAME_HOP_S))
    assert c[0] == 0.0 and c[-1] == 64.0


def test_dtw_aligns_a_performance_played_slower_with_pauses():
    rng = np.random.default_rng(1)
    pitches = rng.integers(55, 80, 40)
    score = np.repeat(pitches, 8).astype(np.float32)
    perf = np.concatenate([np.concatenate([np.full(12, p + 0.2), np.zeros(3)]) for p in pitches]).astype(np.float32)
    aligned = fe.align_score(perf, score)
    assert aligned.shape == perf.shape
    voiced = perf > 0
    assert np.mean(np.abs(aligned[voiced] - np.round(perf[voiced])) < 0.5) > 0.97


def test_distance_image_size_and_range():
    img = fe.distance_image(np.full(300, 60.0), np.full(900, 62.0))
    assert img.shape == (fe.DISTMAT_SIZE, fe.DISTMAT_SIZE)
    assert img.dtype == np.float32
    assert np.allclose(img, 2.0 / fe.REST_DISTANCE)


@pytest.mark.parametrize("name", list(MODELS))
def test_shapes_range_and_determinism(name):
    torch.manual_seed(0)
    m = build(name).eval()
    b = {"contour": torch.rand(3, 1, 700), "score": torch.rand(3, 1, 700), "delta": torch.rand(3, len(fe.DELTA_FEATURES), 700),
         "distmat": torch.rand(3, 1, 600, 600)}
    with torch.no_grad():
        y1, y2 = run(m, b), run(m, b)
    assert y1.shape == (3, len(CRITERIA))
    assert torch.equal(y1, y2)
    if name != "jointembednet":
        assert bool(((y1 >= 0) & (y1 <= 1)).all())
    else:
        assert bool(((y1 >= -1) & (y1 <= 1)).all())


def test_separate_inputs_have_an_encoder_of_their_own(tmp_path):
    torch.manual_seed(0)
    net = build("siconvnet_delta").eval()     # the shipped design: note_timing on its own encoder
    assert net.separate == ("note_timing",) and net.features == fe.DELTA_FEATURES
    x = torch.rand(2, len(fe.DELTA_FEATURES), 500)
    y = x.clone()
    y[:, [i for i, f in enumerate(fe.DELTA_FEATURES) if f != "note_timing"]] = torch.rand(2, len(fe.DELTA_FEATURES) - 1, 500)
    with torch.no_grad():
        ex, ey = net.embed(x), net.embed(y)
    d = net.enc.out_features
    assert torch.equal(ex[:, d:], ey[:, d:]) and not torch.equal(ex[:, :d], ey[:, :d])
    p = tmp_path / "w.safetensors"
    weights.save(net, p, "siconvnet_delta", {"delta_features": list(net.features), "delta_separate": list(net.separate)})
    loaded, _ = weights.load("siconvnet_delta", p)
    assert loaded.separate == ("note_timing",)
    with torch.no_grad():
        assert torch.equal(run(loaded, {"delta": x}), run(net, {"delta": x}))
    with pytest.raises(ValueError, match="some, not all"):
        build("siconvnet_delta", features=("note_timing",), separate=("note_timing",))


def test_windows_cover_the_take_with_equal_chunks():
    assert predict.windows(500, 2000) == [(0, 500)]
    w = predict.windows(4500, 2000)
    assert w[0] == (0, 2000) and w[-1] == (2500, 4500)
    assert all(b - a == 2000 for a, b in w)


def test_short_take_is_padded_to_the_encoders_minimum():
    inp = fe.AssessInput(np.full(100, 60.0, np.float32), np.full(100, 60.0, np.float32))
    batch, counts = predict.batch_for([inp], ("contour", "score"))
    assert batch["contour"].shape == (1, 1, MIN_FRAMES) and counts == [1]


def test_device_selection(monkeypatch):
    monkeypatch.delenv(predict.DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert predict.select_device().type == expected
    assert predict.select_device("cpu").type == "cpu"
    monkeypatch.setenv(predict.DEVICE_ENV, "cpu")
    assert predict.select_device().type == "cpu"
    with pytest.raises(ValueError):
        predict.select_device("tpu")


def test_weights_round_trip_and_refusals(tmp_path):
    torch.manual_seed(3)
    m = build("siconvnet").eval()
    p = tmp_path / "w.safetensors"
    weights.save(m, p, "siconvnet", {"criteria": list(CRITERIA)})
    m2, info = weights.load("siconvnet", p)
    x = {"contour": torch.rand(2, 1, 400), "score": torch.rand(2, 1, 400)}
    with torch.no_grad():
        assert torch.equal(run(m, x), run(m2, x))
    assert info["criteria"] == list(CRITERIA)
    with pytest.raises(weights.ModelError, match="siconvnet"):
        weights.load("pcconvnet", p)               # another network's file
    # a pickle (what torch.save writes) is not a weights file: refused, never unpickled
    bad = tmp_path / "bad.safetensors"
    torch.save(m.state_dict(), bad)
    with pytest.raises(weights.ModelError, match="damaged"):
        weights.load("siconvnet", bad)
    with pytest.raises(weights.ModelError, match="No weights"):
        weights.load("siconvnet", tmp_path / "missing.safetensors")


def test_local_timing_keeps_a_single_late_note_and_drops_a_steady_lag():
    t = np.zeros(400, dtype=np.float32)
    t[200:215] = 0.2                      # one note 200 ms late
    lt = fe.local_timing_s(t)
    assert lt[205] > 0.15 and abs(lt[50]) < 1e-6 and abs(lt[350]) < 1e-6
    lag = np.full(400, 0.5, dtype=np.float32)   # the whole take behind a steady player: no note-level error
    assert np.abs(fe.local_timing_s(lag)).max() < 1e-6


def _played(onsets_s, pitches, lead_s=0.5):
    """Contour frames of a monophonic take: each note sounds 90% of the way to the next onset."""
    H = fe.FRAME_HOP_S
    ends = np.r_[np.diff(onsets_s), 0.6] * 0.9 + onsets_s
    c = np.zeros(int((onsets_s[-1] + lead_s + 1.5) / H), np.float32)
    for a, b, m in zip(onsets_s, ends, pitches):
        c[int(round((a + lead_s) / H)):int(round((b + lead_s) / H))] = m
    return c


def test_note_onset_timing_sees_moved_notes_and_ignores_holds_and_repeated_notes():
    rng = np.random.default_rng(0)
    pitches = rng.integers(60, 72, 40)
    pitches[6] = pitches[5]                        # a repeated note: its onset comes from the score notes
    on = np.arange(40) * 0.6
    score = fe.score_frames(pitches, on, np.full(40, 0.6))
    onsets = fe.score_onset_frames(on)
    assert len(onsets) == 40 and score[onsets[6] - 1] == 0   # a frame of rest before the repeated note

    def errors(perf_on):
        return fe.build_input(_played(perf_on, pitches), score, onsets, with_distmat=False)

    held = on.copy()
    held[10:] += 1.0                               # two fermatas of 1.0 and 0.8 s
    held[25:] += 0.8
    a, b = errors(on), errors(held)
    assert np.abs(a.note_timing_s).max() <= 0.06 and np.abs(b.note_timing_s).max() <= 0.06
    def grew(x):   # how much an input grows from the steady take to the held one
        return float(np.abs(x(b)).mean() - np.abs(x(a)).mean())

    # the moving-average input sees the holds as note-level timing; the note onset input hardly does
    assert grew(lambda z: z.note_timing_s) < 0.25 * grew(lambda z: fe.local_timing_s(z.timing_s))
    moved = held.copy()
    moved[[6, 15, 20, 30]] += [-0.2, 0.2, -0.2, 0.2]
    path = fe.align_path(fe.trim_silence(_played(moved, pitches)), score)
    err, _ = fe.note_onset_errors_s(path, onsets, fe.trim_silence(_played(moved, pitches)))
    assert np.all(np.abs(err[[6, 15, 20, 30]]) > 0.1)
    assert np.all(np.sign(err[[6, 15, 20, 30]]) == [-1, 1, -1, 1])
    others = np.delete(np.arange(40), [6, 15, 20, 30])
    assert np.abs(err[others]).max() <= 0.06
    assert np.abs(errors(moved).note_timing_s).mean() > 2 * np.abs(b.note_timing_s).mean()


def test_note_timing_can_judge_the_aligners_onsets():
    """A run of repeated notes played legato (no gap in the contour): the DTW path cannot see where the
    moved one starts; the aligner's onsets (s from the start of the take, NaN where not found) can, and
    they land on the trimmed frames the contour's other channels use."""
    pitches = np.array([62, 64, 65, 67, 67, 67, 67, 65, 64, 62, 60, 62, 64, 65, 67, 69])
    on = np.arange(16) * 0.6
    lead = 0.5
    contour = np.zeros(int((on[-1] + lead + 1.5) / fe.FRAME_HOP_S), np.float32)
    for a, b, m in zip(on, np.r_[on[1:], on[-1] + 0.6], pitches):   # legato: no frame of silence
        contour[int(round((a + lead) / fe.FRAME_HOP_S)):int(round((b + lead) / fe.FRAME_HOP_S))] = m
    score = fe.score_frames(pitches, on, np.full(16, 0.6))
    onsets = fe.score_onset_frames(on)
    aligned = on + lead
    aligned[5] += 0.15                               # the aligner heard the third G 150 ms late
    aligned[12] = np.nan                             # ... and did not find this note
    dtw = fe.build_input(contour, score, onsets, with_distmat=False)
    ours = fe.build_input(contour, score, onsets, with_distmat=False, note_onsets_s=aligned)
    assert np.array_equal(dtw.contour_midi, ours.contour_midi)
    trim = int(np.flatnonzero(contour > 0)[0]) - 3
    frame = int(round(aligned[5] / fe.FRAME_HOP_S)) - trim
    assert abs(dtw.note_timing_s[frame + 1]) < 0.03        # the DTW path sees nothing
    assert ours.note_timing_s[frame + 1] == pytest.approx(0.15, abs=0.03)
    assert np.abs(np.delete(ours.note_timing_s, np.s_[frame - 25:frame + 25])).max() < 0.05   # frame rounding
    # the wrong number of onsets (another score's) is ignored, not misread
    assert np.array_equal(fe.build_input(contour, score, onsets, with_distmat=False,
                                         note_onsets_s=aligned[:-1]).note_timing_s, dtw.note_timing_s)


def _legato_take(on_s: np.ndarray, pitches: np.ndarray, lead_s: float = 0.5):
    contour = np.zeros(int((on_s[-1] + lead_s + 1.5) / fe.FRAME_HOP_S), np.float32)
    for a, b, m in zip(on_s, np.r_[on_s[1:], on_s[-1] + 0.5], pitches):
        contour[int(round((a + lead_s) / fe.FRAME_HOP_S)):int(round((b + lead_s) / fe.FRAME_HOP_S))] = m
    return contour, int(np.flatnonzero(contour > 0)[0]) - 3


def test_the_pulse_rule_judges_the_aligners_onsets_as_the_report_does():
    """note_rule="pulses" (the shipped network's note_timing): each aligner onset against the player's
    pulse on both sides (musicdesk.feedback.pulse_errors_ms), at the score's own onsets, in seconds,
    not frames. A note heard
    120 ms late reads 0.12 on its frames and leaves its neighbours at 0; a held phrase end (everything
    after it later) leaves no trace; a note the aligner did not find reads 0; with no onsets at all the
    DTW path's note starts stand in."""
    n = 24
    pitches = np.array([60 + (i % 5) for i in range(n)])
    on = np.arange(n) * 0.5
    score = fe.score_frames(pitches, on, np.full(n, 0.5))
    onsets = fe.score_onset_frames(on)
    played = on.copy()
    played[16:] += 0.8                 # note 15 held 0.8 s longer: a fermata
    lead = 0.5
    contour, trim = _legato_take(played, pitches, lead)
    heard = played + lead
    heard[8] += 0.12                   # note 8 played 120 ms late
    heard[12] = np.nan                 # the aligner did not find note 12

    def at(x, i):   # the value on note i's frames, just after its start
        return x[int(round(heard[i] / fe.FRAME_HOP_S)) - trim + 2]

    nt = fe.build_input(contour, score, onsets, with_distmat=False, note_onsets_s=heard,
                        note_rule="pulses", score_onsets_s=on).note_timing_s
    assert at(nt, 8) == pytest.approx(0.12, abs=0.002)
    assert abs(at(nt, 12 - 1)) < 0.002 and abs(at(nt, 13)) < 0.002
    others = [i for i in range(n) if i not in (8, 12)]
    assert max(abs(at(nt, i)) for i in others) < 0.002      # the hold after note 15 among them
    dtw = fe.build_input(contour, score, onsets, with_distmat=False, note_rule="pulses").note_timing_s
    assert np.isfinite(dtw).all() and len(dtw) == len(nt)


def test_weights_trained_on_the_aligners_onsets_are_refused(tmp_path):
    """The app builds note_timing from the DTW path or judges the aligner's onsets by the pulse rule
    (APP_NOTE_ONSETS): weights trained on the aligner's onsets judged another way (a design option of
    training.train) would be fed other inputs than they learnt on, so they are refused."""
    m = build("siconvnet_delta").eval()
    p = tmp_path / "w.safetensors"
    weights.save(m, p, "siconvnet_delta", {"criteria": list(CRITERIA), "note_onsets": "aligner"})
    with pytest.raises(weights.ModelError, match="aligner"):
        weights.load("siconvnet_delta", p)


def test_onsets_from_score_frames_without_the_notes():
    s = np.array([0, 60, 60, 62, 0, 62, 64], dtype=np.float32)
    assert fe.onsets_from_score_frames(s).tolist() == [1, 3, 5, 6]


def test_voicing_mismatch_marks_missing_and_extra_sound():
    c = np.array([60, 0, 0, 62, 64, 0], dtype=np.float32)
    s = np.array([60, 61, 0, 62, 0, 0], dtype=np.float32)
    assert fe.voicing_mismatch(c, s).tolist() == [0, 1, 0, 0, -1, 0]


def test_delta_channels_follow_delta_features():
    c = np.array([60, 61, 0, 66], dtype=np.float32)
    s = np.array([60, 60, 62, 60], dtype=np.float32)
    z = np.zeros(4, dtype=np.float32)
    x = fe.delta_channels(fe.AssessInput(c, s, None, z, z))
    assert x.shape == (len(fe.DELTA_FEATURES), 4)
    pitch = x[fe.DELTA_FEATURES.index("pitch")]
    assert pitch.tolist() == [0.0, 1.0, 0.0, fe.DELTA_CLIP_SEMITONES]   # silent frame 0, far note clipped
    assert x[fe.DELTA_FEATURES.index("voicing")].tolist() == [0, 0, 1, 0]


def test_delta_weights_carry_their_input_channels(tmp_path):
    net = build("siconvnet_delta", features=("pitch", "voicing"))
    assert net.enc.conv[0].in_channels == 2
    p = tmp_path / "w.safetensors"
    weights.save(net, p, "siconvnet_delta", {"delta_features": ["pitch", "voicing"]})
    loaded, info = weights.load("siconvnet_delta", p)
    assert loaded.features == ("pitch", "voicing")
    x = fe.AssessInput(np.full(300, 61.0, np.float32), np.full(300, 60.0, np.float32), None, np.zeros(300, np.float32))
    assert predict.rate_inputs(loaded, [x])[0].shape == (1, len(CRITERIA))
    weights.save(net, p, "siconvnet_delta", {"delta_features": ["pitch", "loudness"]})
    with pytest.raises(weights.ModelError, match="retrain"):
        weights.load("siconvnet_delta", p)
    with pytest.raises(ValueError, match="Unknown"):
        build("siconvnet_delta", features=("tempo",))


def test_the_timing_term_lowers_only_the_rhythm_rating_as_notes_move_off_their_pulse(tmp_path):
    """SIConvNet-Delta with timing_term: the rhythm logit falls with note_timing's share through a weight
    that cannot turn positive, so the same take with one note further off its pulse rates lower on
    rhythm, whatever the encoders make of it, and the other criteria see only what the encoders see.
    It round-trips through a weights file, and the numpy forward pass (musicdesk.assess.numpy_net)
    rates as torch does."""
    from musicdesk.assess import numpy_net

    torch.manual_seed(0)
    net = build("siconvnet_delta", timing_term=True).eval()
    with torch.no_grad():
        for enc in (net.enc, net.enc_sep):   # encoders blind to note_timing: only the term sees it
            enc.conv[0].weight.zero_()
    c = np.full(600, 61.0, np.float32)
    z = np.zeros(600, np.float32)
    takes = []
    for off_s in (0.0, 0.06, 0.12, 0.3):
        nt = z.copy()
        nt[200:230] = off_s
        takes.append(fe.AssessInput(c, c, None, z, nt))
    r = predict.rate_inputs(net, takes)[0]
    k = CRITERIA.index("rhythmic_accuracy")
    assert all(np.diff(r[:, k]) < 0)
    others = [i for i in range(len(CRITERIA)) if i != k]
    assert np.allclose(r[:, others], r[0, others], atol=1e-6)
    with pytest.raises(ValueError, match="note_timing"):
        build("siconvnet_delta", features=("pitch", "voicing"), timing_term=True)
    p = tmp_path / "w.safetensors"
    weights.save(net, p, "siconvnet_delta", {"criteria": list(CRITERIA), "delta_features": list(net.features),
                                             "delta_separate": list(net.separate), "delta_timing_term": True})
    loaded, _ = weights.load("siconvnet_delta", p)
    assert loaded.timing_term and np.allclose(predict.rate_inputs(loaded, takes)[0], r)
    npnet, _ = numpy_net.load("siconvnet_delta", p)
    got = predict._rate_inputs(npnet, takes, predict._numpy_forward(npnet))[0]
    assert np.abs(got - r).max() < 1e-5


def test_weights_that_judge_the_aligners_onsets_get_them_in_the_app(tmp_path):
    """Weights trained with `--note-onsets aligner_pulses` load in the app (weights.APP_NOTE_ONSETS), and
    an Assessor gives them the aligner's onsets and the score's, judged by the pulse rule, as training
    did (predict.input_options); the shipped kind (the DTW path) gets none of them."""
    net = build("siconvnet_delta", timing_term=True).eval()
    p = tmp_path / "w.safetensors"
    weights.save(net, p, "siconvnet_delta", {"criteria": list(CRITERIA), "note_onsets": "aligner_pulses",
                                             "delta_features": list(net.features),
                                             "delta_separate": list(net.separate), "delta_timing_term": True})
    a = predict.Assessor("siconvnet_delta", "cpu", weights=str(p))
    n = 24
    pitches = np.array([60 + (i % 5) for i in range(n)])
    on = np.arange(n) * 0.5
    contour, _ = _legato_take(on, pitches)
    score, onsets = fe.score_frames(pitches, on, np.full(n, 0.5)), fe.score_onset_frames(on)
    heard = on + 0.5
    heard[8] += 0.12
    got = a.rate(contour, score, onsets, heard, on).ratings
    want = fe.build_input(contour, score, onsets, with_distmat=False, note_onsets_s=heard, note_rule="pulses",
                          score_onsets_s=on)
    assert list(got.values()) == pytest.approx(list(a.rate_inputs([want])[0]), abs=1e-6)
    assert predict.input_options({}, heard, on) == {}
