"""Monophonic melodies for the simulated student: folk tunes from music21's corpus and generated etudes.

Folk tunes come from music21's ABC folk corpora (Essen folksongs, Ryan's Mammoth Collection, O'Neill's
1850). Each file is split into its tunes (``X:`` fields) and every tune is parsed on its own with
music21, so a subset can be drawn without parsing whole opuses. Parsed tunes (and failures) are cached
as JSON in training/cache/melodies.json; later loads only parse what is not cached yet.

Times are in quarter-note beats. Pitches are sounding MIDI numbers as written in the tune; the student
transposes by octaves into its instrument's range. Repeats are not expanded; the tune is played as
written, once or several times in a row (`fit_to_duration`).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

SOURCES = ("essenFolksong", "ryansMammoth", "oneills1850")
DEFAULT_CACHE = Path(__file__).resolve().parent / "cache" / "melodies.json"
CACHE_VERSION = 1
MIN_NOTES = 16
MAX_SPAN_SEMITONES = 36   # wider than this is not a melody for one instrument (a parse problem)
_EPS = 1e-6


@dataclass(frozen=True)
class Melody:
    """A monophonic melody: sounding MIDI pitches with onsets and durations in quarter-note beats.

    Onsets start at 0 and increase; a note never lasts past the next onset; gaps are rests.
    beats_per_measure: quarter notes per measure (4.0 when the tune has no meter).
    offset_in_measure: quarter notes from the start of the first measure to the first note (a pickup
    leaves the rest of its measure before it).
    """

    id: str
    source: str
    midi: list[int]
    onset_beats: list[float]
    duration_beats: list[float]
    beats_per_measure: float
    offset_in_measure: float = 0.0

    @property
    def n_notes(self) -> int:
        return len(self.midi)

    @property
    def end_beats(self) -> float:
        """Quarter notes from the first onset to the end of the last note."""
        return max(o + d for o, d in zip(self.onset_beats, self.duration_beats)) if self.midi else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Melody":
        return Melody(d["id"], d["source"], [int(m) for m in d["midi"]], [float(x) for x in d["onset_beats"]],
                      [float(x) for x in d["duration_beats"]], float(d["beats_per_measure"]),
                      float(d.get("offset_in_measure", 0.0)))


def split_of(melody_id: str) -> str:
    """'train', 'val' or 'test' (about 80/10/10) by a stable hash of the melody id."""
    h = int.from_bytes(hashlib.sha1(melody_id.encode("utf-8")).digest()[:8], "big") % 100
    return "train" if h < 80 else ("val" if h < 90 else "test")


# ----------------------------------------------------------------------------------------------------
# folk tunes from music21's corpus


def corpus_dir(source: str) -> Path:
    """Folder of one of music21's bundled corpora (e.g. 'essenFolksong')."""
    import music21

    return Path(music21.__file__).resolve().parent / "corpus" / source


def list_tunes(source: str) -> list[tuple[str, str]]:
    """(id, ABC text) of every tune of a corpus, in file order. id = 'source:file-stem:k' (k 0-based
    within the file)."""
    out: list[tuple[str, str]] = []
    for path in sorted(corpus_dir(source).glob("*.abc")):
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks = re.split(r"(?m)^(?=X:)", text)
        tunes = [c for c in chunks if c.startswith("X:")]
        out.extend((f"{source}:{path.stem}:{k}", t) for k, t in enumerate(tunes))
    return out


