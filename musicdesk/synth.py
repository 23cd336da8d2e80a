"""Render notes to audio with FluidSynth and a General MIDI soundfont.

Used for the reference playback of a score, for the tests (takes with known, injected errors) and for
making training data. Detuned notes are rendered with a pitch bend, so a note can be made exactly
N cents sharp or flat.
"""
from __future__ import annotations

import functools
import glob
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from musicdesk.audio import ANALYSIS_SR, Take

SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/local/share/soundfonts")
PREFERRED_SOUNDFONTS = ("FluidR3_GM.sf2", "TimGM6mb.sf2", "MuseScore_General.sf2", "MuseScore_General.sf3")
PITCH_BEND_RANGE_SEMITONES = 2.0  # General MIDI default

# General MIDI programs (0-based) of instruments we render often.
GM_PROGRAMS = {
    "piano": 0, "violin": 40, "viola": 41, "cello": 42, "trumpet": 56, "trombone": 57,
    "alto_sax": 65, "tenor_sax": 66, "oboe": 68, "bassoon": 70, "clarinet": 71, "flute": 73,
    "recorder": 74, "voice_oohs": 53,
}


class SynthError(RuntimeError):
    """Audio could not be rendered (no soundfont, no FluidSynth)."""


@dataclass(frozen=True)
class PerformedNote:
    """A note as played: times in seconds, sounding MIDI pitch, detuning in cents."""

    onset_s: float
    offset_s: float
    midi: int
    cents: float = 0.0
    velocity: int = 90


def available_soundfonts() -> list[str]:
    """Paths of installed General MIDI soundfonts, preferred ones first."""
    found: list[str] = []
    for d in SOUNDFONT_DIRS:
        found.extend(sorted(glob.glob(os.path.join(d, "*.sf[23]"))))
    rank = {name: i for i, name in enumerate(PREFERRED_SOUNDFONTS)}
    found = list(dict.fromkeys(os.path.realpath(p) for p in found))
    return sorted(found, key=lambda p: rank.get(os.path.basename(p), len(rank)))


def default_soundfont() -> str:
    fonts = available_soundfonts()
    if not fonts:
        raise SynthError(
            "No General MIDI soundfont found; install one, e.g. `apt-get install fluid-soundfont-gm`.")
    return fonts[0]


_SYNTHS: dict[tuple[str, int], tuple[object, int]] = {}
_CHANNELS = [c for c in range(16) if c != 9]  # channel 10 (index 9) is drums in General MIDI


