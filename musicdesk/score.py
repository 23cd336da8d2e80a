"""Load a score (MusicXML, MXL, MIDI, ABC) into one plain `Score` type.

Notes come out in *played order* (repeats expanded), at *sounding* (concert) pitch, with onsets and
durations in quarter-note beats and in seconds, and a stable id that links back to the engraved score.

How ids stay stable: every score is first turned into MusicXML text (MIDI and ABC through music21's
exporter), then every pitched ``<note>`` without an ``id`` attribute gets one derived from its position,
``p{part_index}m{measure_index}n{k}`` (0-based ``<part>`` / ``<measure>`` positions in the file, k = index of
the pitched note within that measure in document order, chord members and grace notes included).
Ids already in the file (``<note id="n731">``) are kept. music21 is then run on that same text and
reads the ids back; `score_to_musicxml` returns that same text, so the engraved score (verovio) and the
`ScoreNote.element_id` values agree by construction.

``beat`` is counted in the time signature's *denominator* unit (quarters in 4/4 and 3/4, eighths in 6/8
and 9/8, halves in 2/2), starting at 1.

music21 is imported lazily, so ``import musicdesk.score`` stays cheap.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
import xml.etree.ElementTree as ET


class ScoreError(ValueError):
    """A score file could not be read or used; the message says what to do."""


@dataclass(frozen=True)
class ScoreNote:
    """One note of the chosen part, in played order (repeats expanded, ties merged)."""

    id: str                 # unique per played note; stable across loads of the same file
    element_id: str         # id of the written note in the engraved score (same for repeat passes)
    index: int              # 0-based position in played order
    midi: int               # sounding (concert) MIDI pitch
    written_midi: int       # pitch as written (differs for transposing instruments)
    onset_beats: float      # quarter-note beats from the start of the performance (played order)
    duration_beats: float   # quarter-note beats
    onset_s: float          # seconds from the start under the score's (or the chosen) tempo
    duration_s: float
    measure: int            # measure number as printed in the score
    beat: float             # 1-based beat within the measure, in the time signature's beat unit
    fermata: bool = False   # a fermata is written on the note (or on a note tied into it)
    name: str = ""          # the written pitch as the score spells it, e.g. "Bb4" (MIDI: spelled by the key)

    @property
    def offset_s(self) -> float:
        return self.onset_s + self.duration_s

    @property
    def offset_beats(self) -> float:
        return self.onset_beats + self.duration_beats


@dataclass(frozen=True)
class Score:
    """The chosen part of a score, as a sequence of notes in played order."""

    title: str
    parts: tuple[str, ...]          # names of all parts in the file
    part: str                       # name of the chosen part
    notes: tuple[ScoreNote, ...]
    tempo_bpm: float                # quarter notes per minute at the start (after any override)
    duration_s: float               # end of the last note
    source_path: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)  # e.g. "chords reduced to top note"
    key_fifths: int = 0             # the part's (written) key signature: sharps > 0, flats < 0
    transposition_semitones: int = 0  # written minus sounding pitch (B-flat clarinet: +2; 0 at concert pitch)

    def spell(self, sounding_midi: float) -> str:
        """A sounding pitch named as the player reads it: transposed to written pitch and spelled in the
        part's key (for a played note, which the score does not spell)."""
        return spell_midi(int(round(sounding_midi)) + self.transposition_semitones, self.key_fifths)

    def concert(self, written_name: str) -> str:
        """A written-pitch name of this part at concert (sounding) pitch, spelled by the transposing
        interval: a B-flat clarinet's written E5 is D5."""
        return transpose_name(written_name, -self.transposition_semitones)


_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def spell_midi(midi: int, key_fifths: int = 0) -> str:
    """Name of MIDI note `midi` in a key of `key_fifths` sharps (< 0: flats), e.g. (70, -1) -> "Bb4",
    (70, 2) -> "A#4": a pitch of the key's scale as the key signature spells it, any other with sharps
    in a sharp key and flats in a flat key (C major: sharps)."""
    m = int(midi)
    pc = m % 12
    k = max(-7, min(7, int(key_fifths)))
    altered = "FCGDAEB"[:k] if k > 0 else "BEADGCF"[:-k]
    for letter, nat in _NATURAL_PC.items():
        acc = (1 if k > 0 else -1) if letter in altered else 0
        if (nat + acc) % 12 == pc:
            octave = (m - acc) // 12 - 1   # Cb5 sounds as B4, B#3 as C4: the octave goes with the letter
            return f"{letter}{'#' if acc > 0 else 'b' if acc < 0 else ''}{octave}"
    return f"{(_FLAT_NAMES if k < 0 else _SHARP_NAMES)[pc]}{m // 12 - 1}"


_LETTERS = "CDEFGAB"