def parse_abc_tune(text: str, melody_id: str, source: str) -> Melody | None:
    """One ABC tune as a Melody, or None if it fails to parse or is no usable melody.

    Flattens the first part, keeps the top note of each onset, merges tied notes, drops grace notes and
    chord symbols, and cuts every note at the next onset.
    """
    from music21 import chord, converter, harmony, meter, note, stream

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = converter.parseData(text, format="abc")
            if isinstance(s, stream.Opus):
                s = s.scores[0]
            parts = list(s.parts) or [s]
            part = parts[0]
            ts = part.recurse().getElementsByClass(meter.TimeSignature).first()
            bpm = float(ts.barDuration.quarterLength) if ts is not None else 4.0
            first_measure = part.getElementsByClass(stream.Measure).first()
            pad = float(first_measure.paddingLeft) if first_measure is not None else 0.0
            by_onset: dict[float, tuple[int, float, str | None]] = {}
            n_chords = n_single = 0
            for el in part.flatten().notes:
                if isinstance(el, harmony.Harmony):
                    continue
                ql = float(el.duration.quarterLength)
                if ql <= _EPS or el.duration.isGrace:
                    continue
                if isinstance(el, chord.Chord):
                    if not el.pitches:
                        continue
                    top, n_chords = max(int(p.midi) for p in el.pitches), n_chords + 1
                elif isinstance(el, note.Note):
                    top, n_single = int(el.pitch.midi), n_single + 1
                else:
                    continue
                on = round(float(el.offset), 6)
                tie = el.tie.type if el.tie is not None else None
                if on not in by_onset or top > by_onset[on][0]:
                    by_onset[on] = (top, ql, tie)
    except Exception:  # music21 raises many kinds on odd ABC
        return None
    if n_single == 0 or n_chords > n_single:
        return None
    midi: list[int] = []
    onsets: list[float] = []
    durs: list[float] = []
    for on in sorted(by_onset):
        m, ql, tie = by_onset[on]
        if tie in ("stop", "continue") and midi and midi[-1] == m and abs(onsets[-1] + durs[-1] - on) < 1e-3:
            durs[-1] += ql
            continue
        midi.append(m)
        onsets.append(on)
        durs.append(ql)
    for i in range(len(onsets) - 1):
        durs[i] = min(durs[i], onsets[i + 1] - onsets[i])
    if len(midi) < MIN_NOTES or max(midi) - min(midi) > MAX_SPAN_SEMITONES or not (0 < bpm <= 16):
        return None
    t0 = onsets[0]
    return Melody(melody_id, source, midi, [round(o - t0, 6) for o in onsets], [round(d, 6) for d in durs],
                  bpm, round((pad + t0) % bpm, 6))


