"""Small signal helpers in plain numpy (plus soxr), equal to what librosa and scipy.signal compute.

The analysis path uses only these few pieces of librosa and scipy.signal, whose imports alone take
about 1.5 s and 0.6 s in a fresh process (2-core CPU); these take milliseconds to import. Each
function names the call it reproduces; tests/test_dsp.py checks them against it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def hann_periodic(n: int) -> np.ndarray:
    """The periodic ("fftbins") Hann window of n samples, as scipy.signal.get_window("hann", n)."""
    if n == 1:
        return np.ones(1)
    fac = np.linspace(-np.pi, np.pi, n + 1)   # scipy's general_cosine over n + 1 points, truncated
    w = np.zeros(n + 1)
    w += 0.5 * np.cos(0 * fac)
    w += 0.5 * np.cos(fac)
    return w[:-1]


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| (1 + n_fft // 2, 1 + len(y) // hop), float32, of centred frames with zero padding and a
    periodic Hann window: np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) for float32 `y`."""
    y = np.asarray(y, dtype=np.float32)
    pad = n_fft // 2
    yp = np.pad(y, (pad, pad))
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]     # (T, n_fft) view
    win = hann_periodic(n_fft)
    out = np.empty((1 + n_fft // 2, len(frames)), dtype=np.complex64, order="F")
    block = max(1, (1 << 16) // n_fft)           # frames per FFT call: small blocks stay in the cache
    for s in range(0, len(frames), block):
        # as librosa: the window (float64) times the frames, numpy's FFT, stored as complex64
        out[:, s:s + block] = np.fft.rfft(frames[s:s + block] * win, axis=-1).T
    return np.abs(out)


def stft_magnitude_blocks(y: np.ndarray, n_fft: int, hop: int, block: int = 4096):
    """The frames of `stft_magnitude(y, n_fft, hop)`, `block` frames at a time: yields (first frame,
    (1 + n_fft // 2, frames) float32), so a long recording never holds its whole spectrogram."""
    y = np.asarray(y, dtype=np.float32)
    pad = n_fft // 2
    yp = np.pad(y, (pad, pad))
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]
    win = hann_periodic(n_fft)
    for f0 in range(0, len(frames), block):
        fr = frames[f0:f0 + block]
        yield f0, np.abs(np.fft.rfft(fr * win, axis=-1).T.astype(np.complex64))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa.hz_to_mel."""
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    if f.ndim:
        hi = f >= min_log_hz
        mels[hi] = min_log_mel + np.log(f[hi] / min_log_hz) / logstep
    elif f >= min_log_hz:
        mels = min_log_mel + np.log(f / min_log_hz) / logstep
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    hi = m >= min_log_mel
    freqs[hi] = min_log_hz * np.exp(logstep * (m[hi] - min_log_mel))
    return freqs


def mel_filterbank(sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None
                   ) -> np.ndarray:
    """Slaney-normalised triangular mel filters (n_mels, 1 + n_fft // 2), float32:
    librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax). Frequencies in Hz."""
    fmax = float(sr) / 2 if fmax is None else fmax
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


def _kaiser_lowpass(numtaps: int, cutoff: float, beta: float = 5.0) -> np.ndarray:
    """Linear-phase low-pass FIR (cutoff relative to Nyquist), unit gain at DC:
    scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))."""
    m = np.arange(numtaps) - 0.5 * (numtaps - 1)
    h = cutoff * np.sinc(cutoff * m)
    h *= np.kaiser(numtaps, beta)
    return h / np.sum(h)


def decimate(x: np.ndarray, q: int) -> np.ndarray:
    """Zero-phase low-pass and downsample float32 `x` by the integer q (no delay):
    scipy.signal.resample_poly(x, 1, q) for float32 input, to the last bit."""
    x = np.asarray(x, dtype=np.float32)
    if q == 1:
        return x.copy()
    half = 10 * q
    h = _kaiser_lowpass(2 * half + 1, 1.0 / q).astype(np.float32)
    pre = q - half % q                      # resample_poly's zero padding in front of the filter
    hp = np.concatenate([np.zeros(pre, np.float32), h])
    n_out = -(-len(x) // q)
    first = (half + pre) // q               # outputs resample_poly drops from the front
    # y[i] = sum_k hp[k] x[(first + i) q - k], summed over k from the last tap down, as upfirdn does
    L = len(hp)
    xp = np.concatenate([np.zeros(L, np.float32), x, np.zeros(L + q * (first + n_out) - len(x), np.float32)])
    y = np.zeros(n_out, np.float32)
    for k in range(L - 1, -1, -1):
        if hp[k] != 0.0:
            s = L + first * q - k
            y += hp[k] * xp[s:s + q * n_out:q]
    return y


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling with soxr (high quality) to ceil(len(x) * sr_out / sr_in) samples:
    librosa.resample(x, orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq") for 1-D float32 `x`."""
    import soxr

    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out:
        return x
    n = int(np.ceil(len(x) * (float(sr_out) / sr_in)))
    y = soxr.resample(x, sr_in, sr_out, quality="soxr_hq")
    y = y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))
    return np.asarray(y, dtype=np.float32)


def next_fast_len(n: int) -> int:
    """The smallest 5-smooth length >= n, a fast real FFT size (scipy.fft.next_fast_len(n, real=True),
    without importing scipy.fft, which costs a fresh command about 0.16 s)."""
    m = max(1, int(n))
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def _windows_nearest(x: np.ndarray, size: int) -> np.ndarray:
    """(len(x), size) views of x's windows, edges repeated, centred as scipy.ndimage centres them
    (origin 0: the window of sample i starts at i - size // 2)."""
    x = np.asarray(x)
    left = size // 2
    padded = np.pad(x, (left, size - 1 - left), mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, size)


def minimum_filter1d(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.minimum_filter1d(x, size, mode="nearest")."""
    return _windows_nearest(x, size).min(axis=1)


def maximum_filter1d(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.maximum_filter1d(x, size, mode="nearest")."""
    return _windows_nearest(x, size).max(axis=1)


def median_filter1d(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.median_filter(x, size, mode="nearest") for a 1-D x (for an even size, as scipy, the
    upper of the two middle values)."""
    return np.partition(_windows_nearest(x, size), size // 2, axis=1)[:, size // 2]


def uniform_filter1d(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.uniform_filter1d(x, size, mode="nearest"): the moving mean, summed in float64."""
    x = np.asarray(x)
    return _windows_nearest(x.astype(np.float64), size).mean(axis=1).astype(x.dtype)


def small_median(v: Sequence[float]) -> float:
    """The median of a short sequence of floats, as np.median gives it (the mean of the middle two for
    an even count), computed on plain floats: np.median costs far more on a handful of values."""
    v = sorted(v)
    h = len(v) // 2
    return float(v[h]) if len(v) % 2 else 0.5 * (v[h - 1] + v[h])