def transpose_name(name: str, semitones: int) -> str:
    """A note name moved by `semitones` along the interval a transposing instrument uses, spelled by
    letter (the interval's steps: round(semitones x 7 / 12), so 2 is a major second, 9 a major sixth,
    -3 a minor third down), e.g. ("E5", -2) -> "D5", ("C5", -2) -> "Bb4", ("F#5", -9) -> "A4". A name it
    cannot read comes back unchanged."""
    k = int(semitones)
    if k == 0 or len(name) < 2 or name[0] not in _LETTERS:
        return name
    acc_str = name[1:].rstrip("-0123456789")
    try:
        octave = int(name[1 + len(acc_str):])
    except ValueError:
        return name
    if acc_str.replace("#", "") and acc_str.replace("b", ""):
        return name                                   # mixed or unknown accidentals
    acc = acc_str.count("#") - acc_str.count("b")
    i = _LETTERS.index(name[0])
    midi = 12 * (octave + 1) + _NATURAL_PC[name[0]] + acc + k
    j = i + int(round(k * 7 / 12))
    letter, new_octave = _LETTERS[j % 7], octave + j // 7
    new_acc = midi - (12 * (new_octave + 1) + _NATURAL_PC[letter])
    if abs(new_acc) > 2:                              # no sensible spelling by letter: by the key of C
        return spell_midi(midi)
    return f"{letter}{'#' * new_acc if new_acc > 0 else 'b' * -new_acc}{new_octave}"


def _m21_name(p: Any) -> str:
    """music21 pitch -> "Bb4" / "C#5" / "F##3" (its own spelling, as written)."""
    acc = p.accidental.modifier.replace("-", "b") if p.accidental is not None else ""
    return f"{p.step}{acc}{p.octave if p.octave is not None else p.implicitOctave}"


DEFAULT_TEMPO_BPM = 100.0
EXAMPLE_SCORE_NAME = "default_example_melody.musicxml"

_XML_EXTS = {".musicxml", ".xml"}
_FORMATS = {".musicxml": "MusicXML", ".xml": "MusicXML", ".mxl": "compressed MusicXML (.mxl)",
            ".mid": "MIDI", ".midi": "MIDI", ".abc": "ABC"}
_EPS = 1e-6


# ----------------------------------------------------------------------------------------------------
# public API


def example_score_path() -> str:
    """Path of the bundled default example (a short monophonic folk tune in MusicXML with a tempo)."""
    candidates = [Path(__file__).resolve().parent.parent / "resources" / "scores" / EXAMPLE_SCORE_NAME]
    try:  # an installed copy (resources shipped as package data), if any
        from importlib import resources as ir
        candidates.append(Path(str(ir.files("musicdesk") / "resources" / "scores" / EXAMPLE_SCORE_NAME)))
    except Exception:  # pragma: no cover - importlib edge cases
        pass
    for c in candidates:
        if c.is_file():
            return str(c)
    raise ScoreError(f"Bundled example score {EXAMPLE_SCORE_NAME} not found (looked in "
                     f"{', '.join(str(c.parent) for c in candidates)}); reinstall musicdesk.")


def list_parts(path: str | os.PathLike) -> list[str]:
    """Names of the parts in a score file, in file order ("Part 1", ... when unnamed)."""
    return list(_parse(path).part_names)


def load_score(path: str | os.PathLike, part: str | int | None = None,
               tempo_bpm: float | None = None) -> Score:
    """Load one part of a score file as notes in played order at sounding pitch.

    part: name (case-insensitive) or 0-based index; default the first part that has notes.
    tempo_bpm: if given, a constant tempo in quarter notes per minute replaces the score's tempo map.
    Raises ScoreError with a one-line, actionable message on any problem.

    A score read once is kept, as JSON, in the user cache folder (keyed by the file's bytes, the part,
    the tempo, this module's code and music21's version), so that a fresh `musicdesk analyze` of the
    same piece does not import music21 again (about 0.45 s). MUSICDESK_SCORE_CACHE=off turns it off.
    """
    key, hit = _cached(path, part, tempo_bpm)
    if hit is not None:
        return hit
    score = _load_score(path, part, tempo_bpm)
    if key is not None:
        _disk_write(key, score)
    return score


def load_cached_score(path: str | os.PathLike, part: str | int | None = None,
                      tempo_bpm: float | None = None) -> Score | None:
    """`load_score(path, part, tempo_bpm)` from the parsed-score cache, without music21; None when the
    cache does not have it (or is off). Raises ScoreError for a tempo that is not a tempo."""
    return _cached(path, part, tempo_bpm)[1]


def _cached(path, part, tempo_bpm) -> tuple[str | None, Score | None]:
    """The cache key (None when the cache is off or the file unreadable) and the cached Score, if any:
    the key is the file's sha256, so it is computed once per load."""
    if tempo_bpm is not None and not (float(tempo_bpm) > 0 and float(tempo_bpm) < 10000):
        raise ScoreError(f"Tempo must be a positive number of quarter notes per minute, got {tempo_bpm!r}.")
    key = _disk_key(path, part, tempo_bpm)
    return key, (None if key is None else _disk_read(key, path))


