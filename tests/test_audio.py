"""Reading takes in every supported format, at any rate and channel count; bad audio gives AudioError."""
import numpy as np
import pytest
import soundfile as sf

from musicdesk.audio import ANALYSIS_SR, AudioError, Take, load_take, save_take


def tone(sr, seconds=1.0, f0_hz=440.0, channels=2):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * f0_hz * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def dominant_hz(take: Take) -> float:
    spec = np.abs(np.fft.rfft(take.samples * np.hanning(len(take.samples))))
    return float(np.argmax(spec) * take.sr / len(take.samples))


@pytest.mark.parametrize("ext,fmt,sub", [(".wav", "WAV", "PCM_16"), (".flac", "FLAC", "PCM_24"),
                                         (".ogg", "OGG", "VORBIS"), (".mp3", "MP3", "MPEG_LAYER_III")])
def test_formats_rates_channels(tmp_path, ext, fmt, sub):
    path = tmp_path / f"a{ext}"
    sf.write(path, tone(44100, channels=2), 44100, format=fmt, subtype=sub)
    take = load_take(path)
    assert take.sr == ANALYSIS_SR and take.samples.ndim == 1 and take.samples.dtype == np.float32
    assert take.duration_s == pytest.approx(1.0, abs=0.06)  # mp3 pads a few ms
    assert dominant_hz(take) == pytest.approx(440.0, abs=2.0)


def test_mono_48k_and_custom_rate(tmp_path):
    path = tmp_path / "m.wav"
    sf.write(path, tone(48000, channels=1), 48000)
    assert load_take(path, sr=16000).sr == 16000
    assert len(load_take(path, sr=16000).samples) == 16000


def test_round_trip(tmp_path):
    take = Take(samples=tone(ANALYSIS_SR, channels=1).astype(np.float32), sr=ANALYSIS_SR)
    save_take(take, tmp_path / "r.flac")
    back = load_take(tmp_path / "r.flac")
    assert np.max(np.abs(back.samples - take.samples)) < 1e-3


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 3, b"not audio at all" * 100])
def test_corrupt_audio_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as e:
        load_take(path)
    assert "bad.wav" in str(e.value)


def test_missing_and_folder(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_take(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="folder"):
        load_take(tmp_path)


def test_empty_wav_is_an_error(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1)), 44100)
    with pytest.raises(AudioError, match="no audio"):
        load_take(path)


def test_truncated_flac_keeps_what_is_readable_or_says_why(tmp_path):
    path = tmp_path / "t.flac"
    sf.write(path, tone(44100, seconds=2.0, channels=1), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        take = load_take(path)
    except AudioError as e:
        assert "t.flac" in str(e)
    else:
        assert 0.3 < take.duration_s <= 2.0
