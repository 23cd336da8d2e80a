"""The melody lab's notation: a melody engraved as the practice screen engraves a score (verovio, the
same note ids), with, on request, each note's name in the key's spelling written under it; and where
each engraved note sounds, for the playback cursor and for clicks. No Qt here (a worker's job).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from musicdesk.melody.tokens import Melody


@dataclass(frozen=True)
class Notation:
    engraving: object             # musicdesk.engrave.Engraving
    measure_of: dict              # element id -> the lab's measure (0-based)
    onsets_s: tuple               # (onset in s at the melody's tempo, element id) in played order


def note_names(melody: Melody) -> list[str]:
    """Each note's name in the melody's key (G minor's F#, B-flat major's Bb), in note order."""
    from musicdesk.melody.io import key_fifths_of
    from musicdesk.melody.keys import key_of, spell

    fifths, key = key_fifths_of(melody), key_of(melody)
    return [spell(n.midi, fifths, key) for n in sorted(melody.notes, key=lambda x: x.onset_beats)]


def engrave_melody(melody: Melody, names: bool = False) -> Notation:
    """Engrave `melody` (its key, meter and pickup as the export writes them), with note names under
    the notes when `names`. The note ids are musicdesk.score's, so clicks and colours work as on the
    practice screen."""
    import re

    from musicdesk.engrave import engrave
    from musicdesk.melody.io import _stream
    from musicdesk.score import load_score, score_to_musicxml

    s = _stream(melody)
    if names:
        labels = iter(note_names(melody))
        prev_tied = False
        for n in s.recurse().notes:                # the tied continuation of a note gets no second name
            if not prev_tied:
                n.lyric = next(labels, "")
            prev_tied = n.tie is not None and n.tie.type in ("start", "continue")
    fd, path = tempfile.mkstemp(suffix=".musicxml", prefix="musicdesk-lab-")
    os.close(fd)
    try:
        s.write("musicxml", fp=path)
        xml = score_to_musicxml(path)
        played = load_score(path)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    measure_of = {}
    for eid in re.findall(r'<note[^>]*\bid="(p\d+m(\d+)n\d+)"', xml):
        measure_of[eid[0]] = int(eid[1])
    onsets = tuple((n.onset_s, n.element_id) for n in played.notes)
    return Notation(engrave(xml), measure_of, onsets)


def element_at(notation: Notation, t_s: float) -> str | None:
    """The engraved note sounding at `t_s` (the last one starting at or before it)."""
    out = None
    for on, eid in notation.onsets_s:
        if on > t_s + 1e-6:
            break
        out = eid
    return out


__all__ = ["Notation", "engrave_melody", "note_names", "element_at"]