# ---------------------------------------------------------------------- the parsed-score cache on disk
_DISK_FORMAT = 1
_code_fp: bytes | None = None


def _disk_dir() -> Path | None:
    env = os.environ.get("MUSICDESK_SCORE_CACHE", "")
    if env.lower() in ("off", "0", "no"):
        return None
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("musicdesk", appauthor=False)) / "scores"


def _code_fingerprint() -> bytes:
    """This module's source and the versions of the readers it uses: any change makes new keys."""
    global _code_fp
    if _code_fp is None:
        import hashlib
        from importlib import metadata

        h = hashlib.sha256(Path(__file__).read_bytes())
        for dist in ("music21", "pretty_midi"):
            try:
                h.update(f"{dist}={metadata.version(dist)}".encode())
            except metadata.PackageNotFoundError:
                h.update(f"{dist}=none".encode())
        _code_fp = h.digest()
    return _code_fp


def _disk_key(path, part, tempo_bpm) -> str | None:
    import hashlib

    if _disk_dir() is None:
        return None
    try:
        body = Path(path).read_bytes()
    except OSError:
        return None                       # _parse says what is wrong with the path
    h = hashlib.sha256(body)
    h.update(repr((_DISK_FORMAT, part if not isinstance(part, str) else part.strip().lower(),
                   None if tempo_bpm is None else float(tempo_bpm), Path(path).suffix.lower())).encode())
    h.update(_code_fingerprint())
    return h.hexdigest()


def _disk_read(key: str, path) -> Score | None:
    """The cached Score for `key`, with `path` as its source; None when absent or unreadable."""
    import json

    f = _disk_dir() / f"{key}.json"
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
        notes = tuple(ScoreNote(**n) for n in d.pop("notes"))
        return Score(**{**d, "notes": notes, "parts": tuple(d["parts"]), "warnings": tuple(d["warnings"]),
                        "source_path": str(Path(path))})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _disk_write(key: str, score: Score) -> None:
    """Keep `score` for `key` (written to a temporary name, then renamed); a cache that cannot be
    written is skipped."""
    import dataclasses
    import json

    folder = _disk_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        import threading

        tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(dataclasses.asdict(score)), encoding="utf-8")
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass


def _load_score(path: str | os.PathLike, part: str | int | None, tempo_bpm: float | None) -> Score:
    parsed = _parse(path)
    pidx = _choose_part(parsed, part)
    warnings: list[str] = []
    events, marks = _part_events(parsed, pidx, warnings)
    if not events:
        raise ScoreError(f"Part {pidx} '{parsed.part_names[pidx]}' of {parsed.path} has no notes; "
                         f"parts with notes: {_describe_parts(parsed, only_with_notes=True)}.")

    # beats -> seconds
    if tempo_bpm is not None:
        start_bpm = float(tempo_bpm)
        to_s = _constant_tempo(start_bpm)
    elif parsed.pm is not None:  # MIDI: the file's own tempo map, exactly as pretty_midi reads it
        pm = parsed.pm
        _, tempi = pm.get_tempo_changes()
        start_bpm = float(tempi[0]) if len(tempi) else 120.0
        res = float(pm.resolution)
        to_s = lambda b: float(pm.tick_to_time(int(round(b * res))))  # noqa: E731
    else:
        if not marks:
            warnings.append(f"no tempo marking in the score: using {DEFAULT_TEMPO_BPM:g} quarter notes per minute")
            marks = [(0.0, DEFAULT_TEMPO_BPM)]
        start_bpm = marks[0][1]
        to_s = _tempo_map(marks)

    fifths = _key_fifths(parsed, pidx)
    notes = []
    seen: dict[str, int] = {}
    for i, ev in enumerate(events):
        n_pass = seen.get(ev.element_id, 0) + 1
        seen[ev.element_id] = n_pass
        nid = ev.element_id if n_pass == 1 else f"{ev.element_id}#{n_pass}"
        on_s = to_s(ev.onset)
        off_s = to_s(ev.onset + ev.duration)
        notes.append(ScoreNote(id=nid, element_id=ev.element_id, index=i, midi=ev.midi,
                               written_midi=ev.written_midi, onset_beats=round(ev.onset, 9),
                               duration_beats=round(ev.duration, 9), onset_s=on_s,
                               duration_s=max(off_s - on_s, 0.0), measure=ev.measure, beat=ev.beat,
                               fermata=ev.fermata,
                               name=(ev.written_name if parsed.kind != "midi" and ev.written_name
                                     else spell_midi(ev.written_midi, fifths))))
    shift = Counter(n.written_midi - n.midi for n in notes).most_common(1)[0][0]   # the part's usual shift
    return Score(title=parsed.title, parts=tuple(parsed.part_names), part=parsed.part_names[pidx],
                 notes=tuple(notes), tempo_bpm=start_bpm, duration_s=max(n.offset_s for n in notes),
                 source_path=parsed.path, warnings=tuple(warnings), key_fifths=fifths,
                 transposition_semitones=int(shift))


