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
from dataclasses import replace
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
        return replace(_melody_from_midi(wp.midi, wp.midi_track, p), part_name=wp.name)
    return _melody_of(wp.part, wp.score, p, wp.title, wp.name)


def _melody_from_midi(pm, inst, p: Path) -> Melody:
    """MIDI through pretty_midi (exact ticks; music21's MIDI import rounds triplets away)."""
    if inst.is_drum:
        raise MelodyError(f"{p.name}: track {inst.name.strip() or '?'} is a drum track; choose a melody part.")
    changes = sorted(pm.time_signature_changes, key=lambda ts: ts.time)
    pad = Fraction(0)
    if len(changes) == 2 and changes[0].time == 0:
        # a pickup as notation programs write it: a short first bar, then the tune's meter from its end
        first = Fraction(4 * changes[0].numerator, changes[0].denominator)
        at = Fraction(pm.time_to_tick(changes[1].time), pm.resolution).limit_denominator(48)
        full = Fraction(4 * changes[1].numerator, changes[1].denominator)
        if at == first and first < full:
            pad, changes = full - first, changes[1:]
    sigs = {(ts.numerator, ts.denominator) for ts in changes}
    if len(sigs) > 1:
        raise MelodyError(f"{p.name} changes meter; the melody lab needs one meter for the whole tune.")
    num, den = next(iter(sigs)) if sigs else (4, 4)
    bar = 4 * num / den
    measure_ticks_for(bar)

    def beats(t: float) -> float:
        return float(Fraction(pm.time_to_tick(t), pm.resolution).limit_denominator(48) + pad)

    raw = sorted((beats(n.start), beats(n.end), n.pitch) for n in inst.notes)
    notes, chords = _monophonic([Note(m, a, b - a) for a, b, m in raw if b > a])
    _, tempi = pm.get_tempo_changes()
    warnings = (f"{chords} chords or overlapping notes reduced to their top note",) if chords else ()
    end = max(n.offset_beats for n in notes)
    key = None
    if pm.key_signature_changes:
        k = pm.key_signature_changes[0].key_number           # 0-11 major C..B, 12-23 minor
        key = _fifths_of_major(k % 12 if k < 12 else (k - 12 + 3) % 12)
    mel = Melody(tuple(notes), bar, max(1, math.ceil(end / bar - 1e-6)), f"{num}/{den}",
                 inst.name.strip() or p.stem, round(float(tempi[0]), 3) if len(tempi) else DEFAULT_TEMPO_BPM,
                 warnings, pickup=pad > 0, key_fifths=key, part_name=inst.name.strip())
    return fit_range(mel)


def _fifths_of_major(tonic_pc: int) -> int:
    """The key signature (sharps > 0, flats < 0) of the major key on `tonic_pc` (F# as 6, not -6)."""
    return (tonic_pc * 7 + 5) % 12 - 5


def key_fifths_of(melody: Melody) -> int:
    """The melody's key signature: as read, else that of the key musicdesk.melody.keys finds (a minor
    key by its relative major)."""
    if melody.key_fifths is not None:
        return melody.key_fifths
    from musicdesk.melody.keys import key_of

    k = key_of(melody)
    return _fifths_of_major(k.tonic_pc if k.mode == "major" else (k.tonic_pc + 3) % 12)


def _monophonic(notes: list[Note]) -> tuple[list[Note], int]:
    """One note at a time, the highest sounding (musicdesk.score's skyline, as the practice screen
    reads a part); also how many notes were dropped or cut for it."""
    from musicdesk.score import skyline_spans

    srt = sorted(notes, key=lambda x: (x.onset_beats, -x.midi))
    keep, durs, dropped, cut = skyline_spans([(n.onset_beats, n.duration_beats, n.midi) for n in srt])
    return [Note(srt[i].midi, srt[i].onset_beats, d) for i, d in zip(keep, durs)], dropped + cut


def _melody_of(part, score, path: Path, title: str | None = None, part_name: str = "") -> Melody:
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
    keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
    mel = Melody(tuple(mono), float(bar), n_measures, f"{num}/{den}", title, tempo, tuple(warnings), pickup=pad > 0,
                 key_fifths=int(keys[0].sharps) if keys else None, part_name=part_name or (part.partName or ""))
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
    """The melody as a music21 score: its meter, key signature, tempo, part name and title, and a
    pickup as a short bar 0 (measures numbered as the score's bars)."""
    import music21 as m21

    part = m21.stream.Part()
    part.partName = melody.part_name or melody.title or "melody"
    part.insert(0, m21.meter.TimeSignature(melody.time_signature))
    part.insert(0, m21.key.KeySignature(key_fifths_of(melody)))   # (the notes below are spelled in it)
    part.insert(0, m21.tempo.MetronomeMark(number=round(melody.tempo_bpm, 2)))
    from musicdesk.melody.keys import key_of, spell

    fifths, key = key_fifths_of(melody), key_of(melody)
    for midi, on, dur in _events(melody):          # notes spelled in the key (B-flat major's Bb, not A#)
        el = m21.note.Rest() if midi is None else m21.note.Note(spell(midi, fifths, key).replace("b", "-"))
        el.duration = m21.duration.Duration(dur)
        part.insert(float(on), el)
    part.makeMeasures(inPlace=True)
    if melody.pickup:
        pad = Fraction(melody.measure_beats - melody.pickup_beats).limit_denominator(48)
        measures = list(part.getElementsByClass(m21.stream.Measure))
        first = measures[0]
        for el in list(first.notesAndRests):
            if el.isRest and Fraction(el.offset).limit_denominator(48) < pad:
                first.remove(el)
        for el in list(first.notesAndRests):
            first.coreSetElementOffset(el, float(Fraction(el.offset).limit_denominator(48) - pad))
        first.coreElementsChanged()
        first.paddingLeft = float(pad)
        for m in measures:
            m.number -= 1
    part.makeTies(inPlace=True)
    s = m21.stream.Score()
    s.insert(0, m21.metadata.Metadata(title=melody.title or "melody"))
    s.insert(0, part)
    return s


