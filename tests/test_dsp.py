"""musicdesk.dsp and the pitch tracker's priors reproduce the librosa and scipy calls they replace
(so that the analysis imports neither librosa nor scipy), to float precision."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk import dsp


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(3 * 22050 + 123) / 22050
    x = 0.4 * np.sin(2 * np.pi * 440 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) + 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


@pytest.mark.filterwarnings("ignore:n_fft=")   # librosa warns about the short take
def test_stft_magnitude_is_librosas(signal):
    import librosa

    for y in (signal, signal[:300]):          # also a take shorter than one window
        for n_fft, hop in ((1024, 220), (512, 441)):
            ref = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True))
            got = dsp.stft_magnitude(y, n_fft, hop)
            assert got.shape == ref.shape and got.dtype == ref.dtype
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * float(ref.max()))


@pytest.mark.parametrize("sr", [16000, 22050, 44100, 48000])
def test_mel_filterbank_is_librosas(sr):
    import librosa

    ref = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=96, fmin=30.0, fmax=min(8000.0, sr / 2))
    got = dsp.mel_filterbank(sr, 1024, n_mels=96, fmin=30.0, fmax=min(8000.0, sr / 2))
    assert got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("q", [1, 2, 3, 4])
def test_decimate_is_resample_poly(signal, q):
    import scipy.signal

    for x in (signal, signal[:1001]):
        ref = scipy.signal.resample_poly(x, 1, q).astype(np.float32) if q > 1 else x
        got = dsp.decimate(x, q)
        assert got.shape == ref.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sr_in", [16000, 22050, 44100, 48000])
def test_resample_is_librosas(signal, sr_in):
    import librosa

    ref = librosa.resample(signal, orig_sr=sr_in, target_sr=22050, res_type="soxr_hq").astype(np.float32)
    got = dsp.resample(signal, sr_in, 22050)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_pitch_priors_are_scipy_stats():
    import scipy.stats

    from musicdesk import pitch_yin as py

    thr, mass = py._threshold_prior()
    edges = np.linspace(0.0, 1.0, py.N_THRESHOLDS + 1)
    np.testing.assert_allclose(thr, edges[1:])
    np.testing.assert_allclose(mass, np.diff(scipy.stats.beta.cdf(edges, *py.BETA_PARAMS)), rtol=1e-9, atol=1e-14)
    for n in (3, 50, 443):
        np.testing.assert_allclose(py._boltzmann(n), scipy.stats.boltzmann.pmf(np.arange(n), py.BOLTZMANN, n),
                                   rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", ["minimum_filter1d", "maximum_filter1d", "median_filter", "uniform_filter1d"])
@pytest.mark.parametrize("size", [1, 4, 5, 50])
def test_filters_are_scipy_ndimages(signal, name, size):
    import scipy.ndimage

    x = signal[:2000]
    ours = {"median_filter": dsp.median_filter1d}.get(name) or getattr(dsp, name)
    want = getattr(scipy.ndimage, name)(x, size, mode="nearest")
    got = ours(x, size)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    ints = np.round(x * 10).astype(np.int64)
    if name != "uniform_filter1d":
        np.testing.assert_array_equal(ours(ints, size), getattr(scipy.ndimage, name)(ints, size, mode="nearest"))


def test_next_fast_len_is_scipys():
    import scipy.fft

    assert [dsp.next_fast_len(n) for n in range(1, 3000)] == [scipy.fft.next_fast_len(n, real=True)
                                                               for n in range(1, 3000)]


def test_the_analysis_path_imports_neither_librosa_nor_scipys_modules():
    # (numba itself imports the bare scipy package, which loads none of its modules)
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from musicdesk.audio import Take\n"
            "from musicdesk.pitch import track_pitch\n"
            "t = np.arange(22050) / 22050\n"
            "track_pitch(Take((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050))\n"
            "print(sorted(m for m in ('librosa', 'scipy.fft', 'scipy.ndimage', 'scipy.signal', 'scipy.special', "
            "'scipy.stats', 'torch') if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_stft_blocks_equal_the_whole_stft():
    from musicdesk.dsp import stft_magnitude, stft_magnitude_blocks

    y = np.random.default_rng(1).standard_normal(22050 * 3 + 123).astype(np.float32)
    whole = stft_magnitude(y, 2048, 220)
    parts = np.concatenate([b for _, b in stft_magnitude_blocks(y, 2048, 220, block=100)], axis=1)
    assert parts.shape == whole.shape and np.allclose(parts, whole, atol=1e-4)


def test_small_median_equals_numpy_median():
    rng = np.random.default_rng(7)
    for n in range(1, 12):
        for _ in range(20):
            v = rng.normal(size=n).tolist()
            assert dsp.small_median(v) == float(np.median(v))