def score_to_musicxml(score_path: str | os.PathLike, part: str | int | None = None) -> str:
    """MusicXML text of the score (all parts, or only the chosen one) where every pitched note carries
    ``id="<element_id>"`` matching the `ScoreNote.element_id` values of `load_score` (for verovio)."""
    parsed = _parse(score_path)
    if part is None:
        return parsed.xml_text
    pidx = _choose_part(parsed, part, require_notes=False)
    keep = parsed.xml_part_of[pidx]
    root = ET.fromstring(parsed.xml_text.encode("utf-8"))
    for p in list(root.findall("part")):
        if p.get("id") != keep:
            root.remove(p)
    plist = root.find("part-list")
    if plist is not None:
        for sp in list(plist):
            if sp.tag == "score-part" and sp.get("id") != keep:
                plist.remove(sp)
            elif sp.tag == "part-group":
                plist.remove(sp)
    return _xml_to_text(root)


# ----------------------------------------------------------------------------------------------------
# parsing a file into MusicXML text (with ids) + a music21 score


@dataclass
class _Parsed:
    path: str
    kind: str                       # "musicxml" | "midi" | "abc"
    xml_text: str                   # MusicXML with ids on every pitched note
    m21: Any                        # music21.stream.Score parsed from xml_text
    part_names: list[str]
    xml_part_of: list[str]          # music21 part index -> MusicXML <part id> (PartStaffs share one)
    has_notes: list[bool]
    title: str
    pm: Any = None                  # pretty_midi.PrettyMIDI for MIDI sources (tempo map, names)


_CACHE: dict[tuple, _Parsed] = {}
_CACHE_MAX = 6


def _parse(path: str | os.PathLike) -> _Parsed:
    p = Path(path)
    if not p.exists():
        raise ScoreError(f"Score file not found: {p}. Check the path and the file name.")
    if not p.is_file():
        raise ScoreError(f"{p} is not a file; give the path of a .musicxml, .mxl, .mid or .abc score.")
    ext = p.suffix.lower()
    if ext not in _FORMATS:
        raise ScoreError(f"Unsupported score format '{ext or p.name}' ({p.name}): use MusicXML (.musicxml/.xml), "
                         f"compressed MusicXML (.mxl), MIDI (.mid/.midi) or ABC (.abc).")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key in _CACHE:
        return _CACHE[key]
    parsed = _parse_uncached(p, ext)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = parsed
    return parsed


def _abc_voice_names(p: Path) -> list[str]:
    """The names of an ABC tune's voices (V:id name="..." or nm="..."), in order of first appearance."""
    import re

    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    seen: dict[str, str] = {}
    for m in re.finditer(r'^V:\s*(\S+)(.*)$', text, flags=re.M):
        vid, rest = m.group(1), m.group(2)
        nm = re.search(r'\b(?:name|nm)\s*=\s*"([^"]*)"', rest)
        if vid not in seen or (nm and not seen[vid]):
            seen[vid] = nm.group(1).strip() if nm else seen.get(vid, "")
    return list(seen.values())


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg[:200]


def _parse_uncached(p: Path, ext: str) -> _Parsed:
    m21 = _music21()
    fmt = _FORMATS[ext]
    bad = (f"Could not read {p.name} as {fmt}: {{}}. Is the file complete and really {fmt}? "
           f"Re-export it from your notation program.")
    pm = None
    if ext in _XML_EXTS or ext == ".mxl":
        raw = _read_mxl(p, bad) if ext == ".mxl" else p.read_bytes()
        kind = "musicxml"
    else:
        kind = "midi" if ext in (".mid", ".midi") else "abc"
        try:
            src = m21.converter.parse(str(p), format="midi" if kind == "midi" else "abc")
        except Exception as e:
            raise ScoreError(bad.format(_one_line(e))) from None
        if kind == "midi":
            pm = _pretty_midi(p, bad)
        raw = _export_musicxml(src, pm, p.stem)
    xml_text, root = _inject_ids(raw, bad)
    try:
        importer = m21.musicxml.xmlToM21.MusicXMLImporter()
        importer.xmlRoot = root
        importer.xmlRootToScore(root, importer.stream)
        s = importer.stream
    except Exception as e:
        raise ScoreError(bad.format(_one_line(e))) from None
    parts = list(s.parts)
    if not parts:
        raise ScoreError(f"{p} contains no parts/notes; load a score that has at least one note.")
    names = [(pt.partName or "").strip() for pt in parts]
    if kind == "midi" and pm is not None:
        pm_names = _midi_track_names(pm)
        if len(pm_names) == len(parts):
            names = [pn or n for pn, n in zip(pm_names, names)]
    if kind == "abc":                 # music21 does not read a voice's name (V:1 name="Flute")
        abc_names = _abc_voice_names(p)
        if len(abc_names) == len(parts):
            names = [an or n for an, n in zip(abc_names, names)]
    names = _unique_names([n or f"Part {i + 1}" for i, n in enumerate(names)])
    has_notes = [any(not _is_grace(n) for n in pt.recurse().notes) for pt in parts]
    if not any(has_notes):
        raise ScoreError(f"{p} contains no notes; load a score that has at least one (non-grace) note.")
    xml_ids = [e.get("id") for e in root.findall("part")]
    xml_part_of = []
    for i, pt in enumerate(parts):
        pid = str(pt.id)
        match = [x for x in xml_ids if x and (pid == x or pid.startswith(x + "-"))]
        xml_part_of.append(match[0] if match else (xml_ids[min(i, len(xml_ids) - 1)] if xml_ids else ""))
    title = ""
    if s.metadata is not None:
        title = s.metadata.title or s.metadata.movementName or ""
    title = str(title).strip() or p.stem
    return _Parsed(path=str(p), kind=kind, xml_text=xml_text, m21=s, part_names=names,
                   xml_part_of=xml_part_of, has_notes=has_notes, title=str(title), pm=pm)