def _write_midi(melody: Melody, p: Path) -> None:
    """The melody as a MIDI file: tempo, meter, key signature, the part's name on its track, and a pickup
    as a short first bar (a time signature of its length, then the tune's meter), as notation programs
    write one."""
    import pretty_midi

    spb = 60.0 / melody.tempo_bpm
    pm = pretty_midi.PrettyMIDI(initial_tempo=melody.tempo_bpm)
    num, den = (int(x) for x in melody.time_signature.split("/"))
    pad = Fraction(melody.measure_beats - melody.pickup_beats).limit_denominator(48) if melody.pickup else Fraction(0)
    if pad > 0:
        short = Fraction(melody.pickup_beats).limit_denominator(48) * den / 4     # the pickup in the meter's unit
        unit = den
        while short.denominator != 1 and unit < 64:
            short, unit = short * 2, unit * 2
        pm.time_signature_changes.append(pretty_midi.TimeSignature(int(short), unit, 0.0))
        pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, float(melody.pickup_beats) * spb))
    else:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    fifths = key_fifths_of(melody)
    pm.key_signature_changes.append(pretty_midi.KeySignature((fifths * 7) % 12, 0.0))
    inst = pretty_midi.Instrument(program=0, name=melody.part_name or melody.title or "melody")
    shift = float(pad)
    for n in melody.notes:
        inst.notes.append(pretty_midi.Note(90, n.midi, (n.onset_beats - shift) * spb, (n.offset_beats - shift) * spb))
    pm.instruments.append(inst)
    pm.write(str(p))


_MAJOR_BY_FIFTHS = {0: "C", 1: "G", 2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#", -1: "F", -2: "Bb", -3: "Eb",
                    -4: "Ab", -5: "Db", -6: "Gb", -7: "Cb"}
_ABC_ACC = {"#": "^", "##": "^^", "b": "_", "bb": "__", "": "="}


def _key_accidentals(fifths: int) -> dict[str, str]:
    """letter -> the accidental the key signature gives it ("#", "b" or "")."""
    out = {c: "" for c in "CDEFGAB"}
    for c in ("FCGDAEB"[:fifths] if fifths > 0 else "BEADGCF"[:-fifths]):
        out[c] = "#" if fifths > 0 else "b"
    return out


def _abc_pitch(midi: int, fifths: int, current: dict, key=None) -> str:
    """ABC for one pitch under the key signature `fifths`, spelled in the key (musicdesk.score's
    spelling). `current`: (letter, octave) -> the accidental in force in this bar (an explicit one lasts
    to the bar line); a symbol is written only where the note differs from what is in force."""
    import re

    from musicdesk.melody.keys import spell

    letter, acc, octave = re.fullmatch(r"([A-G])(#{1,2}|b{1,2}|)(-?\d+)", spell(int(midi), fifths, key)).groups()
    octave = int(octave)
    key = (letter, octave)
    want = acc
    have = current.get(key, _key_accidentals(fifths)[letter])
    sym = ""
    if want != have:
        sym = _ABC_ACC.get(want, "")
        current[key] = want
    if octave >= 5:
        return sym + letter.lower() + "'" * (octave - 5)
    return sym + letter + "," * (4 - octave)


def to_abc(melody: Melody) -> str:
    """The melody as an ABC tune in its key (K:, spelled in it) with unit length 1/48 of a whole note
    (every tick of the grid is a whole number of units), its part's name on the voice, a pickup as a
    short first bar; a note over a bar line is split and tied."""
    units = Fraction(12)              # units per quarter beat at L:1/48
    bar_units = int(Fraction(melody.measure_beats).limit_denominator(48) * units)
    from musicdesk.melody.keys import key_of

    fifths = key_fifths_of(melody)
    key = key_of(melody)
    lines = ["X:1", f"T:{melody.title or 'melody'}", f"M:{melody.time_signature}", "L:1/48",
             f"Q:1/4={round(melody.tempo_bpm)}", f"K:{_MAJOR_BY_FIFTHS.get(fifths, 'C')}"]
    if melody.part_name:
        lines.append(f'V:1 name="{melody.part_name}"')
    body: list[str] = []
    pos = 0                          # units into the tune
    current: dict = {}
    events = _events(melody)
    if melody.pickup and events and events[0][0] is None:
        pos = int(events[0][2] * units)                # the pickup's leading rest is not written
        events = events[1:]
    for midi, _, dur in events:
        left = int(dur * units)
        while left > 0:
            take = min(left, bar_units - pos % bar_units)
            left -= take
            sym = "z" if midi is None else _abc_pitch(midi, fifths, current, key)
            body.append(f"{sym}{take}" + ("-" if midi is not None and left > 0 else ""))
            pos += take
            if pos % bar_units == 0:
                current.clear()
                body.append(" |" + ("\n" if (pos // bar_units) % 4 == 0 else " "))
            else:
                body.append(" ")
    return "\n".join(lines) + "\n" + "".join(body).rstrip().rstrip("|").rstrip() + " |]\n"