def _read_cache(path: Path) -> dict[str, dict | None]:
    try:
        data = json.loads(path.read_text())
        return data["tunes"] if data.get("version") == CACHE_VERSION else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_cache(path: Path, tunes: dict[str, dict | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": CACHE_VERSION, "tunes": tunes}, separators=(",", ":")))
    os.replace(tmp, path)


def load_melodies(max_per_source: int | None = None, seed: int = 0, *,
                  sources: Iterable[str] = SOURCES, cache_path: str | os.PathLike | None = DEFAULT_CACHE,
                  progress: Callable[[str], None] | None = None) -> list[Melody]:
    """Usable folk melodies, at most `max_per_source` of each corpus (all if None).

    Each corpus's tunes are visited in an order shuffled by `seed` until enough parse; the same
    (max_per_source, seed) always gives the same melodies. Parsing costs about 20-80 ms a tune (all
    ~13,400 tunes: several minutes); results are cached at `cache_path` (None: no cache).
    """
    cache_file = Path(cache_path) if cache_path is not None else None
    cache = _read_cache(cache_file) if cache_file is not None else {}
    n_new = 0
    out: list[Melody] = []
    for source in sources:
        tunes = list_tunes(source)
        order = np.random.default_rng(seed).permutation(len(tunes))
        got = 0
        for i in order:
            if max_per_source is not None and got >= max_per_source:
                break
            tid, text = tunes[int(i)]
            if tid not in cache:
                mel = parse_abc_tune(text, tid, source)
                cache[tid] = mel.to_dict() if mel is not None else None
                n_new += 1
                if cache_file is not None and n_new % 500 == 0:
                    _write_cache(cache_file, cache)
                    if progress is not None:
                        progress(f"parsed {n_new} tunes")
            if cache[tid] is not None:
                out.append(Melody.from_dict(cache[tid]))
                got += 1
    if cache_file is not None and n_new:
        _write_cache(cache_file, cache)
    return out


# ----------------------------------------------------------------------------------------------------
# generated etudes (scales and broken chords, as in school band audition etudes)

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11), "natural_minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "lydian": (0, 2, 4, 6, 7, 9, 11), "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
# Rhythm cells in quarter-note beats, each filling whole beats; applied in turn to a pattern's notes.
RHYTHM_CELLS = (
    (1.0,), (0.5, 0.5), (0.75, 0.25), (1.5, 0.5), (1 / 3, 1 / 3, 1 / 3), (1.0, 0.5, 0.5), (0.5, 0.5, 1.0),
    (0.25, 0.25, 0.25, 0.25), (2.0,),
)


def _pattern(kind: str, octaves: int) -> list[int]:
    """Scale degrees (0 = tonic, 7 = tonic an octave up) of one figure, up and back down."""
    top = 7 * octaves
    if kind == "scale":
        up = list(range(0, top + 1))
    elif kind == "arpeggio":
        up = [d for d in range(0, top + 1) if d % 7 in (0, 2, 4)]
    elif kind == "thirds":
        up = [x for d in range(0, top - 1) for x in (d, d + 2)] + [top]
    else:  # "broken_chords": a triad on each degree
        up = [x for d in range(0, top - 3) for x in (d, d + 2, d + 4)] + [top]
    up = [d for i, d in enumerate(up) if i == 0 or d != up[i - 1]]
    return up + up[-2::-1]


def _degree_midi(tonic: int, steps: tuple[int, ...], d: int) -> int:
    return tonic + 12 * (d // 7) + steps[d % 7]


def generated_etudes(n: int, seed: int = 0) -> list[Melody]:
    """`n` scale and arpeggio etudes in random keys and modes (4/4), ids 'etude-<k>'.

    Each is 3-6 figures (scale, arpeggio, broken thirds, broken chords over 1-2 octaves, up and down)
    with mixed rhythms (quarters, eighths, dotted, triplets, sixteenths), a long note closing each
    figure and sometimes a rest between figures.
    """
    out: list[Melody] = []
    for k in range(n):
        rng = np.random.default_rng([seed, 7919, k])
        steps = MODES[list(MODES)[int(rng.integers(len(MODES)))]]
        tonic = int(rng.integers(55, 67))
        midi: list[int] = []
        onsets: list[float] = []
        durs: list[float] = []
        t = 0.0
        for _ in range(int(rng.integers(3, 7))):
            kind = ("scale", "arpeggio", "thirds", "broken_chords")[int(rng.integers(4))]
            degrees = _pattern(kind, int(rng.integers(1, 3)))
            if rng.random() < 0.3:  # start from the top: down then up
                half = len(degrees) // 2
                degrees = degrees[half:] + degrees[1:half + 1]
            cell = RHYTHM_CELLS[int(rng.integers(len(RHYTHM_CELLS) - 1))]  # long notes close figures
            for i, d in enumerate(degrees):
                last = i == len(degrees) - 1
                dur = float(rng.choice([2.0, 3.0, 4.0])) if last else cell[i % len(cell)]
                if not last and i % len(cell) == len(cell) - 1 and rng.random() < 0.15:
                    cell = RHYTHM_CELLS[int(rng.integers(len(RHYTHM_CELLS) - 1))]  # change rhythm mid-figure
                midi.append(_degree_midi(tonic, steps, d))
                onsets.append(round(t, 6))
                durs.append(round(dur, 6))
                t += dur
            t = math.ceil(t - _EPS)  # the next figure starts on a beat
            if rng.random() < 0.4:
                t += float(rng.choice([1.0, 2.0]))  # a rest
        out.append(Melody(f"etude-{k}", "etude", midi, onsets, durs, 4.0, 0.0))
    return out


# ----------------------------------------------------------------------------------------------------
# length of a take


def fit_to_duration(melody: Melody, tempo_bpm: float, min_s: float = 25.0, max_s: float = 70.0) -> Melody:
    """The melody played long enough for a take of about min_s..max_s seconds at `tempo_bpm`.

    A short tune is repeated as a whole (each pass starts at the next measure, as a player repeats a
    section); a long one is cut at the last bar line (else note boundary) that keeps it under max_s.
    """
    spb = 60.0 / tempo_bpm
    bpm = melody.beats_per_measure
    # one pass, rounded up to whole measures counted from the first bar line
    span = math.ceil((melody.end_beats + melody.offset_in_measure) / bpm - 1e-3) * bpm - melody.offset_in_measure
    dur_s = melody.end_beats * spb
    if dur_s < min_s:
        reps = max(1, math.ceil((min_s - dur_s) / (span * spb)) + 1)
        while reps > 1 and ((reps - 1) * span + melody.end_beats) * spb > max_s:
            reps -= 1
        if reps == 1:
            return melody
        return replace(
            melody,
            midi=melody.midi * reps,
            onset_beats=[round(o + r * span, 6) for r in range(reps) for o in melody.onset_beats],
            duration_beats=melody.duration_beats * reps,
        )
    if dur_s <= max_s:
        return melody
    limit = max_s / spb
    ends = [o + d for o, d in zip(melody.onset_beats, melody.duration_beats)]
    keep = [i for i in range(melody.n_notes) if ends[i] <= limit + _EPS]
    n_keep = len(keep)
    # prefer to stop before a note that starts a measure, if that keeps at least min_s
    for cut in range(n_keep, MIN_NOTES - 1, -1):
        if melody.onset_beats[cut - 1] * spb < min_s:
            break
        if cut < melody.n_notes:
            pos = (melody.onset_beats[cut] + melody.offset_in_measure) / bpm
            if abs(pos - round(pos)) < 1e-3:
                n_keep = cut
                break
    n_keep = max(n_keep, min(MIN_NOTES, melody.n_notes))
    return replace(melody, midi=melody.midi[:n_keep], onset_beats=melody.onset_beats[:n_keep],
                   duration_beats=melody.duration_beats[:n_keep])