def _read_mxl(p: Path, bad: str) -> bytes:
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
            target = None
            if "META-INF/container.xml" in names:
                root = ET.fromstring(z.read("META-INF/container.xml"))
                for rf in root.iter():
                    if rf.tag.endswith("rootfile") and rf.get("full-path"):
                        target = rf.get("full-path")
                        break
            if target is None:
                cands = [n for n in names if not n.startswith("META-INF/") and n.lower().endswith((".xml", ".musicxml"))]
                if not cands:
                    raise ScoreError(bad.format("the archive holds no MusicXML file"))
                target = cands[0]
            return z.read(target)
    except ScoreError:
        raise
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError) as e:
        raise ScoreError(bad.format(_one_line(e))) from None


def _pretty_midi(p: Path, bad: str):
    import pretty_midi
    try:
        return pretty_midi.PrettyMIDI(str(p))
    except Exception as e:
        raise ScoreError(bad.format(_one_line(e))) from None


def _midi_track_names(pm: Any) -> list[str]:
    """Names of a MIDI file's tracks with notes: the track name, else its General MIDI program's
    ("Violin"), so no part is "Instrument 1" and no violin staff reads "Piano"."""
    import pretty_midi

    out = []
    for inst in (i for i in pm.instruments if i.notes):
        name = (inst.name or "").strip()
        if not name:
            name = "Drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program)
        out.append(name)
    return out


def _export_musicxml(src: Any, pm: Any, stem: str = "") -> bytes:
    """music21 stream (from MIDI/ABC) -> MusicXML bytes, at the pitches the source holds.

    MIDI and ABC are at sounding pitch; music21 may attach a transposing instrument (e.g. from the
    clarinet GM program), which its exporter would turn into a wrong <transpose>, so drop those. A MIDI
    file's parts are named after its tracks (`_midi_track_names`), and a score without a title gets
    the file's name (music21 would write "Music21 Fragment").
    """
    m21 = _music21()
    names = _midi_track_names(pm) if pm is not None else []
    if len(names) != len(src.parts):
        names = []
    md = src.metadata
    if stem and (md is None or not (md.title or md.movementName)):
        src.metadata = m21.metadata.Metadata(title=stem)
    for i, part in enumerate(src.parts):
        if names:
            part.partName = names[i]
            part.partAbbreviation = None
            for inst in part.recurse().getElementsByClass(m21.instrument.Instrument):
                inst.partName = inst.instrumentName = names[i]
                inst.partAbbreviation = inst.instrumentAbbreviation = None
        part.id = f"P{i + 1}"
        for inst in part.recurse().getElementsByClass(m21.instrument.Instrument):
            inst.transposition = None
        # music21's ABC reader numbers a full first bar 0 (as if it were a pickup): count from 1 then
        measures = list(part.getElementsByClass(m21.stream.Measure))
        if measures and measures[0].number == 0:
            first, ts = measures[0], measures[0].timeSignature
            bar_ql = ts.barDuration.quarterLength if ts is not None else first.duration.quarterLength
            if first.duration.quarterLength >= bar_ql - _EPS:
                for m in measures:
                    m.number += 1
        # a MIDI file's pickup is a short first bar in a meter of its own, then the tune's meter: bar 0
        if pm is not None and len(measures) > 1 and measures[0].number == 1:
            ts0 = measures[0].timeSignature
            ts1 = next((m.timeSignature for m in measures[1:] if m.timeSignature is not None), None)
            if ts0 is not None and ts1 is not None and \
                    ts0.barDuration.quarterLength < ts1.barDuration.quarterLength - _EPS:
                for m in measures:
                    m.number -= 1
    return m21.musicxml.m21ToXml.GeneralObjectExporter(src).parse()


