"""Melodies from and to files: MusicXML (.musicxml, .xml, .mxl), MIDI (.mid, .midi) and ABC (.abc).

Reading goes through musicdesk.score, so a file is parsed, and its part chosen and named, exactly as
the practice screen does it, with the same messages for bad files (one part; ties merged; chords and
overlapping notes reduced to the highest sounding note by the same skyline, with a warning; grace
notes dropped); MIDI notes are then read from pretty_midi's exact ticks. The tune is read as written:
repeats are not played out. A pickup becomes the end of measure 0. One meter for the whole tune (a
change of meter is refused with a message).
Writing: MusicXML through music21, MIDI through pretty_midi, ABC by hand (music21 reads ABC but does not
write it): the unit length L:1/48 makes every tick of the grid a whole number of units.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

from musicdesk.melody.tokens import Melody, MelodyError, Note, fit_range, measure_ticks_for
from musicdesk.score import DEFAULT_TEMPO_BPM

READ_SUFFIXES = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".abc")
WRITE_SUFFIXES = READ_SUFFIXES


def load_melody(path: str | os.PathLike, part: str | int | None = None) -> Melody:
    """The melody of one part of a score file (default: the first part with notes), moved by octaves
    into the models' range if needed. MelodyError with a message that says what to do otherwise.
    The file is read, and the part chosen and named, as the practice screen does (musicdesk.score)."""
    from musicdesk.score import ScoreError, written_part

    p = Path(path)
    if p.suffix.lower() not in READ_SUFFIXES:
        raise MelodyError(f"{p.name}: not a melody file musicdesk reads (MusicXML, MXL, MIDI or ABC).")
    if not p.is_file():
        raise MelodyError(f"{p}: no such file.")
    try:
        wp = written_part(p, part)
    except ScoreError as exc:
        raise MelodyError(str(exc)) from None
    if wp.midi_track is not None:
        return _melody_from_midi(wp.midi, wp.midi_track, p)
    return _melody_of(wp.part, wp.score, p, wp.title)


def _melody_from_midi(pm, inst, p: Path) -> Melody:
    """MIDI through pretty_midi (exact ticks; music21's MIDI import rounds triplets away)."""
    if inst.is_drum:
        raise MelodyError(f"{p.name}: track {inst.name.strip() or '?'} is a drum track; choose a melody part.")
    sigs = {(ts.numerator, ts.denominator) for ts in pm.time_signature_changes}
    if len(sigs) > 1:
        raise MelodyError(f"{p.name} changes meter; the melody lab needs one meter for the whole tune.")
    num, den = next(iter(sigs)) if sigs else (4, 4)
    bar = 4 * num / den
    measure_ticks_for(bar)

    def beats(t: float) -> float:
        return float(Fraction(pm.time_to_tick(t), pm.resolution).limit_denominator(48))

    raw = sorted((beats(n.start), beats(n.end), n.pitch) for n in inst.notes)
    notes, chords = _monophonic([Note(m, a, b - a) for a, b, m in raw if b > a])
    _, tempi = pm.get_tempo_changes()
    warnings = (f"{chords} chords or overlapping notes reduced to their top note",) if chords else ()
    end = max(n.offset_beats for n in notes)
    mel = Melody(tuple(notes), bar, max(1, math.ceil(end / bar - 1e-6)), f"{num}/{den}",
                 inst.name.strip() or p.stem, round(float(tempi[0]), 3) if len(tempi) else DEFAULT_TEMPO_BPM,
                 warnings)
    return fit_range(mel)


def _monophonic(notes: list[Note]) -> tuple[list[Note], int]:
    """One note at a time, the highest sounding (musicdesk.score's skyline, as the practice screen
    reads a part); also how many notes were dropped or cut for it."""
    from musicdesk.score import skyline_spans

    srt = sorted(notes, key=lambda x: (x.onset_beats, -x.midi))
    keep, durs, dropped, cut = skyline_spans([(n.onset_beats, n.duration_beats, n.midi) for n in srt])
    return [Note(srt[i].midi, srt[i].onset_beats, d) for i, d in zip(keep, durs)], dropped + cut


def _melody_of(part, score, path: Path, title: str | None = None) -> Melody:
    import music21 as m21

    warnings: list[str] = []
    sigs = {(ts.numerator, ts.denominator) for ts in part.recurse().getElementsByClass(m21.meter.TimeSignature)}
    if len(sigs) > 1:
        raise MelodyError(f"{path.name} changes meter ({', '.join(f'{a}/{b}' for a, b in sorted(sigs))}); the "
                          f"melody lab needs one meter for the whole tune.")
    num, den = next(iter(sigs)) if sigs else (4, 4)
    bar = Fraction(4 * num, den)
    measure_ticks_for(float(bar))       # refuses meters longer than 4 quarter beats
    flat = part.stripTies().flatten()
    measures = list(part.getElementsByClass(m21.stream.Measure))
    pad = Fraction(0)
    if measures:
        first = measures[0]
        got = Fraction(first.duration.quarterLength).limit_denominator(48)
        if 0 < got < bar:
            pad = bar - got            # a pickup: it ends measure 0
    notes: list[Note] = []
    chords = 0
    for el in flat.notes:
        if el.duration.isGrace or el.duration.quarterLength == 0:
            continue
        if isinstance(el, m21.chord.Chord):
            chords += 1
            midi = max(pp.midi for pp in el.pitches)
        else:
            midi = el.pitch.midi
        on = Fraction(el.offset).limit_denominator(48) + pad
        dur = Fraction(el.duration.quarterLength).limit_denominator(48)
        notes.append(Note(int(midi), float(on), float(dur)))
    mono, together = _monophonic(notes)
    chords += together
    if chords:
        warnings.append(f"{chords} chords or overlapping notes reduced to their top note")
    end = max((n.offset_beats for n in mono), default=float(bar))
    n_measures = max(1, math.ceil(end / float(bar) - 1e-6))
    tempo = DEFAULT_TEMPO_BPM
    marks = list(score.recurse().getElementsByClass(m21.tempo.MetronomeMark))
    if marks and marks[0].getQuarterBPM():
        tempo = float(marks[0].getQuarterBPM())
    title = title or (score.metadata.bestTitle if score.metadata is not None else "") or path.stem
    mel = Melody(tuple(mono), float(bar), n_measures, f"{num}/{den}", title, tempo, tuple(warnings), pickup=pad > 0)
    return fit_range(mel)


def save_melody(melody: Melody, path: str | os.PathLike) -> Path:
    """Write the melody as MusicXML, MIDI or ABC by the file's suffix; returns the path."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise MelodyError(f"{p.name}: write .musicxml, .xml, .mxl, .mid or .abc.")
    if suffix in (".mid", ".midi"):
        _write_midi(melody, p)
    elif suffix == ".abc":
        p.write_text(to_abc(melody), encoding="utf-8")
    else:
        _stream(melody).write("mxl" if suffix == ".mxl" else "musicxml", fp=str(p))
    return p


def _events(melody: Melody) -> list[tuple[int | None, Fraction, Fraction]]:
    """Notes and the rests between them as (midi or None, onset, duration) in exact quarter beats,
    up to the end of the last measure."""
    out: list[tuple[int | None, Fraction, Fraction]] = []
    t = Fraction(0)
    for n in sorted(melody.notes, key=lambda x: x.onset_beats):
        on = Fraction(n.onset_beats).limit_denominator(48)
        dur = Fraction(n.duration_beats).limit_denominator(48)
        if on > t:
            out.append((None, t, on - t))
        out.append((n.midi, on, dur))
        t = on + dur
    end = Fraction(melody.measure_beats).limit_denominator(48) * melody.n_measures
    if end > t:
        out.append((None, t, end - t))
    return out


def _stream(melody: Melody):
    import music21 as m21

    part = m21.stream.Part()
    part.insert(0, m21.meter.TimeSignature(melody.time_signature))
    part.insert(0, m21.tempo.MetronomeMark(number=round(melody.tempo_bpm, 2)))
    for midi, on, dur in _events(melody):
        el = m21.note.Rest() if midi is None else m21.note.Note(midi)
        el.duration = m21.duration.Duration(dur)
        part.insert(float(on), el)
    part.makeMeasures(inPlace=True)
    part.makeTies(inPlace=True)
    s = m21.stream.Score()
    s.insert(0, m21.metadata.Metadata(title=melody.title or "melody"))
    s.insert(0, part)
    return s


def _write_midi(melody: Melody, p: Path) -> None:
    import pretty_midi

    spb = 60.0 / melody.tempo_bpm
    pm = pretty_midi.PrettyMIDI(initial_tempo=melody.tempo_bpm)
    num, den = (int(x) for x in melody.time_signature.split("/"))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    inst = pretty_midi.Instrument(program=0, name=melody.title or "melody")
    for n in melody.notes:
        inst.notes.append(pretty_midi.Note(90, n.midi, n.onset_beats * spb, n.offset_beats * spb))
    pm.instruments.append(inst)
    pm.write(str(p))


_ABC_STEPS = ("C", "^C", "D", "_E", "E", "F", "^F", "G", "_A", "A", "_B", "B")


def _abc_pitch(midi: int, altered: set[tuple[str, int]]) -> str:
    """ABC for one pitch in K:C. `altered`: the (letter, octave) pairs given an accidental earlier in
    the bar, which carry it to the bar line; a natural note of such a letter gets an explicit '='."""
    name = _ABC_STEPS[midi % 12]
    octave = midi // 12 - 1           # 4 = the octave of middle C, written C..B
    acc, letter = name[:-1], name[-1]
    key = (letter, octave)
    if acc:
        altered.add(key)
    elif key in altered:
        acc = "="
        altered.discard(key)
    if octave >= 5:
        return acc + letter.lower() + "'" * (octave - 5)
    return acc + letter + "," * (4 - octave)


def to_abc(melody: Melody) -> str:
    """The melody as an ABC tune in K:C with unit length 1/48 of a whole note (every tick of the grid
    is a whole number of units); a note over a bar line is split and tied."""
    units = Fraction(12)              # units per quarter beat at L:1/48
    bar_units = int(Fraction(melody.measure_beats).limit_denominator(48) * units)
    lines = ["X:1", f"T:{melody.title or 'melody'}", f"M:{melody.time_signature}", "L:1/48",
             f"Q:1/4={round(melody.tempo_bpm)}", "K:C"]
    body: list[str] = []
    pos = 0                          # units into the tune
    altered: set[tuple[str, int]] = set()
    for midi, _, dur in _events(melody):
        left = int(dur * units)
        while left > 0:
            take = min(left, bar_units - pos % bar_units)
            left -= take
            sym = "z" if midi is None else _abc_pitch(midi, altered)
            body.append(f"{sym}{take}" + ("-" if midi is not None and left > 0 else ""))
            pos += take
            if pos % bar_units == 0:
                altered.clear()
                body.append(" |" + ("\n" if (pos // bar_units) % 4 == 0 else " "))
            else:
                body.append(" ")
    return "\n".join(lines) + "\n" + "".join(body).rstrip().rstrip("|").rstrip() + " |]\n"
