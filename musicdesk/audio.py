"""Read and write audio; the `Take` type (a mono recording at a known sample rate)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

ANALYSIS_SR = 22050  # Hz; every analysis step works at this rate


class AudioError(ValueError):
    """Audio could not be read or written; the message says what to do."""


@dataclass(frozen=True)
class Take:
    """A mono recording: float32 samples in [-1, 1] at `sr` Hz."""

    samples: np.ndarray
    sr: int
    path: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sr)


SUPPORTED_AUDIO = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")


def load_take(path: str | os.PathLike, sr: int = ANALYSIS_SR) -> Take:
    """Read WAV/FLAC/OGG/MP3/AIFF at any rate and channel count; mix to mono, resample to `sr` Hz."""
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.exists(p):
        raise AudioError(f"Audio file not found: {p}")
    if os.path.isdir(p):
        raise AudioError(f"{p} is a folder, not an audio file.")
    try:
        data, file_sr = sf.read(p, dtype="float32", always_2d=True)
    except Exception as exc:
        data, file_sr = _read_with_librosa(p, exc)
    if data.size == 0:
        raise AudioError(f"{os.path.basename(p)} holds no audio samples; record or choose another take.")
    mono = data.mean(axis=1) if data.ndim == 2 else data
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{os.path.basename(p)} holds invalid samples (NaN or infinite); it is corrupt.")
    return Take(samples=resample(mono.astype(np.float32), int(file_sr), sr), sr=sr, path=p)


def _read_with_librosa(p: str, first_error: Exception) -> tuple[np.ndarray, int]:
    """Fallback for formats libsndfile cannot read (e.g. some MP3s): librosa via audioread/ffmpeg."""
    try:
        import warnings

        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, file_sr = librosa.load(p, sr=None, mono=True)
        return y.reshape(-1, 1), int(file_sr)
    except Exception:
        ext = os.path.splitext(p)[1].lower()
        hint = ("it may be damaged or not audio at all" if ext in SUPPORTED_AUDIO
                else f"supported formats are {', '.join(SUPPORTED_AUDIO)}")
        raise AudioError(f"Cannot read audio from {os.path.basename(p)}: {hint} "
                         f"({first_error}).") from first_error


def take_from_samples(samples: np.ndarray, sr: int, path: str = "", to_sr: int = ANALYSIS_SR) -> Take:
    """A Take from raw mono samples at `sr` Hz (e.g. a recording), resampled to `to_sr` Hz for analysis."""
    return Take(samples=resample(np.asarray(samples, dtype=np.float32), int(sr), int(to_sr)), sr=int(to_sr),
                path=path)


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling (soxr's high quality, as librosa's soxr_hq) from `sr_in` to `sr_out` Hz."""
    if sr_in == sr_out:
        return samples
    from musicdesk.dsp import resample as _resample

    return _resample(samples, sr_in, sr_out)


def save_take(take: Take, path: str | os.PathLike) -> None:
    """Write a take as WAV or FLAC (chosen by the file extension), 16-bit PCM for WAV."""
    import soundfile as sf

    p = os.fspath(path)
    subtype = "PCM_16" if p.lower().endswith(".wav") else None
    try:
        sf.write(p, np.clip(take.samples, -1.0, 1.0), take.sr, subtype=subtype)
    except Exception as exc:
        raise AudioError(f"Cannot write audio to {p}: {exc}") from exc