def _inject_ids(raw: bytes, bad: str) -> tuple[str, ET.Element]:
    """Give every pitched <note> without an id the id p{part}m{measure}n{k}; return text and tree."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        raise ScoreError(bad.format(f"broken XML ({_one_line(e)})")) from None
    if root.tag == "score-timewise":
        raise ScoreError(bad.format("timewise MusicXML is not supported") .replace(
            "Re-export it from your notation program.", "Re-export it as partwise MusicXML."))
    if root.tag != "score-partwise":
        raise ScoreError(bad.format(f"the root element is <{root.tag}>, not <score-partwise>"))
    used = {n.get("id") for n in root.iter("note") if n.get("id")}
    for pi, part in enumerate(root.findall("part")):
        for mi, meas in enumerate(part.findall("measure")):
            k = 0
            for n in meas.iter("note"):
                if n.find("rest") is not None:
                    continue
                if not n.get("id"):
                    nid = f"p{pi}m{mi}n{k}"
                    while nid in used:
                        nid += "x"
                    used.add(nid)
                    n.set("id", nid)
                k += 1
    return _xml_to_text(root), root


def _xml_to_text(root: ET.Element) -> str:
    buf = io.BytesIO()
    ET.ElementTree(root).write(buf, encoding="utf-8", xml_declaration=True)
    return buf.getvalue().decode("utf-8")


def _unique_names(names: list[str]) -> list[str]:
    out, count = [], {}
    for n in names:
        key = n.lower()
        count[key] = count.get(key, 0) + 1
        out.append(n if count[key] == 1 else f"{n} ({count[key]})")
    return out


_M21 = None


def _music21():
    """Import music21 once and make its MusicXML reader keep <note id> as `note.id`."""
    global _M21
    if _M21 is None:
        import music21
        import music21.musicxml.m21ToXml  # noqa: F401
        from music21.musicxml import xmlToM21
        mp = xmlToM21.MeasureParser
        if not getattr(mp, "_musicdesk_note_ids", False):
            orig = mp.xmlToSimpleNote

            def xmlToSimpleNote(self, mxNote, freeSpanners=True):  # noqa: N802, N803
                n = orig(self, mxNote, freeSpanners)
                nid = mxNote.get("id")
                if nid:
                    n.id = nid
                return n

            mp.xmlToSimpleNote = xmlToSimpleNote
            mp._musicdesk_note_ids = True
        _M21 = music21
    return _M21


# ----------------------------------------------------------------------------------------------------
# choosing a part


def _describe_parts(parsed: _Parsed, only_with_notes: bool = False) -> str:
    items = [f"{i} '{n}'" for i, n in enumerate(parsed.part_names) if parsed.has_notes[i] or not only_with_notes]
    return ", ".join(items) if items else "none"


def _choose_part(parsed: _Parsed, part: str | int | None, require_notes: bool = True) -> int:
    names = parsed.part_names
    if part is None:
        return next(i for i, h in enumerate(parsed.has_notes) if h)
    if isinstance(part, bool):
        raise ScoreError(f"Part must be a name or a 0-based index, got {part!r}.")
    idx = None
    if isinstance(part, int):
        if 0 <= part < len(names):
            idx = part
    else:
        want = str(part).strip().lower()
        exact = [i for i, n in enumerate(names) if n.lower() == want]
        if exact:
            idx = exact[0]
        elif want.isdigit() and int(want) < len(names):
            idx = int(want)
    if idx is None:
        raise ScoreError(f"No part {part!r} in {Path(parsed.path).name}; available parts: "
                         f"{_describe_parts(parsed)}. Pass one of these names or a 0-based index.")
    if require_notes and not parsed.has_notes[idx]:
        raise ScoreError(f"Part {idx} '{names[idx]}' of {Path(parsed.path).name} has no notes; parts with notes: "
                         f"{_describe_parts(parsed, only_with_notes=True)}.")
    return idx


# ----------------------------------------------------------------------------------------------------
# notes of one part in played order


@dataclass
class _Ev:
    onset: float          # quarter-note beats, played order
    duration: float
    midi: int
    written_midi: int
    element_id: str
    measure: int
    beat: float
    tie: str | None
    fermata: bool = False
    written_name: str = ""


def _has_fermata(el: Any, top: Any) -> bool:
    """Whether a fermata is written on a note or chord (MIDI files carry none)."""
    exprs = list(getattr(el, "expressions", [])) + (list(getattr(top, "expressions", [])) if top is not el else [])
    return any(type(e).__name__ == "Fermata" for e in exprs)


def _is_grace(n: Any) -> bool:
    return bool(n.duration.isGrace)


def _top_note(el: Any) -> Any:
    if el.isChord:
        pitched = [n for n in el.notes if hasattr(n, "pitch")]
        return max(pitched, key=lambda n: n.pitch.ps) if pitched else None
    return el if hasattr(el, "pitch") else None


def _expand(part: Any, warnings: list[str], what: str) -> Any:
    m21 = _music21()
    has_rep = (part.recurse().getElementsByClass((m21.bar.Repeat, m21.spanner.RepeatBracket,
                                                   m21.repeat.RepeatExpression)).first() is not None
               or any(isinstance(sp, m21.spanner.RepeatBracket) for sp in part.spannerBundle))
    if not has_rep:
        return part
    try:
        return part.expandRepeats()
    except Exception as e:  # music21 refuses inconsistent repeat structures
        warnings.append(f"could not expand the repeats of {what} ({_one_line(e)}): notes are in written order")
        return part


def _measures_walk(part: Any):
    """Yield (measure, offset_beats_of_measure, padding_left_beats, denominator)."""
    m21 = _music21()
    denom = 4
    for m in part.getElementsByClass(m21.stream.Measure):
        if m.timeSignature is not None:
            denom = int(m.timeSignature.denominator)
        yield m, float(m.offset), float(m.paddingLeft or 0.0), denom


def _key_fifths(parsed: _Parsed, pidx: int) -> int:
    """The part's written key signature (sharps > 0, flats < 0). A MIDI file without one gets the key
    music21 hears in the part (Krumhansl-Schmuckler), so its notes can be spelled as a score would."""
    m21 = _music21()
    part = parsed.m21.parts[pidx]
    ks = part.recurse().getElementsByClass(m21.key.KeySignature).first()
    if ks is not None and (parsed.kind != "midi" or ks.sharps != 0):
        return int(ks.sharps)
    if parsed.kind != "midi":
        return 0
    try:
        return int(part.analyze("key").sharps)
    except Exception:   # too few notes to tell: C major's spelling
        return 0


def _part_events(parsed: _Parsed, pidx: int, warnings: list[str]) -> tuple[list[_Ev], list[tuple[float, float]]]:
    m21 = _music21()
    part = parsed.m21.parts[pidx]
    written, names = {}, {}
    for el in part.recurse().notes:
        for n in (el.notes if el.isChord else [el]):
            if hasattr(n, "pitch") and isinstance(n.id, str):
                written[n.id] = int(n.pitch.midi)
                names[n.id] = _m21_name(n.pitch)
    transposes = any(i.transposition is not None and i.transposition.semitones != 0
                     for i in part.recurse().getElementsByClass(m21.instrument.Instrument))
    if transposes and part.atSoundingPitch is not True:
        part = part.toSoundingPitch(inPlace=False)
    played = _expand(part, warnings, f"part '{parsed.part_names[pidx]}'")

    raw: list[_Ev] = []
    marks: list[tuple[float, float]] = []
    n_grace = n_chords = n_written = 0
    multi_voice = False
    for m, m_off, pad, denom in _measures_walk(played):
        if sum(1 for v in m.voices if v.notes) > 1:
            multi_voice = True
        for mm in m.recurse().getElementsByClass(m21.tempo.MetronomeMark):
            bpm = mm.getQuarterBPM()
            if bpm:
                marks.append((m_off + float(mm.getOffsetInHierarchy(m)), float(bpm)))
        for el in m.recurse().notes:
            if _is_grace(el):
                n_grace += 1
                continue
            top = _top_note(el)
            if top is None:
                continue
            if el.isChord and len(el.notes) > 1:
                n_chords += 1
            n_written += len(el.notes) if el.isChord else 1
            off_in_m = float(el.getOffsetInHierarchy(m))
            eid = top.id if isinstance(top.id, str) else f"p{pidx}m{m.number}n{len(raw)}"
            tie = (top.tie or el.tie)
            raw.append(_Ev(onset=m_off + off_in_m, duration=float(el.quarterLength), midi=int(top.pitch.midi),
                           written_midi=written.get(eid, int(top.pitch.midi)), element_id=eid,
                           measure=int(m.number), beat=1.0 + (off_in_m + pad) * denom / 4.0,
                           tie=tie.type if tie is not None else None, fermata=_has_fermata(el, top),
                           written_name=names.get(eid, "")))
    if not marks and pidx != 0:  # tempo is often marked only in the top part
        first = _expand(parsed.m21.parts[0], [], "part 0")
        for m, m_off, _, _ in _measures_walk(first):
            for mm in m.recurse().getElementsByClass(m21.tempo.MetronomeMark):
                bpm = mm.getQuarterBPM()
                if bpm:
                    marks.append((m_off + float(mm.getOffsetInHierarchy(m)), float(bpm)))
    marks.sort(key=lambda x: x[0])

    raw.sort(key=lambda e: (e.onset, -e.midi))
    events = _merge_ties(raw)
    events, n_dropped, n_trunc = _skyline(events)
    if n_grace:
        warnings.append(f"{n_grace} grace note{'s' if n_grace > 1 else ''} skipped")
    if n_chords:
        warnings.append(f"{n_chords} chord{'s' if n_chords > 1 else ''} reduced to {'their' if n_chords > 1 else 'its'} top note")
    if n_chords or multi_voice or n_dropped:
        warnings.insert(0, one_line_warning(len(events), n_written))
    if multi_voice or n_dropped or n_trunc:
        warnings.append(f"several voices/overlapping notes in one part: kept the highest sounding note at each "
                        f"time (skyline; {n_dropped} lower notes dropped, {n_trunc} shortened)")
    return events, marks


def one_line_warning(n_kept: int, n_written: int) -> str:
    """What a user must know about a part with chords or several voices (a piano part): musicdesk
    judges one melodic line, the top one, so playing the whole texture cannot score well."""
    return (f"musicdesk follows one melodic line: this part has chords or several voices, so only its top "
            f"line is judged ({n_kept} of its {n_written} notes). Play or sing that line, or choose a part with "
            "a single line (on a piano the top line is mostly the right hand's melody).")


def _merge_ties(raw: list[_Ev]) -> list[_Ev]:
    """Merge tied notes (tie start/continue -> continue/stop, same pitch, contiguous) into one."""
    out: list[_Ev] = []
    open_ties: dict[int, _Ev] = {}
    for e in raw:
        prev = open_ties.get(e.midi)
        if e.tie in ("continue", "stop") and prev is not None and abs(prev.onset + prev.duration - e.onset) < 1e-3:
            prev.duration = e.onset + e.duration - prev.onset
            prev.fermata = prev.fermata or e.fermata
            if e.tie == "stop":
                del open_ties[e.midi]
            continue
        out.append(e)
        if e.tie in ("start", "continue"):
            open_ties[e.midi] = e
        else:
            open_ties.pop(e.midi, None)
    return out


def skyline_spans(spans: list[tuple[float, float, int]]) -> tuple[list[int], list[float], int, int]:
    """The highest note at each time, of notes (onset, duration, midi) in any unit of time, sorted by
    (onset, -midi): same-onset lower notes and notes under a sounding higher note are dropped; a lower
    sounding note is cut where a higher one starts. Returns the indices kept, their durations (cut
    ones shortened), and how many notes were dropped and cut."""
    keep: list[int] = []
    durs: list[float] = []
    dropped = truncated = 0
    for i, (onset, dur, midi) in enumerate(spans):
        if keep:
            l_on, l_midi = spans[keep[-1]][0], spans[keep[-1]][2]
            if abs(l_on - onset) < _EPS:
                dropped += 1
                continue
            if l_on + durs[-1] > onset + _EPS:
                if midi > l_midi:
                    durs[-1] = onset - l_on
                    truncated += 1
                else:
                    dropped += 1
                    continue
        keep.append(i)
        durs.append(dur)
    return keep, durs, dropped, truncated


def _skyline(events: list[_Ev]) -> tuple[list[_Ev], int, int]:
    """`skyline_spans` on the part's events (sorted by (onset, -midi))."""
    keep, durs, dropped, truncated = skyline_spans([(e.onset, e.duration, e.midi) for e in events])
    for i, d in zip(keep, durs):
        events[i].duration = d
    return [events[i] for i in keep], dropped, truncated


