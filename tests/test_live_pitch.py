"""Live pitch: accurate on rendered notes, unvoiced in silence, independent of block sizes, fast."""
from __future__ import annotations

import time

import numpy as np
import pytest

from musicdesk.live_pitch import LiveFrames, LivePitch
from musicdesk.synth import PerformedNote, render_notes

NOTES = [PerformedNote(0.3, 0.9, 60), PerformedNote(1.0, 1.6, 67, cents=30),
         PerformedNote(1.9, 2.5, 76, cents=-20), PerformedNote(2.6, 3.2, 45)]


@pytest.fixture(scope="module")
def take():
    return render_notes(NOTES, program="clarinet", sr=44100)


def push_in_blocks(lp: LivePitch, x: np.ndarray, sizes) -> LiveFrames:
    parts, i = [], 0
    for b in sizes:
        if i >= len(x):
            break
        parts.append(lp.push(x[i:i + b]))
        i += b
    parts.append(lp.push(x[i:]))
    return LiveFrames(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("times_s", "midi", "level_dbfs")))


def test_pitch_within_20_cents_and_unvoiced_in_silence(take):
    fr = LivePitch(take.sr).push(take.samples)
    for n in NOTES:
        steady = (fr.times_s > n.onset_s + 0.1) & (fr.times_s < n.offset_s - 0.05)
        err_c = (fr.midi[steady] - (n.midi + n.cents / 100.0)) * 100.0
        assert steady.sum() >= 40 and np.all(np.abs(err_c) < 20), (n, err_c)
    silent = fr.times_s < 0.28
    assert silent.sum() > 10 and not np.any(np.isfinite(fr.midi[silent]))
    assert np.all(fr.level_dbfs[silent] < -60) and fr.level_dbfs.max() > -20
    tail = fr.times_s > 3.2 + 0.35      # after the release
    assert tail.sum() > 5 and not np.any(np.isfinite(fr.midi[tail]))


def test_frame_times_and_counts(take):
    lp = LivePitch(take.sr, hop_s=0.01)
    fr = lp.push(take.samples)
    assert np.allclose(np.diff(fr.times_s), lp.hop_s)
    assert fr.times_s[0] == pytest.approx(lp.span / 2 / take.sr)
    assert len(fr) == (len(take.samples) - lp.span) // lp.hop + 1 == lp.n_frames
    assert len(lp.push(np.zeros(0, np.float32))) == 0
    assert 0.02 < lp.latency_s < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_identical_results_for_any_block_sizes(take, seed):
    whole = LivePitch(take.sr).push(take.samples)
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4000, size=10_000)
    sizes[::7] = 1                                         # many tiny blocks too
    parts = push_in_blocks(LivePitch(take.sr), take.samples, sizes)
    assert np.array_equal(parts.times_s, whole.times_s)
    assert np.allclose(parts.midi, whole.midi, atol=1e-9, equal_nan=True)
    assert np.array_equal(np.isnan(parts.midi), np.isnan(whole.midi))
    assert np.allclose(parts.level_dbfs, whole.level_dbfs, atol=1e-9)


def test_reset_starts_a_new_take(take):
    lp = LivePitch(take.sr)
    lp.push(take.samples[:30000])
    lp.reset()
    fr = lp.push(take.samples)
    assert fr.times_s[0] == pytest.approx(lp.span / 2 / take.sr)
    assert np.allclose(fr.midi, LivePitch(take.sr).push(take.samples).midi, equal_nan=True)


def test_low_and_high_notes_at_22050():
    notes = [PerformedNote(0.1, 0.7, 40), PerformedNote(0.8, 1.4, 93)]   # E2 (82 Hz), A6 (1760 Hz)
    t = render_notes(notes, program="piano", sr=22050)
    fr = LivePitch(t.sr).push(t.samples)
    for n in notes:
        steady = (fr.times_s > n.onset_s + 0.1) & (fr.times_s < n.offset_s - 0.1)
        err_c = (fr.midi[steady] - n.midi) * 100
        assert np.median(np.abs(err_c)) < 20, (n, err_c)


def test_invalid_range_is_rejected():
    with pytest.raises(ValueError):
        LivePitch(8000, fmax_hz=5000)


def test_33ms_of_audio_takes_well_under_5ms(take):
    lp = LivePitch(take.sr)
    blk = int(0.033 * take.sr)
    lp.push(take.samples[:blk * 3])                        # warm up
    times = []
    for i in range(blk * 3, len(take.samples) - blk, blk):
        t0 = time.perf_counter()
        lp.push(take.samples[i:i + blk])
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.005, f"median {np.median(times) * 1e3:.2f} ms per 33 ms block"
