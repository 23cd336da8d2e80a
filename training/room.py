"""A simulated room and microphone for rendered takes (training-data augmentation).

Room: convolution with a synthetic impulse response (a direct path plus exponentially decaying noise,
RT60 0.15-0.9 s, random direct-to-reverberant ratio). Microphone: a high-pass (40-150 Hz), a tilt EQ
(+-6 dB, pivot 1 kHz), white or pink noise at 20-50 dB SNR, a random gain and occasional soft clipping.
The result is peak-normalised to 0.5, float32, as long as the input.
"""
from __future__ import annotations

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import butter, fftconvolve, sosfilt

PEAK = 0.5


def impulse_response(sr: int, rng: np.random.Generator, rt60_s: float, drr_db: float) -> np.ndarray:
    """A unit direct path and a noise tail decaying 60 dB in rt60_s seconds, scaled so that direct
    energy / tail energy = drr_db; the tail starts after a 2-20 ms pre-delay and is darkened a little."""
    pre = int(rng.uniform(0.002, 0.02) * sr)
    n_tail = int(min(1.5 * rt60_s, 1.2) * sr)
    t = np.arange(n_tail) / sr
    tail = rng.standard_normal(n_tail) * np.exp(-np.log(1000.0) * t / rt60_s)
    tail = sosfilt(butter(1, rng.uniform(3000.0, 8000.0), "lowpass", fs=sr, output="sos"), tail)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(np.sum(tail ** 2), 1e-12))
    ir = np.zeros(pre + n_tail)
    ir[0] = 1.0
    ir[pre:] += tail
    return ir


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with a 1/f power spectrum."""
    m = next_fast_len(n, real=True)
    spec = rfft(rng.standard_normal(m))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = irfft(spec / np.sqrt(f), m)[:n]
    return x / max(float(np.std(x)), 1e-12)


def room(samples: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """`samples` (mono, any scale) as heard through a random room and microphone; float32, same length,
    peak 0.5. Deterministic given the state of `rng`."""
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    ir = impulse_response(sr, rng, rt60_s=float(rng.uniform(0.15, 0.9)), drr_db=float(rng.uniform(-3.0, 15.0)))
    y = fftconvolve(x, ir)[:n]
    # microphone and preamp
    y = sosfilt(butter(2, rng.uniform(40.0, 150.0), "highpass", fs=sr, output="sos"), y)
    tilt_db = float(rng.uniform(-6.0, 6.0))
    low = sosfilt(butter(1, 1000.0, "lowpass", fs=sr, output="sos"), y)
    y = low * 10.0 ** (-tilt_db / 40.0) + (y - low) * 10.0 ** (tilt_db / 40.0)
    rms = float(np.sqrt(np.mean(y ** 2)))
    if rms > 0:
        snr_db = float(rng.uniform(20.0, 50.0))
        noise = pink_noise(n, rng) if rng.random() < 0.5 else rng.standard_normal(n)
        y = y + noise * rms * 10.0 ** (-snr_db / 20.0)
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y = y / peak * 10.0 ** (rng.uniform(-12.0, 0.0) / 20.0)  # the recording level
    if rng.random() < 0.15:  # the level set too hot: soft clipping
        drive = float(rng.uniform(1.5, 4.0))
        y = np.tanh(drive * y) / np.tanh(drive)
    peak = float(np.max(np.abs(y)))
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros(n, dtype=np.float32)
    return (y * (PEAK / peak)).astype(np.float32)


def rooms_per_stem(stems, sr: int, rng: np.random.Generator) -> np.ndarray:
    """(parts, n) float32: each stem through its own `room` (players recorded apart, as Bach10's were),
    scaled back to that stem's dry peak so the balance of the parts is kept."""
    return np.stack([room(s, sr, rng) * (float(np.max(np.abs(s))) / PEAK) for s in stems])