def _synth(sf2: str, sr: int):
    """One FluidSynth instance per (soundfont, rate), kept for the process: loading a soundfont is slow."""
    key = (sf2, sr)
    if key not in _SYNTHS:
        try:
            import fluidsynth
        except Exception as exc:  # pyfluidsynth missing or libfluidsynth not installed
            raise SynthError(f"FluidSynth is not available ({exc}); install `fluidsynth`.") from exc
        # Reverb and chorus off: their tails and LFOs carry state from one render to the next, and a
        # render must depend on its notes only (tests compare against known truth). Rooms are simulated
        # separately where wanted.
        fs = fluidsynth.Synth(samplerate=float(sr), gain=0.5,
                              **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        sfid = fs.sfload(sf2)
        if sfid < 0:
            raise SynthError(f"Cannot load soundfont {sf2}.")
        _SYNTHS[key] = (fs, sfid)
        _RENDERED[key] = 0
    return _SYNTHS[key]


_RENDERED: dict[tuple[str, int], int] = {}  # samples rendered so far per synth
_BLOCK = 64  # FluidSynth renders in blocks of 64 samples and applies events at block boundaries


@functools.cache
def _write_float():
    """libfluidsynth's fluid_synth_write_float, typed (None where the library lacks it)."""
    import ctypes

    import fluidsynth

    f = getattr(getattr(fluidsynth, "_fl", None), "fluid_synth_write_float", None)
    if f is not None:
        f.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        f.restype = ctypes.c_int
    return f


def _get(fs, key: tuple[str, int], n: int) -> np.ndarray:
    """Render n mono samples, keeping count (see `_align_block`). As floats, not pyfluidsynth's 16-bit
    samples: FluidSynth dithers those with one table it steps through render after render, so two
    renders shared the same noise a lag apart, which a whitened cross-correlation (the minus-one echo
    search) found as sharply as the echo itself (peaks of 0.07-0.08 against the echo's 0.01, in 3 of
    5 takes rendered after the accompaniment)."""
    _RENDERED[key] += n
    write = _write_float()
    if write is None:               # (an old pyfluidsynth: the dithered 16-bit samples, scale aside)
        return np.asarray(fs.get_samples(n)[::2], dtype=np.float64)
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    write(fs.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
    return left.astype(np.float64)


def _align_block(fs, key: tuple[str, int]) -> None:
    """Render silence up to a block boundary, so every render sees its events at the same block phase
    and the same notes always give the same samples."""
    rest = (-_RENDERED[key]) % _BLOCK
    if rest:
        _get(fs, key, rest)


def render_notes(notes: Sequence[PerformedNote], program: int | str = "clarinet",
                 sr: int = ANALYSIS_SR, soundfont: str | None = None,
                 tail_s: float = 0.5, lead_s: float = 0.0, modulation: int = 0) -> Take:
    """Render `notes` with one General MIDI `program` to a mono Take (peak normalised to 0.5).

    `modulation` (0-127) sets the modulation wheel (General MIDI controller 1), which gives most of the
    soundfonts' sustained instruments a vibrato.

    `lead_s` seconds of silence are put before time 0 of the notes (their times shift by it). Each note
    gets its own channel in turn, so a pitch bend (detuning) affects that note only.
    """
    if isinstance(program, str):
        program = GM_PROGRAMS[program]
    skey = (soundfont or default_soundfont(), sr)
    fs, sfid = _synth(*skey)
    fs.system_reset()
    for ch in _CHANNELS:
        fs.program_select(ch, sfid, 0, int(program))
        if modulation:
            fs.cc(ch, 1, int(np.clip(modulation, 0, 127)))
    # Events: (time_s, order, kind, channel, key, value); note-offs sort before note-ons at equal times.
    events: list[tuple[float, int, str, int, int, int]] = []
    for i, n in enumerate(sorted(notes, key=lambda n: n.onset_s)):
        if not n.offset_s > n.onset_s:  # its note-off would come first and leave the note ringing
            raise ValueError(f"A note must end after it starts (onset {n.onset_s} s, offset {n.offset_s} s).")
        ch = _CHANNELS[i % len(_CHANNELS)]
        on, off = float(n.onset_s) + lead_s, float(n.offset_s) + lead_s
        bend = int(round(n.cents / (100.0 * PITCH_BEND_RANGE_SEMITONES) * 8192))
        events.append((max(0.0, on - 1e-3), 1, "bend", ch, 0, max(-8192, min(8191, bend))))
        events.append((on, 2, "on", ch, int(n.midi), int(n.velocity)))
        events.append((off, 0, "off", ch, int(n.midi), 0))
    events.sort(key=lambda e: (e[0], e[1]))
    _align_block(fs, skey)
    end_s = max((n.offset_s for n in notes), default=0.0) + lead_s + tail_s
    total = int(np.ceil(end_s * sr))
    out = np.zeros(total, dtype=np.float64)
    pos = 0
    for t, _, kind, ch, key, val in events:
        at = min(total, int(round(t * sr)))
        if at > pos:
            out[pos:at] = _get(fs, skey, at - pos)
            pos = at
        if kind == "on":
            fs.noteon(ch, key, val)
        elif kind == "off":
            fs.noteoff(ch, key)
        else:
            fs.pitch_bend(ch, val)
    if total > pos:
        out[pos:] = _get(fs, skey, total - pos)
    fs.system_reset()
    _get(fs, skey, int(0.5 * sr))  # let reverb tails die before the next render
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    if peak > 0:
        out *= 0.5 / peak
    return Take(samples=out.astype(np.float32), sr=sr, path="")