@dataclass(frozen=True)
class WrittenPart:
    """One part of a score file for readers that need it as written (repeats not played out, written
    pitch), such as the melody lab: the part chosen and named as `load_score` does."""

    part: Any                   # the part's music21 stream
    score: Any                  # the whole music21 score
    name: str
    title: str
    midi: Any = None            # for a MIDI file: its pretty_midi object (exact ticks)
    midi_track: Any = None      # and the part's track in it (None when tracks and parts do not match)


def written_part(path: str | os.PathLike, part: str | int | None = None) -> WrittenPart:
    """The chosen part of a score file (name or 0-based index; default the first part with notes).
    ScoreError with a one-line, actionable message on any problem."""
    parsed = _parse(path)
    idx = _choose_part(parsed, part)
    track = None
    if parsed.pm is not None:
        tracks = [i for i in parsed.pm.instruments if i.notes]    # the tracks _parse names the parts after
        if len(tracks) == len(parsed.m21.parts):
            track = tracks[idx]
    return WrittenPart(parsed.m21.parts[idx], parsed.m21, parsed.part_names[idx], parsed.title, parsed.pm, track)


# ----------------------------------------------------------------------------------------------------
# tempo


def _constant_tempo(bpm: float):
    return lambda b: float(b) * 60.0 / bpm


def _tempo_map(marks: list[tuple[float, float]]):
    """Piecewise-constant tempo from (beat, quarter bpm) marks; the first mark also covers beat 0."""
    pts: list[tuple[float, float]] = []
    for b, bpm in marks:
        if pts and abs(pts[-1][0] - b) < _EPS:
            pts[-1] = (pts[-1][0], bpm)
        elif not pts or bpm != pts[-1][1]:
            pts.append((b, bpm))
    pts[0] = (0.0, pts[0][1])
    starts = [0.0]
    for (b0, bpm0), (b1, _) in zip(pts, pts[1:]):
        starts.append(starts[-1] + (b1 - b0) * 60.0 / bpm0)

    def to_s(b: float) -> float:
        j = 0
        while j + 1 < len(pts) and pts[j + 1][0] <= b + _EPS:
            j += 1
        return starts[j] + (b - pts[j][0]) * 60.0 / pts[j][1]

    return to_s

